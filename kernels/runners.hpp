// Runs one shape-list entry on the GPU: builds its inputs, checks the kernel against a CPU reference, then times it.
#pragma once
#include <string>

#include "calibration/shapes.hpp"
#include "kernels/common.hpp"

namespace cs::kern {

struct RunContext {
  int device_sms = 0;
  int top_k = 0, expert_groups = 0, topk_groups = 0;  // routing kernels
  int64_t seq = 4096;                                  // RoPE positions
  bool check = true;                                   // compare with the CPU reference before timing
};

struct RunResult {
  bool ran = false;
  std::string note;  // why it did not run, or what ran (algorithm)
  Stats stats;
};

RunResult run_entry(const ShapeEntry& e, int sms, const RunContext& ctx, Timer& timer);

// The SMs a plain copy needs to reach 95 % of its all-SM bandwidth (memory_saturation_sms of a measured profile).
int measure_memory_saturation(int device_sms, Timer& timer);

}  // namespace cs::kern
