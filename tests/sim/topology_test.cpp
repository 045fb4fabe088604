#include <gtest/gtest.h>

#include <map>

#include "sim/topology.hpp"
#include "tests/sim/test_clusters.hpp"

namespace cs {
using testing::h800_cluster;

TEST(Topology, MultiPlaneShapeAndCapacities) {
  Topology t(h800_cluster(256));
  EXPECT_EQ(t.gpus(), 2048);
  EXPECT_EQ(t.trees(), 8);
  EXPECT_EQ(t.leaves_per_tree(), 8);    // 256 NICs per plane / 32 down ports
  EXPECT_EQ(t.spines_per_tree(), 32);
  EXPECT_DOUBLE_EQ(t.link(t.nvlink_up(0)).bytes_per_ns, 160);  // ≈160 of 200 GB/s ([ISCA] §4)
  EXPECT_DOUBLE_EQ(t.link(t.nic_up(0)).bytes_per_ns, 40);      // 400 Gb/s × 0.8
  EXPECT_EQ(t.links(), size_t(2048 * 4 + 2048 * 2 + 8 * 8 * 32 * 2));
}

TEST(Topology, RoutesFollowTheirKindAndSumThePublishedLatencies) {
  Topology t(h800_cluster(64));
  // Same node: NVLink, 3.33 µs.
  Route r = t.route(0, 5);
  ASSERT_EQ(r.hops, 2);
  EXPECT_EQ(r.latency_ns, 3330);
  // Same plane, same leaf (nodes 0 and 1): 2.8 µs; across leaves (node 0 and node 40): 3.7 µs.
  r = t.route(t.gpu_at(0, 3), t.gpu_at(1, 3));
  EXPECT_EQ(r.hops, 4);
  EXPECT_EQ(r.latency_ns, 2800);
  r = t.route(t.gpu_at(0, 3), t.gpu_at(40, 3));
  EXPECT_EQ(r.hops, 6);
  EXPECT_EQ(r.latency_ns, 3700);
  EXPECT_EQ(t.link(r.ids[2]).kind, LinkKind::leaf_up);
  // Across planes, direct: plane of the source, then NVLink at the destination node (DeepEP's forwarding).
  r = t.route(t.gpu_at(0, 3), t.gpu_at(1, 5), PathKind::direct);
  EXPECT_EQ(t.link(r.ids[0]).kind, LinkKind::pcie_up);
  EXPECT_EQ(r.ids[size_t(r.hops - 1)], t.nvlink_down(t.gpu_at(1, 5)));
  EXPECT_EQ(r.ids[1], t.nic_up(t.nic_of_gpu(t.gpu_at(0, 3))));
  // Across planes, PXN: NVLink first to the source-node GPU of the destination's plane.
  r = t.route(t.gpu_at(0, 3), t.gpu_at(1, 5), PathKind::pxn);
  EXPECT_EQ(r.ids[0], t.nvlink_up(t.gpu_at(0, 3)));
  EXPECT_EQ(r.ids[1], t.nvlink_down(t.gpu_at(0, 5)));
  EXPECT_EQ(r.ids[3], t.nic_up(t.nic_of_gpu(t.gpu_at(0, 5))));
  EXPECT_EQ(r.latency_ns, 3330 + 2800);
}

TEST(Topology, EcmpByDestinationSpreadsAPermutationOverAllSpines) {
  Topology t(h800_cluster(64));
  // Plane 0: node i sends to node (i + 32) % 64: every flow crosses leaves; each spine_down link used once.
  std::map<LinkId, int> use;
  for (int i = 0; i < 64; ++i) {
    const Route r = t.route(t.gpu_at(i, 0), t.gpu_at((i + 32) % 64, 0));
    for (LinkId l : r.links()) use[l]++;
  }
  for (auto& [l, n] : use) EXPECT_EQ(n, 1) << t.link(l).name;
}

TEST(Topology, FailedSpineLinkIsAvoidedAndFailedNicFallsBackToTheGraph) {
  Topology t(h800_cluster(64));
  const int a = t.gpu_at(0, 2), b = t.gpu_at(40, 2);
  const Route before = t.route(a, b);
  t.fail_link(before.ids[2]);  // its leaf_up
  const Route after = t.route(a, b);
  EXPECT_EQ(after.hops, before.hops);
  for (LinkId l : after.links()) EXPECT_FALSE(t.failed(l));
  EXPECT_NE(after.ids[2], before.ids[2]);
  // The source NIC's uplink fails: the shortest surviving path relays through another GPU of the node.
  t.fail_link(t.nic_up(t.nic_of_gpu(a)));
  const Route relay = t.route(a, b);
  for (LinkId l : relay.links()) EXPECT_FALSE(t.failed(l));
  EXPECT_EQ(relay.ids[0], t.nvlink_up(a));
  EXPECT_EQ(relay.ids[size_t(relay.hops - 1)] , t.nvlink_down(b));
  // A whole spine down: routes through it move elsewhere.
  const std::string up = t.link(before.ids[2]).name;
  t.fail_switch(up.substr(up.find("->") + 2));
  for (int i = 0; i < 64; ++i)
    for (LinkId l : t.route(t.gpu_at(i, 2), t.gpu_at((i + 32) % 64, 2)).links()) EXPECT_FALSE(t.failed(l));
  EXPECT_THROW(t.fail_switch("plane9.spine0"), std::invalid_argument);
}

TEST(Topology, MultiRailCrossesRailsThroughSpinesAndFatTreeHonoursOversubscription) {
  Topology mr(h800_cluster(32, FabricKind::multi_rail_fat_tree));
  EXPECT_EQ(mr.trees(), 1);
  EXPECT_EQ(mr.leaves_per_tree(), 8);  // one leaf per rail
  const Route r = mr.route(mr.gpu_at(0, 1), mr.gpu_at(1, 6));
  EXPECT_EQ(r.hops, 6);  // own NIC, leaf of rail 1 → spine → leaf of rail 6
  EXPECT_EQ(r.latency_ns, 3700);
  ClusterSpec c = h800_cluster(32, FabricKind::fat_tree);
  c.fabric.oversubscription = 3;
  Topology ft(c);
  EXPECT_EQ(ft.leaf_down_ports(), 48);
  EXPECT_EQ(ft.spines_per_tree(), 16);
  c.nodes = 1024;  // 8192 NICs need 171 leaves > 64 ports
  EXPECT_THROW(Topology{c}, std::invalid_argument);
}

TEST(Topology, HashRoutingIsDeterministicAndUsesSeveralSpines) {
  ClusterSpec c = h800_cluster(64);
  c.fabric.routing = "ecmp-hash";
  Topology t(c);
  std::map<LinkId, int> spines;
  for (uint64_t h = 0; h < 64; ++h) {
    const Route r1 = t.route(t.gpu_at(0, 0), t.gpu_at(40, 0), PathKind::direct, h);
    const Route r2 = t.route(t.gpu_at(0, 0), t.gpu_at(40, 0), PathKind::direct, h);
    EXPECT_EQ(r1.ids, r2.ids);
    spines[r1.ids[2]]++;
  }
  EXPECT_GT(spines.size(), 10u);
}

// A link that carries exactly the flows of a narrower one on every route is left out of bandwidth sharing: with one
// NIC per GPU, the GPU's PCIe pair and its NIC's fabric pair are chained through the NIC, and the wider of each
// chained pair is shadowed; NVLink and switch links, which many routes share in different combinations, never are.
TEST(Topology, TheWiderLinkOfAChainedPairIsShadowed) {
  auto shadowed_kinds = [](const Topology& t) {
    std::map<LinkKind, int> n;
    for (size_t l = 0; l < t.links(); ++l)
      if (t.shadowed(LinkId(l))) ++n[t.link(LinkId(l)).kind];
    return n;
  };
  // 64 nodes: two leaves per plane, so a spine joins exactly two leaves and what one sends up comes down to the
  // other (the spine's down link, of equal capacity and higher id, is shadowed). 2,048 GPUs: eight leaves per plane.
  const Topology h800(h800_cluster(64));  // PCIe 64 GB/s, NIC 40 GB/s
  EXPECT_EQ(shadowed_kinds(h800), (std::map<LinkKind, int>{
                                      {LinkKind::pcie_up, 512}, {LinkKind::pcie_down, 512}, {LinkKind::spine_down, 512}}));
  EXPECT_EQ(shadowed_kinds(Topology(h800_cluster(256))),
            (std::map<LinkKind, int>{{LinkKind::pcie_up, 2048}, {LinkKind::pcie_down, 2048}}));
  EXPECT_TRUE(h800.shadowed(h800.pcie_up(9)));
  EXPECT_FALSE(h800.shadowed(h800.nic_up(h800.nic_of_gpu(9))));
  ClusterSpec narrow = h800_cluster(64);
  narrow.node.pcie_gbps = 24;
  const Topology n(narrow);
  EXPECT_EQ(shadowed_kinds(n), (std::map<LinkKind, int>{
                                   {LinkKind::nic_up, 512}, {LinkKind::nic_down, 512}, {LinkKind::spine_down, 512}}));
  ClusterSpec equal = h800_cluster(2);
  equal.node.pcie_gbps = 40;  // a tie: the higher link id (the NIC's) is left out
  EXPECT_EQ(shadowed_kinds(Topology(equal)), (std::map<LinkKind, int>{{LinkKind::nic_up, 16}, {LinkKind::nic_down, 16}}));
  ClusterSpec two_per_nic = h800_cluster(64);
  two_per_nic.node.nics = 4;
  two_per_nic.fabric.planes = 4;
  EXPECT_EQ(shadowed_kinds(Topology(two_per_nic)), (std::map<LinkKind, int>{{LinkKind::spine_down, 256}}));
  // A leaf with one NIC and one spine link pair chains them too (a route into a leaf from its only NIC leaves
  // through its only spine): one NIC per leaf on a 2-port-switch fat tree.
  ClusterSpec tiny = h800_cluster(2, FabricKind::fat_tree);
  tiny.node.gpus = 1;
  tiny.node.nics = 1;
  tiny.fabric.switch_ports = 2;
  const Topology tt(tiny);
  ASSERT_EQ(tt.leaves_per_tree(), 2);
  ASSERT_EQ(tt.spines_per_tree(), 1);
  const auto k = shadowed_kinds(tt);
  EXPECT_EQ(k.count(LinkKind::nvlink_up) + k.count(LinkKind::nvlink_down), 0u);
  EXPECT_GT(k.size(), 0u);
}

}  // namespace cs
