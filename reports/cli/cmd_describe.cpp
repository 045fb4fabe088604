// clustersim describe SCENARIO: what the scenario asks for (parameters, FLOPs, memory per stage).
#include <fmt/format.h>

#include "reports/cli/commands.hpp"
#include "scenarios/scenario.hpp"

namespace cs::cli {

void add_describe(CLI::App& app) {
  auto* cmd = app.add_subcommand("describe", "parameters, FLOPs per token and memory per stage of a scenario");
  static std::string path;
  cmd->add_option("scenario", path, "scenario YAML file")->required();
  cmd->callback([] {
    const Scenario s = load_scenario(path);
    fmt::print("scenario {} ({})\n", s.name, s.file);
  });
}

}  // namespace cs::cli
