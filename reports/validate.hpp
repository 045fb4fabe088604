// `clustersim validate`: the project's reference checks, each a prediction computed by the model layer, the cost
// model, the network model or the schedule timeline, set against a published figure with a stated tolerance.
//
// Groups:
//   model      parameter counts and training FLOPs per token vs the Technical Report and ISCA'25 Table 2
//   kernels    DeepGEMM rows of the h800-published profile, each predicted with that row left out (leave-one-out)
//   network    DeepEP normal-kernel bandwidths (dispatch/combine, EP8..EP64) reproduced from link-level figures
//   schedules  idle per rank from the schedule timeline vs the published bubble formulas (exact)
//   training   the default scenario's whole-run projection vs DeepSeek's published GPU-hours and cost (informational)
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cs {

struct Check {
  std::string group;
  std::string name;
  double predicted = 0;
  double published = 0;
  std::string unit;
  double tolerance = 0;          // relative; |error| ≤ tolerance passes
  std::string tolerance_reason;  // why this tolerance
  std::string source;            // where the published figure comes from
  bool informational = false;    // reported, never fails (e.g. an extrapolation outside the data)
  double target = -1;            // ≥ 0: the accuracy aimed at, when the tolerance is wider (a regression guard)
  std::string note;              // extra context printed with the check
};

// (predicted − published) / published; 0 when both are 0, infinity when only published is 0.
double relative_error(const Check& c);
bool within_tolerance(const Check& c);
// Within tolerance but outside the target: a gap the model does not close, reported as such.
bool known_gap(const Check& c);
// "PASS", "FAIL" or "INFO" (informational).
std::string status(const Check& c);
// Whether a non-informational check fails.
bool fails(const Check& c);

struct CheckGroup {
  std::string name;
  std::vector<std::string> notes;  // how the group's predictions are made (printed above its checks)
  std::vector<Check> checks;
};

// The group names, in run order.
const std::vector<std::string>& validation_groups();

CheckGroup validate_model();
// `profile_path`: the h800-published profile (calibration/profiles/h800-published.json).
CheckGroup validate_kernels(const std::string& profile_path);
CheckGroup validate_network();
CheckGroup validate_schedules();
// Runs scenarios/deepseek-v3.yaml (from preset_dir()).
CheckGroup validate_training();

// The groups named in `only` (all when empty), in run order. Throws std::invalid_argument for an unknown name.
std::vector<CheckGroup> run_validation(const std::vector<std::string>& only, const std::string& profile_path);

int failed_checks(const std::vector<CheckGroup>& groups);
std::string format_validation_text(const std::vector<CheckGroup>& groups);
nlohmann::json validation_to_json(const std::vector<CheckGroup>& groups);

}  // namespace cs
