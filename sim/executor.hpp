// The training-step executor: model + layout + schedule → one simulated step.
//
// Placement (rank-major, as DeepSeek-V3's EP64 over 8 nodes needs): pipeline rank r owns GPUs r·dp … r·dp + dp − 1,
// one per data-parallel replica; an expert-parallel group is ep consecutive GPUs of one rank (whole nodes), so a
// pipeline hop goes between GPUs of the same in-node index (the same rail / plane).
//
// Every compute instruction of the schedule (F, B, W, F&B) is timed from its stage's ops: compute ops by the cost
// model with the SMs left after communication, dispatch/combine by the network model on the stage's EP group (in
// isolation: other groups use disjoint nodes and, on a non-blocking fabric, disjoint links). F&B pairs overlap one
// micro-batch's all-to-all with the other's computation (chunk_timing.hpp). Pipeline transfers are network p2p
// transfers. After its last instruction each rank reduce-scatters gradients and all-gathers parameters over its
// data-parallel group (ZeRO-1) and runs AdamW on its shard.
//
// Representative mode: with balanced routing and no stragglers every data-parallel replica runs the same timeline,
// so one pipeline stands for all of them. every_gpu mode runs all replicas (required for imbalanced routing or
// stragglers); each replica's expert load comes from the routing model, and an instruction that carries
// expert-parallel all-to-alls cannot finish before every member of its EP group has run it (the all-to-all couples
// them), so a slow GPU (a straggler, or one holding popular experts) holds back its whole group. The data-parallel
// collectives at the end of the step wait for every replica: the step ends with the slowest class.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "calibration/cost_model.hpp"
#include "sim/collectives.hpp"
#include "sim/schedule/schedule.hpp"
#include "sim/step_result.hpp"
#include "sim/step_spec.hpp"
#include "sim/topology.hpp"

namespace cs {

struct ExecutorOptions {
  bool every_gpu = false;   // simulate every data-parallel replica (required for imbalanced routing)
  bool timeline = true;     // keep trace slices
  bool detail = false;      // trace slices of the parts inside each instruction (compute / communication streams)
  bool merge_equal_classes = true;  // every_gpu: simulate classes with equal load, routing and stragglers once
};

// Throws std::invalid_argument for what the executor cannot simulate (with the reason).
StepResult simulate_step(const StepSpec& spec, const sched::Schedule& schedule, const CostModel& cost,
                         const ExecutorOptions& options);

// The native network model's options for a scenario's `network` section (throws on an unknown mode or backend).
NetworkOptions network_options(const NetworkConfig& network);

// The same, keeping the cluster's topology and the collective durations measured on it between steps (a batch ramp
// or a sweep of schedules on one cluster). Every collective runs in isolation on the network model the scenario's
// `network` section names. Collectives are timed on a translated copy of their GPUs when the
// fabric repeats (Topology::translation_period_gpus), so equal groups at different places cost one timing.
class StepSimulator {
 public:
  // `network`: how collectives are timed (mode flow or coflow, time quantum, native or SimGrid backend).
  StepSimulator(const ClusterSpec& cluster, const NetworkConfig& network);
  StepResult simulate(const StepSpec& spec, const sched::Schedule& schedule, const CostModel& cost,
                      const ExecutorOptions& options);
  const ClusterSpec& cluster() const { return cluster_; }
  const NetworkConfig& network() const { return network_; }

 private:
  ClusterSpec cluster_;
  NetworkConfig network_;
  Topology topo_;
  CollectiveTimer timer_;
};

// Step simulators kept for every step simulated on an equal cluster and network: the phases of one run, a sweep's
// points, both sides of a compare. A collective's isolated duration depends only on the cluster, the network options
// and the collective, so sharing the timings changes no result, only how often a collective is simulated. Thread-safe
// (StepSimulator::simulate may run on several threads at once); the least recently used simulator not in use is let
// go beyond kKept.
class TimingCache {
 public:
  static constexpr size_t kKept = 16;
  std::shared_ptr<StepSimulator> simulator(const ClusterSpec& cluster, const NetworkConfig& network);

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<StepSimulator>> sims_;  // most recently used last
};

}  // namespace cs
