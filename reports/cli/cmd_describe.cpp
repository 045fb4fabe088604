// clustersim describe SCENARIO: parameters, FLOPs per token and memory per pipeline rank of a scenario.
#include <fmt/format.h>

#include "reports/cli/commands.hpp"
#include "reports/describe.hpp"
#include "scenarios/scenario.hpp"

namespace cs::cli {

void add_describe(CLI::App& app) {
  auto* cmd = app.add_subcommand("describe", "parameters, FLOPs per token and memory per pipeline rank of a scenario");
  struct Opts {
    std::string path;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("scenario", o->path, "scenario YAML file")->required();
  cmd->add_flag("--json", o->json, "print the same as JSON");
  cmd->callback([o] {
    const nlohmann::json d = describe_scenario(load_scenario(o->path));
    if (o->json)
      fmt::print("{}\n", d.dump(2));
    else
      fmt::print("{}", describe_text(d));
  });
}

}  // namespace cs::cli
