// Internal to the scenario loader: readers for each section, shared by presets.cpp and scenario.cpp.
#pragma once
#include "scenarios/scenario.hpp"

namespace cs {
std::string preset_path(const std::string& kind, const std::string& name);
ModelConfig read_model_fields(YamlSection& s, ModelConfig base, bool complete);
// `inputs` (may be null) receives each preset file looked for.
ModelConfig read_model(YamlSection& root, std::vector<ScenarioInput>* inputs);
ClusterSpec read_cluster(YamlSection& root, std::vector<ScenarioInput>* inputs);
}  // namespace cs
