// What a sweep can say about a point before any step is simulated: figures that follow from the scenario itself
// (GPU count, micro-batches, tokens per step, the training plan's tokens). It reports no step time, MFU, GPU-hours or
// days: those need the step simulation, which a caller injects as its own Evaluator (sweep_run.hpp) and which
// replaces this one without any other change (the CSV columns follow the evaluator's keys).
#pragma once
#include <nlohmann/json.hpp>

#include "scenarios/scenario.hpp"

namespace cs {

nlohmann::json scenario_figures(const Scenario& s);

}  // namespace cs
