// What a simulated training step produces: its time and decomposition, exposed communication, throughput, memory,
// and the timeline of every simulated GPU (for traces and reports).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/time.hpp"

namespace cs {

// One interval on one stream of one GPU.
struct TraceSlice {
  int gpu = 0;              // global GPU index (placement: pipeline rank r owns GPUs r·dp … r·dp + dp − 1)
  int rank = 0;             // its pipeline rank
  std::string stream;       // "compute", "communication", "pipeline", "data-parallel"
  std::string name;         // "F mb3 s0", "L10 dispatch", ...
  std::string category;     // "F", "B", "W", "F&B", "p2p", "dispatch", "combine", "optimizer", ...
  TimeNs start = 0;
  TimeNs end = 0;
};

// Where the step's time goes on its critical (last-finishing) rank; the terms add up to the step time.
struct StepBreakdown {
  TimeNs warmup_forward = 0;   // busy in forward-only instructions before the rank's first backward
  TimeNs steady = 0;           // busy in instructions once forward and backward interleave
  TimeNs warmup_backward = 0;  // busy in backward instructions after the rank's last forward (cool-down)
  TimeNs weight_tail = 0;      // busy in weight-gradient-only instructions after the last forward
  TimeNs bubble = 0;           // idle while the pipeline runs
  TimeNs data_parallel = 0;    // exposed ZeRO-1 gradient reduce-scatter and parameter all-gather
  TimeNs optimizer = 0;        // AdamW on the rank's shard
};

// Communication that the compute stream waited for (not hidden behind computation), summed over the critical rank.
struct ExposedComm {
  TimeNs dispatch = 0;
  TimeNs combine = 0;
  TimeNs pipeline = 0;
  TimeNs data_parallel = 0;
};

struct RankSummary {
  int rank = 0;
  TimeNs pipeline_end = 0;     // when its last instruction ends
  TimeNs busy = 0;
  TimeNs idle = 0;
  int peak_activations = 0;    // (micro-batch, stage) activations held at once
};

// Utilisation of one class of links (NVLink, NIC, leaf–spine, …) over the step.
struct LinkUse {
  std::string link_class;
  double utilisation = 0;   // carried bytes ÷ (capacity × step time), averaged over the class's links
  double bytes = 0;         // carried over the step, summed over the class
};

struct StepResult {
  std::string schedule;
  int pp = 0;
  int64_t micro_batches = 0;       // per pipeline
  TimeNs step_time = 0;
  TimeNs pipeline_time = 0;        // until the last instruction of the last rank
  StepBreakdown breakdown;
  ExposedComm exposed;
  std::vector<RankSummary> ranks;
  std::vector<TraceSlice> timeline;
  std::vector<LinkUse> links;
  int simulated_gpus = 0;          // GPUs whose timelines were simulated (representatives or all)
  bool representative = true;      // one pipeline stands for all data-parallel replicas
  // Durations of the instructions of the critical rank's first stage (B: the full backward, input and weight
  // gradients, whether or not the schedule splits it; F&B: that stage's forward with the backward it overlaps), for
  // reports.
  TimeNs f_ns = 0, b_ns = 0, w_ns = 0, fb_ns = 0;
  // Calibration provenance: which profile timed the ops, and how many distinct ops were measured vs modelled.
  std::string profile;
  std::string profile_source;
  int64_t ops_measured = 0;
  int64_t ops_modelled = 0;
};

}  // namespace cs
