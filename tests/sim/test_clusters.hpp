// Cluster specs for the engine's tests: the H800 figures of scenarios/gpus/h800.yaml and
// scenarios/clusters/h800-2048.yaml (sources there), at smaller node counts.
#pragma once
#include "sim/cluster_spec.hpp"

namespace cs::testing {

inline GpuSpec h800_gpu() {
  GpuSpec g;
  g.name = "h800";
  g.sms = 132;
  g.nvlink_gbps = 200;             // 400 GB/s aggregate = 200 per direction ([ISCA] §4)
  g.nvlink_achievable_gbps = 160;  // ≈160 GB/s achievable ([ISCA] §4)
  return g;
}

inline ClusterSpec h800_cluster(int nodes, FabricKind kind = FabricKind::multi_plane_fat_tree) {
  ClusterSpec c;
  c.name = "test-h800";
  c.gpu = h800_gpu();
  c.nodes = nodes;
  c.fabric.kind = kind;
  c.fabric.planes = kind == FabricKind::multi_plane_fat_tree ? 8 : 1;
  return c;  // NodeSpec/FabricSpec defaults: 8 GPUs, 8 × 400 Gb/s NICs, ib_efficiency 0.8, 64-port switches
}

}  // namespace cs::testing
