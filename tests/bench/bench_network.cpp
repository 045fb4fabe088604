// Speed of the engine on this machine, each network case also timed against SimGrid 3.32 in the same run.
//   ./build/tests/bench_network --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Workload: 32 concurrent 64-GPU expert-parallel all-to-alls on the 2048-GPU H800 multi-plane fat tree
// (129,024 flows, 4 MiB per pair on average, DeepEP-style direct paths).
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>

#include "sim/collectives.hpp"
#include "sim/simgrid_oracle.hpp"
#include "tests/bench/bench_main.hpp"
#include "tests/sim/test_clusters.hpp"

namespace cs {
namespace {

const Topology& cluster2048() {
  static const Topology t(testing::h800_cluster(256));
  return t;
}

std::vector<std::vector<FlowRequest>> ep_groups(int groups, double jitter) {
  std::vector<std::vector<FlowRequest>> out;
  for (int k = 0; k < groups; ++k) {
    CollectiveSpec s;
    s.kind = CollectiveKind::all_to_all;
    for (int g = 64 * k; g < 64 * (k + 1); ++g) s.gpus.push_back(g);
    s.bytes = int64_t(64) << 22;
    s.jitter = jitter;
    s.seed = uint64_t(k) + 1;
    s.path = PathKind::direct;
    out.push_back(plan_collective(cluster2048(), s).rounds[0]);
  }
  return out;
}

struct Outcome {
  TimeNs makespan = 0;
  uint64_t solves = 0;
};

Outcome run(const std::vector<std::vector<FlowRequest>>& sets, NetworkOptions opt) {
  EventQueue q;
  Network net(cluster2048(), q, opt);
  Outcome o;
  for (const auto& set : sets) net.start_flows(set, [&o](const FlowDone& d) { o.makespan = std::max(o.makespan, d.finish); });
  q.run();
  o.solves = net.solves();
  return o;
}

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// SimGrid timings, measured once per process.
double simgrid_ptask_seconds(const std::vector<std::vector<FlowRequest>>& sets) {
  static std::map<size_t, double> cache;
  const size_t key = sets.size() * 1000 + sets[0].size();
  if (!cache.count(key)) cache[key] = seconds_of([&] { simgrid_ptask_finish_ns(cluster2048(), sets); });
  return cache[key];
}

// Arguments: events pending at once; the callback each event schedules: 0 = a lambda with one captured pointer, as
// the network's own events (activations, wakeups: two words) are, which std::function stores inline; 1 = a copy of
// a std::function holding a 32-byte capture, which allocates on every copy (the cost of the callback, not of the
// queue: shown apart so the two are not confused).
void BM_EventQueue(benchmark::State& state) {
  const int pending = int(state.range(0));
  const bool heap_callback = state.range(1) != 0;
  uint64_t events = 0;
  for (auto _ : state) {
    EventQueue q;
    uint64_t x = 1;
    int left = 1'000'000;
    std::function<void()> tick;
    tick = [&] {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      if (--left <= 0) return;
      if (heap_callback) q.after(TimeNs(x >> 54), tick);  // 0..1023 ns ahead
      else q.after(TimeNs(x >> 54), [&tick] { tick(); });
    };
    for (int i = 0; i < pending; ++i) q.at(i, tick);
    q.run();
    events += q.events_processed();
  }
  state.counters["events_per_s"] = benchmark::Counter(double(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EventQueue)->ArgsProduct({{64, 4096}, {0, 1}})->Unit(benchmark::kMillisecond);

// Argument: solver threads (the 32 groups are disjoint components whose events coincide, so their re-solves and the
// scans of their due groups run in parallel, and each 4,032-flow set is set up on all threads; results are identical
// to one thread's).
void BM_Uniform32xEP64(benchmark::State& state) {
  const auto sets = ep_groups(32, 0);
  Outcome o;
  NetworkOptions opt;
  opt.solver_threads = int(state.range(0));
  for (auto _ : state) o = run(sets, opt);
  state.counters["makespan_us"] = double(o.makespan) / 1e3;
  state.counters["solves"] = double(o.solves);
  state.counters["flows"] = 129024;
}
BENCHMARK(BM_Uniform32xEP64)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(3);

// Rounds after the first on one network, as a multi-round collective or a step runs them: slots are reused.
void BM_Uniform32xEP64NextRounds(benchmark::State& state) {
  const auto sets = ep_groups(32, 0);
  EventQueue q;
  NetworkOptions opt;
  opt.solver_threads = int(state.range(0));
  Network net(cluster2048(), q, opt);
  TimeNs start = 0, makespan = 0;
  auto round = [&] {
    start = q.now();
    for (const auto& set : sets) net.start_flows(set, [&](const FlowDone& d) { makespan = d.finish - start; });
    q.run();
  };
  round();  // the first round allocates the slots
  for (auto _ : state) round();
  state.counters["makespan_us"] = double(makespan) / 1e3;
}
BENCHMARK(BM_Uniform32xEP64NextRounds)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(5);

// The same round as 32 coflows (one activity per all-to-all): with equal sizes its makespan is the per-flow one.
void BM_Uniform32xEP64Coflow(benchmark::State& state) {
  const auto sets = ep_groups(32, 0);
  Outcome o;
  for (auto _ : state) o = run(sets, NetworkOptions{NetworkMode::coflow, 0});
  const Outcome per_flow = run(sets, {});
  state.counters["makespan_us"] = double(o.makespan) / 1e3;
  state.counters["per_flow_makespan_us"] = double(per_flow.makespan) / 1e3;
}
BENCHMARK(BM_Uniform32xEP64Coflow)->Unit(benchmark::kMillisecond)->Iterations(5);

// Jittered (±50 %): per-flow with a time quantum (first argument, ns) on some solver threads (second argument: a
// wakeup retires what is due within the quantum in every group, so the groups' re-solves run in parallel). The
// makespan error is measured against the exact solve of one group (the 32 groups are disjoint components, so the
// whole run's error is the same per group).
void BM_Jittered32xEP64Quantum(benchmark::State& state) {
  const auto sets = ep_groups(32, 0.5);
  Outcome o;
  const TimeNs quantum = state.range(0);
  NetworkOptions opt{NetworkMode::flow, quantum};
  opt.solver_threads = int(state.range(1));
  for (auto _ : state) o = run(sets, opt);
  const std::vector<std::vector<FlowRequest>> one(sets.begin(), sets.begin() + 1);
  const Outcome exact = run(one, {}), quick = run(one, NetworkOptions{NetworkMode::flow, quantum});
  state.counters["makespan_us"] = double(o.makespan) / 1e3;
  state.counters["solves"] = double(o.solves);
  state.counters["group_error_pct"] = 100.0 * std::abs(double(quick.makespan - exact.makespan)) / double(exact.makespan);
}
BENCHMARK(BM_Jittered32xEP64Quantum)->Args({1000, 1})->Args({1000, 2})->Args({5000, 1})->Args({5000, 2})->Args({10000, 1})->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_Jittered32xEP64Coflow(benchmark::State& state) {
  const auto sets = ep_groups(32, 0.5);
  Outcome o;
  double wall = 0;
  for (auto _ : state) wall += seconds_of([&] { o = run(sets, NetworkOptions{NetworkMode::coflow, 0}); });
  const double coflow_s = wall / double(state.iterations());
  const double per_flow_s = seconds_of([&] { run(sets, NetworkOptions{NetworkMode::flow, 10000}); });
  const double simgrid_s = simgrid_ptask_seconds(sets);
  state.counters["makespan_us"] = double(o.makespan) / 1e3;
  state.counters["speedup_vs_per_flow_q10us"] = per_flow_s / coflow_s;
  state.counters["simgrid_L07_s"] = simgrid_s;
  state.counters["speedup_vs_simgrid_L07"] = simgrid_s / coflow_s;
}
BENCHMARK(BM_Jittered32xEP64Coflow)->Unit(benchmark::kMillisecond)->Iterations(5);

// Per-flow SimGrid on one 64-GPU jittered all-to-all (4,032 flows; its 3.32 release scales badly beyond that).
void BM_OneEP64PerFlowVsSimGrid(benchmark::State& state) {
  const auto sets = ep_groups(1, 0.5);
  NetworkOptions opt{NetworkMode::flow, 0, true};
  double wall = 0;
  for (auto _ : state) wall += seconds_of([&] { run(sets, opt); });
  std::vector<TimedFlow> flows;
  for (const auto& f : sets[0]) flows.push_back(TimedFlow{f, 0});
  const double simgrid_s = seconds_of([&] { simgrid_finish_times_ns(cluster2048(), flows); });
  state.counters["simgrid_s"] = simgrid_s;
  state.counters["speedup_vs_simgrid"] = simgrid_s / (wall / double(state.iterations()));
}
BENCHMARK(BM_OneEP64PerFlowVsSimGrid)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace
}  // namespace cs

CS_BENCHMARK_MAIN();
