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
  int gpu = 0;              // global GPU index (rank in the pipeline for the representative pipeline)
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

}  // namespace cs
