// The cluster: nodes of GPUs on NVSwitch, one NIC per GPU, and the fabric between nodes.
// Filled from a scenario's `cluster:` section (or a preset in scenarios/clusters/*.yaml).
#pragma once
#include <cstdint>
#include <string>

#include "calibration/gpu_spec.hpp"

namespace cs {

enum class FabricKind { multi_plane_fat_tree, multi_rail_fat_tree, fat_tree };

// The name scenario files use for a fabric kind.
inline const char* fabric_kind_name(FabricKind k) {
  switch (k) {
    case FabricKind::multi_plane_fat_tree: return "multi-plane-fat-tree";
    case FabricKind::multi_rail_fat_tree: return "multi-rail-fat-tree";
    case FabricKind::fat_tree: return "fat-tree";
  }
  return "?";
}

struct FabricSpec {
  FabricKind kind = FabricKind::multi_plane_fat_tree;
  int planes = 8;                  // multi-plane: plane k joins NIC k of every node
  int switch_ports = 64;           // radix of leaf and spine switches
  double oversubscription = 1.0;   // fat_tree: leaf down/up bandwidth ratio (1 = non-blocking)
  double link_gbps = 400;          // switch-to-switch link, Gb/s
  double ib_efficiency = 0.8;      // achievable fraction of IB line rate (source in the scenario file)
  int64_t latency_same_leaf_ns = 2800;   // [ISCA] Table 5, 64 B
  int64_t latency_cross_leaf_ns = 3700;  // [ISCA] Table 5, 64 B
  std::string routing = "ecmp-dest";     // ecmp-dest | ecmp-hash
  bool operator==(const FabricSpec&) const = default;
};

struct NodeSpec {
  int gpus = 8;
  int nics = 8;                    // one NIC per GPU
  double nic_gbps = 400;           // NIC line rate, Gb/s
  double pcie_gbps = 64;           // PCIe Gen5 x16 per direction, GB/s (UNCONFIRMED in the reference: assumed)
  int64_t nvlink_latency_ns = 3330;  // [ISCA] Table 5
  bool operator==(const NodeSpec&) const = default;
};

struct ClusterSpec {
  std::string name;
  GpuSpec gpu;
  NodeSpec node;
  int nodes = 1;
  FabricSpec fabric;
  int gpus() const { return nodes * node.gpus; }
  bool operator==(const ClusterSpec&) const = default;
};

}  // namespace cs
