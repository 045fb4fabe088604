#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "sim/collectives.hpp"
#include "tests/sim/test_clusters.hpp"

namespace cs {
using testing::h800_cluster;

namespace {
CollectiveSpec group(CollectiveKind kind, int first, int n, int64_t bytes) {
  CollectiveSpec s;
  s.kind = kind;
  for (int g = first; g < first + n; ++g) s.gpus.push_back(g);
  s.bytes = bytes;
  return s;
}
}  // namespace

TEST(Collectives, RingAllReduceMatchesNcclFormulaInsideANode) {
  Topology t(h800_cluster(1));
  const int64_t S = 256 << 20;
  const auto r = run_collective(t, group(CollectiveKind::all_reduce, 0, 8, S));
  // NCCL ring: 2(n−1) steps of S/n over the 160 GB/s NVLink, each step paying the 3.33 µs NVLink latency.
  const double n = 8, B = 160;
  const double expect = 2 * (n - 1) / n * double(S) / B + 2 * (n - 1) * 3330;
  EXPECT_NEAR(double(r.time_ns), expect, 2 * (n - 1));  // ≤ 1 ns rounding per step
  EXPECT_NEAR(r.busbw_gbps, B * (2 * (n - 1) / n * double(S) / B) / expect, 1e-5 * B);
}

TEST(Collectives, RingAcrossNodesUsesEveryNicAndMatchesTheFormula) {
  Topology t(h800_cluster(4));
  const int64_t S = 1 << 30;
  const auto r = run_collective(t, group(CollectiveKind::reduce_scatter, 0, 32, S));
  // 8 channels: per step each NIC carries one chunk of S/32/8 bytes (40 GB/s) while each GPU sends one chunk per
  // channel over its NVLink (8 chunks at 160 GB/s), so NVLink bounds a step, as on real H800 nodes
  // (NVLink 160 < 8 NICs × 40). A step lasts its bandwidth time plus between the NVLink latency (3.33 µs) and the
  // PXN boundary hop's (3.33 + 2.8 µs).
  const double n = 32, chunk = double(S) / n / 8, bw = 8 * chunk / 160;
  EXPECT_GE(double(r.time_ns), (n - 1) * (bw + 3330));
  EXPECT_LE(double(r.time_ns), (n - 1) * (bw + 3330 + 2800) + n);
  const auto ag = run_collective(t, group(CollectiveKind::all_gather, 0, 32, S));
  EXPECT_EQ(ag.time_ns, r.time_ns);
  EXPECT_NEAR(r.busbw_gbps, double(S) / double(r.time_ns) * (n - 1) / n, 1e-9);
}

TEST(Collectives, TreeAllReduceIsBoundedByTheNicPerTree) {
  Topology t(h800_cluster(8));
  CollectiveSpec s = group(CollectiveKind::all_reduce, 0, 64, 1 << 30);
  s.algo = CollectiveAlgo::tree;
  const auto r = run_collective(t, s);
  // Pipelined double binary tree: every tree edge carries S/2 each way at once; an inner node's leader NIC sends S/2
  // to its parent and S/2 to each of its two children, so the busiest NIC direction carries between S/2 and 3·S/2
  // at 40 GB/s.
  EXPECT_GE(double(r.time_ns), double(1 << 30) / 2 / 40);
  EXPECT_LE(double(r.time_ns), 3.0 * double(1 << 30) / 2 / 40 + 10000);
}

TEST(Collectives, P2pCrossNodeGoesOverPxn) {
  Topology t(h800_cluster(2));
  CollectiveSpec s;
  s.kind = CollectiveKind::p2p;
  s.gpus = {3, 8 + 5};
  s.bytes = 40'000'000;
  const auto r = run_collective(t, s);
  EXPECT_EQ(r.time_ns, 3330 + 2800 + 1'000'000);
}

TEST(Collectives, DispatchTrafficFollowsDeepEpsPaths) {
  Topology t(h800_cluster(4));
  CollectiveSpec s = group(CollectiveKind::dispatch, 0, 32, 0);
  s.tokens_per_rank = 256;
  s.routing.kind = RoutingKind::random;
  s.routing.max_nodes = 2;
  const CollectivePlan plan = plan_collective(t, s);
  // IB flows go between same-index GPUs of different nodes; NVLink flows stay in a node.
  double ib = 0, copies_remote = 0;
  for (const FlowRequest& f : plan.rounds[0]) {
    if (t.node_of(f.src_gpu) != t.node_of(f.dst_gpu)) {
      EXPECT_EQ(t.local_index(f.src_gpu), t.local_index(f.dst_gpu));
      ib += double(f.bytes);
    }
  }
  const TokenRouting routing = route_tokens(s.routing, MoeShape{32, 8, 256, 8, 256});
  for (int r = 0; r < 32; ++r)
    for (int64_t tok = 0; tok < 256; ++tok) {
      std::set<int> nodes;
      for (int k = 0; k < 8; ++k) nodes.insert(routing.expert(r, tok, k) / 64);
      EXPECT_LE(nodes.size(), 2u);  // node-limited routing
      copies_remote += double(nodes.size() - nodes.count(r / 8));
      EXPECT_EQ(plan.rdma_copies[size_t(r)] > 0, true);
    }
  // One IB copy per (token, remote target node), FP8 + scales: 7168 × (1 + 4/128) bytes each (±1 byte rounding per flow).
  EXPECT_NEAR(ib, copies_remote * 7168 * (1 + 4.0 / 128), double(plan.rounds[0].size()));
  // Combine: the same flows reversed, BF16.
  s.kind = CollectiveKind::combine;
  const CollectivePlan back = plan_collective(t, s);
  ASSERT_EQ(back.rounds[0].size(), plan.rounds[0].size());
  EXPECT_EQ(back.rounds[0][0].src_gpu, plan.rounds[0][0].dst_gpu);
  EXPECT_DOUBLE_EQ(back.bytes_per_copy, 7168 * 2);
}

TEST(Collectives, RoutingModelsAreDeterministicAndShapedAsAdvertised) {
  const MoeShape shape{64, 8, 256, 8, 512};
  EpRoutingSpec spec;
  for (RoutingKind kind : {RoutingKind::balanced, RoutingKind::random, RoutingKind::zipf}) {
    spec.kind = kind;
    spec.zipf_exponent = 1.2;
    const auto a = route_tokens(spec, shape), b = route_tokens(spec, shape);
    EXPECT_EQ(a.experts, b.experts) << routing_kind_name(kind);
    std::vector<int64_t> load(256, 0);
    for (int32_t e : a.experts) load[size_t(e)]++;
    const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    if (kind == RoutingKind::balanced) {
      EXPECT_LE(*hi - *lo, 1);
    } else if (kind == RoutingKind::random) {
      EXPECT_LT(double(*hi), 1.5 * 64 * 512 * 8 / 256);
    } else {
      EXPECT_GT(double(*hi), 5.0 * double(*lo + 1));  // zipf 1.2: the most popular expert dwarfs the least
    }
    for (size_t i = 0; i < a.experts.size(); i += 8) {  // distinct experts per token
      std::set<int32_t> uniq(a.experts.begin() + long(i), a.experts.begin() + long(i) + 8);
      EXPECT_EQ(uniq.size(), 8u);
    }
  }
  spec.kind = RoutingKind::random;
  spec.seed = 2;
  EXPECT_NE(route_tokens(spec, shape).experts, route_tokens(EpRoutingSpec{RoutingKind::random, 1, 1.0, "", 4}, shape).experts);
}

TEST(Collectives, LongMicroBatchesAreRoutedFromASampleThatScales) {
  // 16384 tokens per rank: the plan routes 4096 of them and scales by 4. Per flow, the bytes agree with a plan of the
  // whole micro-batch to the sampling noise; in total (what sets the all-to-all's time) to well under 1 %.
  Topology t(h800_cluster(2));
  CollectiveSpec s = group(CollectiveKind::dispatch, 0, 16, 0);
  s.routing.kind = RoutingKind::zipf;
  s.routing.zipf_exponent = 0.8;
  s.routing.max_nodes = 2;
  s.tokens_per_rank = 4 * kRoutingSampleTokens;
  const RoutingSample sample = sample_routing(s.routing, MoeShape{16, 8, 256, 8, s.tokens_per_rank});
  EXPECT_EQ(sample.routing->shape.tokens_per_rank, kRoutingSampleTokens);
  EXPECT_DOUBLE_EQ(sample.scale, 4.0);
  // The sample is the first tokens of each rank's full draw (same seeded stream).
  const TokenRouting full = route_tokens(s.routing, MoeShape{16, 8, 256, 8, s.tokens_per_rank});
  for (int r = 0; r < 16; r += 5)
    for (int64_t tok = 0; tok < kRoutingSampleTokens; tok += 97)
      EXPECT_EQ(sample.routing->expert(r, tok, 3), full.expert(r, tok, 3));
  // The same draw again is served from the cache.
  EXPECT_EQ(sample_routing(s.routing, MoeShape{16, 8, 256, 8, s.tokens_per_rank}).routing, sample.routing);

  const CollectivePlan sampled = plan_collective(t, s);
  // Reference: count the whole micro-batch's copies by hand from the full routing.
  std::map<std::pair<int, int>, double> ref;  // (src GPU, dst GPU) → bytes
  const double per_copy = 7168 * (1 + 4.0 / 128);
  for (int r = 0; r < 16; ++r)
    for (int64_t tok = 0; tok < s.tokens_per_rank; ++tok) {
      std::set<int> nodes, ranks;
      for (int k = 0; k < 8; ++k) {
        const int dst = full.expert(r, tok, k) / 16, node = dst / 8, relay = node * 8 + r % 8;
        if (nodes.insert(node).second && relay != r) ref[{r, relay}] += per_copy;
        if (ranks.insert(dst).second && dst != relay) ref[{relay, dst}] += per_copy;
      }
    }
  double total_ref = 0, total = 0;
  for (auto& [k, b] : ref) total_ref += b;
  for (const FlowRequest& f : sampled.rounds[0]) {
    total += double(f.bytes);
    const double want = ref[{f.src_gpu, f.dst_gpu}];
    EXPECT_NEAR(double(f.bytes), want, 0.10 * want) << f.src_gpu << "→" << f.dst_gpu;
  }
  EXPECT_NEAR(total, total_ref, 0.01 * total_ref);
}

TEST(Collectives, LoadFileRoutingAndItsErrors) {
  const auto dir = std::filesystem::temp_directory_path() / "cs_sim_loads";
  std::filesystem::create_directories(dir);
  const auto good = (dir / "good.txt").string(), bad = (dir / "bad.txt").string(), short_file = (dir / "short.txt").string();
  {
    std::ofstream g(good), b(bad), s(short_file);
    g << "# expert loads\n";
    for (int e = 0; e < 16; ++e) g << (e == 3 ? 100 : 1) << "\n";
    for (int e = 0; e < 16; ++e) b << (e == 5 ? "lots" : "1") << "\n";
    s << "1\n2\n";
  }
  EpRoutingSpec spec{RoutingKind::file, 1, 1, good, 0};
  const auto r = route_tokens(spec, MoeShape{16, 8, 16, 1, 1000});
  int64_t hot = 0;
  for (int32_t e : r.experts) hot += e == 3;
  EXPECT_GT(hot, 16 * 1000 / 2);  // 100 / 115 of the weight
  try {
    read_expert_loads(bad, 16);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":6: expert load 'lots'"), std::string::npos) << e.what();
  }
  try {
    read_expert_loads(short_file, 16);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 expert loads, the model has 16"), std::string::npos) << e.what();
  }
}

TEST(Collectives, TimerCachesByShape) {
  Topology t(h800_cluster(2));
  CollectiveTimer timer(t, {});
  const auto s = group(CollectiveKind::all_to_all, 0, 16, 1 << 24);
  const TimeNs a = timer.duration(s);
  EXPECT_EQ(timer.duration(s), a);
  EXPECT_EQ(timer.cached(), 1u);
  EXPECT_EQ(a, run_collective(t, s).time_ns);
  EXPECT_THROW(collective_kind_from_name("allreduce"), std::invalid_argument);
}

}  // namespace cs
