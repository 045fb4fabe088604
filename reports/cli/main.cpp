#include <fmt/format.h>

#include <exception>

#include "reports/cli/commands.hpp"
#include "scenarios/yaml_reader.hpp"

int main(int argc, char** argv) {
  CLI::App app{"clustersim: a discrete-event simulator of large GPU training clusters"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "every subcommand's options");
  cs::cli::add_describe(app);
  cs::cli::add_run(app);
  cs::cli::add_schedule(app);
  cs::cli::add_calibrate(app);
  cs::cli::add_collective(app);
  cs::cli::add_sweep(app);
  cs::cli::add_validate(app);
  cs::cli::add_compare(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cs::ScenarioError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
