// Custom schedules: per-rank instruction lists written by hand in YAML, to try a schedule change before running it.
//
//   micro_batches: 8          # per step; every one must get its F and B on every stage
//   virtual_stages: 1         # optional: model chunks per rank; chunk c of rank r is stage c·ranks + r
//   ranks:                    # one list per pipeline rank, in issue order
//     - [{F: 0}, {F: 1}, {B: 0}, {F: 2}, {B: 1, split: true}, {W: 1}, ...]
//
// An instruction is a mapping naming one pass by micro-batch: {F: m}, {B: m} (full backward), {B: m, split: true}
// (input gradient only; its {W: m} must follow), {W: m}, or {F: m, B: k} for an overlapped F&B pair; `chunk` (and
// `b_chunk` for the pair's backward) picks the model chunk when virtual_stages > 1. Sends and receives are implied.
// The file is checked for consistency and run once with unit costs, so a deadlock is reported with the file's lines.
#pragma once
#include <string>

#include "sim/schedule/schedule.hpp"

namespace cs::sched {

// Throws cs::ScenarioError (file:line:column, field, what is allowed). `expect_pp` / `expect_micro_batches` > 0: the
// file must have that many ranks / micro-batches (those of the scenario naming it). `max_stages` > 0: at most that
// many stages (ranks × virtual_stages), the blocks of the scenario's model, since each stage runs at least one.
Schedule load_custom_schedule(const std::string& path, int expect_pp = 0, int expect_micro_batches = 0,
                              int max_stages = 0);

}  // namespace cs::sched
