#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>
#include <tuple>

#include "sim/collectives.hpp"
#include "sim/network.hpp"
#include "tests/sim/test_clusters.hpp"

namespace cs {
using testing::h800_cluster;

namespace {
struct Run {
  std::vector<TimeNs> finish;
  std::vector<double> link_bytes;
  TimeNs makespan = 0;
  uint64_t solves = 0;
};
Run run_flows(const Topology& t, const std::vector<FlowRequest>& flows, NetworkOptions opt = {}) {
  EventQueue q;
  Network net(t, q, opt);
  Run r;
  r.finish.assign(flows.size(), -1);
  for (size_t i = 0; i < flows.size(); ++i)
    net.start_flow(flows[i], [&r, i](const FlowDone& d) { r.finish[i] = d.finish; });
  q.run();
  r.link_bytes = net.link_bytes();
  r.makespan = *std::max_element(r.finish.begin(), r.finish.end());
  r.solves = net.solves();
  return r;
}
std::vector<FlowRequest> all_to_all(const Topology& t, int n, int64_t pair_bytes, double jitter, uint64_t seed) {
  CollectiveSpec s;
  s.kind = CollectiveKind::all_to_all;
  for (int g = 0; g < n; ++g) s.gpus.push_back(g);
  s.bytes = pair_bytes * n;
  s.jitter = jitter;
  s.seed = seed;
  s.path = PathKind::direct;
  return plan_collective(t, s).rounds[0];
}
}  // namespace

TEST(Network, OneFlowTakesLatencyPlusBytesOverCapacity) {
  Topology t(h800_cluster(2));
  const auto r = run_flows(t, {FlowRequest{0, 8, 40'000'000}});  // 40 MB over a 40 GB/s NIC: 1 ms
  EXPECT_EQ(r.finish[0], 2800 + 1'000'000);
  const auto nv = run_flows(t, {FlowRequest{0, 1, 16'000'000}});  // 16 MB over 160 GB/s NVLink
  EXPECT_EQ(nv.finish[0], 3330 + 100'000);
}

// A quantum beyond 1 s would overflow the retirement horizon (a hang, once); options outside the range are refused.
TEST(Network, OptionsOutOfRangeAreRefused) {
  Topology t(h800_cluster(2));
  EventQueue q;
  for (TimeNs quantum : {TimeNs(-1), kMaxTimeQuantumNs + 1, std::numeric_limits<TimeNs>::max()}) {
    NetworkOptions o;
    o.time_quantum_ns = quantum;
    EXPECT_THROW((Network{t, q, o}), std::invalid_argument) << quantum;
  }
  NetworkOptions ok;
  ok.time_quantum_ns = kMaxTimeQuantumNs;
  EXPECT_NO_THROW((Network{t, q, ok}));
  NetworkOptions threads;
  threads.solver_threads = 0;
  EXPECT_THROW((Network{t, q, threads}), std::invalid_argument);
}

TEST(Network, MaxMinSharingOfTheClassicExample) {
  // Two GPUs send to GPU 1 on its node over NVLink, and GPU 0 also sends to GPU 2: GPU 0's up link carries two flows,
  // GPU 1's down link two. Max-min: every flow gets 80 GB/s.
  Topology t(h800_cluster(1));
  const auto r = run_flows(t, {FlowRequest{0, 1, 8'000'000}, FlowRequest{3, 1, 8'000'000}, FlowRequest{0, 2, 8'000'000}});
  for (TimeNs f : r.finish) EXPECT_EQ(f, 3330 + 100'000);
  // Unequal sizes: when the small flow ends, the others speed up.
  const auto u = run_flows(t, {FlowRequest{0, 1, 4'000'000}, FlowRequest{3, 1, 16'000'000}});
  EXPECT_EQ(u.finish[0], 3330 + 50'000);                    // 80 GB/s each until 4 MB are carried
  EXPECT_EQ(u.finish[1], 3330 + 50'000 + 75'000);           // the rest, 12 MB, at 160 GB/s
}

TEST(Network, UniformAllToAllTimeIsBytesOverTheBottleneck) {
  Topology t(h800_cluster(4));
  const int n = 32;
  const int64_t pair = 1 << 20;
  const auto r = run_flows(t, all_to_all(t, n, pair, 0, 1));
  // Per GPU: 24 remote destinations over its 40 GB/s NIC (the plane to the same-index GPU), the 7 local ones and the
  // forwarded copies over NVLink (160 GB/s) are faster; the NIC is the bottleneck: 24 MiB / 40 GB/s.
  const double expect = 24.0 * double(pair) / 40.0;
  EXPECT_NEAR(double(r.makespan) - 2800, expect, 2.0);
}

TEST(Network, ConservesBytesAndNeverExceedsCapacity) {
  Topology t(h800_cluster(8));
  const auto flows = all_to_all(t, 64, 1 << 18, 0.5, 7);
  const auto r = run_flows(t, flows);
  // Every byte of a flow is counted on each link of its route; the NIC uplinks together carry exactly the bytes of
  // the flows leaving the node, and no link can have carried more than capacity × makespan.
  double sent = 0, nic_up = 0;
  for (const FlowRequest& f : flows)
    if (t.node_of(f.src_gpu) != t.node_of(f.dst_gpu)) sent += double(f.bytes);
  for (size_t l = 0; l < t.links(); ++l) {
    if (t.link(LinkId(l)).kind == LinkKind::nic_up) nic_up += r.link_bytes[l];
    EXPECT_LE(r.link_bytes[l], t.link(LinkId(l)).bytes_per_ns * double(r.makespan) * (1 + 1e-9)) << t.link(LinkId(l)).name;
  }
  EXPECT_DOUBLE_EQ(nic_up, sent);
  // Each flow finishes no earlier than its route's latency plus its bytes at the slowest link's full capacity.
  for (size_t i = 0; i < flows.size(); ++i) {
    const Route rt = t.route(flows[i].src_gpu, flows[i].dst_gpu, flows[i].path);
    double cap = 1e30;
    for (LinkId l : rt.links()) cap = std::min(cap, t.link(l).bytes_per_ns);
    EXPECT_GE(double(r.finish[i]), double(rt.latency_ns) + double(flows[i].bytes) / cap - 1);
  }
}

TEST(Network, SameInputsGiveIdenticalResults) {
  Topology t(h800_cluster(8));
  const auto flows = all_to_all(t, 64, 1 << 18, 0.3, 11);
  const auto a = run_flows(t, flows), b = run_flows(t, flows);
  EXPECT_EQ(a.finish, b.finish);
  EXPECT_EQ(a.link_bytes, b.link_bytes);
  const auto c = run_flows(t, all_to_all(t, 64, 1 << 18, 0.3, 12));
  EXPECT_NE(a.finish, c.finish);  // the seed matters
}

TEST(Network, SolverThreadsGiveTheResultsOfOne) {
  // Four uniform 64-GPU all-to-alls on disjoint nodes, whose events coincide, and four jittered 16-GPU ones: with
  // two or three solver threads every flow finishes at the same ns as with one, exact and with a time quantum.
  Topology t(h800_cluster(40));
  std::vector<FlowRequest> all;
  for (int k = 0; k < 8; ++k) {
    auto g = k < 4 ? all_to_all(t, 64, int64_t(1) << 18, 0.0, 20) : all_to_all(t, 16, int64_t(1) << 18, 0.5, uint64_t(20 + k));
    const int base = k < 4 ? 64 * k : 256 + 16 * (k - 4);
    for (auto& f : g) f.src_gpu += base, f.dst_gpu += base;
    all.insert(all.end(), g.begin(), g.end());
  }
  for (const TimeNs quantum : {TimeNs(0), TimeNs(2000)}) {
    NetworkOptions one{NetworkMode::flow, quantum};
    const auto serial = run_flows(t, all, one);
    for (const int threads : {2, 3}) {
      NetworkOptions many = one;
      many.solver_threads = threads;
      EventQueue q;
      Network net(t, q, many);
      std::vector<TimeNs> finish(all.size(), -1);
      for (size_t i = 0; i < all.size(); ++i) net.start_flow(all[i], [&finish, i](const FlowDone& d) { finish[i] = d.finish; });
      q.run();
      EXPECT_GT(net.parallel_solve_runs(), 0u) << "the threads must have been used";
      EXPECT_EQ(net.solves(), serial.solves);
      ASSERT_EQ(finish, serial.finish) << threads << " threads, quantum " << quantum;
    }
  }
  EventQueue q;
  EXPECT_THROW(Network(t, q, NetworkOptions{NetworkMode::flow, 0, false, 0}), std::invalid_argument);
}

// A large set whose chunks start sharing at more distinct times than a chunk groups (routes within a node, a leaf,
// across leaves, direct and through PXN): its chunks are scheduled a flow at a time, and the results are one
// thread's. (Chunks grouped by time are covered by LargeSetsStartedOnSolverThreadsGiveTheResultsOfOne: 3 times.)
TEST(Network, LargeSetWithManyActivationTimesGivesTheResultsOfOneThread) {
  Topology t(h800_cluster(40));  // two leaves per plane
  std::vector<FlowRequest> flows;
  auto gpu = [](int i) { return i < 32 ? i : 34 * 8 + (i - 32); };  // nodes 0-3 and 34-37
  for (int a = 0; a < 64; ++a)
    for (int b = 0; b < 64; ++b)
      if (a != b)
        flows.push_back(FlowRequest{gpu(a), gpu(b), int64_t(1) << 16 << (a % 3),
                                    a >= 40 && (a + b) % 2 ? PathKind::pxn : PathKind::direct, uint64_t(a * 64 + b)});
  std::set<TimeNs> latencies;
  for (const FlowRequest& f : flows) latencies.insert(t.route(f.src_gpu, f.dst_gpu, f.path, f.hash).latency_ns);
  ASSERT_GT(latencies.size(), 4u);  // more than a chunk groups
  auto run = [&](int threads) {
    EventQueue q;
    NetworkOptions opt;
    opt.solver_threads = threads;
    Network net(t, q, opt);
    std::vector<TimeNs> finish;
    for (size_t lo = 0; lo < flows.size(); lo += 2048) {  // two sets, each set up on the solver threads
      const std::span<const FlowRequest> set(flows.data() + lo, std::min<size_t>(2048, flows.size() - lo));
      net.start_flows(set, [&finish](const FlowDone& d) { finish.push_back(d.finish); });
    }
    q.run();
    return std::make_tuple(finish, net.solves(), net.solved_activities(), net.link_bytes());
  };
  const auto one = run(1);
  EXPECT_EQ(std::get<0>(one).size(), 2u);
  for (const int threads : {2, 3}) EXPECT_EQ(run(threads), one) << threads << " threads";
}

// Sets of at least a few thousand flows are set up on the solver threads (routes, activities, link byte counts);
// finish times, link bytes and solves must be those of one thread, and a flow of negative size anywhere in a set
// refuses the whole set without counting or scheduling any of it, on one thread or several.
TEST(Network, LargeSetsStartedOnSolverThreadsGiveTheResultsOfOne) {
  Topology t(h800_cluster(24));
  std::vector<std::vector<FlowRequest>> sets;
  for (int k = 0; k < 3; ++k) {
    auto g = all_to_all(t, 64, int64_t(1) << 16, k == 2 ? 0.5 : 0.0, uint64_t(30 + k));  // 4,032 flows each
    for (auto& f : g) f.src_gpu += 64 * k, f.dst_gpu += 64 * k;
    sets.push_back(g);
  }
  sets.push_back(all_to_all(t, 8, int64_t(1) << 16, 0.5, 40));  // a small set, overlapping the first
  struct Out {
    std::vector<TimeNs> finish;
    std::vector<double> link_bytes;
    uint64_t solves = 0;
    size_t active_after_refusal = 0;
  };
  auto run = [&](int threads) {
    EventQueue q;
    NetworkOptions opt;
    opt.solver_threads = threads;
    Network net(t, q, opt);
    Out o;
    o.finish.assign(sets.size(), -1);
    for (size_t i = 0; i < sets.size(); ++i)
      net.start_flows(sets[i], [&o, i](const FlowDone& d) { o.finish[i] = d.finish; });
    std::vector<FlowRequest> bad = sets[1];
    bad[3000].bytes = -1;
    EXPECT_THROW(net.start_flows(bad, [](const FlowDone&) { ADD_FAILURE() << "a refused set finished"; }),
                 std::invalid_argument);
    o.active_after_refusal = net.active();
    q.run();
    o.link_bytes = net.link_bytes();
    o.solves = net.solves();
    EXPECT_EQ(net.active(), 0u);
    return o;
  };
  const Out one = run(1);
  size_t flows = 0;
  for (const auto& set : sets) flows += set.size();
  EXPECT_EQ(one.active_after_refusal, flows);
  for (TimeNs f : one.finish) EXPECT_GT(f, 0);
  for (const int threads : {2, 3}) {
    const Out many = run(threads);
    EXPECT_EQ(many.finish, one.finish) << threads << " threads";
    EXPECT_EQ(many.link_bytes, one.link_bytes) << threads << " threads";
    EXPECT_EQ(many.solves, one.solves) << threads << " threads";
    EXPECT_EQ(many.active_after_refusal, flows);
  }
}

TEST(Network, IncrementalResolveTouchesOnlyTheConnectedActivities) {
  // Two all-to-alls on disjoint nodes are separate components: a completion in one never re-solves the other.
  Topology t(h800_cluster(8));
  EventQueue q;
  Network net(t, q);
  auto first = all_to_all(t, 16, 1 << 16, 0.5, 3);
  auto second = first;
  for (auto& f : second) f.src_gpu += 32, f.dst_gpu += 32;
  for (auto& f : first) net.start_flow(f, nullptr);
  for (auto& f : second) net.start_flow(f, nullptr);
  q.run();
  // One activation solve of both (480 activities) and then one solve per completion event over at most one group.
  EXPECT_LE(net.solved_activities(), 480 + (net.solves() - 1) * 240);
  EXPECT_EQ(net.active(), 0u);
}

TEST(Network, DisjointComponentsFinishAsIfEachRanAlone) {
  // Each event re-solves every component it touches on its own, keeping rates below that component's lowest
  // leaving rate: four all-to-alls on disjoint nodes, run together, finish exactly as each does alone.
  Topology t(h800_cluster(8));
  std::vector<std::vector<FlowRequest>> groups;
  for (int k = 0; k < 4; ++k) {
    // Two uniform groups of one size, two jittered ones of other sizes: different rates per component.
    auto g = all_to_all(t, 16, int64_t(1) << (16 + std::max(0, k - 1)), k < 2 ? 0.0 : 0.5, uint64_t(7 + k));
    for (auto& f : g) f.src_gpu += 16 * k, f.dst_gpu += 16 * k;
    groups.push_back(g);
  }
  std::vector<FlowRequest> all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  const auto together = run_flows(t, all);
  size_t at = 0;
  for (const auto& g : groups) {
    const auto alone = run_flows(t, g);
    for (size_t i = 0; i < g.size(); ++i) ASSERT_EQ(together.finish[at + i], alone.finish[i]) << "flow " << at + i;
    at += g.size();
  }
  // The premise: some event retired flows of two components at once (the two uniform groups finish together).
  const std::set<TimeNs> first(together.finish.begin(), together.finish.begin() + long(groups[0].size()));
  const std::set<TimeNs> second(together.finish.begin() + long(groups[0].size()),
                                together.finish.begin() + long(groups[0].size() + groups[1].size()));
  std::vector<TimeNs> both;
  std::set_intersection(first.begin(), first.end(), second.begin(), second.end(), std::back_inserter(both));
  EXPECT_FALSE(both.empty());
}

TEST(Network, AComponentSplitsOnceTheFlowsJoiningItLeave) {
  // X (0→1) and Y (2→3) are joined only by three small bridge flows 0→3 (GPU 0's up link and GPU 3's down link).
  // Every flow runs at 160/4 = 40 GB/s until the bridges finish; then X and Y run alone at 160 GB/s. Once the
  // bridges have left, X and Y are separate components: a flow joining X re-solves X and itself, not Y.
  Topology t(h800_cluster(1));
  EventQueue q;
  Network net(t, q);
  std::vector<TimeNs> finish(6, -1);
  auto record = [&finish](size_t i) { return [&finish, i](const FlowDone& d) { finish[i] = d.finish; }; };
  net.start_flow(FlowRequest{0, 1, 16'000'000}, record(0));  // X
  net.start_flow(FlowRequest{2, 3, 16'000'000}, record(1));  // Y
  for (size_t b = 0; b < 3; ++b) net.start_flow(FlowRequest{0, 3, 1'600'000}, record(2 + b));
  uint64_t before = 0, after = 0;
  q.at(50'000, [&] { net.start_flow(FlowRequest{0, 1, 16'000'000}, record(5)); });  // Z joins X at 53,330 ns
  q.at(53'329, [&] { before = net.solved_activities(); });
  q.at(53'331, [&] { after = net.solved_activities(); });
  q.run();
  for (size_t b = 0; b < 3; ++b) EXPECT_EQ(finish[2 + b], 3330 + 40'000);
  EXPECT_EQ(finish[1], 43'330 + 90'000);  // Y: 14.4 MB left at 160 GB/s
  // X: 12.8 MB left when Z arrives, then both at 80 GB/s; Z finishes its last 3.2 MB alone.
  EXPECT_EQ(finish[0], 53'330 + 160'000);
  EXPECT_EQ(finish[5], 213'330 + 20'000);
  EXPECT_EQ(after - before, 2u) << "Z's arrival re-solved Y too: the component did not split";
}

TEST(Network, ADepartureReSolvesWhatCanGainAndKeepsWhatRunsBelowIt) {
  // A component tracks its highest rate so that a departure at or above every remaining rate re-solves nothing;
  // one at a rate some remaining flow shares must still re-solve it.
  Topology t(h800_cluster(1));
  {
    // B (0→2), C (4→2), D (5→2) share GPU 2's down link at 160/3 GB/s; A (0→1) takes the rest of GPU 0's up link,
    // 106.7 GB/s, and leaves first, above everything that remains: nothing changes.
    const auto r = run_flows(t, {FlowRequest{0, 1, 1'600'000}, FlowRequest{0, 2, 8'000'000},
                                 FlowRequest{4, 2, 8'000'000}, FlowRequest{5, 2, 8'000'000}});
    EXPECT_EQ(r.finish[0], 3330 + 15'000);
    for (size_t i = 1; i < 4; ++i) EXPECT_EQ(r.finish[i], 3330 + 150'000);
  }
  {
    // E and F (0→1) share GPU 0's up link at 80 GB/s; E leaves at that same rate and F, at the highest rate left,
    // must speed up to 160 GB/s: 1.6 MB at 80, then 6.4 MB at 160.
    const auto r = run_flows(t, {FlowRequest{0, 1, 1'600'000}, FlowRequest{0, 1, 8'000'000}});
    EXPECT_EQ(r.finish[0], 3330 + 20'000);
    EXPECT_EQ(r.finish[1], 3330 + 20'000 + 40'000);
  }
}

TEST(Network, TimeQuantumBoundsTheMakespanError) {
  Topology t(h800_cluster(8));
  const auto flows = all_to_all(t, 64, 1 << 18, 0.5, 5);
  const auto exact = run_flows(t, flows);
  const auto quick = run_flows(t, flows, NetworkOptions{NetworkMode::flow, 1000});
  EXPECT_LT(quick.solves, exact.solves);
  EXPECT_NEAR(double(quick.makespan), double(exact.makespan), 0.002 * double(exact.makespan));
}

// Small messages: a coflow's bandwidth phase starts at the shortest route latency, but per flow the set is not done
// before its slowest flow could finish alone (latency, then its bytes at its narrowest link); the coflow takes the
// later of the two lower bounds. 1 KiB per pair on 64 GPUs: −43 % against per flow with the first bound alone,
// −16.6 % with both (the rest is contention once the cross-plane flows, whose routes add an NVLink hop, start
// together); on 16 GPUs −9 %. Large messages are decided by the bandwidth phase, as before.
TEST(Network, CoflowOfSmallMessagesWaitsForItsSlowestFlowAlone) {
  Topology t(h800_cluster(8));
  for (const auto& [n, pair, tolerance] : {std::tuple{64, int64_t(1) << 10, 0.18}, std::tuple{16, int64_t(1) << 12, 0.10},
                                           std::tuple{64, int64_t(1) << 18, 1e-5}}) {
    SCOPED_TRACE(::testing::Message() << n << " GPUs, " << pair << " B per pair");
    const auto flows = all_to_all(t, n, pair, 0, 1);
    const TimeNs per_flow = run_flows(t, flows).makespan;
    EventQueue q;
    Network net(t, q, NetworkOptions{NetworkMode::coflow, 0});
    TimeNs finish = 0;
    net.start_flows(flows, [&](const FlowDone& d) { finish = d.finish; });
    q.run();
    TimeNs alone = 0;  // the second bound, computed here from the routes
    for (const FlowRequest& f : flows) {
      const Route r = t.route(f.src_gpu, f.dst_gpu, f.path, f.hash);
      double narrowest = 1e300;
      for (LinkId l : r.links()) narrowest = std::min(narrowest, t.link(l).bytes_per_ns);
      alone = std::max(alone, r.latency_ns + TimeNs(std::ceil(double(f.bytes) / narrowest - 1e-6)));
    }
    EXPECT_GE(finish, alone);
    EXPECT_LE(finish, per_flow);  // both bounds hold for per-flow sharing too
    EXPECT_LT(double(per_flow - finish) / double(per_flow), tolerance) << "coflow " << finish << " per flow " << per_flow;
  }
}

TEST(Network, CoflowMatchesPerFlowOnUniformTrafficAndBoundsItsErrorOnJitteredTraffic) {
  Topology t(h800_cluster(8));
  for (double jitter : {0.0, 0.5}) {
    const auto flows = all_to_all(t, 64, 1 << 18, jitter, 9);
    const auto per_flow = run_flows(t, flows);
    EventQueue q;
    Network net(t, q, NetworkOptions{NetworkMode::coflow, 0});
    TimeNs finish = 0;
    net.start_flows(flows, [&](const FlowDone& d) { finish = d.finish; });
    q.run();
    // A coflow runs every link at the pace of its bottleneck: its bandwidth phase is the lower bound
    // max(load / capacity), which per-flow max-min (not makespan-optimal) meets on uniform traffic and can exceed
    // on jittered traffic. Measured here: 0 (uniform) and 0.0005 % (±50 % jitter, per-flow also reaches the bound).
    const double err = std::abs(double(per_flow.makespan - finish)) / double(per_flow.makespan);
    EXPECT_LT(err, jitter == 0 ? 1e-5 : 0.01) << "jitter " << jitter << " coflow " << finish << " per-flow " << per_flow.makespan;
    RecordProperty(jitter == 0 ? "coflow_error_uniform" : "coflow_error_jittered", std::to_string(err));
    std::printf("coflow vs per-flow, jitter %.1f: %.4f %%\n", jitter, 100 * err);
  }
}

}  // namespace cs
