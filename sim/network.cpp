#include "sim/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

namespace cs {

namespace {
// An index into `items` for a new record: the most recently freed one, or a new one at the end.
template <class T>
uint32_t reuse_or_append(std::vector<T>& items, std::vector<uint32_t>& free) {
  if (free.empty()) {
    items.emplace_back();
    return uint32_t(items.size() - 1);
  }
  const uint32_t i = free.back();
  free.pop_back();
  return i;
}

std::invalid_argument negative_size(const FlowRequest& f) {
  return std::invalid_argument(fmt::format("flow {}→{}: negative size {}", f.src_gpu, f.dst_gpu, f.bytes));
}

// A spinning thread's hint to the core that it is waiting.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How many activities ahead a scan over scattered slots prefetches their records.
constexpr size_t kAhead = 12;
bool later(TimeNs ta, uint64_t ia, TimeNs tb, uint64_t ib) { return ta != tb ? ta > tb : ia > ib; }
TimeNs duration_ns(double bytes, double rate) {
  if (bytes <= 0) return 0;
  if (!(rate > 0)) return std::numeric_limits<TimeNs>::max() / 4;
  // Round up, forgiving the last bits of floating-point noise so exact quotients stay exact. (Truncation and a
  // compare: std::ceil is a library call on baseline x86-64.)
  const double x = bytes / rate - 1e-6;
  if (!(x < 0x1p62)) return std::numeric_limits<TimeNs>::max() / 4;  // a rate so low it never finishes
  const TimeNs t = TimeNs(x);
  return double(t) < x ? t + 1 : t;
}
}  // namespace

Network::Network(const Topology& topo, EventQueue& queue, NetworkOptions options)
    : topo_(topo), q_(queue), opt_(options) {
  const size_t L = topo.links();
  link_bytes_.assign(L, 0.0);
  link_comp_.assign(L, kNoComp);
  load_.assign(L, 0.0);
  link_scratch_.assign(L, LinkScratch{});
  cap_.resize(L);
  for (size_t l = 0; l < L; ++l) cap_[l] = topo.link(LinkId(l)).bytes_per_ns;
  dirty_mark_.assign(L, 0);
  shadowed_.resize(L);
  for (size_t l = 0; l < L; ++l) shadowed_[l] = topo.shadowed(LinkId(l));
  if (options.time_quantum_ns < 0 || options.time_quantum_ns > kMaxTimeQuantumNs)
    throw std::invalid_argument(fmt::format("network time quantum: {} ns (allowed: 0 to {})", options.time_quantum_ns,
                                            kMaxTimeQuantumNs));
  if (options.solver_threads < 1)
    throw std::invalid_argument(fmt::format("network solver threads: {} (allowed: 1 or more)", options.solver_threads));
  scratch_.resize(size_t(options.solver_threads));
  for (size_t t = 1; t < scratch_.size(); ++t) workers_.emplace_back([this, t] { solver_loop(t); });
}

Network::~Network() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  for (std::thread& w : workers_) w.join();
}

uint32_t Network::new_slot() {
  if (free_count_ > 0) {
    while (free_bits_[free_lo_] == 0) ++free_lo_;
    uint64_t& word = free_bits_[free_lo_];
    const uint32_t s = uint32_t(free_lo_ * 64 + size_t(__builtin_ctzll(word)));
    word &= word - 1;
    --free_count_;
    return s;
  }
  hot_.emplace_back();
  warm_.emplace_back();
  if (free_bits_.size() * 64 < hot_.size()) free_bits_.push_back(0);
  return uint32_t(hot_.size() - 1);
}

// new_slot for each of `out`, a bitmap word at a time.
void Network::take_slots(std::vector<uint32_t>& out) {
  const size_t n = out.size();
  size_t i = 0;
  while (i < n && free_count_ > 0) {
    while (free_bits_[free_lo_] == 0) ++free_lo_;
    uint64_t word = free_bits_[free_lo_];
    const uint32_t base = uint32_t(free_lo_ * 64);
    for (; word != 0 && i < n; word &= word - 1, --free_count_) out[i++] = base + uint32_t(__builtin_ctzll(word));
    free_bits_[free_lo_] = word;
  }
  if (i == n) return;
  const size_t first = hot_.size();
  hot_.resize(first + (n - i));
  warm_.resize(hot_.size());
  free_bits_.resize((hot_.size() + 63) / 64, 0);
  for (size_t s = first; i < n; ++s) out[i++] = uint32_t(s);
}

Network::Activity& Network::record(uint32_t s) {
  Hot& h = hot_[s];
  if (h.rec == kNoRec) h.rec = reuse_or_append(recs_, free_recs_);
  return recs_[h.rec];
}

void Network::free_slot(uint32_t s) {
  const size_t w = s / 64;
  free_bits_[w] |= uint64_t(1) << (s % 64);
  free_lo_ = std::min(free_lo_, w);
  ++free_count_;
}

void Network::set_uses(uint32_t s, std::span<const Use> uses) {
  Hot& h = hot_[s];
  h.w0 = uses.empty() ? 0.0 : uses[0].weight;
  const bool uniform = std::all_of(uses.begin(), uses.end(), [&](const Use& u) { return u.weight == h.w0; });
  if (uniform && uses.size() <= size_t(kInline)) {
    h.n = uint8_t(uses.size());
    for (size_t i = 0; i < uses.size(); ++i) h.link[i] = uses[i].link;
  } else {
    record(s).uses.assign(uses.begin(), uses.end());  // after record(): it may grow recs_
    h.n = kOutOfLine;
  }
}

int64_t Network::start_flow(const FlowRequest& req, DoneFn done) {
  const int64_t id = next_id_;
  BatchCursor cursor;
  const uint32_t s = start_flow_slot(req, cursor);
  Activity& a = record(s);
  a.id = id;
  a.start = q_.now();
  a.done = std::move(done);
  return id;
}

uint32_t Network::start_flow_slot(const FlowRequest& req, BatchCursor& cursor) {
  if (req.bytes < 0) throw negative_size(req);
  // The activity's record (id, start, callback) is made by start_flow only: a member of a start_flows set has none.
  const uint32_t s = new_slot();
  ++next_id_;
  const TimeNs at = init_flow<false>(s, req, link_bytes_.data(), nullptr);
  ++active_;
  schedule_activation(s, at, cursor);
  return s;
}

// Sets up a flow in an allocated slot and returns when it starts sharing (after its route's latency). Its bytes are
// counted on every link of its route into `bytes`; with kDelta, `bytes` is a solver thread's own array and `touched`
// lists its links that were 0 before.
template <bool kDelta>
TimeNs Network::init_flow(uint32_t s, const FlowRequest& req, double* bytes, std::vector<LinkId>* touched) {
  const Route r = topo_.route(req.src_gpu, req.dst_gpu, req.path, req.hash);
  Hot& h = hot_[s];
  h.gen++;
  h.live = true;
  h.in_comp = false;
  h.join = kNoJoin;
  Warm& wm = warm_[s];
  h.rate = 0;
  wm.group = UINT32_MAX;  // a reused slot must not look like a member of its previous owner's group
  // Latency-weighted sharing: the activity progresses at the common fair level ρ and moves w·ρ bytes per ns, with
  // w = (1 µs / route latency); its size in ρ units is bytes / w.
  const double w = opt_.latency_weighted && r.latency_ns > 0 ? 1000.0 / double(r.latency_ns) : 1.0;
  wm.remaining = double(req.bytes) / w;
  // The links it shares bandwidth on: a shadowed link always carries the same flows as a narrower one (topology.hpp)
  // and can be left out of every solve (same rates, fewer link uses); every link counts its bytes. They are written
  // straight into the activity (links kept in a local array and copied in one block stalled on store forwarding: a
  // third of this function's time); more than kInline go out of line.
  int n_shared = 0;
  for (int i = 0; i < r.hops; ++i) {
    const LinkId l = r.ids[size_t(i)];
    if constexpr (kDelta)
      if (bytes[size_t(l)] == 0) touched->push_back(l);
    bytes[size_t(l)] += double(req.bytes);
    if (n_shared < kInline) h.link[n_shared] = l;
    n_shared += !shadowed_[size_t(l)];
  }
  if (n_shared <= kInline) {
    h.n = uint8_t(n_shared);
    h.w0 = w;
  } else {
    std::array<Use, Route::kMaxHops> uses;
    n_shared = 0;
    for (int i = 0; i < r.hops; ++i)
      if (!shadowed_[size_t(r.ids[size_t(i)])]) uses[size_t(n_shared++)] = Use{r.ids[size_t(i)], w};
    set_uses(s, std::span<const Use>(uses.data(), size_t(n_shared)));  // makes a record: never on solver threads,
  }                                                                      // whose routes are closed-form (inline)
  // What its activation would read of Warm is set now, so activating a batch reads and writes only Hot.
  h.instant = n_shared == 0 || wm.remaining <= 0;
  return wm.last = q_.now() + r.latency_ns;
}

int64_t Network::start_coflow(std::span<const FlowRequest> flows, DoneFn done) {
  // Per-link load of the whole set (summed in a per-link scratch array, links in increasing id); the activity's
  // size is its bottleneck link's load at unit weight.
  // The activity starts sharing after the shortest route latency of its flows: in per-flow sharing the flows with
  // longer latencies catch up on bandwidth the early ones leave, so the bandwidth phase hides the difference.
  // The set is not done before its slowest flow could finish with its route to itself (its latency, then its bytes
  // at its narrowest link): a lower bound on per-flow sharing as well, which decides small collectives, where the
  // latencies the bandwidth phase hides for large ones are most of the time.
  TimeNs latency = std::numeric_limits<TimeNs>::max(), alone = 0;
  std::vector<LinkId>& touched = touched_scratch_;
  touched.clear();
  ++dirty_stamp_;  // the solver's dirty marks are free between solves
  for (const FlowRequest& f : flows) {
    const Route r = topo_.route(f.src_gpu, f.dst_gpu, f.path, f.hash);
    latency = std::min(latency, r.latency_ns);
    double narrowest = std::numeric_limits<double>::infinity();
    for (LinkId l : r.links()) {
      const size_t k = size_t(l);
      link_bytes_[k] += double(f.bytes);
      if (shadowed_[k]) continue;  // carries what a narrower link of the route carries: never the bottleneck
      if (dirty_mark_[k] != dirty_stamp_) dirty_mark_[k] = dirty_stamp_, touched.push_back(l), load_[k] = 0;
      load_[k] += double(f.bytes);
      narrowest = std::min(narrowest, cap_[k]);
    }
    alone = std::max(alone, r.latency_ns + (r.hops > 0 ? duration_ns(double(f.bytes), narrowest) : 0));
  }
  std::sort(touched.begin(), touched.end());
  std::vector<Use> uses;
  uses.reserve(touched.size());
  for (LinkId l : touched) uses.push_back(Use{l, load_[size_t(l)]});
  // Normalise so the activity's rate is bytes per ns on the link with the longest time at full capacity.
  double bottleneck_time = 0, bottleneck_bytes = 0;
  for (const Use& u : uses) {
    const double t = u.weight / topo_.link(u.link).bytes_per_ns;
    if (t > bottleneck_time) bottleneck_time = t, bottleneck_bytes = u.weight;
  }
  const uint32_t s = new_slot();
  Hot& h = hot_[s];
  h.gen++;
  h.live = true;
  h.in_comp = false;
  warm_[s].remaining = bottleneck_bytes;
  h.rate = 0;
  warm_[s].group = UINT32_MAX;  // a reused slot must not look like a member of its previous owner's group
  h.join = kNoJoin;
  for (Use& u : uses) u.weight /= bottleneck_bytes;
  set_uses(s, uses);
  h.instant = h.n == 0 || bottleneck_bytes <= 0;
  warm_[s].last = q_.now() + latency;
  Activity& a = record(s);
  const int64_t id = a.id = next_id_++;
  a.start = q_.now();
  a.not_before = a.start + alone;
  a.done = std::move(done);
  ++active_;
  BatchCursor cursor;
  schedule_activation(s, q_.now() + latency, cursor);
  return id;
}

void Network::start_flows(std::span<const FlowRequest> flows, DoneFn done) {
  if (flows.empty()) {
    const TimeNs t = q_.now();
    q_.at(t, [done = std::move(done), t] { done(FlowDone{-1, t, t}); });
    return;
  }
  if (opt_.mode == NetworkMode::coflow) {
    start_coflow(flows, std::move(done));
    return;
  }
  // One join for the set: its activities carry the join's index instead of a callback each.
  if (!workers_.empty() && flows.size() >= kParallelStart && !topo_.any_failed()) {
    start_flows_parallel(flows, std::move(done));
    return;
  }
  // A flow of negative size stops the set before any of it starts.
  for (const FlowRequest& f : flows)
    if (f.bytes < 0) throw negative_size(f);
  const uint32_t j = reuse_or_append(joins_, free_joins_);
  joins_[j] = Join{flows.size(), q_.now(), 0, std::move(done)};
  BatchCursor cursor;
  for (const FlowRequest& f : flows) hot_[start_flow_slot(f, cursor)].join = j;
}

// A large set on the solver threads (routes without failures are closed-form, so neither the topology's cache of
// failure routes nor an activity record is touched off the calling thread): slots are taken in order first, the
// flows are set up (routes, activities, their links' bytes in per-thread arrays) in chunks by whichever thread is
// free, then their activations are scheduled in flow order. Every step that decides a result (slot order, activation
// order, the join) is the single thread's; byte counts are integers, so adding the per-thread sums in any order gives
// the same doubles. A flow of negative size stops the set before anything of it is counted or scheduled (its slots
// are given back).
void Network::start_flows_parallel(std::span<const FlowRequest> flows, DoneFn done) {
  const uint32_t j = reuse_or_append(joins_, free_joins_);
  joins_[j] = Join{flows.size(), q_.now(), 0, std::move(done)};
  const size_t n = flows.size();
  start_set_ = flows;
  start_join_ = j;
  start_slots_.resize(n);
  start_at_.resize(n);
  start_grouped_.resize(n);
  start_times_.resize((n + kStartChunk - 1) / kStartChunk);
  take_slots(start_slots_);
  if (scratch_[0].link_delta.size() != link_bytes_.size())
    for (Scratch& sc : scratch_) sc.link_delta.assign(link_bytes_.size(), 0.0);
  run_parallel(&Network::start_chunks);
  start_set_ = {};
  size_t bad = n;
  for (Scratch& sc : scratch_) bad = std::min(bad, sc.bad_flow), sc.bad_flow = SIZE_MAX;
  for (Scratch& sc : scratch_) {
    for (LinkId l : sc.link_touched) {
      if (bad == n) link_bytes_[size_t(l)] += sc.link_delta[size_t(l)];
      sc.link_delta[size_t(l)] = 0;
    }
    sc.link_touched.clear();
  }
  if (bad < n) {
    for (uint32_t s : start_slots_) hot_[s].live = false, free_slot(s);
    joins_[j] = Join{};
    free_joins_.push_back(j);
    throw negative_size(flows[bad]);
  }
  next_id_ += int64_t(n);
  active_ += n;
  // In set order: chunk by chunk, a chunk's times in the order they first came in it, so every batch gets its flows
  // in set order and new batches are made in the order their times first come, as one flow at a time does.
  BatchCursor cursor;
  for (size_t c = 0; c < start_times_.size(); ++c) {
    const ChunkTimes& ct = start_times_[c];
    size_t i = c * kStartChunk;
    if (ct.n == kChunkUngrouped) {
      for (const size_t e = std::min(n, i + kStartChunk); i < e; ++i)
        schedule_activation(start_slots_[i], start_at_[i], cursor);
      continue;
    }
    for (uint32_t k = 0; k < ct.n; i += ct.times[k].second, ++k)
      schedule_activations(std::span<const uint32_t>(start_grouped_.data() + i, ct.times[k].second), ct.times[k].first,
                           cursor);
  }
}

void Network::start_chunks(size_t thread) {
  Scratch& sc = scratch_[thread];
  const size_t n = start_set_.size();
  for (;;) {
    const size_t b = next_task_.fetch_add(kStartChunk, std::memory_order_relaxed);
    if (b >= n) return;
    const size_t e = std::min(n, b + kStartChunk);
    ChunkTimes& ct = start_times_[b / kStartChunk];
    ct.n = 0;
    std::array<uint8_t, kStartChunk> which;  // each flow's time in ct.times
    uint32_t k = 0;
    bool ungrouped = false;
    for (size_t i = b; i < e; ++i) {
      const FlowRequest& f = start_set_[i];
      if (f.bytes < 0) {  // the set is refused: its grouping does not matter
        sc.bad_flow = std::min(sc.bad_flow, i);
        continue;
      }
      const TimeNs at = start_at_[i] = init_flow<true>(start_slots_[i], f, sc.link_delta.data(), &sc.link_touched);
      hot_[start_slots_[i]].join = start_join_;
      if (ungrouped) continue;
      if (k >= ct.n || ct.times[k].first != at) {
        k = 0;
        while (k < ct.n && ct.times[k].first != at) ++k;
        if (k == ct.n) {
          if (ct.n == kChunkTimes) {
            ungrouped = true;
            continue;
          }
          ct.times[ct.n++] = {at, 0};
        }
      }
      ++ct.times[k].second;
      which[i - b] = uint8_t(k);
    }
    if (ungrouped || sc.bad_flow != SIZE_MAX) {
      ct.n = kChunkUngrouped;
      continue;
    }
    std::array<uint32_t, kChunkTimes> at_pos;
    for (uint32_t t = 0, pos = uint32_t(b); t < ct.n; pos += ct.times[t].second, ++t) at_pos[t] = pos;
    for (size_t i = b; i < e; ++i) start_grouped_[at_pos[which[i - b]]++] = start_slots_[i];
  }
}

// finish_join_member, schedule_activation and join_comp run once per flow; they are inlined into their loops (-3 %
// instructions per round of the 129,024-flow benchmark; the compiler's own heuristics kept them as calls).
[[gnu::always_inline]] inline void Network::finish_join_member(uint32_t j, TimeNs finish) {
  Join& jn = joins_[j];
  jn.finish = std::max(jn.finish, finish);
  if (--jn.left > 0) return;
  const FlowDone d{-1, jn.start, jn.finish};
  DoneFn done = std::move(jn.done);
  jn.done = nullptr;
  free_joins_.push_back(j);
  if (!done) return;
  if (d.finish <= q_.now()) done(d);
  else q_.at(d.finish, [done = std::move(done), d] { done(d); });
}

[[gnu::always_inline]] inline void Network::schedule_activation(uint32_t slot, TimeNs at, BatchCursor& cursor) {
  if (at != cursor.at) cursor.at = at, cursor.batch = activation_batch(at, 1);
  pending_[cursor.batch].second.push_back(slot);
}

void Network::schedule_activations(std::span<const uint32_t> slots, TimeNs at, BatchCursor& cursor) {
  if (at != cursor.at) cursor.at = at, cursor.batch = activation_batch(at, slots.size());
  std::vector<uint32_t>& batch = pending_[cursor.batch].second;
  spare_batches_.reserve_more(batch, slots.size());
  batch.insert(batch.end(), slots.begin(), slots.end());
}

size_t Network::activation_batch(TimeNs at, size_t first) {
  for (size_t i = 0; i < pending_.size(); ++i)
    if (pending_[i].first == at) return i;
  // A list for the slots it starts with; it grows through the spare lists as more come (the largest spare would not
  // do: batches come in start order, not in order of length, and the longest batch got a short list and grew it).
  pending_.emplace_back(at, spare_batches_.take(first));
  q_.at(at, [this, at] { activate_batch(at); });
  return pending_.size() - 1;
}

void Network::activate_batch(TimeNs at) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [at](auto& p) { return p.first == at; });
  std::vector<uint32_t> slots = std::move(it->second);
  pending_.erase(it);
  std::vector<uint32_t>& instant = instant_scratch_;
  std::vector<LinkId>& firsts = touched_scratch_;
  instant.clear();
  firsts.clear();
  const size_t n_slots = slots.size();
  for (size_t x = 0; x < n_slots; ++x) {
    const uint32_t s = slots[x];
    if (x + kAhead < n_slots) __builtin_prefetch(&hot_[slots[x + kAhead]], 1);
    if (hot_[s].instant) {  // its rate is 0 and its Warm::last `at` since it started (init_flow, start_coflow)
      instant.push_back(s);
      continue;
    }
    join_comp(s);
    firsts.push_back(first_link(s));
  }
  // The components the batch joined, each once, in the order their activities came (after every merge).
  std::vector<uint32_t>& touched = comps_scratch_;
  touched.clear();
  ++comp_stamp_;
  for (LinkId l : firsts) {
    const uint32_t c = link_comp_[size_t(l)];
    if (comps_[c].stamp != comp_stamp_) comps_[c].stamp = comp_stamp_, touched.push_back(c);
  }
  spare_batches_.give(std::move(slots));
  if (!instant.empty()) {
    std::vector<uint32_t> v = spare_vectors_.take(instant.size());
    v.assign(instant.begin(), instant.end());
    for (uint32_t s : v) warm_[s].finish = at;  // nothing to carry: done when the latency is over
    arm_group(new_group(std::move(v)));
  }
  for (uint32_t c : touched) add_solve(c, 0.0);
  run_solves();
  schedule_wakeup();
}

uint32_t Network::new_comp() {
  if (!free_comps_.empty()) {
    const uint32_t c = free_comps_.back();
    free_comps_.pop_back();
    return c;
  }
  comps_.emplace_back();
  return uint32_t(comps_.size() - 1);
}

// `to` followed by `from`, in whichever of the two lists already has room for both (components are reused with the
// capacity of their lists: growing the one merged into while the other had room made every round allocate); when
// neither has, `to` grows through `spare` if one is given.
template <class T>
void append_keeping_capacity(std::vector<T>& to, std::vector<T>& from, SpareLists<T>* spare = nullptr) {
  if (to.capacity() < to.size() + from.size() && from.capacity() >= to.size() + from.size()) {
    from.insert(from.begin(), to.begin(), to.end());
    to.swap(from);
    return;
  }
  if (spare) spare->reserve_more(to, from.size());
  to.insert(to.end(), from.begin(), from.end());
}

uint32_t Network::merge_comps(uint32_t a, uint32_t b) {
  if (a == b) return a;
  if (comps_[a].links.size() + comps_[a].acts.size() < comps_[b].links.size() + comps_[b].acts.size()) std::swap(a, b);
  Comp& to = comps_[a];
  Comp& from = comps_[b];
  for (LinkId l : from.links) link_comp_[size_t(l)] = a;
  append_keeping_capacity(to.links, from.links);
  append_keeping_capacity(to.acts, from.acts, &spare_members_);
  to.live += from.live;
  to.departed += from.departed;
  const double top = std::max(to.max_rate, from.max_rate);
  to.at_max = (to.max_rate == top ? to.at_max : 0) + (from.max_rate == top ? from.at_max : 0);
  to.max_rate = top;
  to.always += from.always;
  release_comp(b);
  return a;
}

[[gnu::always_inline]] inline uint32_t Network::join_comp(uint32_t s) {
  uint32_t c = kNoComp;
  bool unlabelled = false;
  for_uses(s, [&](LinkId l, double) {
    const uint32_t x = link_comp_[size_t(l)];
    if (x == kNoComp) unlabelled = true;
    else if (x != c) c = c == kNoComp ? x : merge_comps(c, x);
  });
  if (c == kNoComp) c = new_comp();
  Comp& comp = comps_[c];
  if (unlabelled)
    for_uses(s, [&](LinkId l, double) {
      if (link_comp_[size_t(l)] == kNoComp) link_comp_[size_t(l)] = c, comp.links.push_back(l);
    });
  spare_members_.reserve_more(comp.acts, 1);
  comp.acts.push_back(Member{s, hot_[s].gen});
  ++comp.live;
  ++comp.always;  // not solved yet (a rebuild re-joins solved ones: counting them too only forgoes a skip)
  hot_[s].in_comp = true;
  return c;
}

void Network::dissolve_comp(uint32_t c) {
  for (LinkId l : comps_[c].links) link_comp_[size_t(l)] = kNoComp;
  release_comp(c);
}

void Network::release_comp(uint32_t c) {
  Comp& comp = comps_[c];
  comp.links.clear();  // keeping their capacity for the next component made here
  spare_members_.give(std::move(comp.acts));  // for whichever component grows to its length
  comp.live = comp.departed = 0;
  comp.stamp = 0;
  comp.max_rate = 0, comp.at_max = comp.always = 0;
  free_comps_.push_back(c);
}

void Network::rebuild_comp(uint32_t c, std::vector<uint32_t>& out) {
  std::vector<Member>& members = members_scratch_;
  members.swap(comps_[c].acts);
  dissolve_comp(c);
  const uint64_t stamp = ++comp_stamp_;
  out.clear();
  for (const Member& m : members) {
    const Hot& h = hot_[m.slot];
    if (h.gen != m.gen || !h.live || !h.in_comp) continue;
    join_comp(m.slot);
  }
  for (const Member& m : members) {
    const Hot& h = hot_[m.slot];
    if (h.gen != m.gen || !h.live || !h.in_comp) continue;
    const uint32_t x = link_comp_[size_t(first_link(m.slot))];
    if (comps_[x].stamp != stamp) comps_[x].stamp = stamp, out.push_back(x);
  }
  members.clear();
}

// Indexed binary min-heap of a solve's local links on (l_key, global link id).
bool Network::Scratch::less(int32_t a, int32_t b) const {
  const double x = l_key[size_t(a)], y = l_key[size_t(b)];
  return x != y ? x < y : l_id[size_t(a)] < l_id[size_t(b)];
}
void Network::Scratch::place(size_t i, int32_t l) {
  l_heap[i] = l;
  l_pos[size_t(l)] = int32_t(i);
}
void Network::Scratch::sift_up(size_t i) {
  const int32_t l = l_heap[i];
  while (i > 0) {
    const size_t p = (i - 1) / 2;
    if (!less(l, l_heap[p])) break;
    place(i, l_heap[p]);
    i = p;
  }
  place(i, l);
}
void Network::Scratch::sift_down(size_t i) {
  const int32_t l = l_heap[i];
  const size_t n = l_heap.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && less(l_heap[c + 1], l_heap[c])) ++c;
    if (!less(l_heap[c], l)) break;
    place(i, l_heap[c]);
    i = c;
  }
  place(i, l);
}
void Network::Scratch::heapify() {
  for (size_t i = 0; i < l_heap.size(); ++i) l_pos[size_t(l_heap[i])] = int32_t(i);
  for (size_t i = l_heap.size() / 2; i-- > 0;) sift_down(i);
}
void Network::Scratch::remove(int32_t l) {
  const size_t i = size_t(l_pos[size_t(l)]);
  l_pos[size_t(l)] = -1;
  const int32_t last = l_heap.back();
  l_heap.pop_back();
  if (i == l_heap.size()) return;
  place(i, last);
  sift_up(i);
  sift_down(size_t(l_pos[size_t(last)]));
}

void Network::add_solve(uint32_t c, double keep) {
  if (n_tasks_ == tasks_.size()) tasks_.emplace_back();
  SolveTask& t = tasks_[n_tasks_++];
  t.comp = c;
  t.keep = keep;
  ++epoch_;
  if (epoch_ == 0) {  // wrapped: clear marks so old epochs cannot alias (no solve is running)
    for (LinkScratch& x : link_scratch_) x.mark = x.fixed_mark = 0;
    epoch_ = 1;
  }
  t.epoch = epoch_;
  t.act = spare_vectors_.take(comps_[c].acts.size());  // what the solve can list
  t.first = 0;
}

// Components are link-disjoint and their activities distinct, so solves of different components write disjoint
// state (their component, their activities' Hot/Warm, their links' scratch); what is shared (groups, completions,
// spare vectors, counters) is touched only by commit_solve, in task order.
void Network::run_solves() {
  if (n_tasks_ == 0) return;
  size_t work = 0;  // counted only where there are threads to share it
  if (!workers_.empty() && n_tasks_ > 1)
    for (size_t i = 0; i < n_tasks_; ++i) work += comps_[tasks_[i].comp].acts.size();
  for (size_t i = 0; i < n_tasks_; ++i) {  // each task's group, in task order
    SolveTask& t = tasks_[i];
    t.group = reuse_or_append(groups_, free_groups_);
    t.group_gen = ++groups_[t.group].gen;  // it was free: nothing belongs to it at its new generation
  }
  if (work >= kParallelWork) {
    ++parallel_runs_;
    run_parallel(&Network::solve_tasks);
  } else {
    for (size_t i = 0; i < n_tasks_; ++i) solve(tasks_[i], scratch_[0]);
  }
  for (size_t i = 0; i < n_tasks_; ++i) commit_solve(tasks_[i]);
  n_tasks_ = 0;
}

void Network::run_parallel(Job job) {
  job_ = job;
  next_task_.store(0, std::memory_order_relaxed);
  run_open_.store(true);  // publishes the run's state to the workers that find it open
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++run_gen_;
  }
  wake_cv_.notify_all();
  (this->*job)(0);
  run_open_.store(false);
  while (in_run_.load() != 0) std::this_thread::yield();
}

void Network::solve_tasks(size_t thread) {
  for (;;) {
    const size_t i = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_tasks_) return;
    solve(tasks_[i], scratch_[thread]);
  }
}

void Network::solver_loop(size_t thread) {
  uint64_t seen = 0;
  for (;;) {
    // Runs come in bursts (the re-solves of one event after another, the sets of a round started one after another):
    // waiting a little for the next before sleeping saves the wakeup, which costs more than a set's share of work.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinUs);
    while (run_gen_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until)
      for (int i = 0; i < 64; ++i) cpu_relax();
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait(lock, [&] { return stop_ || run_gen_ != seen; });
      if (stop_) return;
      seen = run_gen_;
    }
    // A run that was closed before this thread came to it (the caller did its tasks) is skipped; a later one that is
    // open is joined (its tasks are taken one by one, so a late joiner takes what is left).
    in_run_.fetch_add(1);
    if (run_open_.load()) (this->*job_)(thread);
    in_run_.fetch_sub(1);
  }
}

void Network::commit_solve(SolveTask& t) {
  for (const SolveTask::Leave& l : t.left) {
    Group& old = groups_[l.group];
    if (old.gen != l.gen) continue;  // an earlier generation of the group
    old.owned -= l.count;
    if (old.owned == 0) free_group(l.group);
  }
  t.left.clear();
  if (t.act.empty()) {
    free_group(t.group);
    spare_vectors_.give(std::move(t.act));
    return;
  }
  ++solves_;
  solved_activities_ += t.act.size();
  Group& grp = groups_[t.group];
  spare_vectors_.give(std::move(grp.slots));
  grp.owned = uint32_t(t.act.size());
  grp.slots = std::move(t.act);
  t.act = {};
  push_completion(t.group, t.first);
}

void Network::solve(SolveTask& task, Scratch& sc) {
  const TimeNs now = q_.now();
  const uint32_t c = task.comp, epoch = task.epoch;
  const double keep_below = task.keep;
  Hot* const hot = hot_.data();
  LinkScratch* const ls = link_scratch_.data();
  // The component's live activities: those below the level keep their rates and only take capacity; the others are
  // re-solved. Stale entries (left, or slot reused) are dropped.
  Comp& comp = comps_[c];
  std::vector<uint32_t>& act = task.act;
  act.clear();
  size_t kept = 0, uses = 0;
  bool unit = true;  // every re-solved activity has unit weight on each link: weight sums are member counts
  double top = 0;
  uint32_t at_top = 0;
  const size_t n_members = comp.acts.size();
  for (size_t x = 0; x < n_members; ++x) {
    const Member m = comp.acts[x];
    // The members lie scattered over the slot tables: fetch ahead what this scan and the build below read.
    if (x + kAhead < n_members) {
      __builtin_prefetch(&hot[comp.acts[x + kAhead].slot]);
      __builtin_prefetch(&warm_[comp.acts[x + kAhead].slot]);
    }
    const Hot& a = hot[m.slot];
    if (a.gen != m.gen || !a.live || !a.in_comp) continue;
    comp.acts[kept++] = m;
    if (a.rate > 0 && a.rate < keep_below && a.n != kOutOfLine) {
      if (a.rate > top) top = a.rate, at_top = 0;
      at_top += a.rate == top;
      for (int i = 0; i < a.n; ++i) {
        LinkScratch& x = ls[size_t(a.link[i])];
        if (x.fixed_mark != epoch) x.fixed_mark = epoch, x.fixed = 0;
        x.fixed += a.w0 * a.rate;
      }
    } else {
      act.push_back(m.slot);
      uses += a.n != kOutOfLine ? a.n : recs_[a.rec].uses.size();
      unit = unit && a.n != kOutOfLine && a.w0 == 1.0;
    }
  }
  comp.acts.resize(kept);
  comp.max_rate = top, comp.at_max = at_top, comp.always = 0;
  if (act.empty()) return;
  // The local problem: links numbered in order of first use, each activity's uses as (local link, weight). The
  // arrays only grow (sized for the largest solve so far); counters say how much of them this solve uses.
  const size_t n = act.size();
  if (sc.a_link.size() < uses) sc.a_link.resize(uses), sc.a_w.resize(uses), sc.l_mem.resize(uses);
  if (sc.l_id.size() < uses) sc.l_id.resize(uses), sc.l_rem.resize(uses), sc.l_wsum.resize(uses), sc.l_unf.resize(uses);
  sc.a_off.resize(n + 1);
  int32_t* const a_link = sc.a_link.data();
  double* const a_w = sc.a_w.data();
  LinkId* const l_id = sc.l_id.data();
  double *const l_rem = sc.l_rem.data(), *const l_wsum = sc.l_wsum.data();
  int32_t* const l_unf = sc.l_unf.data();
  uint32_t q = 0;
  int32_t m_links = 0;
  auto local_of = [&](LinkId l) {
    LinkScratch& x = ls[size_t(l)];
    if (x.mark != epoch) {
      x.mark = epoch;
      x.local = m_links++;
      l_id[x.local] = l;
      l_rem[x.local] = std::max(0.0, cap_[size_t(l)] - (x.fixed_mark == epoch ? x.fixed : 0.0));
      l_wsum[x.local] = 0.0;
      l_unf[x.local] = 0;
    }
    return x.local;
  };
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = act[i];
    Warm& w = warm_[s];
    w.remaining -= hot[s].rate * double(now - w.last);
    w.last = now;
    sc.a_off[i] = q;
    if (unit) {  // weights are all 1: counts stand for the weight sums (filled in below)
      const Hot& h = hot[s];
      for (int u = 0; u < h.n; ++u) {
        const int32_t k = local_of(h.link[u]);
        a_link[q++] = k;
        ++l_unf[k];
      }
      continue;
    }
    for_uses(s, [&](LinkId l, double weight) {
      const int32_t k = local_of(l);
      a_link[q] = k;
      a_w[q++] = weight;
      l_wsum[k] += weight;
      ++l_unf[k];
    });
  }
  if (unit)
    for (int32_t k = 0; k < m_links; ++k) l_wsum[k] = double(l_unf[k]);
  sc.a_off[n] = q;
  const size_t m = size_t(m_links);
  // Each local link's unfrozen activities (CSR), in activity order, for those in `list` (l_unf counts them).
  auto build_members = [&](const uint32_t* list, size_t count) {
    sc.l_moff.resize(m + 1);
    sc.l_moff[0] = 0;
    for (size_t j = 0; j < m; ++j) sc.l_moff[j + 1] = sc.l_moff[j] + uint32_t(std::max(0, sc.l_unf[j]));
    sc.l_fill.assign(sc.l_moff.begin(), sc.l_moff.end() - 1);
    for (size_t x = 0; x < count; ++x) {
      const uint32_t i = list[x];
      for (uint32_t u = sc.a_off[i]; u < sc.a_off[i + 1]; ++u) sc.l_mem[sc.l_fill[size_t(a_link[u])]++] = i;
    }
  };
  // Unit weights: the first levels find the activities a saturated level freezes by one pass over the unfrozen ones
  // instead of member lists (a uniform all-to-all has one or two levels, each freezing most of what is open); at the
  // first level that can freeze less than half of what is open, or past kPassLevels, the lists are built for what
  // is left. Every activity frozen at a level subtracts the same share from each of its links, so the order in
  // which a level's activities freeze does not change a bit of the result. Other weights: member lists from the start
  // (a level's activities freeze in the order of its links' lists, as the weighted sums need a fixed order).
  constexpr int kPassLevels = 4;
  int levels = 0;
  bool members = !unit;
  std::vector<uint32_t>& open = sc.a_list;
  open.resize(n);
  for (size_t i = 0; i < n; ++i) open[i] = uint32_t(i);
  size_t n_open = n;
  if (members) build_members(open.data(), n);
  sc.l_sat.assign(m, 0);
  // Progressive filling: the link with the smallest fair share saturates first; its activities freeze at that share.
  // Links whose share equals the minimum are taken together (a link at the minimum stays there as others freeze).
  // Ties between equal shares break by link id, so results are deterministic.
  sc.a_frozen.assign(n, 0);
  sc.a_rate.assign(n, 0.0);
  sc.l_key.resize(m);
  // A link's fair share: what is left of its capacity over its unfrozen activities (unit weights: their count).
  auto share_of = [&](size_t k) { return std::max(0.0, l_rem[k]) / (unit ? double(l_unf[k]) : l_wsum[k]); };
  sc.l_pos.resize(m);  // heapify places every link
  sc.l_heap.resize(m);
  for (size_t j = 0; j < m; ++j) sc.l_key[j] = share_of(j), sc.l_heap[j] = int32_t(j);
  sc.heapify();
  std::vector<int32_t>& batch = sc.l_batch;
  // Raw pointers for the filling loops: through the vectors, every byte store (frozen, saturated marks) would make
  // the compiler reload each vector's data pointer.
  const uint32_t* const a_off = sc.a_off.data();
  uint8_t *const a_frozen = sc.a_frozen.data(), *const l_sat = sc.l_sat.data();
  double* const a_rate = sc.a_rate.data();
  // Shares are brought up to date lazily: freezing activities at a level's share only raises the shares of the
  // links they cross (what is left is shared by fewer), so a link's stored share is at most its true one, and the
  // top of the heap is the least link (by share, then id) once its own share is refreshed. A refreshed share that
  // grew sinks; a link nobody crosses any more leaves when it comes up. (In floating point a recomputed share can
  // come out a rounding error below the stored one; such a link is ordered by the stored value until it surfaces,
  // which can move a level's share by that rounding error, never more; results stay deterministic.)
  auto fresh_top = [&]() {  // false once the heap is empty
    while (!sc.l_heap.empty()) {
      const size_t k = size_t(sc.l_heap[0]);
      if (l_unf[k] <= 0) {
        sc.remove(int32_t(k));
        continue;
      }
      const double key = share_of(k);
      if (key == sc.l_key[k]) return true;
      sc.l_key[k] = key;
      sc.sift_down(0);
    }
    return false;
  };
  while (fresh_top()) {
    const int32_t top = sc.l_heap[0];
    sc.remove(top);
    const double share = std::max(0.0, sc.l_key[size_t(top)]);
    batch.assign(1, top);
    const double tie = share * (1 + 1e-12);
    while (fresh_top() && sc.l_key[size_t(sc.l_heap[0])] <= tie) {
      const int32_t l = sc.l_heap[0];
      sc.remove(l);
      batch.push_back(l);
    }
    size_t touched = 0;  // link uses the level changed
    auto freeze = [&](uint32_t i) {  // at the level's share; unit weights leave the weight sums to the counts
      a_frozen[i] = 1;
      a_rate[i] = share;
      touched += a_off[i + 1] - a_off[i];
      for (uint32_t u = a_off[i]; u < a_off[i + 1]; ++u) {
        const size_t k = size_t(a_link[u]);
        if (unit) {
          l_rem[k] -= share;
        } else {
          l_rem[k] -= a_w[u] * share;
          l_wsum[k] -= a_w[u];
        }
        --l_unf[k];
      }
    };
    if (!members) {
      // A pass pays when the level freezes much of what is open: its links' unfrozen counts bound what it freezes.
      size_t bound = 0;
      for (int32_t l : batch) bound += size_t(std::max(0, l_unf[size_t(l)]));
      if (2 * bound < n_open || ++levels > kPassLevels) {
        build_members(open.data(), n_open);
        members = true;
      }
    }
    if (!members) {
      for (int32_t l : batch) l_sat[size_t(l)] = 1;
      uint32_t* const op = open.data();
      size_t kept = 0;
      for (size_t x = 0; x < n_open; ++x) {
        const uint32_t i = op[x];
        uint32_t u = a_off[i];
        const uint32_t end = a_off[i + 1];
        while (u < end && !l_sat[size_t(a_link[u])]) ++u;
        if (u < end) freeze(i);
        else op[kept++] = i;
      }
      n_open = kept;
      for (int32_t l : batch) l_sat[size_t(l)] = 0;
    }
    if (members) {
      const uint32_t *const moff = sc.l_moff.data(), *const mem = sc.l_mem.data();
      for (int32_t l : batch)
        for (uint32_t q = moff[size_t(l)]; q < moff[size_t(l) + 1]; ++q)
          if (!a_frozen[mem[q]]) freeze(mem[q]);
    }
    // A level that changed at least as many link uses as there are links left refreshes them all and rebuilds the
    // heap in one go (its order is total, on (share, id), so how it is built does not change what it yields).
    if (touched >= sc.l_heap.size()) {
      size_t kept = 0;
      for (int32_t l : sc.l_heap) {
        const size_t k = size_t(l);
        if (l_unf[k] > 0) sc.l_key[k] = share_of(k), sc.l_heap[kept++] = l;
        else sc.l_pos[k] = -1;
      }
      sc.l_heap.resize(kept);
      sc.heapify();
    }
  }
  TimeNs first = std::numeric_limits<TimeNs>::max();
  const uint32_t group = task.group, group_gen = task.group_gen;
  std::vector<SolveTask::Leave>& left = task.left;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = act[i];
    const double rate = a_rate[i];
    hot[s].rate = rate;
    Warm& w = warm_[s];
    w.finish = now + duration_ns(w.remaining, rate);
    first = std::min(first, w.finish);
    if (w.group != UINT32_MAX) {  // leaves the group it was in (commit_solve counts it out)
      if (!left.empty() && left.back().group == w.group && left.back().gen == w.group_gen) ++left.back().count;
      else left.push_back(SolveTask::Leave{w.group, w.group_gen, 1});
    }
    w.group = group, w.group_gen = group_gen;
    if (rate <= 0 || hot[s].n == kOutOfLine) {
      ++comp.always;
    } else {
      if (rate > comp.max_rate) comp.max_rate = rate, comp.at_max = 0;
      comp.at_max += rate == comp.max_rate;
    }
  }
  task.first = first;
}

uint32_t Network::new_group(std::vector<uint32_t> slots) {
  const uint32_t g = reuse_or_append(groups_, free_groups_);
  // g was free, so no activity belongs to it at its new generation: each slot leaves its old group after the bump.
  const uint32_t gen = ++groups_[g].gen;
  const size_t n = slots.size();
  for (size_t x = 0; x < n; ++x) {
    if (x + kAhead < n) __builtin_prefetch(&warm_[slots[x + kAhead]]);
    const uint32_t s = slots[x];
    leave_group(s);
    warm_[s].group = g, warm_[s].group_gen = gen;
  }
  Group& grp = groups_[g];
  spare_vectors_.give(std::move(grp.slots));
  grp.slots = std::move(slots);
  grp.owned = uint32_t(n);
  return g;
}

void Network::free_group(uint32_t g) {
  Group& grp = groups_[g];
  grp.gen++;
  grp.owned = 0;
  spare_vectors_.give(std::move(grp.slots));
  grp.slots = {};
  free_groups_.push_back(g);
}

void Network::leave_group(uint32_t s) {
  Warm& a = warm_[s];
  if (a.group == UINT32_MAX) return;
  Group& old = groups_[a.group];
  const bool mine = old.gen == a.group_gen;
  const uint32_t g = a.group;
  a.group = UINT32_MAX;
  if (mine && --old.owned == 0) free_group(g);
}

// Pushes the group's earliest finish among the activities it still owns, or frees the group when it owns none.
void Network::arm_group(uint32_t g) {
  Group& grp = groups_[g];
  if (grp.owned == 0) {
    free_group(g);
    return;
  }
  TimeNs first = std::numeric_limits<TimeNs>::max();
  size_t keep = 0;
  for (uint32_t s : grp.slots) {
    const Warm& a = warm_[s];
    if (a.group != g || a.group_gen != grp.gen) continue;  // retired or re-solved into another group
    grp.slots[keep++] = s;
    first = std::min(first, a.finish);
  }
  grp.slots.resize(keep);
  push_completion(g, first);
}

void Network::push_completion(uint32_t g, TimeNs first) {
  completions_.push_back(Completion{first, next_order_++, g, groups_[g].gen});
  std::push_heap(completions_.begin(), completions_.end(),
                 [](const Completion& x, const Completion& y) { return later(x.t, x.order, y.t, y.order); });
}

void Network::schedule_wakeup() {
  auto cmp = [](const Completion& x, const Completion& y) { return later(x.t, x.order, y.t, y.order); };
  while (!completions_.empty()) {  // drop entries of groups whose activities were all re-solved elsewhere
    const Completion& c = completions_.front();
    if (groups_[c.group].gen == c.gen) break;
    std::pop_heap(completions_.begin(), completions_.end(), cmp);
    completions_.pop_back();
  }
  if (completions_.empty()) return;
  const TimeNs t = completions_.front().t;
  if (wake_at_ >= 0 && wake_at_ <= t && wake_at_ >= q_.now()) return;  // an earlier or equal wakeup is pending
  wake_at_ = t;
  const uint64_t token = ++wake_token_;
  q_.at(t, [this, token] { wakeup(token); });
}

// Scans the due groups (taken by index, on any thread): retires the activities due by the horizon, keeps the others
// in the group with their earliest finish, and counts what leaves each component. Only a group's own activities are
// written; a slot listed by several groups is recognised by its group and generation, read and written atomically
// (relaxed: a stale listing only needs to see that the slot is not its own).
void Network::scan_groups(size_t) {
  Hot* const hot = hot_.data();
  Warm* const warm = warm_.data();
  const Comp* const comps = comps_.data();
  const uint32_t* const link_comp = link_comp_.data();
  const TimeNs horizon = scan_horizon_;
  for (;;) {
    const size_t i = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_scans_) break;
    GroupScan& g = scans_[i];
    Group& grp = groups_[g.group];
    g.finished.clear();
    g.comps.clear();
    TimeNs first = std::numeric_limits<TimeNs>::max();
    size_t keep = 0, last = SIZE_MAX;
    uint32_t* const slots = grp.slots.data();
    const size_t n_slots = grp.slots.size();
    for (size_t x = 0; x < n_slots; ++x) {
      const uint32_t s = slots[x];
      if (x + kAhead < n_slots) __builtin_prefetch(&warm[slots[x + kAhead]]), __builtin_prefetch(&hot[slots[x + kAhead]]);
      Warm& a = warm[s];
      std::atomic_ref<uint32_t> owner(a.group);
      if (owner.load(std::memory_order_relaxed) != g.group || a.group_gen != g.gen) continue;
      if (a.finish > horizon) {
        slots[keep++] = s;
        first = std::min(first, a.finish);
        continue;
      }
      Hot& h = hot[s];
      h.live = false;
      owner.store(UINT32_MAX, std::memory_order_relaxed);
      g.finished.push_back(Finished{s, h.join, h.rec, a.finish});
      if (!h.in_comp) continue;
      h.in_comp = false;
      const uint32_t k = link_comp[size_t(first_link(h))];
      const Comp& comp = comps[k];
      if (last == SIZE_MAX || g.comps[last].comp != k) {  // mostly one component per group
        last = 0;
        while (last < g.comps.size() && g.comps[last].comp != k) ++last;
        if (last == g.comps.size()) g.comps.push_back(GroupScan::Left{k, 0, 0, 0, h.rate});
      }
      GroupScan::Left& out = g.comps[last];
      ++out.left;
      if (h.rate <= 0 || h.n == kOutOfLine) ++out.always;
      else if (h.rate == comp.max_rate) ++out.at_max;
      out.keep = std::min(out.keep, h.rate);
    }
    grp.slots.resize(keep);
    g.kept = uint32_t(keep);
    g.first = first;
  }
}

void Network::wakeup(uint64_t token) {
  if (token != wake_token_) return;  // superseded by an earlier wakeup
  wake_at_ = -1;
  const TimeNs now = q_.now(), horizon = now + opt_.time_quantum_ns;
  auto cmp = [](const Completion& x, const Completion& y) { return later(x.t, x.order, y.t, y.order); };
  std::vector<Rearm>& rearm = rearm_scratch_;
  rearm.clear();
  // Each component the leavers leave is re-solved once, keeping what runs below the lowest leaving rate on it, in
  // order of that rate (ties in the order the components were first touched). A component is dropped when nothing
  // remains in it and rebuilt from what remains once more have left it than remain. Groups untouched by the
  // re-solves keep their other activities' predictions.
  std::vector<uint32_t>& touched = comps_scratch_;
  touched.clear();
  const uint64_t stamp = ++comp_stamp_;
  const uint64_t wake = ++wakes_;
  // The groups due, in the order of their completions (each once).
  size_t n_due = 0, due_slots = 0;
  while (!completions_.empty() && completions_.front().t <= horizon) {
    const Completion c = completions_.front();
    std::pop_heap(completions_.begin(), completions_.end(), cmp);
    completions_.pop_back();
    Group& grp = groups_[c.group];
    if (grp.gen != c.gen || grp.wake == wake) continue;
    grp.wake = wake;
    if (n_due == scans_.size()) scans_.emplace_back();
    GroupScan& g = scans_[n_due++];
    g.group = c.group;
    g.gen = c.gen;
    due_slots += grp.slots.size();
  }
  n_scans_ = n_due;
  scan_horizon_ = horizon;
  // Scanning a group touches only its own activities (and reads the components), so groups are scanned on the
  // solver threads when there are many; what the scans found is applied below in the order of the groups.
  if (!workers_.empty() && n_due > 1 && due_slots >= kParallelWork) {
    run_parallel(&Network::scan_groups);
  } else {
    next_task_.store(0, std::memory_order_relaxed);
    scan_groups(0);
  }
  Comp* const comps = comps_.data();
  for (size_t i = 0; i < n_due; ++i) {
    const GroupScan& g = scans_[i];
    for (const GroupScan::Left& x : g.comps) {
      Comp& comp = comps[x.comp];
      comp.live -= x.left;
      comp.departed += x.left;
      comp.always -= x.always;
      comp.at_max -= x.at_max;
      if (comp.stamp != stamp) comp.stamp = stamp, comp.keep = x.keep, touched.push_back(x.comp);
      else comp.keep = std::min(comp.keep, x.keep);
    }
    const uint32_t left = uint32_t(g.finished.size());
    active_ -= left;
    Group& grp = groups_[g.group];
    grp.owned -= left;  // the group stays allocated until it is re-armed below
    rearm.push_back(Rearm{g.group, g.gen, g.kept, g.first});
  }
  std::stable_sort(touched.begin(), touched.end(),
                   [&](uint32_t a, uint32_t b) { return comps_[a].keep < comps_[b].keep; });
  for (uint32_t c : touched) {
    const double keep = comps_[c].keep;
    if (comps_[c].live == 0) {
      dissolve_comp(c);
    } else if (const Comp& k = comps_[c];
               k.always == 0 && (k.at_max == 0 ? keep >= k.max_rate : keep > k.max_rate)) {
      continue;  // everything left runs below the lowest leaving rate: nothing changes
    } else if (comps_[c].departed > comps_[c].live) {
      std::vector<uint32_t>& parts = rebuilt_scratch_;
      rebuild_comp(c, parts);
      for (uint32_t p : parts) add_solve(p, keep);
    } else {
      add_solve(c, keep);
    }
  }
  run_solves();
  for (const Rearm& r : rearm) {
    Group& grp = groups_[r.group];
    if (grp.gen != r.gen) continue;  // emptied by the re-solves and freed
    if (grp.owned == 0) free_group(r.group);
    else if (grp.owned == r.kept) push_completion(r.group, r.first);
    else arm_group(r.group);
  }
  schedule_wakeup();
  for (size_t i = 0; i < n_due; ++i)
    for (const Finished& f : scans_[i].finished) {
      const uint32_t slot = f.slot, join = f.join;
      const TimeNs t = f.t;
      FlowDone d{-1, 0, t};
      DoneFn done;
      if (f.rec != kNoRec) {
        Activity& a = recs_[f.rec];
        d = FlowDone{a.id, a.start, std::max(t, a.not_before)};
        done = std::move(a.done);
        a.done = nullptr;
        a.uses.clear();
        a.not_before = 0;  // the record is reused by flows and coflows alike
        free_recs_.push_back(f.rec);
        hot_[slot].rec = kNoRec;
      }
      free_slot(slot);
      if (join != kNoJoin) finish_join_member(join, t);  // a member of a start_flows set: no callback of its own
      if (!done) continue;
      if (d.finish <= now) done(d);
      else q_.at(d.finish, [done = std::move(done), d] { done(d); });
    }
}

}  // namespace cs
