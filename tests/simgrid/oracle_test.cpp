// Our fluid max-min network against SimGrid 3.32 (CM02, no cross traffic, no TCP window bound) on the same links,
// routes and flows: every flow's finish time within 1e-4 relative.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "sim/collectives.hpp"
#include "sim/simgrid_oracle.hpp"
#include "tests/sim/test_clusters.hpp"

namespace cs {
using testing::h800_cluster;

namespace {
// A collective over GPUs 0..gpus−1 with DeepEP's test routing (random scores), at most `max_nodes` per token.
CollectiveSpec random_ep(CollectiveKind kind, int gpus, int64_t tokens, int max_nodes) {
  CollectiveSpec s;
  s.kind = kind;
  for (int g = 0; g < gpus; ++g) s.gpus.push_back(g);
  s.tokens_per_rank = tokens;
  s.routing.kind = RoutingKind::random;
  s.routing.max_nodes = max_nodes;
  return s;
}

std::vector<TimeNs> ours(const Topology& t, const std::vector<TimedFlow>& flows, NetworkOptions opt = {}) {
  EventQueue q;
  Network net(t, q, opt);
  std::vector<TimeNs> finish(flows.size(), -1);
  for (size_t i = 0; i < flows.size(); ++i)
    q.at(flows[i].start, [&, i] { net.start_flow(flows[i].req, [&finish, i](const FlowDone& d) { finish[i] = d.finish; }); });
  q.run();
  return finish;
}

double max_relative_error(const Topology& t, const std::vector<TimedFlow>& flows) {
  const auto a = ours(t, flows, NetworkOptions{NetworkMode::flow, 0, true});
  const auto b = simgrid_finish_times_ns(t, flows);
  double worst = 0;
  for (size_t i = 0; i < flows.size(); ++i) {
    EXPECT_GT(b[i], 0) << "flow " << i << " did not finish in SimGrid";
    const double e = std::abs(double(a[i]) - b[i]) / b[i];
    if (e > 1e-4 && std::getenv("ORACLE_VERBOSE"))
      std::printf("flow %zu %d->%d bytes %ld: ours %ld simgrid %.1f\n", i, flows[i].req.src_gpu, flows[i].req.dst_gpu,
                  long(flows[i].req.bytes), long(a[i]), b[i]);
    worst = std::max(worst, e);
  }
  return worst;
}

std::vector<TimedFlow> all_to_all(const Topology& t, int first, int n, int64_t bytes, double jitter, uint64_t seed) {
  CollectiveSpec s;
  s.kind = CollectiveKind::all_to_all;
  for (int g = first; g < first + n; ++g) s.gpus.push_back(g);
  s.bytes = bytes;
  s.jitter = jitter;
  s.seed = seed;
  s.path = PathKind::direct;
  std::vector<TimedFlow> out;
  const CollectivePlan plan = plan_collective(t, s);
  for (const FlowRequest& f : plan.rounds[0]) out.push_back(TimedFlow{f, 0});
  return out;
}
}  // namespace

TEST(SimGridOracle, Jittered64GpuAllToAll) {
  Topology t(h800_cluster(8));
  const auto flows = all_to_all(t, 0, 64, 64 << 20, 0.5, 3);
  const double err = max_relative_error(t, flows);
  std::printf("64-GPU jittered all-to-all, %zu flows: max relative error %.2e\n", flows.size(), err);
  EXPECT_LE(err, 1e-4);
}

// The solver leaves out a link that always carries the same flows as a narrower one (Topology::shadowed: with one
// GPU per NIC, the GPU's PCIe link and its NIC's fabric link). SimGrid gets every link, so these cases check that the
// narrower link of each pair is the one kept: PCIe narrower than the NIC (the NIC links are left out instead), and two
// GPUs per NIC (their PCIe links share the NIC link, nothing is left out).
TEST(SimGridOracle, LinksLeftOutOfSharingChangeNoFinishTime) {
  ClusterSpec narrow = h800_cluster(4);
  narrow.node.pcie_gbps = 24;
  ClusterSpec shared_nic = h800_cluster(4);
  shared_nic.node.nics = 4;
  shared_nic.fabric.planes = 4;
  shared_nic.node.pcie_gbps = 24;
  const std::vector<ClusterSpec> cases{narrow, shared_nic};
  for (const ClusterSpec& c : cases) {
    Topology t(c);
    const auto flows = all_to_all(t, 0, 32, 16 << 20, 0.5, 5);
    const double err = max_relative_error(t, flows);
    std::printf("%d NICs per node, PCIe %.0f GB/s, %zu flows: max relative error %.2e\n", c.node.nics, c.node.pcie_gbps,
                flows.size(), err);
    EXPECT_LE(err, 1e-4);
  }
  // 40 nodes: two leaves per plane, each spine joining them (its down links are left out); nodes 0, 1, 32 and 33
  // put their NICs on both leaves of every plane.
  Topology two_leaves(h800_cluster(40));
  ASSERT_EQ(two_leaves.leaves_per_tree(), 2);
  CollectiveSpec s;
  s.kind = CollectiveKind::all_to_all;
  for (int node : {0, 1, 32, 33})
    for (int i = 0; i < 8; ++i) s.gpus.push_back(two_leaves.gpu_at(node, i));
  s.bytes = 16 << 20;
  s.jitter = 0.5;
  s.seed = 6;
  std::vector<TimedFlow> flows;
  const CollectivePlan plan = plan_collective(two_leaves, s);
  for (const FlowRequest& f : plan.rounds[0]) flows.push_back(TimedFlow{f, 0});
  const double err = max_relative_error(two_leaves, flows);
  std::printf("two leaves per plane, %zu flows: max relative error %.2e\n", flows.size(), err);
  EXPECT_LE(err, 1e-4);
}

TEST(SimGridOracle, FatTree256GpuAllToAll) {
  // 256 GPUs (32 nodes × 8) on a single-plane fat tree of 32-port switches, 2:1 oversubscribed (leaves: 21 NIC
  // ports, 11 uplinks). The all-to-all is aggregated per (GPU, destination node) as DeepEP's IB stage does: each GPU
  // sends one flow to the same-index GPU of every other node (7,936 flows; a full GPU-pair all-to-all has 65,280,
  // which takes SimGrid 3.32 minutes). Equal sizes: contention at the oversubscribed uplinks still spreads the
  // completions (the jittered 64-GPU case covers uneven sizes).
  ClusterSpec c = h800_cluster(32, FabricKind::fat_tree);
  c.fabric.switch_ports = 32;
  c.fabric.oversubscription = 2;
  Topology t(c);
  ASSERT_GT(t.spines_per_tree(), 0);
  std::vector<TimedFlow> flows;
  for (int g = 0; g < 256; ++g)
    for (int n = 0; n < 32; ++n) {
      if (n == t.node_of(g)) continue;
      const uint64_t h = uint64_t(g) * 131 + uint64_t(n);
      flows.push_back(TimedFlow{FlowRequest{g, t.gpu_at(n, t.local_index(g)), 2'000'000, PathKind::direct, h, 1}, 0});
    }
  const double err = max_relative_error(t, flows);
  std::printf("256-GPU fat-tree all-to-all, %zu flows: max relative error %.2e\n", flows.size(), err);
  EXPECT_LE(err, 1e-4);
}

TEST(SimGridOracle, MixedPipelineExpertAndDataParallelTraffic) {
  Topology t(h800_cluster(8));
  std::vector<TimedFlow> flows;
  std::set<std::pair<int, int>> used;
  auto add = [&](const FlowRequest& f, TimeNs start) {
    if (used.insert({f.src_gpu, f.dst_gpu}).second) flows.push_back(TimedFlow{f, start});
  };
  // Expert parallel: DeepEP dispatch among nodes 0–3 at t = 0 (random routing, 512 tokens per GPU).
  const CollectiveSpec ep = random_ep(CollectiveKind::dispatch, 32, 512, 4);
  const CollectivePlan ep_plan = plan_collective(t, ep);
  for (const FlowRequest& f : ep_plan.rounds[0]) add(f, 0);
  // Pipeline parallel: activations from node k to node k + 4 (same GPU index), starting at staggered times.
  for (int g = 0; g < 32; ++g) add(FlowRequest{g, g + 32, 16 << 20, PathKind::pxn, 0, 0}, 20'000 * (g % 5));
  // Data parallel: one ring reduce-scatter step over GPU index 3 of every node, from t = 50 µs, and NVLink traffic.
  for (int n = 0; n < 8; ++n) add(FlowRequest{t.gpu_at(n, 3), t.gpu_at((n + 1) % 8, 5), 32 << 20, PathKind::pxn, 0, 2}, 50'000);
  for (int n = 0; n < 8; ++n) add(FlowRequest{t.gpu_at(n, 6), t.gpu_at(n, 7), 64 << 20, PathKind::direct, 0, 2}, 10'000);
  const double err = max_relative_error(t, flows);
  std::printf("mixed PP + EP + DP traffic, %zu flows: max relative error %.2e\n", flows.size(), err);
  EXPECT_LE(err, 1e-4);
}

TEST(SimGridOracle, CoflowAgainstL07ParallelTasks) {
  // Four concurrent 16-GPU all-to-alls as coflows against one L07 parallel task each.
  Topology t(h800_cluster(8));
  std::vector<std::vector<FlowRequest>> sets;
  for (int k = 0; k < 4; ++k) {
    std::vector<FlowRequest> set;
    for (const TimedFlow& f : all_to_all(t, 16 * k, 16, 32 << 20, 0.4, uint64_t(k))) set.push_back(f.req);
    sets.push_back(set);
  }
  // L07 has no latency phase comparable to ours when latencies differ across a task: compare bandwidth phases only.
  ClusterSpec c = t.spec();
  c.node.nvlink_latency_ns = 0;
  c.fabric.latency_same_leaf_ns = c.fabric.latency_cross_leaf_ns = 0;
  Topology zero(c);
  const auto sg = simgrid_ptask_finish_ns(zero, sets);
  EventQueue q;
  Network net(zero, q, NetworkOptions{NetworkMode::coflow, 0});
  std::vector<TimeNs> mine(sets.size());
  for (size_t k = 0; k < sets.size(); ++k) net.start_coflow(sets[k], [&mine, k](const FlowDone& d) { mine[k] = d.finish; });
  q.run();
  for (size_t k = 0; k < sets.size(); ++k) EXPECT_NEAR(double(mine[k]), sg[k], 1e-4 * sg[k]) << "set " << k;
}

// network.backend: simgrid times a collective round by round in SimGrid; the native per-flow model with SimGrid's
// latency-weighted sharing must agree with it (both are the same fluid max-min model).
TEST(SimGridBackend, DispatchAndRingMatchTheNativeModel) {
  const Topology topo(testing::h800_cluster(2));
  for (CollectiveKind kind : {CollectiveKind::dispatch, CollectiveKind::combine, CollectiveKind::all_gather}) {
    CollectiveSpec s = random_ep(kind, 16, 512, 2);
    s.bytes = int64_t(64) << 20;  // the all-gather's size
    const CollectiveResult native = run_collective(topo, s, NetworkOptions{NetworkMode::flow, 0, true});
    const CollectiveResult sg = run_collective_simgrid(topo, s);
    EXPECT_NEAR(double(sg.time_ns), double(native.time_ns), 1e-4 * double(native.time_ns)) << collective_kind_name(kind);
    ASSERT_EQ(sg.link_bytes.size(), native.link_bytes.size());
    for (size_t i = 0; i < sg.link_bytes.size(); ++i) EXPECT_DOUBLE_EQ(sg.link_bytes[i], native.link_bytes[i]) << i;
    EXPECT_EQ(sg.rounds, native.rounds);
  }
}

// The timer the step executor asks: a 32-GPU dispatch over 4 nodes costs the same with either backend, and the
// SimGrid timing is cached like the native one.
TEST(SimGridBackend, CollectiveTimerAgreesWithTheNativeModel) {
  const Topology topo(testing::h800_cluster(4));
  CollectiveTimer a(topo, NetworkOptions{NetworkMode::flow, 0, true}, NetworkBackend::native);
  CollectiveTimer b(topo, NetworkOptions{}, NetworkBackend::simgrid);
  const CollectiveSpec s = random_ep(CollectiveKind::dispatch, 32, 256, 4);
  EXPECT_NEAR(double(b.duration(s)), double(a.duration(s)), 1e-4 * double(a.duration(s)));
  EXPECT_EQ(b.cached(), 1u);
  EXPECT_EQ(b.duration(s), b.cost(s).time_ns);  // served from the cache
}

}  // namespace cs
