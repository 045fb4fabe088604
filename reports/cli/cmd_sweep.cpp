// clustersim sweep SWEEP.yaml: runs every point of a sweep (reports/sweep_plan.hpp), resumable, on a thread pool, and
// under mpirun spread over ranks (rank r runs the points i with i % size == r; rank 0 gathers and writes, so the
// files are the same as a single process writes).
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "reports/cli/commands.hpp"
#include "reports/html_report.hpp"
#include "reports/sweep_evaluator.hpp"
#include "reports/sweep_output.hpp"
#include "reports/sweep_progress.hpp"
#include "reports/sweep_run.hpp"

#ifdef CLUSTERSIM_MPI
#include <mpi.h>
#endif

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

// Where ranks meet: a single process is rank 0 of 1. MPI is started only when a launcher started this process, so a
// plain `clustersim sweep` never touches MPI.
struct Ranks {
  int rank = 0;
  int size = 1;
  bool mpi = false;
  Ranks() {
#ifdef CLUSTERSIM_MPI
    if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK")) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);  // only the main thread calls MPI
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      MPI_Comm_size(MPI_COMM_WORLD, &size);
      mpi = true;
    }
#endif
  }
  ~Ranks() {
#ifdef CLUSTERSIM_MPI
    if (mpi) MPI_Finalize();
#endif
  }
  [[noreturn]] void abort(const std::string& what) const {
    fmt::print(stderr, "error (rank {}): {}\n", rank, what);
#ifdef CLUSTERSIM_MPI
    if (mpi) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    std::exit(1);
  }
};

#ifdef CLUSTERSIM_MPI
constexpr int kTagResult = 1;
constexpr int kTagDone = 2;

void send_text(const std::string& text, int tag) {
  MPI_Send(text.data(), int(text.size()), MPI_CHAR, 0, tag, MPI_COMM_WORLD);
}

// Receives one message if one is waiting (or waits for one when `block`); returns false when none was taken.
bool receive(bool block, const std::function<void(int tag, std::string)>& handle) {
  MPI_Status st;
  int ready = 1;
  if (block) MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
  else MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &st);
  if (!ready) return false;
  int count = 0;
  MPI_Get_count(&st, MPI_CHAR, &count);
  std::string text(size_t(count), '\0');
  MPI_Recv(text.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  handle(st.MPI_TAG, std::move(text));
  return true;
}

std::vector<size_t> broadcast(std::vector<size_t> v, int rank) {
  unsigned long long n = v.size();
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  std::vector<unsigned long long> buf(v.begin(), v.end());
  buf.resize(n);
  MPI_Bcast(buf.data(), int(n), MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  if (rank != 0) v.assign(buf.begin(), buf.end());
  return v;
}
#endif

void print_summary(const nlohmann::json& s, const SweepArgs& a, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  const auto& c = s["counts"];
  fmt::print("sweep {}: {} points, {} ok, {} infeasible, {} failed; results in {}/\n", s["sweep"].get<std::string>(),
             c["points"].get<size_t>(), c["ok"].get<size_t>(), c["infeasible"].get<size_t>(),
             c["error"].get<size_t>(), a.out);
  for (const auto& p : s["points"])
    if (p["status"] != "ok")
      fmt::print("  {} {} {}: {}\n", p["status"].get<std::string>(), p["id"].get<std::string>(), p["fields"].dump(),
                 p.value("reason", std::string()));
  if (s["best"].is_null()) {
    fmt::print("no point reports total_gpu_hours and days: no best point or Pareto front\n");
    return;
  }
  auto line = [&](const nlohmann::json& o) {
    std::string fields;
    for (const auto& p : s["points"])
      if (p["id"] == o["id"]) fields = p["fields"].dump();
    return fmt::format("{} {}: {:.6g} GPU-hours, {:.4g} days", o["id"].get<std::string>(), fields,
                       o["total_gpu_hours"].get<double>(), o["days"].get<double>());
  };
  fmt::print("best: {}\nPareto front (GPU-hours vs days):\n", line(s["best"]));
  for (const auto& o : s["pareto"]) fmt::print("  {}\n", line(o));
}

int run(const SweepArgs& a) {
  Ranks ranks;
  const Evaluator eval = scenario_figures;  // the step simulation replaces this once it lands
  SweepPlan plan;
  try {
    plan = load_sweep(a.file);
  } catch (const std::exception& e) {
    if (ranks.rank != 0) return 2;  // every rank reads the same file; rank 0 says what is wrong
    throw;
  }
  SweepArgs args = a;
  if (args.out.empty()) args.out = "sweep-" + plan.name;
  ProgressBar bar(stderr, ranks.rank == 0 && !args.quiet && isatty(STDERR_FILENO));

  if (!ranks.mpi) {
    SweepOptions opt{args.out, args.jobs, !args.fresh, [&](size_t d, size_t t) { bar.update(d, t); }};
    const nlohmann::json summary = run_sweep(plan, eval, opt);
    bar.finish();
    if (!args.html.empty()) write_html_report(sweep_report_input(summary), args.html);
    if (!args.quiet) print_summary(summary, args, {});
    return 0;
  }
#ifdef CLUSTERSIM_MPI
  try {
    std::unique_ptr<SweepJournal> journal;
    std::vector<size_t> todo;
    if (ranks.rank == 0) {
      journal = std::make_unique<SweepJournal>(args.out, plan, !args.fresh);
      todo = pending_points(plan, *journal);
    }
    todo = broadcast(todo, ranks.rank);
    std::vector<size_t> mine;
    for (size_t i : todo)
      if (int(i % size_t(ranks.size)) == ranks.rank) mine.push_back(i);
    if (ranks.rank != 0) {
      run_points(plan, mine, eval, args.jobs, [&](PointResult r) {
        send_text(nlohmann::json{{"index", r.index}, {"row", to_json(r)}}.dump(), kTagResult);
      });
      send_text("", kTagDone);
      return 0;
    }
    OrderedWriter writer(*journal, todo);
    const size_t total = plan.size();
    size_t finished = total - todo.size();
    int ranks_running = ranks.size - 1;
    auto take = [&](PointResult r) {
      writer.push(std::move(r));
      bar.update(++finished, total);
    };
    auto handle = [&](int tag, std::string text) {
      if (tag == kTagDone) {
        --ranks_running;
        return;
      }
      const auto j = nlohmann::json::parse(text);
      PointResult r = point_result_from_json(j["row"]);
      r.index = j["index"].get<size_t>();
      take(std::move(r));
    };
    bar.update(finished, total);
    run_points(plan, mine, eval, args.jobs, take, [&] { while (receive(false, handle)) {} });
    while (ranks_running > 0) receive(true, handle);
    bar.finish();
    const nlohmann::json summary = finish_sweep(args.out, plan, *journal);
    if (!args.html.empty()) write_html_report(sweep_report_input(summary), args.html);
    if (!args.quiet) print_summary(summary, args, journal->warnings());
  } catch (const std::exception& e) {
    ranks.abort(e.what());  // a rank that stops would leave the others waiting for it
  }
#endif
  return 0;
}

}  // namespace

void add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "run a grid of scenario variants; CSV, JSON, best point and Pareto front");
  auto args = std::make_shared<SweepArgs>();
  cmd->add_option("sweep", args->file, "sweep YAML file (base scenario + grid/zip of fields)")->required();
  cmd->add_option("-o,--out", args->out, "output folder (default: sweep-<name>)");
  cmd->add_option("-j,--jobs", args->jobs, "worker threads per process (default: hardware threads)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--fresh", args->fresh, "discard earlier results in the output folder instead of resuming");
  cmd->add_option("--html", args->html, "also write a self-contained HTML report of the sweep");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar or summary");
  cmd->callback([args] {
    const int rc = run(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cs::cli
