#include "reports/sweep_inputs.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "calibration/profile.hpp"

namespace cs {

namespace {

std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing";
  std::stringstream ss;
  ss << in.rdbuf();
  return fnv1a_hex(ss.str());
}

std::string input_name(const ScenarioInput& in) { return in.kind + ":" + in.name; }

// "gpus:h800" → {"gpus", "h800"}; a name without a colon has an empty kind.
ScenarioInput split_name(const std::string& name) {
  const size_t colon = name.find(':');
  if (colon == std::string::npos) return {"", name};
  return {name.substr(0, colon), name.substr(colon + 1)};
}

}  // namespace

nlohmann::json point_inputs(const SweepPlan& plan, const std::vector<ScenarioInput>& files,
                            const std::string& profile) {
  nlohmann::json j = nlohmann::json::object();
  j["sweep"] = input_digest(plan, "sweep");
  j["base"] = input_digest(plan, "base");
  for (const ScenarioInput& f : files) j[input_name(f)] = input_digest(plan, input_name(f));
  if (!profile.empty()) j["profile:" + profile] = input_digest(plan, "profile:" + profile);
  return j;
}

std::string input_digest(const SweepPlan& plan, const std::string& name) {
  if (name == "sweep") return fnv1a_hex(plan.settings);
  if (name == "base") return fnv1a_hex(plan.base_text);
  const ScenarioInput in = split_name(name);
  if (in.kind == "profile") return file_digest(resolve_profile(in.name, default_profile_dir()));
  if (in.kind == "models" || in.kind == "gpus" || in.kind == "clusters" || in.kind == "schedule" ||
      in.kind == "load")
    return file_digest(input_path(in, plan.base_path));
  return "";
}

std::string describe_input(const SweepPlan& plan, const std::string& name) {
  if (name == "sweep") return fmt::format("the settings of {} other than grid and zip", plan.file);
  if (name == "base") return fmt::format("the base scenario {}", plan.base_path);
  const ScenarioInput in = split_name(name);
  if (in.kind == "models") return "model preset " + in.name;
  if (in.kind == "gpus") return "GPU preset " + in.name;
  if (in.kind == "clusters") return "cluster preset " + in.name;
  if (in.kind == "schedule") return "schedule file " + input_path(in, plan.base_path);
  if (in.kind == "load") return "routing load file " + input_path(in, plan.base_path);
  if (in.kind == "profile") return "calibration profile " + resolve_profile(in.name, default_profile_dir());
  return "input " + name + " (unknown to this version)";
}

std::vector<std::string> InputCheck::changed(const nlohmann::json& inputs) {
  std::vector<std::string> out;
  for (const char* own : {"base", "sweep"})
    if (!inputs.is_object() || !inputs.contains(own)) out.push_back(own);
  if (!inputs.is_object()) return out;
  for (auto it = inputs.begin(); it != inputs.end(); ++it) {
    auto now = now_.find(it.key());
    if (now == now_.end()) now = now_.emplace(it.key(), input_digest(plan_, it.key())).first;
    if (now->second.empty() || !it.value().is_string() || it.value().get<std::string>() != now->second)
      out.push_back(it.key());
  }
  return out;
}

}  // namespace cs
