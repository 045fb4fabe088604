// `clustersim run`: simulate a scenario's step, project the whole training run, and report both.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "calibration/cost_model.hpp"
#include "reports/projection.hpp"
#include "scenarios/scenario.hpp"
#include "sim/executor.hpp"
#include "sim/schedule/schedule.hpp"

namespace cs {

struct RunOptions {
  bool every_gpu = false;   // simulate every data-parallel replica (automatic for imbalanced routing)
  bool timeline = true;     // keep the first phase's timeline (traces, HTML report)
  bool detail = false;      // trace slices of the parts inside each instruction
  // Step simulators (topologies and collective timings) to share with other runs on the same cluster and network,
  // e.g. a sweep's points; none: the run keeps its own.
  std::shared_ptr<TimingCache> timings;
};

// The step of `phase` with `micro_batches` micro-batches per pipeline.
StepSpec step_spec(const Scenario& s, const Phase& phase, int64_t micro_batches);
// The phase's schedule: generated, or read from the custom schedule file. `model_blocks` > 0: the blocks of the
// scenario's model, the most stages a custom file may cut it into (a file naming more is an error on its line).
sched::Schedule phase_schedule(const Phase& phase, int64_t micro_batches, int model_blocks = 0);
// The calibration profile the scenario names (a shipped name or a path).
CostModel scenario_cost_model(const Scenario& s);

struct RunOutput {
  StepResult step;          // the first phase's step at its full batch
  Projection projection;
  nlohmann::json json;      // every figure of the summary (the --json output)
};

RunOutput run_scenario(const Scenario& s, const RunOptions& o);
std::string run_text(const nlohmann::json& j);
// The HTML report's input (figures, breakdown, timeline, memory, links) for a run.
nlohmann::json run_report_input(const RunOutput& out);
// The sweep's per-point evaluation: run_scenario without timelines, its JSON figures.
nlohmann::json run_figures(const Scenario& s, const std::shared_ptr<TimingCache>& timings = nullptr);
// run_figures with one TimingCache for every point it evaluates (thread-safe): what `clustersim sweep` runs.
std::function<nlohmann::json(const Scenario&)> shared_run_figures();

}  // namespace cs
