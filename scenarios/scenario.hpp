// A scenario: one whole what-if (model, cluster, layout, schedule, routing, training plan, price), loaded from YAML
// and validated. Presets (models, GPUs, clusters) are YAML files under scenarios/{models,gpus,clusters}/.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "calibration/gpu_spec.hpp"
#include "models/layout.hpp"
#include "models/model_config.hpp"
#include "scenarios/yaml_reader.hpp"
#include "sim/cluster_spec.hpp"
#include "sim/step_spec.hpp"

namespace cs {

struct BatchRamp {
  int64_t from = 0;                // sequences at the start of the phase
  double over_tokens = 0;          // ramp length in tokens
  std::string shape = "linear";    // linear in tokens | step
};

// The most steps a batch ramp may take (the projection walks it a step at a time).
inline constexpr int64_t kMaxRampSteps = 10'000'000;

struct Phase {
  std::string name;
  int64_t seq_len = 0;
  int64_t global_batch = 0;        // sequences per step after any ramp
  double tokens = 0;               // tokens in the phase (or steps × batch × seq_len)
  int64_t steps = 0;               // given instead of tokens
  std::optional<BatchRamp> ramp;
  double given_gpu_hours = 0;      // a phase the simulator does not model, given as published GPU-hours
  std::string given_source;        // where that figure comes from (required with given_gpu_hours)
  // The step this phase runs: the scenario's layout, schedule and node count unless the phase overrides them.
  Layout layout;                   // with this phase's seq_len and global_batch
  ScheduleConfig schedule;
  int nodes = 0;
  bool simulated() const { return given_gpu_hours <= 0; }
};

struct Scenario {
  std::string file;                // where it came from (for messages)
  std::string name;
  std::string description;
  ModelConfig model;
  ClusterSpec cluster;
  Layout layout;
  ScheduleConfig schedule;
  RoutingConfig routing;
  NetworkConfig network;
  std::vector<Straggler> stragglers;  // slow GPUs (simulated with every GPU)
  std::vector<Phase> phases;       // phases[0] is the step the simulator runs by default
  double price_per_gpu_hour = 0;   // USD
  std::string profile = "h800-published";  // calibration profile name or path
  uint64_t seed = 1;
};

// Folder holding models/, gpus/, clusters/ presets: $CLUSTERSIM_PRESETS if set, else the source tree's scenarios/.
std::string preset_dir();

// A file a scenario reads besides its own: a preset (kind "models", "gpus" or "clusters"; name as the scenario gives
// it), a custom schedule ("schedule") or a routing load file ("load"; name as the scenario writes the path).
struct ScenarioInput {
  std::string kind;
  std::string name;
};
// Where the loader looks for it: presets under preset_dir(), other files relative to the scenario file's folder.
std::string input_path(const ScenarioInput& in, const std::string& scenario_file);

Scenario load_scenario(const std::string& path);
// The same from an already parsed document (sweeps edit the tree, then load); `file` is used in messages and locates
// relative paths. `inputs` (optional) receives every file the load looks for, in order, as it goes (so also when the
// load fails): what the result depends on besides the tree (sweeps fingerprint them).
Scenario load_scenario(const YAML::Node& root, const std::string& file, std::vector<ScenarioInput>* inputs = nullptr);

ModelConfig load_model_file(const std::string& path);
ModelConfig load_model_preset(const std::string& name);
GpuSpec load_gpu_preset(const std::string& name);

// Cross-field checks (layout vs cluster, experts vs EP, schedule constraints, batch divisibility, …).
void validate_scenario(const Scenario& s, const YAML::Node& root);

}  // namespace cs
