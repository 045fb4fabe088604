// clustersim compare A B: both scenarios run, every summary figure side by side with B − A, and the settings that
// differ between the two files.
#include <fmt/format.h>

#include "reports/cli/commands.hpp"
#include "reports/compare.hpp"
#include "reports/trace.hpp"

namespace cs::cli {

void add_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "run two scenarios and compare every figure side by side (B - A)");
  struct Opts {
    std::string a, b, trace_a, trace_b;
    bool json = false, every_gpu = false, only_changed = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("a", o->a, "scenario A (the reference), YAML file")->required();
  cmd->add_option("b", o->b, "scenario B (the change), YAML file")->required();
  cmd->add_flag("--json", o->json, "print the comparison as JSON (a, b, rows, changed_fields)");
  cmd->add_flag("--only-changed", o->only_changed, "list only the figures that differ (text output)")
      ->excludes("--json");
  cmd->add_option("--trace-a", o->trace_a, "write a Chrome/Perfetto trace of A's step")->check(path_to_write());
  cmd->add_option("--trace-b", o->trace_b, "write a Chrome/Perfetto trace of B's step")->check(path_to_write());
  cmd->add_flag("--every-gpu", o->every_gpu,
                "simulate every data-parallel replica in both runs, not one representative pipeline");
  cmd->callback([o] {
    // Both files are loaded before either runs: a mistake in B is reported at once.
    const Scenario a = load_scenario(o->a);
    const Scenario b = load_scenario(o->b);
    RunOptions ro;
    ro.every_gpu = o->every_gpu;
    ro.timeline = !o->trace_a.empty() || !o->trace_b.empty();
    const CompareOutput out = compare_scenarios(a, b, ro);
    if (o->json)
      fmt::print("{}\n", comparison_json(out.comparison).dump(2));
    else
      fmt::print("{}", comparison_text(out.comparison, o->only_changed));
    for (const auto& [path, run, s] : {std::tuple{o->trace_a, &out.a, &a}, std::tuple{o->trace_b, &out.b, &b}}) {
      if (path.empty()) continue;
      write_trace(run->step.timeline, s->name, path);
      if (!o->json) fmt::print("trace: {}\n", path);
    }
  });
}

}  // namespace cs::cli
