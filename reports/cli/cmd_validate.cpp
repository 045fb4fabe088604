// clustersim validate [--json] [--only GROUP]: the reference checks (reports/validate.hpp). Prints every check with
// its prediction, the published figure, the relative error, the stated tolerance and its reason; exits 1 when a
// non-informational check exceeds its tolerance.
#include <fmt/format.h>

#include <cstdlib>

#include "calibration/profile.hpp"
#include "reports/cli/commands.hpp"
#include "reports/validate.hpp"

namespace cs::cli {

namespace {
struct ValidateArgs {
  bool json = false;
  std::vector<std::string> only;
  std::string profile = "h800-published";
};
}  // namespace

void add_validate(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand("validate", "run the reference checks against published figures");
  cmd->add_flag("--json", args->json, "print the checks as JSON");
  cmd->add_option("--only", args->only, "run only this group (repeatable)")->check(CLI::IsMember(validation_groups()));
  cmd->add_option("--profile", args->profile, "profile for the kernel leave-one-out checks (name or path)");
  cmd->callback([args] {
    const std::string path = resolve_profile(args->profile, default_profile_dir());
    const std::vector<CheckGroup> groups = run_validation(args->only, path);
    if (args->json)
      fmt::print("{}\n", validation_to_json(groups).dump(2));
    else
      fmt::print("{}", format_validation_text(groups));
    if (failed_checks(groups) > 0) throw CLI::RuntimeError(1);
  });
}

}  // namespace cs::cli
