// Subcommands of the clustersim binary: each file cmd_<name>.cpp adds one (and its options) to the app.
// A command reports bad input as an error naming file, line and field (ScenarioError) and returns non-zero.
#pragma once
#include <CLI/CLI.hpp>

namespace cs::cli {
// For options naming a file or folder to write: an empty name is refused (`--trace ""` wrote nothing, silently).
inline const CLI::Validator& path_to_write() {
  static const CLI::Validator v(
      [](std::string& s) { return s.empty() ? std::string("give the path to write") : std::string(); }, "PATH");
  return v;
}

void add_describe(CLI::App& app);
void add_run(CLI::App& app);
void add_schedule(CLI::App& app);
void add_calibrate(CLI::App& app);
void add_collective(CLI::App& app);
void add_sweep(CLI::App& app);
void add_validate(CLI::App& app);
void add_compare(CLI::App& app);
}  // namespace cs::cli
