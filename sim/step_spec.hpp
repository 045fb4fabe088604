// What one simulated training step is made of: the model, the cluster, the parallel layout, the schedule, the
// expert routing and the network options. Filled by the scenario loader (scenarios/), read by the step executor.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/layout.hpp"
#include "models/model_config.hpp"
#include "sim/cluster_spec.hpp"

namespace cs {

struct ScheduleConfig {
  std::string kind = "dualpipe";   // 1f1b | interleaved | zb1p | dualpipe | dualpipev | custom
  std::string file;                // custom: per-rank instruction lists (resolved against the scenario's folder)
  int comm_sms = 20;               // SMs reserved for dispatch/combine (DeepSeek-V3: 20 of 132, TR §3.2.2)
  bool overlap_fb = true;          // DualPipe: run F&B pairs overlapped
};

struct RoutingConfig {
  std::string kind = "balanced";   // balanced | random | zipf | file
  double zipf_exponent = 0;        // zipf
  std::string load_file;           // file: one load per expert
  int max_nodes = 0;               // node-limited routing (0 = the model's topk_groups)
  uint64_t seed = 1;
};

struct NetworkConfig {
  std::string mode = "flow";       // flow (per-flow max-min) | coflow (one activity per collective)
  std::string backend = "native";  // native | simgrid (small clusters)
  int64_t time_quantum_ns = 0;
  bool operator==(const NetworkConfig&) const = default;
};

// A GPU whose computation runs `slowdown` times slower than its peers (thermal throttling, a degraded HBM stack, a
// noisy neighbour). GPU ids follow the executor's placement: pipeline rank r owns GPUs r·dp … r·dp + dp − 1.
struct Straggler {
  int gpu = 0;
  double slowdown = 1;  // ≥ 1: compute time multiplier
};

// One step to simulate.
struct StepSpec {
  ModelConfig model;
  ClusterSpec cluster;   // with the phase's node count
  Layout layout;         // with the phase's sequence length and global batch
  ScheduleConfig schedule;
  RoutingConfig routing;
  NetworkConfig network;
  std::vector<Straggler> stragglers;  // GPUs outside the cluster of this step are ignored
  uint64_t seed = 1;
};

}  // namespace cs
