// The training-step executor on whole scenarios: representative vs every GPU, stragglers and imbalanced routing,
// determinism, the ramp's interpolation, and the `run` command's JSON and trace.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reports/run.hpp"
#include "scenarios/scenario.hpp"
#include "sim/executor.hpp"
#include "sim/topology.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kDefault = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml";

// DeepSeek-V3 blocks on 8 nodes: PP 4 × DP 16, EP 8 (two EP groups per pipeline rank), DualPipe, 16 micro-batches.
const char* kSmall = R"(name: small-dualpipe
model: deepseek-v3
cluster: {preset: h800-2048, nodes: 8}
layout:
  pipeline_parallel: 4
  expert_parallel: 8
  data_parallel: 16
  micro_batch: 1
  global_batch: 256
schedule:
  kind: dualpipe
routing:
  max_nodes: 1
training:
  seq_len: 4096
  phases:
    - name: step
      steps: 1
price_per_gpu_hour: 2.0
)";

cs::Scenario scenario_from(const std::string& text, const std::string& name = "test.yaml") {
  return cs::load_scenario(YAML::Load(text), name);
}

struct Step {
  cs::StepSpec spec;
  cs::sched::Schedule schedule;
};

Step first_step(const cs::Scenario& s) {
  const cs::Phase& ph = s.phases.front();
  const int64_t n = ph.layout.micro_batches();
  return {cs::step_spec(s, ph, n), cs::phase_schedule(ph, n)};
}

cs::StepResult simulate(const cs::Scenario& s, bool every_gpu, bool merge = true) {
  const Step st = first_step(s);
  cs::ExecutorOptions o;
  o.every_gpu = every_gpu;
  o.merge_equal_classes = merge;
  o.timeline = false;
  return cs::simulate_step(st.spec, st.schedule, cs::scenario_cost_model(s), o);
}

void expect_same_step(const cs::StepResult& a, const cs::StepResult& b) {
  EXPECT_EQ(a.step_time, b.step_time);
  EXPECT_EQ(a.pipeline_time, b.pipeline_time);
  EXPECT_EQ(a.breakdown.bubble, b.breakdown.bubble);
  EXPECT_EQ(a.breakdown.steady, b.breakdown.steady);
  EXPECT_EQ(a.breakdown.data_parallel, b.breakdown.data_parallel);
  EXPECT_EQ(a.exposed.dispatch, b.exposed.dispatch);
  EXPECT_EQ(a.exposed.combine, b.exposed.combine);
  EXPECT_EQ(a.exposed.pipeline, b.exposed.pipeline);
  ASSERT_EQ(a.ranks.size(), b.ranks.size());
  for (size_t r = 0; r < a.ranks.size(); ++r) EXPECT_EQ(a.ranks[r].busy, b.ranks[r].busy) << "rank " << r;
}

struct Output {
  int rc;
  std::string text;
};
Output shell(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// Issue: "Simulating one representative per class must give the same step time as simulating every GPU."
// Here every class is really simulated (merging of equal classes switched off), with its own EP group's GPUs.
TEST(StepExecutor, RepresentativeMatchesEveryGpuWithBalancedRouting) {
  for (const cs::Scenario& s : {scenario_from(kSmall), cs::load_scenario(kDefault)}) {
    SCOPED_TRACE(s.name);
    const cs::StepResult rep = simulate(s, false);
    const cs::StepResult all = simulate(s, true, false);
    EXPECT_TRUE(rep.representative);
    EXPECT_FALSE(all.representative);
    EXPECT_EQ(rep.simulated_gpus, s.layout.pp);
    EXPECT_EQ(all.simulated_gpus, s.layout.pp * s.layout.dp);
    expect_same_step(rep, all);
    expect_same_step(rep, simulate(s, true, true));  // merged classes: the same again
  }
}

TEST(StepExecutor, StragglerHoldsBackTheStepAndNeedsEveryGpu) {
  cs::Scenario s = scenario_from(kSmall);
  const cs::StepResult base = simulate(s, false);
  // GPU 20 = pipeline rank 1 (GPUs 16..31), replica 4: EP group 0 of rank 1.
  s.stragglers = {{20, 1.5}};
  EXPECT_THROW(simulate(s, false), std::invalid_argument);
  const cs::StepResult slow = simulate(s, true);
  EXPECT_GT(slow.step_time, base.step_time);
  // The straggler's rank computes 1.5× longer in every instruction; communication does not slow down, so its busy
  // time grows by more than nothing and by at most 50 %.
  EXPECT_GT(slow.ranks[1].busy, base.ranks[1].busy);
  EXPECT_LE(double(slow.ranks[1].busy), 1.5 * double(base.ranks[1].busy) + 1);
  // Another rank's busy time is unchanged: only rank 1 is slow (it holds stages 1 and 2 under DualPipe; rank 2 holds
  // the same stages and stays at full speed).
  EXPECT_EQ(slow.ranks[0].busy, base.ranks[0].busy);
  EXPECT_EQ(slow.ranks[2].busy, base.ranks[2].busy);
  EXPECT_EQ(slow.ranks[3].busy, base.ranks[3].busy);
  // A slowdown of 1 changes nothing, and a slower straggler costs more.
  s.stragglers = {{20, 1.0}};
  expect_same_step(simulate(s, true), base);
  s.stragglers = {{20, 2.0}};
  EXPECT_GT(simulate(s, true).step_time, slow.step_time);
  // A GPU outside the step is an error, not ignored silently.
  Step st = first_step(scenario_from(kSmall));
  st.spec.stragglers = {{64, 1.5}};
  cs::ExecutorOptions o;
  o.every_gpu = true;
  EXPECT_THROW(cs::simulate_step(st.spec, st.schedule, cs::scenario_cost_model(s), o), std::invalid_argument);
}

TEST(StepExecutor, StragglerInAScenarioFileIsCheckedAndRunsEveryGpu) {
  std::string text = kSmall;
  const cs::Scenario ok = scenario_from(text + "stragglers:\n  - {gpu: 20, slowdown: 1.5}\n");
  ASSERT_EQ(ok.stragglers.size(), 1u);
  EXPECT_EQ(ok.stragglers[0].gpu, 20);
  cs::RunOptions ro;
  ro.timeline = false;
  const nlohmann::json j = cs::run_scenario(ok, ro).json;
  EXPECT_FALSE(j["representative"].get<bool>());
  EXPECT_GT(j["step_time_s"].get<double>(), cs::run_scenario(scenario_from(kSmall), ro).json["step_time_s"].get<double>());
  struct Bad {
    std::string yaml, field, what;
  };
  for (const Bad& b : {Bad{"stragglers:\n  - {gpu: 64, slowdown: 1.5}\n", "stragglers[0].gpu", "[0, 63]"},
                       Bad{"stragglers:\n  - {gpu: 3, slowdown: 0.5}\n", "stragglers[0].slowdown", "[1, 100]"},
                       Bad{"stragglers:\n  - {gpu: 3, slowdown: 1.2}\n  - {gpu: 3, slowdown: 1.3}\n",
                           "stragglers[1].gpu", "listed twice"},
                       Bad{"stragglers:\n  - {gpu: 3, slowdown: 1.2, slowdwn: 1.2}\n", "stragglers[0]", "slowdwn"},
                       Bad{"stragglers: 3\n", "stragglers", "expected a list"}}) {
    try {
      scenario_from(text + b.yaml, "bad.yaml");
      ADD_FAILURE() << "accepted: " << b.yaml;
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("bad.yaml:"), std::string::npos) << msg;
      EXPECT_NE(msg.find(b.field), std::string::npos) << msg;
      EXPECT_NE(msg.find(b.what), std::string::npos) << msg;
    }
  }
}

TEST(StepExecutor, ImbalancedRoutingSlowsTheStepAndNeedsEveryGpu) {
  cs::Scenario s = scenario_from(kSmall);
  const cs::StepResult base = simulate(s, false);
  s.routing.kind = "zipf";
  s.routing.zipf_exponent = 1.0;
  EXPECT_THROW(simulate(s, false), std::invalid_argument);
  const cs::StepResult skewed = simulate(s, true);
  EXPECT_GT(skewed.step_time, base.step_time);
  // Different EP groups draw different tokens: the classes differ, and merging never merges them.
  expect_same_step(skewed, simulate(s, true, false));
}

// The batch ramp interpolates step time between exact simulations: check the premise (step time close to affine in
// micro-batches) at a point between two grid counts of the default scenario.
TEST(StepExecutor, StepTimeIsCloseToAffineInMicroBatches) {
  const cs::Scenario s = cs::load_scenario(kDefault);
  const cs::Phase& ph = s.phases.front();
  const cs::CostModel cost = cs::scenario_cost_model(s);
  cs::ExecutorOptions o;
  o.timeline = false;
  auto step = [&](int64_t n) {
    return double(cs::simulate_step(cs::step_spec(s, ph, n), cs::phase_schedule(ph, n), cost, o).step_time);
  };
  const double a = step(50), b = step(68), mid = step(60);
  const double interpolated = a + (b - a) * 10.0 / 18.0;
  EXPECT_NEAR(interpolated, mid, 0.01 * mid) << "exact " << mid << " interpolated " << interpolated;
  EXPECT_LT(a, mid);
  EXPECT_LT(mid, b);
}

TEST(RunCommand, JsonHasTheIssuesKeysAndTheyAgree) {
  const Output r = shell(std::string(CLUSTERSIM_BINARY) + " run --json " + kDefault);
  ASSERT_EQ(r.rc, 0) << r.text;
  const nlohmann::json j = nlohmann::json::parse(r.text);
  for (const char* k : {"step_time_s", "tokens_per_s_per_gpu", "mfu", "bubble_s", "gpu_hours_per_trillion_tokens",
                        "total_gpu_hours", "total_cost_usd", "days", "peak_memory_gib", "calibration"})
    EXPECT_TRUE(j.contains(k)) << k;
  const double step = j["step_time_s"].get<double>();
  const double gpus = j["gpus"].get<double>();
  EXPECT_EQ(gpus, 2048);
  EXPECT_NEAR(j["tokens_per_s_per_gpu"].get<double>(), 15360.0 * 4096 / step / gpus, 1e-6);
  // MFU: tokens/s/GPU × FLOPs per token ÷ BF16 peak, causal below non-causal.
  EXPECT_GT(j["mfu"].get<double>(), 0.05);
  EXPECT_LT(j["mfu"].get<double>(), j["mfu_non_causal"].get<double>());
  EXPECT_LT(j["mfu_non_causal"].get<double>(), 1.0);
  // One peak memory per pipeline stage rank, each within the GPU when the scenario fits.
  ASSERT_EQ(j["peak_memory_gib"].size(), 16u);
  for (const auto& m : j["peak_memory_gib"]) EXPECT_GT(m.get<double>(), 1.0);
  EXPECT_EQ(j["calibration"]["profile"], "h800-published");
  EXPECT_FALSE(j["calibration"]["provenance"].get<std::string>().empty());
  // The breakdown adds up to the step.
  double sum = 0;
  for (const auto& [k, v] : j["breakdown_s"].items()) sum += v.get<double>();
  EXPECT_NEAR(sum, step, 1e-6);
  // Phases add up; dollars are GPU-hours × price.
  double hours = 0, days = 0;
  for (const auto& p : j["phases"]) {
    hours += p["gpu_hours"].get<double>();
    days += p["days"].get<double>();
  }
  EXPECT_NEAR(hours, j["total_gpu_hours"].get<double>(), 1e-6 * hours);
  EXPECT_NEAR(days, j["days"].get<double>(), 1e-9 * days);
  EXPECT_NEAR(j["total_cost_usd"].get<double>(), hours * j["price_per_gpu_hour"].get<double>(), 1e-6 * hours);
}

TEST(RunCommand, SameScenarioGivesByteIdenticalOutputsAndTraces) {
  const fs::path dir = fs::temp_directory_path() / "clustersim-step-test-determinism";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string json[2], trace[2];
  for (int i = 0; i < 2; ++i) {
    const fs::path t = dir / ("trace" + std::to_string(i) + ".json");
    const Output r = shell(std::string(CLUSTERSIM_BINARY) + " run --json --trace " + t.string() + " " + kDefault);
    ASSERT_EQ(r.rc, 0) << r.text;
    json[i] = r.text;
    trace[i] = read_text(t);
  }
  EXPECT_EQ(json[0], json[1]);
  EXPECT_FALSE(trace[0].empty());
  EXPECT_EQ(trace[0], trace[1]);
}

// A DualPipe rank holds stage r and stage PP − 1 − r (2× parameters per device, [DP] README): its ZeRO-1
// reduce-scatter/all-gather and AdamW cover both, so ranks r and PP − 1 − r, which hold the same two stages, spend the
// same time in them, and each spends more than a 1F1B rank holding one of those stages.
TEST(StepExecutor, DualPipeRanksSyncAndUpdateBothOfTheirStages) {
  auto tails = [](const std::string& text) {
    const cs::Scenario s = scenario_from(text);
    const Step st = first_step(s);
    cs::ExecutorOptions o;
    const cs::StepResult r = cs::simulate_step(st.spec, st.schedule, cs::scenario_cost_model(s), o);
    std::map<std::pair<int, std::string>, cs::TimeNs> t;  // (rank, "data-parallel" | "optimizer") → duration
    for (const cs::TraceSlice& x : r.timeline)
      if (x.gpu == x.rank * s.layout.dp && (x.stream == "data-parallel" || x.category == "optimizer"))
        t[{x.rank, x.stream == "data-parallel" ? x.stream : x.category}] = x.end - x.start;
    return t;
  };
  auto dual = tails(kSmall);
  std::string one = kSmall;
  one.replace(one.find("kind: dualpipe"), 14, "kind: 1f1b");
  auto single = tails(one);
  ASSERT_EQ(dual.size(), 8u);
  ASSERT_EQ(single.size(), 8u);
  for (const char* what : {"data-parallel", "optimizer"})
    for (int r = 0; r < 4; ++r) {
      SCOPED_TRACE(std::string(what) + " rank " + std::to_string(r));
      const cs::TimeNs d = dual[std::make_pair(r, std::string(what))];
      EXPECT_GT(d, 0);
      EXPECT_EQ(d, (dual[std::make_pair(3 - r, std::string(what))]));
      EXPECT_GT(d, (single[std::make_pair(r, std::string(what))]));
      EXPECT_GT(d, (single[std::make_pair(3 - r, std::string(what))]));
    }
}

// The F · B · W · F&B figures of `run` are instructions of one stage: the critical rank's first (in DualPipe, rank r's
// stage r, direction 0; an F&B counts by its forward). F, W and F&B must each be the duration of such an instruction of
// the critical rank in the trace (the default scenario's rank 0 also runs stage 15, whose B is three times as long).
// B is the reference's B, the full backward (input and weight gradients, one instruction), whether or not the
// schedule splits the backwards of that rank: the default scenario's rank 0 runs only split ones on its stage 0.
TEST(StepExecutor, InstructionFiguresAreOfTheCriticalRanksFirstStage) {
  for (const cs::Scenario& s : {scenario_from(kSmall), cs::load_scenario(kDefault)}) {
    SCOPED_TRACE(s.name);
    const Step st = first_step(s);
    const cs::StepResult r = cs::simulate_step(st.spec, st.schedule, cs::scenario_cost_model(s), cs::ExecutorOptions{});
    int critical = INT32_MAX;  // the rank whose AdamW ends the step (the lowest of equals, as the executor picks)
    for (const cs::TraceSlice& x : r.timeline)
      if (x.category == "optimizer" && x.end == r.step_time) critical = std::min(critical, x.rank);
    ASSERT_LT(critical, s.layout.pp);
    const std::string own = " d0 s" + std::to_string(critical);  // the rank's direction-0 stage (first in the name)
    auto on_own_stage = [&](const cs::TraceSlice& x) {
      const size_t at = x.name.find(" d");
      return x.rank == critical && at != std::string::npos && x.name.compare(at, own.size(), own) == 0;
    };
    for (const auto& [category, ns] : {std::pair<std::string, cs::TimeNs>{"F", r.f_ns}, {"W", r.w_ns},
                                       {"F&B", r.fb_ns}}) {
      SCOPED_TRACE(category);
      ASSERT_GT(ns, 0);
      bool found = false;
      for (const cs::TraceSlice& x : r.timeline)
        found = found || (x.category == category && on_own_stage(x) && x.end - x.start == ns);
      EXPECT_TRUE(found) << ns << " ns is no " << category << " of a rank's own direction-0 stage";
    }
    // Every full backward ("B+W") of the stage in the trace lasts B; a split one ("B") lasts less, its W the rest.
    cs::TimeNs split = 0;
    for (const cs::TraceSlice& x : r.timeline) {
      if (!on_own_stage(x)) continue;
      if (x.category == "B+W") {
        EXPECT_EQ(x.end - x.start, r.b_ns) << x.name;
      }
      if (x.category == "B") split = x.end - x.start;
    }
    if (split > 0) {
      EXPECT_LT(split, r.b_ns);
      EXPECT_LE(r.b_ns, split + r.w_ns);  // W overlaps the backward's all-to-alls when run in one instruction
    }
  }
}

// Every simulated phase's layout is checked against memory, not only the first. The default scenario's context
// extension phases (32K and 128K tokens per sequence, micro-batch 1, no activation recomputation modelled) need far
// more than an H800 holds: they are flagged in the JSON and in a note, and still projected.
TEST(RunCommand, EveryPhaseIsCheckedAgainstMemory) {
  cs::RunOptions o;
  o.timeline = false;
  const nlohmann::json j = cs::run_scenario(cs::load_scenario(kDefault), o).json;
  const double capacity = j["memory"][0]["capacity_gib"].get<double>();
  ASSERT_EQ(j["phases"].size(), 4u);
  EXPECT_EQ(j["phases"][0]["fits"], j["fits"]);
  EXPECT_TRUE(j["phases"][0]["fits"].get<bool>());
  for (int i : {1, 2}) {
    const auto& p = j["phases"][i];
    SCOPED_TRACE(p["name"].get<std::string>());
    EXPECT_FALSE(p["fits"].get<bool>());
    EXPECT_GT(p["peak_memory_gib"].get<double>(), capacity);
    EXPECT_GT(p["gpu_hours"].get<double>(), 0);
    bool noted = false;
    for (const auto& n : j["notes"])
      noted = noted || n.get<std::string>().find("phase " + p["name"].get<std::string>() + " does not fit") == 0;
    EXPECT_TRUE(noted);
  }
  EXPECT_FALSE(j["phases"][3].contains("fits"));  // given as GPU-hours: nothing to check
  // The first phase reports the same verdict as the run itself.
  const nlohmann::json small = cs::run_scenario(scenario_from(kSmall), o).json;
  EXPECT_EQ(small["phases"][0]["fits"], small["fits"]);
}

// Every scenario in scenarios/examples runs (the custom schedule files they use live in examples/schedules/).
TEST(RunCommand, EveryExampleScenarioRuns) {
  const fs::path dir = fs::path(CLUSTERSIM_SOURCE_DIR) / "scenarios" / "examples";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    cs::RunOptions o;
    o.timeline = false;
    const nlohmann::json j = cs::run_scenario(cs::load_scenario(e.path().string()), o).json;
    EXPECT_GT(j["step_time_s"].get<double>(), 0);
    EXPECT_GT(j["total_gpu_hours"].get<double>(), 0);
    ++n;
  }
  EXPECT_GE(n, 6);
}

// Sweeps share step simulators (topology and collective timings) between points on an equal cluster and network.
TEST(TimingCache, OneSimulatorPerClusterAndNetwork) {
  const cs::Scenario s = scenario_from(kSmall);
  const cs::StepSpec spec = first_step(s).spec;
  cs::TimingCache cache;
  const auto a = cache.simulator(spec.cluster, spec.network);
  EXPECT_EQ(a, cache.simulator(spec.cluster, spec.network));
  cs::ClusterSpec fewer = spec.cluster;
  fewer.nodes = 4;
  EXPECT_NE(a, cache.simulator(fewer, spec.network));
  cs::ClusterSpec slower = spec.cluster;
  slower.fabric.ib_efficiency = 0.7;
  EXPECT_NE(a, cache.simulator(slower, spec.network));
  cs::NetworkConfig coflow = spec.network;
  coflow.mode = "coflow";
  EXPECT_NE(a, cache.simulator(spec.cluster, coflow));
  EXPECT_EQ(a, cache.simulator(spec.cluster, spec.network));
}

// Sharing changes how often a collective is simulated, never a figure: points evaluated on two threads against one
// cache, after other points have filled it, give the JSON of runs that each start from nothing.
TEST(TimingCache, SharedTimingsGiveTheFiguresOfFreshRuns) {
  std::vector<cs::Scenario> points;
  for (const char* kind : {"dualpipe", "1f1b", "zb1p"})
    for (const char* sms : {"16", "24"}) {
      std::string text = kSmall;
      text.replace(text.find("kind: dualpipe"), 14, std::string("kind: ") + kind + "\n  comm_sms: " + sms);
      points.push_back(scenario_from(text));
    }
  std::vector<std::string> fresh;
  for (const cs::Scenario& s : points) fresh.push_back(cs::run_figures(s).dump());
  const auto eval = cs::shared_run_figures();
  std::vector<std::string> shared(points.size());
  {
    std::vector<std::jthread> threads;
    for (size_t t = 0; t < 2; ++t)
      threads.emplace_back([&, t] {
        for (size_t i = t; i < points.size(); i += 2) shared[i] = eval(points[i]).dump();
      });
  }
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(shared[i], fresh[i]) << "point " << i;
  EXPECT_NE(fresh[0], fresh[2]);  // the points differ
}

// A sweep judges a point on the first phase's memory (`fits`); the other simulated phases are checked too and named:
// the default scenario's context-extension phases do not fit as laid out.
TEST(RunFigures, NameTheSimulatedPhasesThatDoNotFit) {
  const nlohmann::json f = cs::run_figures(cs::load_scenario(kDefault));
  EXPECT_TRUE(f["fits"].get<bool>());
  EXPECT_FALSE(f["all_phases_fit"].get<bool>());
  EXPECT_EQ(f["phases_not_fitting"], "context-extension-32k, context-extension-128k");
  EXPECT_FALSE(f.contains("reason"));
  const nlohmann::json fits =
      cs::run_figures(cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/simgrid-backend.yaml"));
  EXPECT_TRUE(fits["all_phases_fit"].get<bool>());
  EXPECT_EQ(fits["phases_not_fitting"], "");
}

TEST(RunCommand, TraceHasOneProcessPerGpuAndOrderedTracks) {
  const fs::path dir = fs::temp_directory_path() / "clustersim-step-test-trace";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path t = dir / "trace.json";
  const Output r = shell(std::string(CLUSTERSIM_BINARY) + " run --trace " + t.string() + " " + kDefault);
  ASSERT_EQ(r.rc, 0) << r.text;
  const nlohmann::json j = nlohmann::json::parse(read_text(t));
  ASSERT_TRUE(j["traceEvents"].is_array());
  std::map<int, std::string> processes;
  std::map<std::pair<int, int>, std::string> threads;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") processes[e["pid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "M" && e["name"] == "thread_name")
      threads[{e["pid"].get<int>(), e["tid"].get<int>()}] = e["args"]["name"];
  }
  // The representative pipeline: one GPU of each of the 16 pipeline ranks (rank r owns GPUs 128 r … 128 r + 127).
  ASSERT_EQ(processes.size(), 16u);
  for (int rank = 0; rank < 16; ++rank)
    EXPECT_EQ(processes[rank * 128], "GPU " + std::to_string(rank * 128) + " (pipeline rank " + std::to_string(rank) + ")");
  std::set<std::string> streams;
  for (const auto& [k, name] : threads) streams.insert(name);
  for (const char* s : {"compute", "communication", "pipeline", "data-parallel"}) EXPECT_TRUE(streams.count(s)) << s;
  // Slices on a GPU's compute track never overlap, and end within the step.
  const nlohmann::json run = nlohmann::json::parse(shell(std::string(CLUSTERSIM_BINARY) + " run --json " + kDefault).text);
  const double step_us = run["step_time_s"].get<double>() * 1e6;
  std::map<int, std::vector<std::pair<double, double>>> compute;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const double ts = e["ts"].get<double>(), dur = e["dur"].get<double>();
    EXPECT_GE(dur, 0);
    EXPECT_LE(ts + dur, step_us * (1 + 1e-9));
    if (threads[{e["pid"].get<int>(), e["tid"].get<int>()}] == "compute") compute[e["pid"].get<int>()].push_back({ts, ts + dur});
  }
  for (auto& [gpu, v] : compute) {
    std::sort(v.begin(), v.end());
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LE(v[i - 1].second, v[i].first + 1e-3) << "GPU " << gpu;
  }
}

// Link utilisation by hand: a dense model over two nodes, PP 2 × DP 8 (rank 0 on node 0, rank 1 on node 1). The
// only inter-node traffic is the pipeline's activations and gradients: per replica N forward sends 0 → 1 and N
// backward sends 1 → 0, each tokens × hidden × 2 bytes, crossing the sender's NIC and the receiver's NIC once. The
// data-parallel rings stay inside a node (NVLink).
TEST(StepExecutor, LinkBytesOfAPipelineAcrossTwoNodesByHand) {
  const cs::Scenario s = scenario_from(R"(name: dense-pp2
model: llama-3.1-405b
cluster: {preset: h800-2048, nodes: 2}
layout:
  pipeline_parallel: 2
  data_parallel: 8
  micro_batch: 1
  global_batch: 32
schedule:
  kind: 1f1b
training:
  seq_len: 4096
  phases:
    - name: step
      steps: 1
price_per_gpu_hour: 2.0
)");
  const cs::StepResult r = simulate(s, false);
  const double n = 4, dp = 8, transfer = 4096.0 * s.model.hidden * 2;
  std::map<std::string, cs::LinkUse> by_class;
  for (const cs::LinkUse& u : r.links) by_class[u.link_class] = u;
  ASSERT_TRUE(by_class.count("NIC"));
  EXPECT_NEAR(by_class["NIC"].bytes, 2 * (2 * n * dp) * transfer, 1e-9 * by_class["NIC"].bytes);
  EXPECT_EQ(by_class["leaf→spine"].bytes, 0);  // both nodes hang off the same leaves
  EXPECT_GT(by_class["NVLink"].bytes, 0);      // the ZeRO-1 rings inside each node
  // Utilisation: bytes ÷ (the class's summed capacity × step time).
  const cs::Topology topo(s.cluster);
  double nic_capacity = 0;
  for (size_t id = 0; id < topo.links(); ++id)
    if (topo.link(cs::LinkId(id)).kind == cs::LinkKind::nic_up || topo.link(cs::LinkId(id)).kind == cs::LinkKind::nic_down)
      nic_capacity += topo.link(cs::LinkId(id)).bytes_per_ns;
  EXPECT_NEAR(by_class["NIC"].utilisation, by_class["NIC"].bytes / (nic_capacity * double(r.step_time)), 1e-12);
  EXPECT_GT(by_class["NIC"].utilisation, 0);
  EXPECT_LT(by_class["NIC"].utilisation, 1);
}

namespace {

// A custom schedule file orders exactly the phase's micro-batches; a batch ramp's smaller steps are extrapolated from
// that count (with the run's note saying so) instead of the run failing on the file's micro_batches.
TEST(RunCommand, CustomScheduleWithABatchRampExtrapolatesFromTheFilesCount) {
  const std::string text = R"(name: custom-ramp
model: deepseek-v3
cluster: {preset: h800-2048, nodes: 1}
layout: {pipeline_parallel: 4, expert_parallel: 2, data_parallel: 2, micro_batch: 1, global_batch: 16}
schedule:
  kind: custom
  file: )" + std::string(CLUSTERSIM_SOURCE_DIR) + R"(/scenarios/examples/schedules/custom-1f1b.yaml
routing: {max_nodes: 1}
training:
  seq_len: 4096
  phases:
    - name: ramped
      tokens: 1e9
      batch_ramp: {from: 8, over_tokens: 1e8, shape: linear}
price_per_gpu_hour: 2.0
)";
  cs::RunOptions o;
  o.timeline = false;
  const cs::RunOutput out = cs::run_scenario(scenario_from(text), o);
  const nlohmann::json& j = out.json;
  EXPECT_GT(j["total_gpu_hours"].get<double>(), 0);
  bool noted = false;
  for (const auto& n : j["notes"]) noted = noted || n.get<std::string>().find("extrapolated") != std::string::npos;
  EXPECT_TRUE(noted) << j["notes"].dump();
}

}  // namespace
