// The sweep machinery's own cost, with an evaluator that does nearly nothing: what a sweep adds per point on top of
// the step simulation (parsing the base, applying the point's fields, loading and validating the scenario, the
// journal, CSV and summary). 600 points of the default DeepSeek-V3 scenario.
//   ./build/tests/bench_sweep            (items_per_second = points per second)
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "reports/run.hpp"
#include "reports/sweep_output.hpp"
#include "reports/sweep_run.hpp"
#include "tests/bench/bench_main.hpp"

namespace {

namespace fs = std::filesystem;

// 10 × 6 × 10 = 600 points, all valid.
std::string sweep_file() {
  const fs::path dir = fs::temp_directory_path() / "clustersim-bench-sweep";
  fs::create_directories(dir);
  const fs::path path = dir / "sweep.yaml";
  std::ofstream(path) << fmt::format(R"(name: bench
base: {}/scenarios/deepseek-v3.yaml
grid:
  schedule.comm_sms: [10, 12, 14, 16, 18, 20, 22, 24, 26, 28]
  routing.seed: [1, 2, 3, 4, 5, 6]
  price_per_gpu_hour: [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5]
)",
                                     CLUSTERSIM_SOURCE_DIR);
  return path.string();
}

nlohmann::json cheap(const cs::Scenario& s) {
  return {{"gpus", s.layout.gpus()}, {"total_gpu_hours", 1000.0 + s.schedule.comm_sms}, {"days", 50.0 - s.routing.seed}};
}

void BM_LoadSweepFile(benchmark::State& state) {
  const std::string file = sweep_file();
  for (auto _ : state) benchmark::DoNotOptimize(cs::load_sweep(file).size());
}
BENCHMARK(BM_LoadSweepFile)->Unit(benchmark::kMillisecond);

void BM_EvaluateOnePoint(benchmark::State& state) {
  const cs::SweepPlan plan = cs::load_sweep(sweep_file());
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cs::evaluate_point(plan, i++ % plan.size(), cheap));
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_EvaluateOnePoint)->Unit(benchmark::kMicrosecond);

void BM_WholeSweep(benchmark::State& state) {
  const cs::SweepPlan plan = cs::load_sweep(sweep_file());
  const std::string out = (fs::temp_directory_path() / "clustersim-bench-sweep" / "out").string();
  for (auto _ : state) {
    const auto summary = cs::run_sweep(plan, cheap, cs::SweepOptions{out, int(state.range(0)), false, {}, {}});
    if (summary["counts"]["ok"] != 600) state.SkipWithError("expected 600 feasible points");
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(plan.size()));
}
BENCHMARK(BM_WholeSweep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The issue's target: a sweep of ≥ 500 points of the DeepSeek-V3 model with the real evaluator (the simulated step,
// the batch ramp and every phase of the projection per point), both cores: ≤ 5 minutes.
// 4 schedules × 9 SM splits × 3 node limits of the routing × 5 prices = 540 points, all feasible.
std::string simulated_sweep_file() {
  const fs::path dir = fs::temp_directory_path() / "clustersim-bench-sweep";
  fs::create_directories(dir);
  const fs::path path = dir / "simulated.yaml";
  std::ofstream(path) << fmt::format(R"(name: bench-simulated
base: {}/scenarios/deepseek-v3.yaml
grid:
  schedule.kind: [1f1b, zb1p, dualpipe, dualpipev]
  schedule.comm_sms: [12, 14, 16, 18, 20, 22, 24, 26, 28]
  routing.max_nodes: [1, 2, 4]
  price_per_gpu_hour: [1.5, 2.0, 2.5, 3.0, 3.5]
)",
                                     CLUSTERSIM_SOURCE_DIR);
  return path.string();
}

void BM_WholeSweepSimulated(benchmark::State& state) {
  const cs::SweepPlan plan = cs::load_sweep(simulated_sweep_file());
  const std::string out = (fs::temp_directory_path() / "clustersim-bench-sweep" / "simulated").string();
  nlohmann::json summary;
  for (auto _ : state) summary = cs::run_sweep(plan, cs::shared_run_figures(), cs::SweepOptions{out, 2, false, {}, {}});
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(plan.size()));
  state.counters["points"] = double(plan.size());
  state.counters["ok"] = summary["counts"]["ok"].get<double>();
  state.counters["infeasible"] = summary["counts"]["infeasible"].get<double>();
  state.counters["error"] = summary["counts"]["error"].get<double>();
}
BENCHMARK(BM_WholeSweepSimulated)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

void BM_ResumeCompleteSweep(benchmark::State& state) {
  const cs::SweepPlan plan = cs::load_sweep(sweep_file());
  const std::string out = (fs::temp_directory_path() / "clustersim-bench-sweep" / "resume").string();
  cs::run_sweep(plan, cheap, cs::SweepOptions{out, 2, false, {}, {}});
  for (auto _ : state) benchmark::DoNotOptimize(cs::run_sweep(plan, cheap, cs::SweepOptions{out, 2, true, {}, {}}));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(plan.size()));
}
BENCHMARK(BM_ResumeCompleteSweep)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

CS_BENCHMARK_MAIN();
