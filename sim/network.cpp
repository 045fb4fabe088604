#include "sim/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace cs {

namespace {
bool later(TimeNs ta, uint64_t ia, TimeNs tb, uint64_t ib) { return ta != tb ? ta > tb : ia > ib; }
struct ShareEntry {
  double share;
  LinkId link;
  uint32_t version;
};
// Min-heap on (share, link id): ties between equal shares break by link id, so results are deterministic.
bool share_after(const ShareEntry& a, const ShareEntry& b) {
  return a.share != b.share ? a.share > b.share : a.link > b.link;
}
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
  link_version_.assign(L, 0);
  dirty_mark_.assign(L, 0);
}

uint32_t Network::new_slot() {
  if (!free_.empty()) {
    const uint32_t s = free_.back();
    free_.pop_back();
    return s;
  }
  acts_.emplace_back();
  return uint32_t(acts_.size() - 1);
}

int64_t Network::start_flow(const FlowRequest& req, DoneFn done) {
  if (req.bytes < 0) throw std::invalid_argument(fmt::format("flow {}→{}: negative size {}", req.src_gpu, req.dst_gpu, req.bytes));
  const Route r = topo_.route(req.src_gpu, req.dst_gpu, req.path, req.hash);
  const uint32_t s = new_slot();
  Activity& a = acts_[s];
  a.gen++;
  a.live = true;
  a.sharing = false;
  a.remaining = double(req.bytes);
  a.rate = 0;
  a.group = UINT32_MAX;  // a reused slot must not look like a member of its previous owner's group
  a.id = next_id_++;
  a.start = q_.now();
  a.uses.clear();
  // Latency-weighted sharing: the activity progresses at the common fair level ρ and moves w·ρ bytes per ns, with
  // w = (1 µs / route latency); its size in ρ units is bytes / w.
  const double w = opt_.latency_weighted && r.latency_ns > 0 ? 1000.0 / double(r.latency_ns) : 1.0;
  a.remaining = double(req.bytes) / w;
  for (LinkId l : r.links()) {
    a.uses.push_back(Use{l, w});
    link_bytes_[size_t(l)] += double(req.bytes);
  }
  a.done = std::move(done);
  ++active_;
  schedule_activation(s, q_.now() + r.latency_ns);
  return a.id;
}

int64_t Network::start_coflow(std::span<const FlowRequest> flows, DoneFn done) {
  // Per-link load of the whole set; the activity's size is its bottleneck link's load at unit weight.
  std::vector<std::pair<LinkId, double>> load;
  // The activity starts sharing after the shortest route latency of its flows: in per-flow sharing the flows with
  // longer latencies catch up on bandwidth the early ones leave, so the bandwidth phase hides the difference.
  TimeNs latency = std::numeric_limits<TimeNs>::max();
  for (const FlowRequest& f : flows) {
    const Route r = topo_.route(f.src_gpu, f.dst_gpu, f.path, f.hash);
    latency = std::min(latency, r.latency_ns);
    for (LinkId l : r.links()) load.emplace_back(l, double(f.bytes));
  }
  std::sort(load.begin(), load.end(), [](auto& x, auto& y) { return x.first < y.first; });
  std::vector<Use> uses;
  for (auto& [l, b] : load) {
    if (!uses.empty() && uses.back().link == l) uses.back().weight += b;
    else uses.push_back(Use{l, b});
  }
  // Normalise so the activity's rate is bytes per ns on the link with the longest time at full capacity.
  double bottleneck_time = 0, bottleneck_bytes = 0;
  for (const Use& u : uses) {
    link_bytes_[size_t(u.link)] += u.weight;
    const double t = u.weight / topo_.link(u.link).bytes_per_ns;
    if (t > bottleneck_time) bottleneck_time = t, bottleneck_bytes = u.weight;
  }
  const uint32_t s = new_slot();
  Activity& a = acts_[s];
  a.gen++;
  a.live = true;
  a.sharing = false;
  a.remaining = bottleneck_bytes;
  a.rate = 0;
  a.group = UINT32_MAX;  // a reused slot must not look like a member of its previous owner's group
  a.id = next_id_++;
  a.start = q_.now();
  a.uses.clear();
  for (const Use& u : uses) a.uses.push_back(Use{u.link, u.weight / bottleneck_bytes});
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
  struct Join {
    size_t left;
    TimeNs start, finish = 0;
    DoneFn done;
  };
  auto join = std::make_shared<Join>(Join{flows.size(), q_.now(), 0, std::move(done)});
  for (const FlowRequest& f : flows)
    start_flow(f, [join](const FlowDone& d) {
      join->finish = std::max(join->finish, d.finish);
      if (--join->left == 0) join->done(FlowDone{-1, join->start, join->finish});
    });
}

void Network::schedule_activation(uint32_t slot, TimeNs at) {
  for (auto& [t, slots] : pending_)
    if (t == at) {
      slots.push_back(slot);
      return;
    }
  pending_.emplace_back(at, std::vector<uint32_t>{slot});
  q_.at(at, [this, at] { activate_batch(at); });
}

void Network::activate_batch(TimeNs at) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [at](auto& p) { return p.first == at; });
  std::vector<uint32_t> slots = std::move(it->second);
  pending_.erase(it);
  std::vector<LinkId> seeds;
  std::vector<uint32_t> instant;
  for (uint32_t s : slots) {
    Activity& a = acts_[s];
    a.sharing = true;
    a.last = at;
    a.rate = 0;
    if (a.uses.empty() || a.remaining <= 0) {
      instant.push_back(s);
      continue;
    }
    for (const Use& u : a.uses) {
      link_members_[size_t(u.link)].push_back(Member{s, a.gen});
      seeds.push_back(u.link);
    }
  }
  for (uint32_t s : instant) acts_[s].finish = at;  // nothing to carry: done when the latency is over
  if (!instant.empty()) arm_group(new_group(std::move(instant)));
  solve_from(seeds);
}

void Network::solve_from(std::span<const LinkId> seeds, double keep_below) {
  const TimeNs now = q_.now();
  ++epoch_;
  if (epoch_ == 0) {  // wrapped: clear marks so old epochs cannot alias
    std::fill(link_mark_.begin(), link_mark_.end(), 0);
    for (Activity& a : acts_) a.mark = 0;
    epoch_ = 1;
  }
  // Closure: every link and activity reachable from the seeds through shared links.
  std::vector<LinkId> links;
  std::vector<uint32_t> comp;
  for (LinkId l : seeds)
    if (link_mark_[size_t(l)] != epoch_) link_mark_[size_t(l)] = epoch_, links.push_back(l);
  for (size_t i = 0; i < links.size(); ++i) {
    auto& members = link_members_[size_t(links[i])];
    size_t keep = 0;
    for (const Member& m : members) {
      Activity& a = acts_[m.slot];
      if (a.gen != m.gen || !a.live) continue;  // finished: drop the stale membership
      members[keep++] = m;
      if (a.mark == epoch_) continue;
      a.mark = epoch_;
      // Single-weight flows below the level keep their rates (coflows, with per-link weights, are always re-solved).
      a.fixed = a.rate > 0 && a.rate < keep_below && a.uses.size() <= size_t(Route::kMaxHops) &&
                std::all_of(a.uses.begin(), a.uses.end(), [&](const Use& u) { return u.weight == a.uses[0].weight; });
      a.frozen = a.fixed;
      if (a.fixed) continue;
      comp.push_back(m.slot);
      for (const Use& u : a.uses)
        if (link_mark_[size_t(u.link)] != epoch_) link_mark_[size_t(u.link)] = epoch_, links.push_back(u.link);
    }
    members.resize(keep);
  }
  if (comp.empty()) {
    schedule_wakeup();
    return;
  }
  ++solves_;
  solved_activities_ += comp.size();
  for (LinkId l : links) {
    double cap = topo_.link(l).bytes_per_ns;
    if (keep_below > 0)
      for (const Member& m : link_members_[size_t(l)]) {
        const Activity& a = acts_[m.slot];
        if (a.gen == m.gen && a.live && a.mark == epoch_ && a.fixed) cap -= a.uses[0].weight * a.rate;
      }
    rem_[size_t(l)] = std::max(0.0, cap);
    wsum_[size_t(l)] = 0;
    unfrozen_[size_t(l)] = 0;
  }
  for (uint32_t s : comp) {
    Activity& a = acts_[s];
    a.remaining -= a.rate * double(now - a.last);
    a.last = now;
    a.frozen = false;
    for (const Use& u : a.uses) wsum_[size_t(u.link)] += u.weight, unfrozen_[size_t(u.link)]++;
  }
  // Progressive filling: the link with the smallest fair share saturates first; its activities freeze at that share.
  // Links whose share equals the minimum are taken together (a link at the minimum stays there as others freeze).
  std::vector<ShareEntry> heap;
  heap.reserve(links.size());
  for (LinkId l : links)
    if (unfrozen_[size_t(l)] > 0) heap.push_back(ShareEntry{rem_[size_t(l)] / wsum_[size_t(l)], l, ++link_version_[size_t(l)]});
  std::make_heap(heap.begin(), heap.end(), share_after);
  std::vector<LinkId> batch, dirty;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), share_after);
    const ShareEntry top = heap.back();
    heap.pop_back();
    if (top.version != link_version_[size_t(top.link)] || unfrozen_[size_t(top.link)] == 0) continue;
    const double share = std::max(0.0, top.share);
    batch.assign(1, top.link);
    const double tie = share * (1 + 1e-12);
    while (!heap.empty() && heap.front().share <= tie) {
      std::pop_heap(heap.begin(), heap.end(), share_after);
      const ShareEntry e = heap.back();
      heap.pop_back();
      if (e.version == link_version_[size_t(e.link)] && unfrozen_[size_t(e.link)] > 0) batch.push_back(e.link);
    }
    dirty.clear();
    ++dirty_stamp_;
    for (LinkId l : batch) {
      for (const Member& m : link_members_[size_t(l)]) {
        Activity& a = acts_[m.slot];
        if (a.gen != m.gen || !a.live || a.mark != epoch_ || a.frozen) continue;
        a.frozen = true;
        a.rate = share;
        for (const Use& u : a.uses) {
          const size_t k = size_t(u.link);
          rem_[k] -= u.weight * share;
          wsum_[k] -= u.weight;
          --unfrozen_[k];
          if (dirty_mark_[k] != dirty_stamp_) dirty_mark_[k] = dirty_stamp_, dirty.push_back(u.link);
        }
      }
    }
    for (LinkId l : dirty) {
      const size_t k = size_t(l);
      if (unfrozen_[k] <= 0) continue;
      heap.push_back(ShareEntry{std::max(0.0, rem_[k]) / wsum_[k], l, ++link_version_[k]});
      std::push_heap(heap.begin(), heap.end(), share_after);
    }
  }
  for (uint32_t s : comp) {
    Activity& a = acts_[s];
    a.finish = now + duration_ns(a.remaining, a.rate);
  }
  arm_group(new_group(std::move(comp)));
  schedule_wakeup();
}

uint32_t Network::new_group(std::vector<uint32_t> slots) {
  uint32_t g;
  if (!free_groups_.empty()) {
    g = free_groups_.back();
    free_groups_.pop_back();
  } else {
    g = uint32_t(groups_.size());
    groups_.emplace_back();
  }
  Group& grp = groups_[g];
  grp.gen++;
  grp.slots = std::move(slots);
  for (uint32_t s : grp.slots) acts_[s].group = g, acts_[s].group_gen = grp.gen;
  return g;
}

// Pushes the group's earliest finish among the activities it still owns, or frees the group when it owns none.
void Network::arm_group(uint32_t g) {
  Group& grp = groups_[g];
  TimeNs first = std::numeric_limits<TimeNs>::max();
  size_t keep = 0;
  for (uint32_t s : grp.slots) {
    const Activity& a = acts_[s];
    if (!a.live || a.group != g || a.group_gen != grp.gen) continue;
    grp.slots[keep++] = s;
    first = std::min(first, a.finish);
  }
  grp.slots.resize(keep);
  if (keep == 0) {
    grp.gen++;
    free_groups_.push_back(g);
    return;
  }
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
  std::vector<LinkId> seeds;
  std::vector<std::pair<uint32_t, TimeNs>> finished;
  std::vector<uint32_t> rearm;
  double keep_below = std::numeric_limits<double>::infinity();
  while (!completions_.empty() && completions_.front().t <= horizon) {
    const Completion c = completions_.front();
    std::pop_heap(completions_.begin(), completions_.end(), cmp);
    completions_.pop_back();
    Group& grp = groups_[c.group];
    if (grp.gen != c.gen) continue;
    for (uint32_t s : grp.slots) {
      Activity& a = acts_[s];
      if (!a.live || a.group != c.group || a.group_gen != c.gen || a.finish > horizon) continue;
      a.live = false;
      --active_;
      keep_below = std::min(keep_below, a.rate);
      for (const Use& u : a.uses) seeds.push_back(u.link);
      finished.emplace_back(s, a.finish);
    }
    rearm.push_back(c.group);
  }
  // Groups untouched by the re-solve keep their other activities' predictions.
  solve_from(seeds, keep_below);
  for (uint32_t g : rearm) arm_group(g);
  schedule_wakeup();
  for (auto& [slot, t] : finished) {
    Activity& a = acts_[slot];
    const FlowDone d{a.id, a.start, t};
    DoneFn done = std::move(a.done);
    a.done = nullptr;
    free_.push_back(slot);
    if (!done) continue;
    if (t <= now) done(d);
    else q_.at(t, [done = std::move(done), d] { done(d); });
  }
}

}  // namespace cs
