#include <fmt/format.h>

#include <exception>

#include "reports/cli/commands.hpp"
#include "sim/process_memory.hpp"

int main(int argc, char** argv) {
  cs::keep_freed_memory();
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
  // Exit status: 0 done; 1 the command ran and found what it checks for (a failed reference check, a kernel-timing
  // regression, kernels that failed their check); 2 it could not do what was asked (a bad option, a bad input file,
  // any other error); 77 no GPU for a command that needs one. Commands choose 1 and 77 themselves
  // (CLI::RuntimeError), so a script can tell a regression from a broken run.
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints the help, or the usage error with a pointer to --help
    return rc == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
  return 0;
}
