// `clustersim compare A B`: two scenarios run side by side, every summary figure with its difference, next to the
// settings that differ between them (the cause beside the effect).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "reports/run.hpp"
#include "scenarios/scenario.hpp"

namespace cs {

// One summary figure of both runs. `a` or `b` is null where that run lacks the figure (a phase only one side has).
struct CompareRow {
  std::string name;             // dotted path into the run's JSON: breakdown_s.bubble, peak_memory_gib[3], phases.X.days
  nlohmann::json a, b;          // number, string or bool
  std::optional<double> diff;   // B − A, numbers on both sides only
  std::optional<double> rel;    // (B − A) / |A| in percent; none where A is 0 and B is not
  bool differs = false;
};

// One scenario setting whose effective value differs (null: the setting exists on one side only).
struct SettingChange {
  std::string field;            // e.g. schedule.kind, layout.pipeline_parallel, training.phases.X.nodes
  nlohmann::json a, b;
};

struct Comparison {
  std::string file_a, file_b, name_a, name_b;
  std::vector<CompareRow> rows;               // the headline figures first (see compare.cpp), then the rest
  std::vector<SettingChange> changed_fields;
};

// The scenario's effective settings after loading (presets and phase inheritance resolved), with the YAML's key
// names, nested as in the file; phases keyed by name.
nlohmann::ordered_json scenario_settings(const Scenario& s);

// Figures of two `run` JSON outputs (RunOutput::json) and the settings of their scenarios.
Comparison compare_runs(const Scenario& a, const nlohmann::json& run_a, const Scenario& b, const nlohmann::json& run_b);

struct CompareOutput {
  Comparison comparison;
  RunOutput a, b;
};
// Runs both scenarios (errors while running name the scenario's file) and compares them.
CompareOutput compare_scenarios(const Scenario& a, const Scenario& b, const RunOptions& o);

// {a, b, scenario_a, scenario_b, rows: [{name, a, b, diff, rel, differs}], changed_fields: [{field, a, b}]}
nlohmann::ordered_json comparison_json(const Comparison& c);
// An aligned table; `only_changed` leaves out the figures equal on both sides.
std::string comparison_text(const Comparison& c, bool only_changed = false);

}  // namespace cs
