#include "sim/collectives.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <stdexcept>

#include "sim/simgrid_oracle.hpp"

namespace cs {

namespace {
const std::vector<std::pair<const char*, CollectiveKind>> kKinds = {
    {"p2p", CollectiveKind::p2p},           {"all-to-all", CollectiveKind::all_to_all},
    {"dispatch", CollectiveKind::dispatch}, {"combine", CollectiveKind::combine},
    {"all-reduce", CollectiveKind::all_reduce}, {"reduce-scatter", CollectiveKind::reduce_scatter},
    {"all-gather", CollectiveKind::all_gather}};

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Rank orders of the ring channels (see the header): one channel per NIC of a node when the group spans nodes.
std::vector<std::vector<int>> ring_channels(const Topology& topo, const std::vector<int>& gpus) {
  std::map<int, std::vector<int>> by_node;
  for (int g : gpus) by_node[topo.node_of(g)].push_back(g);
  const size_t per_node = by_node.begin()->second.size();
  bool whole = by_node.size() > 1;
  for (auto& [n, v] : by_node) whole = whole && v.size() == per_node;
  if (!whole) return {gpus};
  const int channels = std::min<int>(int(per_node), topo.spec().node.nics);
  std::vector<std::vector<int>> rings;
  for (int c = 0; c < channels; ++c) {
    std::vector<int> ring;
    for (auto& [n, v] : by_node)
      for (size_t i = 0; i < per_node; ++i) ring.push_back(v[(size_t(c) + i) % per_node]);
    rings.push_back(std::move(ring));
  }
  return rings;
}

void ring_rounds(const Topology& topo, const CollectiveSpec& s, int steps, CollectivePlan& plan) {
  const auto rings = ring_channels(topo, s.gpus);
  const size_t n = s.gpus.size();
  const int64_t chunk = s.bytes / int64_t(n) / int64_t(rings.size());
  for (int step = 0; step < steps; ++step) {
    std::vector<FlowRequest> round;
    for (size_t c = 0; c < rings.size(); ++c)
      for (size_t i = 0; i < n; ++i)
        round.push_back(FlowRequest{rings[c][i], rings[c][(i + 1) % n], chunk, PathKind::pxn, uint64_t(c), 0});
    plan.rounds.push_back(std::move(round));
  }
}

void tree_all_reduce(const Topology& topo, const CollectiveSpec& s, CollectivePlan& plan) {
  std::map<int, std::vector<int>> by_node;
  for (int g : s.gpus) by_node[topo.node_of(g)].push_back(g);
  std::vector<FlowRequest> round;
  for (auto& [n, v] : by_node)  // chain inside the node: reduce towards v[0], broadcast back
    for (size_t i = 0; i + 1 < v.size(); ++i) {
      round.push_back(FlowRequest{v[i + 1], v[i], s.bytes, PathKind::direct, 0, 0});
      round.push_back(FlowRequest{v[i], v[i + 1], s.bytes, PathKind::direct, 0, 0});
    }
  std::vector<std::vector<int>> nodes;
  for (auto& [n, v] : by_node) nodes.push_back(v);
  const size_t N = nodes.size();
  for (int tree = 0; tree < 2 && N > 1; ++tree)  // NCCL's double binary tree: the second mirrors the first
    for (size_t k = 1; k < N; ++k) {
      const size_t child = tree == 0 ? k : N - 1 - k, parent = tree == 0 ? (k - 1) / 2 : N - 1 - (k - 1) / 2;
      const size_t leader = size_t(tree) % nodes[child].size();
      const int a = nodes[child][leader], b = nodes[parent][leader];
      round.push_back(FlowRequest{a, b, s.bytes / 2, PathKind::pxn, uint64_t(tree), 0});
      round.push_back(FlowRequest{b, a, s.bytes / 2, PathKind::pxn, uint64_t(tree), 0});
    }
  plan.rounds.push_back(std::move(round));
}

void all_to_all(const CollectiveSpec& s, CollectivePlan& plan) {
  const size_t n = s.gpus.size();
  const double pair = double(s.bytes) / double(n);
  std::vector<FlowRequest> round;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      double b = pair;
      if (s.jitter > 0) {
        const double u = double(mix(s.seed * 1000003ULL ^ (uint64_t(i) << 32 | j)) >> 11) * 0x1.0p-53;
        b *= 1.0 + s.jitter * (2 * u - 1);
      }
      round.push_back(FlowRequest{s.gpus[i], s.gpus[j], int64_t(b), s.path, uint64_t(i * n + j), 1});
    }
  plan.rounds.push_back(std::move(round));
}

void expert_parallel(const Topology& topo, const CollectiveSpec& s, CollectivePlan& plan) {
  const int R = int(s.gpus.size()), gpn = std::min(R, topo.gpus_per_node());
  for (int r = 0; r < R; ++r)
    if (topo.node_of(s.gpus[size_t(r)]) != topo.node_of(s.gpus[size_t(r - r % gpn)]) ||
        topo.local_index(s.gpus[size_t(r)]) != topo.local_index(s.gpus[size_t(r - r % gpn)]) + r % gpn)
      throw std::invalid_argument(fmt::format(
          "{}: the EP group must be whole runs of {} consecutive GPUs of one node (rank {} is GPU {})",
          collective_kind_name(s.kind), gpn, r, s.gpus[size_t(r)]));
  const MoeShape shape{R, gpn, s.experts, s.topk, s.tokens_per_rank};
  const RoutingSample sample = sample_routing(s.routing, shape);
  const TokenRouting& routing = *sample.routing;
  const int64_t tokens = routing.shape.tokens_per_rank;
  const int per_rank = s.experts / R;
  const bool combine = s.kind == CollectiveKind::combine;
  // DeepEP payloads: FP8 elements + one FP32 scale per 128 (dispatch), BF16 (combine).
  plan.bytes_per_copy = combine ? double(s.hidden) * 2.0 : double(s.hidden) * (1.0 + 4.0 / 128.0);
  plan.internode = R > gpn;
  plan.rdma_copies.assign(size_t(R), 0);
  plan.nvl_copies.assign(size_t(R), 0);
  // Token copies per (from rank, to rank), dense: an IB copy goes from rank r to the rank of r's in-node index on a
  // target node (so per (r, node)), an NVLink copy from a relay to a rank of the relay's node (per (relay, index)).
  const int nodes = R / gpn;
  std::vector<int64_t> ib(size_t(R) * size_t(nodes), 0), nvl(size_t(R) * size_t(gpn), 0);
  std::vector<int> node_seen(size_t(nodes), -1), rank_seen(size_t(R), -1);
  // Each expert's rank, node and index in its node, looked up, and the copies counted without branches: integer
  // divisions and mispredicted "seen already?" branches were most of this loop's time.
  std::vector<int> rank_of(size_t(s.experts)), node_of(size_t(s.experts)), local_of(size_t(s.experts));
  for (int e = 0; e < s.experts; ++e) {
    rank_of[size_t(e)] = e / per_rank;
    node_of[size_t(e)] = rank_of[size_t(e)] / gpn;
    local_of[size_t(e)] = rank_of[size_t(e)] % gpn;
  }
  const int32_t* const chosen = routing.experts.data();
  for (int r = 0; r < R; ++r) {
    const int index = r % gpn;
    int64_t* const ib_row = ib.data() + size_t(r) * size_t(nodes);
    int64_t rdma = 0, nvlink = 0;
    for (int64_t t = 0; t < tokens; ++t) {
      const int stamp = int(t);
      const int32_t* const row = chosen + (int64_t(r) * tokens + t) * routing.shape.topk;  // routing.expert(r, t, k) = row[k]
      for (int k = 0; k < s.topk; ++k) {
        const size_t e = size_t(row[k]);
        const int dst = rank_of[e], node = node_of[e];
        const int relay = node * gpn + index;  // same in-node index on the target node
        // One IB copy per (token, target node), to the relay unless that is r itself; one NVLink copy per (token,
        // target rank), from the relay unless the relay is the target.
        const int new_node = node_seen[size_t(node)] != stamp;
        node_seen[size_t(node)] = stamp;
        rdma += new_node;
        ib_row[node] += new_node & int(relay != r);
        const int new_rank = rank_seen[size_t(dst)] != stamp;
        rank_seen[size_t(dst)] = stamp;
        nvlink += new_rank;
        nvl[size_t(relay) * size_t(gpn) + size_t(local_of[e])] += new_rank & int(dst != relay);
      }
    }
    plan.rdma_copies[size_t(r)] = rdma;
    plan.nvl_copies[size_t(r)] = nvlink;
    std::fill(node_seen.begin(), node_seen.end(), -1), std::fill(rank_seen.begin(), rank_seen.end(), -1);
  }
  if (sample.scale != 1)  // a sampled routing: scale the copies to the whole micro-batch
    for (auto* v : {&plan.rdma_copies, &plan.nvl_copies})
      for (int64_t& c : *v) c = std::llround(double(c) * sample.scale);
  std::vector<FlowRequest> round;
  auto add = [&](int a, int b, int64_t copies) {
    const int64_t bytes = int64_t(double(copies) * sample.scale * plan.bytes_per_copy);
    const int src = s.gpus[size_t(combine ? b : a)], dst = s.gpus[size_t(combine ? a : b)];
    round.push_back(FlowRequest{src, dst, bytes, PathKind::direct, uint64_t(src) << 32 | uint64_t(dst), 1});
  };
  // In (from, to) order, as before.
  for (int r = 0; r < R; ++r)
    for (int node = 0; node < nodes; ++node)
      if (const int64_t c = ib[size_t(r) * size_t(nodes) + size_t(node)]; c > 0) add(r, node * gpn + r % gpn, c);
  for (int relay = 0; relay < R; ++relay)
    for (int i = 0; i < gpn; ++i)
      if (const int64_t c = nvl[size_t(relay) * size_t(gpn) + size_t(i)]; c > 0) add(relay, (relay / gpn) * gpn + i, c);
  plan.rounds.push_back(std::move(round));
}
}  // namespace

CollectiveKind collective_kind_from_name(const std::string& name) {
  std::string allowed;
  for (auto& [n, k] : kKinds) {
    if (name == n) return k;
    allowed += allowed.empty() ? n : fmt::format(", {}", n);
  }
  throw std::invalid_argument(fmt::format("collective kind '{}' is not one of: {}", name, allowed));
}

const char* collective_kind_name(CollectiveKind k) {
  for (auto& [n, kk] : kKinds)
    if (kk == k) return n;
  return "?";
}

size_t CollectivePlan::flows() const {
  size_t f = 0;
  for (auto& r : rounds) f += r.size();
  return f;
}

CollectivePlan plan_collective(const Topology& topo, const CollectiveSpec& s) {
  const int n = int(s.gpus.size());
  for (int g : s.gpus)
    if (g < 0 || g >= topo.gpus())
      throw std::invalid_argument(fmt::format("{}: GPU {} is not in the cluster (0..{})", collective_kind_name(s.kind), g, topo.gpus() - 1));
  if (std::set<int>(s.gpus.begin(), s.gpus.end()).size() != s.gpus.size())
    throw std::invalid_argument(fmt::format("{}: a GPU appears twice in the group", collective_kind_name(s.kind)));
  if (n < 2) throw std::invalid_argument(fmt::format("{}: needs at least 2 GPUs", collective_kind_name(s.kind)));
  CollectivePlan plan;
  switch (s.kind) {
    case CollectiveKind::p2p:
      plan.rounds.push_back({FlowRequest{s.gpus[0], s.gpus[1], s.bytes, s.path, 0, 0}});
      break;
    case CollectiveKind::all_to_all: all_to_all(s, plan); break;
    case CollectiveKind::all_reduce:
      if (s.algo == CollectiveAlgo::tree) tree_all_reduce(topo, s, plan);
      else ring_rounds(topo, s, 2 * (n - 1), plan);
      break;
    case CollectiveKind::reduce_scatter:
    case CollectiveKind::all_gather: ring_rounds(topo, s, n - 1, plan); break;
    case CollectiveKind::dispatch:
    case CollectiveKind::combine: expert_parallel(topo, s, plan); break;
  }
  return plan;
}

void start_collective(Network& net, const CollectivePlan& plan, Network::DoneFn done) {
  if (plan.rounds.empty()) throw std::invalid_argument("collective plan has no rounds");
  // Each round starts when the previous one has finished; the plan must outlive the collective.
  struct Chain {
    Network* net;
    const CollectivePlan* plan;
    size_t next;
    TimeNs start;
    Network::DoneFn done;
    void run_next(std::shared_ptr<Chain> self) {
      const auto& round = plan->rounds[next++];
      net->start_flows(round, [self](const FlowDone& d) {
        if (self->next == self->plan->rounds.size()) self->done(FlowDone{-1, self->start, d.finish});
        else self->run_next(self);
      });
    }
  };
  auto chain = std::make_shared<Chain>(Chain{&net, &plan, 0, net.now(), std::move(done)});
  chain->run_next(chain);
}

void fill_bandwidths(const CollectiveSpec& s, const CollectivePlan& plan, CollectiveResult& r) {
  const double n = double(s.gpus.size()), t = double(std::max<TimeNs>(r.time_ns, 1));
  double factor = 1;
  switch (s.kind) {
    case CollectiveKind::all_reduce: factor = 2 * (n - 1) / n; break;
    case CollectiveKind::reduce_scatter:
    case CollectiveKind::all_gather:
    case CollectiveKind::all_to_all: factor = (n - 1) / n; break;
    default: break;
  }
  if (s.kind == CollectiveKind::dispatch || s.kind == CollectiveKind::combine) {
    const auto& copies = plan.internode ? plan.rdma_copies : plan.nvl_copies;
    double total = 0;
    for (int64_t c : copies) total += double(c);
    const double per_rank = total / n * plan.bytes_per_copy;
    r.deepep_gbps = per_rank / t;
    r.deepep_link = plan.internode ? "RDMA" : "NVLink";
    r.algbw_gbps = r.busbw_gbps = per_rank / t;
    return;
  }
  r.algbw_gbps = double(s.bytes) / t;  // bytes per ns = GB/s
  r.busbw_gbps = r.algbw_gbps * factor;
}

CollectiveResult run_collective(const Topology& topo, const CollectiveSpec& spec, NetworkOptions options) {
  const CollectivePlan plan = plan_collective(topo, spec);
  EventQueue q;
  Network net(topo, q, options);
  CollectiveResult r;
  bool finished = false;
  start_collective(net, plan, [&](const FlowDone& d) {
    r.time_ns = d.finish;
    finished = true;
  });
  q.run();
  if (!finished) throw std::logic_error("collective did not finish");
  r.flows = plan.flows();
  r.rounds = plan.rounds.size();
  r.link_bytes = net.link_bytes();
  fill_bandwidths(spec, plan, r);
  return r;
}

CollectiveResult run_collective_simgrid(const Topology& topo, const CollectiveSpec& spec) {
  const CollectivePlan plan = plan_collective(topo, spec);
  CollectiveResult r;
  r.link_bytes.assign(topo.links(), 0.0);
  double t = 0;
  for (const auto& round : plan.rounds) {
    std::vector<TimedFlow> flows;
    for (const FlowRequest& f : round) {
      flows.push_back(TimedFlow{f, 0});
      for (LinkId id : topo.route(f.src_gpu, f.dst_gpu, f.path, f.hash).links()) r.link_bytes[size_t(id)] += double(f.bytes);
    }
    const std::vector<double> finish = simgrid_finish_times_ns(topo, flows);
    t += finish.empty() ? 0.0 : *std::max_element(finish.begin(), finish.end());
  }
  r.time_ns = TimeNs(std::llround(t));
  r.flows = plan.flows();
  r.rounds = plan.rounds.size();
  fill_bandwidths(spec, plan, r);
  return r;
}

const CollectiveCost& CollectiveTimer::cost(const CollectiveSpec& s) {
  std::string key = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", int(s.kind), s.bytes, int(s.algo), int(s.path),
                                s.jitter, s.seed, s.tokens_per_rank, s.hidden, s.experts, s.topk, int(s.routing.kind),
                                s.routing.seed, s.routing.zipf_exponent, s.routing.load_file, s.routing.max_nodes);
  for (int g : s.gpus) key += fmt::format(",{}", g);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  const CollectiveResult r =
      backend_ == NetworkBackend::simgrid ? run_collective_simgrid(topo_, s) : run_collective(topo_, s, opt_);
  CollectiveCost c;
  c.time_ns = r.time_ns;
  for (size_t id = 0; id < r.link_bytes.size(); ++id) c.bytes[size_t(topo_.link(LinkId(id)).kind)] += r.link_bytes[id];
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.emplace(std::move(key), c).first->second;  // another thread's equal entry wins: the same values
}

size_t CollectiveTimer::cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

}  // namespace cs
