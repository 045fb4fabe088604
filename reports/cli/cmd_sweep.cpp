// clustersim sweep SWEEP.yaml: runs every point of a sweep (reports/sweep_plan.hpp), resumable, on a thread pool, and
// under mpirun spread over ranks (rank r runs the points i with i % size == r; rank 0 gathers and writes, so the
// files are the same as a single process writes).
#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>

#include "reports/cli/commands.hpp"
#include "reports/html_report.hpp"
#include "reports/run.hpp"
#include "reports/sweep_evaluator.hpp"
#include "reports/sweep_mpi.hpp"
#include "reports/sweep_progress.hpp"

namespace cs::cli {

namespace {

struct SweepArgs {
  std::string file;
  std::string out;
  int jobs = 0;
  bool fresh = false;
  std::string html;
  bool quiet = false;
};

void print_summary(const nlohmann::json& s, const SweepArgs& a) {
  const auto& c = s["counts"];
  fmt::print("sweep {}: {} points, {} ok, {} infeasible, {} failed; results in {}/\n", s["sweep"].get<std::string>(),
             c["points"].get<size_t>(), c["ok"].get<size_t>(), c["infeasible"].get<size_t>(),
             c["error"].get<size_t>(), a.out);
  for (const auto& p : s["points"])
    if (p["status"] != "ok")
      fmt::print("  {} {} {}: {}\n", p["status"].get<std::string>(), p["id"].get<std::string>(), p["fields"].dump(),
                 p.value("reason", std::string()));
  // A point is feasible when its first phase fits; later simulated phases that do not are said once, with how many.
  std::map<std::string, size_t> later;
  for (const auto& p : s["points"])
    if (p["status"] == "ok" && p["result"].is_object() && !p["result"].value("all_phases_fit", true))
      ++later[p["result"].value("phases_not_fitting", std::string())];
  for (const auto& [phases, n] : later)
    fmt::print("note: in {} of the ok points, phase(s) {} do not fit in memory as laid out (their GPU-hours project "
               "a layout that cannot run; column phases_not_fitting)\n", n, phases);
  if (s["best"].is_null()) {
    fmt::print("no point reports total_gpu_hours and days: no best point or Pareto front\n");
    return;
  }
  auto line = [&](const nlohmann::json& o) {
    return fmt::format("{} {}: {:.6g} GPU-hours, {:.4g} days", o["id"].get<std::string>(), o["fields"].dump(),
                       o["total_gpu_hours"].get<double>(), o["days"].get<double>());
  };
  fmt::print("best: {}\nPareto front (GPU-hours vs days):\n", line(s["best"]));
  for (const auto& o : s["pareto"]) fmt::print("  {}\n", line(o));
}

int run(const SweepArgs& a) {
  MpiRanks ranks;
  const Evaluator eval = shared_run_figures();  // the simulated step and the projection of every point
  SweepPlan plan;
  std::exception_ptr failed;
  try {
    plan = load_sweep(a.file);
  } catch (const std::exception&) {
    failed = std::current_exception();
  }
  // Every rank reads the same files; rank 0 says what is wrong, and all stop together.
  if (!ranks.all(!failed)) {
    if (ranks.rank() != 0) return 2;
    if (failed) std::rethrow_exception(failed);
    throw std::runtime_error(fmt::format("another MPI rank could not read {}", a.file));
  }
  SweepArgs args = a;
  if (args.out.empty()) args.out = "sweep-" + plan.name;
  ProgressBar bar(stderr, ranks.rank() == 0 && !args.quiet && isatty(STDERR_FILENO));
  // Warnings come when the journal is opened, before any point runs: said at once (even with -q), so a user who did
  // not mean to recompute earlier results can stop the run.
  SweepOptions opt{args.out, args.jobs, !args.fresh, [&](size_t d, size_t t) { bar.update(d, t); },
                   [](const std::string& w) { fmt::print(stderr, "warning: {}\n", w); }};
  const nlohmann::json summary = run_sweep_ranks(ranks, plan, eval, opt);
  if (ranks.rank() != 0) return 0;
  bar.finish();
  if (!args.html.empty()) write_html_report(sweep_report_input(summary), args.html);
  if (!args.quiet) print_summary(summary, args);
  return 0;
}

}  // namespace

void add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "run a grid of scenario variants; CSV, JSON, best point and Pareto front");
  auto args = std::make_shared<SweepArgs>();
  cmd->add_option("sweep", args->file, "sweep YAML file (base scenario + grid/zip of fields)")->required();
  cmd->add_option("-o,--out", args->out, "output folder (default: sweep-<name>)")->check(path_to_write());
  cmd->add_option("-j,--jobs", args->jobs, "worker threads per process (default: hardware threads)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--fresh", args->fresh, "discard earlier results in the output folder instead of resuming");
  cmd->add_option("--html", args->html, "also write a self-contained HTML report of the sweep")->check(path_to_write());
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar or summary");
  cmd->callback([args] {
    const int rc = run(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cs::cli
