// The cluster as a directed graph of links: per GPU an NVLink port pair to its node's NVSwitch and a PCIe pair to its
// NIC, per NIC a pair to its leaf switch, and two-layer fat trees of leaf and spine switches (one tree per plane for
// DeepSeek's multi-plane fat tree; one tree with rail-aligned leaves for a multi-rail fat tree; one tree for a
// single-plane fat tree with optional oversubscription). The graph is a Boost.Graph adjacency list, used to build,
// validate (every GPU reaches every GPU) and to route around failed links; the hot path is a closed-form route
// function returning link ids in a small inline array.
//
// Link capacities and latencies (every figure comes from the ClusterSpec, whose scenario file cites its source):
//   nvlink_up/down  gpu.nvlink_achievable_gbps (≈160 of 200 GB/s per direction, [ISCA] §4); latency
//                   node.nvlink_latency_ns on the up link ([ISCA] Table 5, 3.33 µs)
//   pcie_up/down    node.pcie_gbps (Gen5 x16, 64 GB/s per direction, UNCONFIRMED in the reference), latency 0
//   nic_up/down     node.nic_gbps / 8 × fabric.ib_efficiency (400 Gb/s → 50 GB/s × 0.8 ≈ 40 GB/s, [ISCA] §4);
//                   latency fabric.latency_same_leaf_ns on nic_up ([ISCA] Table 5, 2.8 µs)
//   leaf_up         fabric.link_gbps / 8 × ib_efficiency; latency latency_cross_leaf − latency_same_leaf (0.9 µs)
//   spine_down      same capacity, latency 0
// so a route's summed latency equals the published end-to-end 64 B latency of its kind.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/network_api.hpp"

namespace cs {

// A route: link ids in the order a byte crosses them, and the sum of their latencies.
struct Route {
  static constexpr int kMaxHops = 12;
  // Closed-form routes (nothing failed) have at most an NVLink pair, a PCIe pair, a NIC pair and a leaf-spine pair.
  static constexpr int kMaxClosedFormHops = 8;
  std::array<LinkId, kMaxHops> ids{};
  int hops = 0;
  TimeNs latency_ns = 0;
  std::span<const LinkId> links() const { return {ids.data(), size_t(hops)}; }
};

class Topology {
 public:
  explicit Topology(const ClusterSpec& spec);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const ClusterSpec& spec() const { return spec_; }
  int gpus() const { return spec_.gpus(); }
  int nodes() const { return spec_.nodes; }
  int gpus_per_node() const { return spec_.node.gpus; }
  int node_of(int gpu) const { return gpu / spec_.node.gpus; }
  int local_index(int gpu) const { return gpu % spec_.node.gpus; }
  int gpu_at(int node, int local) const { return node * spec_.node.gpus + local; }
  // Shifting every GPU of a traffic pattern by a multiple of this many GPUs gives the same routes up to renaming of
  // leaves (destination-based ECMP, nothing failed), hence the same timings; 0 when there is no such period
  // (hash-based ECMP, failed links or switches, leaves that split a node).
  int translation_period_gpus() const;

  size_t links() const { return links_.size(); }
  const LinkInfo& link(LinkId id) const { return links_[size_t(id)]; }
  LinkId find_link(const std::string& name) const;  // -1 when absent

  // Closed-form routes (ECMP by destination or by hash, per spec.fabric.routing); under failures, ECMP skips failed
  // spines and any other failure falls back to the shortest surviving path in the graph (cached).
  Route route(int src_gpu, int dst_gpu, PathKind kind = PathKind::direct, uint64_t flow_hash = 0) const;

  // True when every route that crosses this link also crosses another link of lower capacity (or equal capacity and
  // lower id) and the other way round, so both always carry the same flows and this one can never be a bottleneck
  // that the other is not: bandwidth sharing may leave it out and get the same rates. Holds for a link into or out
  // of a switch or NIC with exactly one link pair on each side (a NIC serving one GPU: the GPU's PCIe link and the
  // NIC's fabric link; a spine joining two leaves: one leaf's up link and the other's down link), since routes are
  // simple paths between GPUs; failures only take routes away.
  bool shadowed(LinkId id) const { return shadowed_[size_t(id)] != 0; }

  void fail_link(LinkId id);
  void fail_switch(const std::string& name);  // "plane2.leaf1", "plane0.spine5", "node3.nvswitch", ...
  bool failed(LinkId id) const { return failed_[size_t(id)] != 0; }
  bool any_failed() const { return failures_ > 0; }

  // Fabric shape, for reports and tests.
  int trees() const { return trees_; }
  int leaves_per_tree() const { return leaves_; }
  int spines_per_tree() const { return spines_; }
  int leaf_down_ports() const { return down_; }

  LinkId nvlink_up(int gpu) const { return LinkId(4 * gpu + 0); }
  LinkId nvlink_down(int gpu) const { return LinkId(4 * gpu + 1); }
  LinkId pcie_up(int gpu) const { return LinkId(4 * gpu + 2); }
  LinkId pcie_down(int gpu) const { return LinkId(4 * gpu + 3); }
  LinkId nic_up(int nic) const { return LinkId(nic_base_ + 2 * nic); }
  LinkId nic_down(int nic) const { return LinkId(nic_base_ + 2 * nic + 1); }
  int nic_of_gpu(int gpu) const;          // the NIC under the GPU's PCIe switch
  int gpu_of_nic(int nic) const;          // the first GPU that shares the NIC's PCIe switch

 private:
  struct Endpoint {
    int tree, leaf, port;
  };
  struct Graph;  // Boost.Graph adjacency list, kept out of this header (compile time)

  Endpoint endpoint_of_nic(int nic) const { return nic_ends_[size_t(nic)]; }
  Endpoint compute_endpoint_of_nic(int nic) const;
  // Per GPU: its node, index in the node and NIC, precomputed so a route takes no integer divisions.
  struct Place {
    int node, local, nic;
  };
  LinkId leaf_up(int tree, int leaf, int spine) const { return LinkId(leaf_up_base_ + (tree * leaves_ + leaf) * spines_ + spine); }
  LinkId spine_down(int tree, int spine, int leaf) const {
    return LinkId(spine_down_base_ + (tree * spines_ + spine) * leaves_ + leaf);
  }
  bool fabric_hops(int nic_src, int nic_dst, uint64_t hash, Route& r) const;  // false: no surviving spine
  void push(Route& r, LinkId id) const;
  Route graph_route(int src_gpu, int dst_gpu) const;
  void build();
  void find_shadowed();

  ClusterSpec spec_;
  std::vector<LinkInfo> links_;
  std::vector<TimeNs> lat_;                // per link: its latency (routes read this dense table)
  std::vector<int> link_from_, link_to_;   // graph vertices at each end
  std::vector<std::string> vertex_names_;
  std::vector<Endpoint> nic_ends_;
  std::vector<Place> places_;
  std::vector<uint8_t> failed_;
  std::vector<uint8_t> shadowed_;
  int failures_ = 0;
  int trees_ = 0, leaves_ = 0, spines_ = 0, down_ = 0;
  int nic_base_ = 0, leaf_up_base_ = 0, spine_down_base_ = 0;
  bool hash_routing_ = false;
  std::unique_ptr<Graph> graph_;
  mutable std::unordered_map<uint64_t, Route> failure_routes_;
};

const char* link_kind_name(LinkKind k);

}  // namespace cs
