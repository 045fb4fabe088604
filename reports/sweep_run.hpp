// Running a sweep: each point's scenario is loaded (edited base tree → load_scenario, which validates it) and handed
// to an injected Evaluator; results are journalled as they complete so a killed sweep resumes where it stopped.
//
// An Evaluator returns the point's figures as a JSON object. The keys the sweep itself reads (all optional):
//   fits (bool)               false → the point is listed as infeasible ("does not fit in memory", or `reason`)
//   reason (string)           why it is infeasible
//   total_gpu_hours, days     the objectives: best point (lowest GPU-hours, ties by fewer days) and Pareto front
// Every other key becomes a CSV column as it is (nested objects flattened with dots, arrays as JSON text), so the
// columns follow whatever the evaluator reports: step_time_s, tokens_per_s_per_gpu, mfu, bubble_s,
// gpu_hours_per_trillion_tokens, total_cost_usd, peak_memory_gib (array per stage), calibration, …
// The evaluator is called from several threads at once: it must not share mutable state between calls.
#pragma once
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/sweep_plan.hpp"
#include "scenarios/scenario.hpp"

namespace cs {

using Evaluator = std::function<nlohmann::json(const Scenario&)>;

struct PointResult {
  size_t index = 0;          // position in the plan (not stored: the id is the key on disk)
  std::string id;
  nlohmann::json fields;     // path → value
  std::string status;        // ok | infeasible (scenario rejected, or does not fit) | error (evaluator threw)
  std::string reason;        // for infeasible and error
  nlohmann::json result = nlohmann::json::object();  // the evaluator's figures (also kept for points that don't fit)
  nlohmann::json inputs = nlohmann::json::object();  // digests of what it was computed from (sweep_inputs.hpp)
};

// {id, fields, status, reason?, result, inputs?}; no index. Rows written before inputs were recorded have none.
nlohmann::json to_json(const PointResult& r);
PointResult point_result_from_json(const nlohmann::json& j);

// Loads and evaluates one point, and records the digests of its inputs. Scenario errors and `fits: false` make it
// infeasible; other exceptions from the evaluator make it an error. Never throws for a bad point.
PointResult evaluate_point(const SweepPlan& plan, size_t index, const Evaluator& eval);

// Evaluates `indices` on `jobs` threads (0 = hardware threads). `on_done` runs on the calling thread, once per point,
// in completion order; `idle` (optional) runs on the calling thread at least every 20 ms while it waits, so a caller
// can do its own I/O (MPI receives) on the thread that owns it.
void run_points(const SweepPlan& plan, const std::vector<size_t>& indices, const Evaluator& eval, int jobs,
                const std::function<void(PointResult)>& on_done, const std::function<void()>& idle = {});

struct SweepOptions {
  std::string out_dir;   // points.jsonl (journal), points.csv, summary.json
  int jobs = 0;          // worker threads; 0 = hardware threads
  bool resume = true;    // false: discard earlier results in out_dir
  std::function<void(size_t done, size_t total)> progress;  // called on the calling thread after each point
  std::function<void(const std::string&)> warn;             // journal rows not reused on resume, and why
};

// The whole sweep in one process: resume from the journal, evaluate the rest, write CSV and summary.
// Returns the summary (see sweep_output.hpp).
nlohmann::json run_sweep(const SweepPlan& plan, const Evaluator& eval, const SweepOptions& opt);

}  // namespace cs
