// Whole-training-run projection: tokens → steps (with the batch ramp), each phase with its own sequence length, batch
// and layout, then wall-clock days, GPU-hours and dollars per phase and in total.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "scenarios/scenario.hpp"

namespace cs {

// Seconds one step of `phase` takes with `micro_batches` micro-batches per pipeline (the ramp changes that count).
using StepTimeFn = std::function<double(const Phase& phase, int64_t micro_batches)>;

struct PhaseProjection {
  std::string name;
  bool simulated = true;
  std::string source;        // for a phase given as GPU-hours: where the figure comes from
  int gpus = 0;
  int64_t seq_len = 0;
  int64_t global_batch = 0;  // after the ramp
  int64_t steps = 0;
  int64_t ramp_steps = 0;    // steps taken at a ramped (smaller) batch
  double tokens = 0;
  double step_time_s = 0;    // at the full batch
  double wall_s = 0;
  double gpu_hours = 0;
  double cost_usd = 0;
};

struct Projection {
  std::vector<PhaseProjection> phases;
  double total_gpu_hours = 0;
  double total_cost_usd = 0;
  double days = 0;                          // wall-clock, phases one after another
  double gpu_hours_per_trillion_tokens = 0; // of the first (pre-training) phase
};

// The batch (sequences) of the step that starts after `tokens_done` tokens of a phase with a ramp, rounded down to a
// whole number of micro-batches on every data-parallel replica (and never below the ramp's start).
int64_t ramp_batch(const Phase& p, double tokens_done);

Projection project_training(const Scenario& s, const StepTimeFn& step_time);

}  // namespace cs
