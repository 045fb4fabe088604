// The DeepSeek-V3 2048×H800 training step (PP 16, EP 64, DP 128, 120 micro-batches of 4096 tokens, DualPipe):
// wall time of one simulated step, and the process's peak resident memory.
//   ./build/tests/bench_step --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Targets: ≤ 2 s with representative ranks, ≤ 60 s with every GPU, peak memory ≤ 4 GB.
// "Every GPU": every data-parallel replica's timeline, one class per EP group of a pipeline rank (the replicas of an
// EP group run in lockstep through their all-to-alls); merging of equal classes is switched off so each is really
// simulated. The skewed case draws each EP group's tokens from a zipf(1.0) routing, where every class differs.
// Each iteration builds a fresh StepSimulator (topology + empty collective cache): nothing is reused between
// iterations.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "reports/run.hpp"
#include "scenarios/scenario.hpp"
#include "sim/executor.hpp"
#include "tests/bench/bench_main.hpp"

namespace {

double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024.0;  // Linux: kilobytes
}

void step(benchmark::State& state, bool every_gpu, const char* routing) {
  cs::Scenario s = cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  s.routing.kind = routing;
  if (s.routing.kind == "zipf") s.routing.zipf_exponent = 1.0;
  const cs::Phase& ph = s.phases.front();
  const int64_t n = ph.layout.micro_batches();
  const cs::StepSpec spec = cs::step_spec(s, ph, n);
  const cs::sched::Schedule schedule = cs::phase_schedule(ph, n);
  const cs::CostModel cost = cs::scenario_cost_model(s);
  cs::ExecutorOptions o;
  o.every_gpu = every_gpu;
  o.merge_equal_classes = false;
  o.timeline = true;
  double step_s = 0;
  int simulated = 0;
  for (auto _ : state) {
    cs::StepSimulator sim(spec.cluster, spec.network);
    const cs::StepResult r = sim.simulate(spec, schedule, cost, o);
    step_s = double(r.step_time) * 1e-9;
    simulated = r.simulated_gpus;
    benchmark::DoNotOptimize(r.step_time);
  }
  state.counters["simulated_step_s"] = step_s;
  state.counters["simulated_gpus"] = simulated;
  state.counters["peak_rss_MB"] = peak_rss_bytes() / 1e6;
}

void BM_DeepSeekV3StepRepresentative(benchmark::State& state) { step(state, false, "balanced"); }
void BM_DeepSeekV3StepEveryGpu(benchmark::State& state) { step(state, true, "balanced"); }
void BM_DeepSeekV3StepEveryGpuZipf(benchmark::State& state) { step(state, true, "zipf"); }

// The whole `clustersim run` of the default scenario: the step, the batch ramp's grid and every phase.
void BM_DeepSeekV3RunWithProjection(benchmark::State& state) {
  const cs::Scenario s = cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  cs::RunOptions o;
  for (auto _ : state) benchmark::DoNotOptimize(cs::run_scenario(s, o).json.size());
  state.counters["peak_rss_MB"] = peak_rss_bytes() / 1e6;
}

}  // namespace

BENCHMARK(BM_DeepSeekV3StepRepresentative)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_DeepSeekV3StepEveryGpu)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_DeepSeekV3StepEveryGpuZipf)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_DeepSeekV3RunWithProjection)->Unit(benchmark::kMillisecond)->MinTime(2.0);

CS_BENCHMARK_MAIN();
