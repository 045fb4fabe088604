// clustersim run SCENARIO: one simulated step and the whole training run's projection.
#include <fmt/format.h>

#include "reports/cli/commands.hpp"
#include "reports/html_report.hpp"
#include "reports/run.hpp"
#include "reports/trace.hpp"

namespace cs::cli {

void add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "simulate a training step and project the whole training run");
  struct Opts {
    std::string path, trace, html;
    bool json = false, every_gpu = false, detail = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("scenario", o->path, "scenario YAML file")->required();
  cmd->add_flag("--json", o->json, "print every figure as JSON");
  cmd->add_option("--trace", o->trace, "write a Chrome/Perfetto trace of the step (open in ui.perfetto.dev)")
      ->check(path_to_write());
  cmd->add_option("--html", o->html, "write a self-contained HTML report")->check(path_to_write());
  cmd->add_flag("--every-gpu", o->every_gpu,
                "simulate every data-parallel replica, not one representative pipeline (automatic for imbalanced "
                "routing)");
  cmd->add_flag("--detail", o->detail, "trace the parts inside each instruction too");
  cmd->callback([o] {
    if (o->detail && o->trace.empty() && o->html.empty())
      throw CLI::ValidationError("--detail", "adds slices to the trace or HTML report: give --trace or --html too");
    const Scenario s = load_scenario(o->path);
    RunOptions ro;
    ro.every_gpu = o->every_gpu;
    ro.detail = o->detail;
    ro.timeline = !o->trace.empty() || !o->html.empty();
    const RunOutput out = run_scenario(s, ro);
    if (o->json)
      fmt::print("{}\n", out.json.dump(2));
    else
      fmt::print("{}", run_text(out.json));
    if (!o->trace.empty()) {
      write_trace(out.step.timeline, s.name, o->trace);
      if (!o->json) fmt::print("trace: {}\n", o->trace);
    }
    if (!o->html.empty()) {
      write_html_report(run_report_input(out), o->html);
      if (!o->json) fmt::print("report: {}\n", o->html);
    }
  });
}

}  // namespace cs::cli
