#include "sim/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
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

bool later(TimeNs ta, uint64_t ia, TimeNs tb, uint64_t ib) { return ta != tb ? ta > tb : ia > ib; }
TimeNs duration_ns(double bytes, double rate) {
  if (bytes <= 0) return 0;
  if (!(rate > 0)) return std::numeric_limits<TimeNs>::max() / 4;
  // Round up, forgiving the last bits of floating-point noise so exact quotients stay exact.
  return TimeNs(std::ceil(bytes / rate - 1e-6));
}
}  // namespace

Network::Network(const Topology& topo, EventQueue& queue, NetworkOptions options)
    : topo_(topo), q_(queue), opt_(options) {
  const size_t L = topo.links();
  link_members_.resize(L);
  link_bytes_.assign(L, 0.0);
  rem_.assign(L, 0.0);
  wsum_.assign(L, 0.0);
  unfrozen_.assign(L, 0);
  link_mark_.assign(L, 0);
  heap_key_.assign(L, 0.0);
  heap_pos_.assign(L, -1);
  dirty_mark_.assign(L, 0);
  cover_mark_.assign(L, 0);
  load_.assign(L, 0.0);
  seed_keep_.assign(L, 0.0);
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
  acts_.emplace_back();
  hot_.emplace_back();
  warm_.emplace_back();
  if (free_bits_.size() * 64 < acts_.size()) free_bits_.push_back(0);
  return uint32_t(acts_.size() - 1);
}

void Network::free_slot(uint32_t s) {
  const size_t w = s / 64;
  free_bits_[w] |= uint64_t(1) << (s % 64);
  free_lo_ = std::min(free_lo_, w);
  ++free_count_;
}

std::vector<uint32_t> Network::take_vector() {
  if (spare_vectors_.empty()) return {};
  std::vector<uint32_t> v = std::move(spare_vectors_.back());
  spare_vectors_.pop_back();
  return v;
}

void Network::give_vector(std::vector<uint32_t>&& v) {
  v.clear();
  if (v.capacity() > 0) spare_vectors_.push_back(std::move(v));
}

void Network::set_uses(uint32_t s, std::span<const Use> uses) {
  Hot& h = hot_[s];
  Activity& a = acts_[s];
  a.uses.clear();
  h.w0 = uses.empty() ? 0.0 : uses[0].weight;
  const bool uniform = std::all_of(uses.begin(), uses.end(), [&](const Use& u) { return u.weight == h.w0; });
  if (uniform && uses.size() <= size_t(kInline)) {
    h.n = uint8_t(uses.size());
    for (size_t i = 0; i < uses.size(); ++i) h.link[i] = uses[i].link;
  } else {
    h.n = kOutOfLine;
    a.uses.assign(uses.begin(), uses.end());
  }
}

int64_t Network::start_flow(const FlowRequest& req, DoneFn done) {
  const uint32_t s = start_flow_slot(req);
  acts_[s].done = std::move(done);
  return acts_[s].id;
}

uint32_t Network::start_flow_slot(const FlowRequest& req) {
  if (req.bytes < 0) throw std::invalid_argument(fmt::format("flow {}→{}: negative size {}", req.src_gpu, req.dst_gpu, req.bytes));
  const Route r = topo_.route(req.src_gpu, req.dst_gpu, req.path, req.hash);
  const uint32_t s = new_slot();
  Activity& a = acts_[s];
  Hot& h = hot_[s];
  h.gen++;
  h.live = true;
  Warm& wm = warm_[s];
  h.rate = 0;
  wm.group = UINT32_MAX;  // a reused slot must not look like a member of its previous owner's group
  a.id = next_id_++;
  a.start = q_.now();
  // Latency-weighted sharing: the activity progresses at the common fair level ρ and moves w·ρ bytes per ns, with
  // w = (1 µs / route latency); its size in ρ units is bytes / w.
  const double w = opt_.latency_weighted && r.latency_ns > 0 ? 1000.0 / double(r.latency_ns) : 1.0;
  wm.remaining = double(req.bytes) / w;
  std::array<Use, Route::kMaxHops> uses;
  size_t n = 0;
  for (LinkId l : r.links()) {
    uses[n++] = Use{l, w};
    link_bytes_[size_t(l)] += double(req.bytes);
  }
  set_uses(s, std::span<const Use>(uses.data(), n));
  h.join = kNoJoin;
  ++active_;
  schedule_activation(s, q_.now() + r.latency_ns);
  return s;
}

int64_t Network::start_coflow(std::span<const FlowRequest> flows, DoneFn done) {
  // Per-link load of the whole set (summed in a per-link scratch array, links in increasing id); the activity's
  // size is its bottleneck link's load at unit weight.
  // The activity starts sharing after the shortest route latency of its flows: in per-flow sharing the flows with
  // longer latencies catch up on bandwidth the early ones leave, so the bandwidth phase hides the difference.
  TimeNs latency = std::numeric_limits<TimeNs>::max();
  std::vector<LinkId>& touched = touched_scratch_;
  touched.clear();
  ++dirty_stamp_;  // the solver's dirty marks are free between solves
  for (const FlowRequest& f : flows) {
    const Route r = topo_.route(f.src_gpu, f.dst_gpu, f.path, f.hash);
    latency = std::min(latency, r.latency_ns);
    for (LinkId l : r.links()) {
      const size_t k = size_t(l);
      if (dirty_mark_[k] != dirty_stamp_) dirty_mark_[k] = dirty_stamp_, touched.push_back(l), load_[k] = 0;
      load_[k] += double(f.bytes);
    }
  }
  std::sort(touched.begin(), touched.end());
  std::vector<Use> uses;
  uses.reserve(touched.size());
  for (LinkId l : touched) uses.push_back(Use{l, load_[size_t(l)]});
  // Normalise so the activity's rate is bytes per ns on the link with the longest time at full capacity.
  double bottleneck_time = 0, bottleneck_bytes = 0;
  for (const Use& u : uses) {
    link_bytes_[size_t(u.link)] += u.weight;
    const double t = u.weight / topo_.link(u.link).bytes_per_ns;
    if (t > bottleneck_time) bottleneck_time = t, bottleneck_bytes = u.weight;
  }
  const uint32_t s = new_slot();
  Activity& a = acts_[s];
  Hot& h = hot_[s];
  h.gen++;
  h.live = true;
  warm_[s].remaining = bottleneck_bytes;
  h.rate = 0;
  warm_[s].group = UINT32_MAX;  // a reused slot must not look like a member of its previous owner's group
  a.id = next_id_++;
  a.start = q_.now();
  h.join = kNoJoin;
  for (Use& u : uses) u.weight /= bottleneck_bytes;
  set_uses(s, uses);
  a.done = std::move(done);
  ++active_;
  schedule_activation(s, q_.now() + latency);
  return a.id;
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
  const uint32_t j = reuse_or_append(joins_, free_joins_);
  joins_[j] = Join{flows.size(), q_.now(), 0, std::move(done)};
  for (const FlowRequest& f : flows) hot_[start_flow_slot(f)].join = j;
}

void Network::finish_join_member(uint32_t j, TimeNs finish) {
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

void Network::schedule_activation(uint32_t slot, TimeNs at) {
  for (auto& [t, slots] : pending_)
    if (t == at) {
      slots.push_back(slot);
      return;
    }
  pending_.emplace_back(at, take_vector());
  pending_.back().second.push_back(slot);
  q_.at(at, [this, at] { activate_batch(at); });
}

void Network::activate_batch(TimeNs at) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [at](auto& p) { return p.first == at; });
  std::vector<uint32_t> slots = std::move(it->second);
  pending_.erase(it);
  std::vector<LinkId>& seeds = seeds_scratch_;
  std::vector<uint32_t>& instant = instant_scratch_;
  seeds.clear();
  instant.clear();
  ++dirty_stamp_;  // marks each seed link once
  for (uint32_t s : slots) {
    Hot& h = hot_[s];
    warm_[s].last = at;
    h.rate = 0;
    if (h.n == 0 || warm_[s].remaining <= 0) {
      instant.push_back(s);
      continue;
    }
    for_uses(s, [&](LinkId l, double) {
      const size_t k = size_t(l);
      link_members_[k].push_back(Member{s, h.gen});
      if (dirty_mark_[k] != dirty_stamp_) dirty_mark_[k] = dirty_stamp_, seeds.push_back(l);
    });
  }
  give_vector(std::move(slots));
  if (!instant.empty()) {
    std::vector<uint32_t> v = take_vector();
    v.assign(instant.begin(), instant.end());
    for (uint32_t s : v) warm_[s].finish = at;  // nothing to carry: done when the latency is over
    arm_group(new_group(std::move(v)));
  }
  solve_components(seeds, {});
  schedule_wakeup();
}

void Network::solve_components(std::span<const LinkId> seeds, std::span<const double> keep_below) {
  ++cover_stamp_;
  for (size_t i = 0; i < seeds.size(); ++i)
    if (cover_mark_[size_t(seeds[i])] != cover_stamp_)
      solve_from(seeds.subspan(i, 1), keep_below.empty() ? 0.0 : keep_below[i]);
}

// Indexed binary min-heap of links on (heap_key_, link id).
bool Network::heap_less(LinkId a, LinkId b) const {
  const double x = heap_key_[size_t(a)], y = heap_key_[size_t(b)];
  return x != y ? x < y : a < b;
}
void Network::heap_place(size_t i, LinkId l) {
  heap_[i] = l;
  heap_pos_[size_t(l)] = int32_t(i);
}
void Network::heap_sift_up(size_t i) {
  const LinkId l = heap_[i];
  while (i > 0) {
    const size_t p = (i - 1) / 2;
    if (!heap_less(l, heap_[p])) break;
    heap_place(i, heap_[p]);
    i = p;
  }
  heap_place(i, l);
}
void Network::heap_sift_down(size_t i) {
  const LinkId l = heap_[i];
  const size_t n = heap_.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap_less(heap_[c + 1], heap_[c])) ++c;
    if (!heap_less(heap_[c], l)) break;
    heap_place(i, heap_[c]);
    i = c;
  }
  heap_place(i, l);
}
void Network::heap_update(LinkId l) {
  const int32_t p = heap_pos_[size_t(l)];
  if (p < 0) {
    heap_.push_back(l);
    heap_sift_up(heap_.size() - 1);
    return;
  }
  heap_sift_up(size_t(p));
  heap_sift_down(size_t(heap_pos_[size_t(l)]));
}
void Network::heap_remove(LinkId l) {
  const size_t i = size_t(heap_pos_[size_t(l)]);
  heap_pos_[size_t(l)] = -1;
  const LinkId last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  heap_place(i, last);
  heap_sift_up(i);
  heap_sift_down(size_t(heap_pos_[size_t(last)]));
}
LinkId Network::heap_pop() {
  const LinkId top = heap_[0];
  heap_remove(top);
  return top;
}

void Network::solve_from(std::span<const LinkId> seeds, double keep_below) {
  const TimeNs now = q_.now();
  ++epoch_;
  if (epoch_ == 0) {  // wrapped: clear marks so old epochs cannot alias
    std::fill(link_mark_.begin(), link_mark_.end(), 0);
    for (Hot& h : hot_) h.mark = 0;
    epoch_ = 1;
  }
  // Closure: every link and activity reachable from the seeds through shared links. The same scan takes the
  // capacity left on each link by the activities that keep their rates.
  std::vector<LinkId>& links = links_scratch_;
  std::vector<uint32_t> comp = take_vector();
  links.clear();
  for (LinkId l : seeds)
    if (link_mark_[size_t(l)] != epoch_) link_mark_[size_t(l)] = epoch_, links.push_back(l);
  Hot* const hot = hot_.data();
  for (size_t i = 0; i < links.size(); ++i) {
    const LinkId li = links[i];
    cover_mark_[size_t(li)] = cover_stamp_;
    auto& members = link_members_[size_t(li)];
    double cap = topo_.link(li).bytes_per_ns;
    size_t keep = 0;
    for (const Member& m : members) {
      Hot& a = hot[m.slot];
      if (a.gen != m.gen || !a.live) continue;  // finished: drop the stale membership
      members[keep++] = m;
      if (a.mark != epoch_) {
        a.mark = epoch_;
        // Inline single-weight flows below the level keep their rates (coflows and long routes are always re-solved).
        a.fixed = a.rate > 0 && a.rate < keep_below && a.n != kOutOfLine;
        a.frozen = a.fixed;
        if (!a.fixed) {
          comp.push_back(m.slot);
          for_uses(m.slot, [&](LinkId l, double) {
            if (link_mark_[size_t(l)] != epoch_) link_mark_[size_t(l)] = epoch_, links.push_back(l);
          });
        }
      }
      if (a.fixed) cap -= a.w0 * a.rate;
    }
    members.resize(keep);
    rem_[size_t(li)] = std::max(0.0, cap);
    wsum_[size_t(li)] = 0;
    unfrozen_[size_t(li)] = 0;
  }
  if (comp.empty()) {
    give_vector(std::move(comp));
    return;
  }
  ++solves_;
  solved_activities_ += comp.size();
  for (uint32_t s : comp) {
    Warm& a = warm_[s];
    Hot& h = hot[s];
    a.remaining -= h.rate * double(now - a.last);
    a.last = now;
    h.frozen = false;
    for_uses(s, [&](LinkId l, double w) { wsum_[size_t(l)] += w, unfrozen_[size_t(l)]++; });
  }
  // Progressive filling: the link with the smallest fair share saturates first; its activities freeze at that share.
  // Links whose share equals the minimum are taken together (a link at the minimum stays there as others freeze).
  // The share queue is an indexed heap on (share, link id), one entry per link with unfrozen activities, updated in
  // place: ties between equal shares break by link id, so results are deterministic.
  for (LinkId l : links)
    if (unfrozen_[size_t(l)] > 0) heap_key_[size_t(l)] = rem_[size_t(l)] / wsum_[size_t(l)], heap_update(l);
  std::vector<LinkId>& batch = batch_scratch_;
  std::vector<LinkId>& dirty = dirty_scratch_;
  while (!heap_.empty()) {
    const LinkId top = heap_pop();
    const double share = std::max(0.0, heap_key_[size_t(top)]);
    batch.assign(1, top);
    const double tie = share * (1 + 1e-12);
    while (!heap_.empty() && heap_key_[size_t(heap_[0])] <= tie) batch.push_back(heap_pop());
    dirty.clear();
    ++dirty_stamp_;
    for (LinkId l : batch) {
      for (const Member& m : link_members_[size_t(l)]) {
        Hot& a = hot[m.slot];
        if (a.gen != m.gen || !a.live || a.mark != epoch_ || a.frozen) continue;
        a.frozen = true;
        a.rate = share;
        for_uses(m.slot, [&](LinkId ul, double w) {
          const size_t k = size_t(ul);
          rem_[k] -= w * share;
          wsum_[k] -= w;
          --unfrozen_[k];
          if (dirty_mark_[k] != dirty_stamp_) dirty_mark_[k] = dirty_stamp_, dirty.push_back(ul);
        });
      }
    }
    for (LinkId l : dirty) {
      const size_t k = size_t(l);
      if (unfrozen_[k] <= 0) {
        if (heap_pos_[k] >= 0) heap_remove(l);
        continue;
      }
      heap_key_[k] = std::max(0.0, rem_[k]) / wsum_[k];
      heap_update(l);
    }
  }
  for (uint32_t s : comp) {
    Warm& a = warm_[s];
    a.finish = now + duration_ns(a.remaining, hot[s].rate);
  }
  arm_group(new_group(std::move(comp)));
}

uint32_t Network::new_group(std::vector<uint32_t> slots) {
  const uint32_t g = reuse_or_append(groups_, free_groups_);
  for (uint32_t s : slots) leave_group(s);
  Group& grp = groups_[g];
  grp.gen++;
  give_vector(std::move(grp.slots));
  grp.slots = std::move(slots);
  grp.owned = uint32_t(grp.slots.size());
  for (uint32_t s : grp.slots) warm_[s].group = g, warm_[s].group_gen = grp.gen;
  return g;
}

void Network::free_group(uint32_t g) {
  Group& grp = groups_[g];
  grp.gen++;
  grp.owned = 0;
  give_vector(std::move(grp.slots));
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
    if (!hot_[s].live || a.group != g || a.group_gen != grp.gen) continue;
    grp.slots[keep++] = s;
    first = std::min(first, a.finish);
  }
  grp.slots.resize(keep);
  completions_.push_back(Completion{first, next_order_++, g, grp.gen});
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

void Network::wakeup(uint64_t token) {
  if (token != wake_token_) return;  // superseded by an earlier wakeup
  wake_at_ = -1;
  const TimeNs now = q_.now(), horizon = now + opt_.time_quantum_ns;
  auto cmp = [](const Completion& x, const Completion& y) { return later(x.t, x.order, y.t, y.order); };
  std::vector<std::pair<uint32_t, TimeNs>>& finished = finished_scratch_;
  std::vector<std::pair<uint32_t, uint32_t>>& rearm = rearm_scratch_;
  finished.clear();
  rearm.clear();
  while (!completions_.empty() && completions_.front().t <= horizon) {
    const Completion c = completions_.front();
    std::pop_heap(completions_.begin(), completions_.end(), cmp);
    completions_.pop_back();
    Group& grp = groups_[c.group];
    if (grp.gen != c.gen) continue;
    for (uint32_t s : grp.slots) {
      Warm& a = warm_[s];
      Hot& h = hot_[s];
      if (!h.live || a.group != c.group || a.group_gen != c.gen || a.finish > horizon) continue;
      h.live = false;
      --active_;
      --grp.owned;  // the group stays allocated until it is re-armed below
      a.group = UINT32_MAX;
      finished.emplace_back(s, a.finish);
    }
    rearm.emplace_back(c.group, c.gen);
  }
  // Leavers in order of rate: each starts a solve from its links that no earlier solve covered, keeping what runs
  // below its own rate. A later solve cannot reach an earlier closure (it would have to pass through an activity
  // at or above the later, higher level, which the earlier closure took in with all its links), so every
  // component is solved once, at the lowest leaving rate among the leavers on it. Groups untouched by the re-solve
  // keep their other activities' predictions.
  // Each leaver's links are seeds once, keeping below the lowest leaving rate on the link, in order of that rate
  // (ties in the order the links were first seen).
  std::vector<LinkId>& seeds = seeds_scratch_;
  std::vector<double>& keep = keep_scratch_;
  seeds.clear();
  ++dirty_stamp_;
  for (const auto& [s, t] : finished) {
    const double rate = hot_[s].rate;
    for_uses(s, [&](LinkId l, double) {
      const size_t k = size_t(l);
      if (dirty_mark_[k] != dirty_stamp_) dirty_mark_[k] = dirty_stamp_, seeds.push_back(l), seed_keep_[k] = rate;
      else seed_keep_[k] = std::min(seed_keep_[k], rate);
    });
  }
  std::stable_sort(seeds.begin(), seeds.end(),
                   [&](LinkId a, LinkId b) { return seed_keep_[size_t(a)] < seed_keep_[size_t(b)]; });
  keep.clear();
  for (LinkId l : seeds) keep.push_back(seed_keep_[size_t(l)]);
  solve_components(seeds, keep);
  for (auto [g, gen] : rearm)
    if (groups_[g].gen == gen) arm_group(g);
  schedule_wakeup();
  for (auto& [slot, t] : finished) {
    Hot& h = hot_[slot];
    if (h.join != kNoJoin) {  // a member of a start_flows set: no callback of its own
      const uint32_t join = h.join;
      h.join = kNoJoin;
      free_slot(slot);
      finish_join_member(join, t);
      continue;
    }
    Activity& a = acts_[slot];
    const FlowDone d{a.id, a.start, t};
    DoneFn done = std::move(a.done);
    a.done = nullptr;
    free_slot(slot);
    if (!done) continue;
    if (t <= now) done(d);
    else q_.at(t, [done = std::move(done), d] { done(d); });
  }
}

}  // namespace cs
