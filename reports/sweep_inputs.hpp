// What a sweep point's result depends on besides its swept values, as digests: resume reuses a journal row only when
// the inputs it was computed from are still the inputs of this run.
//
// Each journal row carries "inputs": {name: digest} for its point (16 hex digits of fnv1a_hex over the bytes;
// "missing" for a file that cannot be read):
//   sweep                              the sweep file's settings other than grid and zip (SweepPlan::settings)
//   base                               the base scenario's text
//   models:NAME gpus:NAME clusters:NAME   each preset the point's scenario reads (a cluster preset names its GPU's)
//   schedule:PATH load:PATH            a custom schedule file, a routing load file (the path as the scenario writes it)
//   profile:NAME                       the calibration profile (name or path), when the scenario loads
// The files are the ones the loader looked for while loading the point's scenario, so a point it rejects still names
// those its reason came from. Names are as the scenario gives them, with no folder added: the same sweep run from
// another directory, or with the source tree elsewhere, has the same inputs when the files' bytes are the same.
//
// Resume needs no scenario loads: the same base text, swept values and file contents lead the loader to the same
// files, so a row whose every digest still matches would be computed from exactly what it was computed from.
// Not covered: the clustersim program itself (a newer version's figures), and anything an evaluator reads that the
// scenario does not name.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/sweep_plan.hpp"
#include "scenarios/scenario.hpp"

namespace cs {

// The digests of a point's inputs: the sweep's two, each of `files`, and the profile unless `profile` is empty.
nlohmann::json point_inputs(const SweepPlan& plan, const std::vector<ScenarioInput>& files,
                            const std::string& profile);

// The digest an input named as in a journal row has now; "" for a name this version does not know.
std::string input_digest(const SweepPlan& plan, const std::string& name);

// The input in words, for messages: "the base scenario sweeps/base.yaml", "GPU preset h800", …
std::string describe_input(const SweepPlan& plan, const std::string& name);

// Compares journal rows' inputs with this run's, reading each input at most once.
class InputCheck {
 public:
  explicit InputCheck(const SweepPlan& plan) : plan_(plan) {}
  // Names of the inputs in a row's `inputs` whose digest differs now (sweep and base count as differing when the
  // row lacks them); empty when the row can be reused.
  std::vector<std::string> changed(const nlohmann::json& inputs);

 private:
  const SweepPlan& plan_;
  std::map<std::string, std::string> now_;
};

}  // namespace cs
