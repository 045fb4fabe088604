// `clustersim describe` end to end: the binary on the default scenario, text and JSON.
#include <gtest/gtest.h>

#include "tests/cli_run.hpp"
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using Result = cs::testing::CliResult;
Result run(const std::string& args) { return cs::testing::run_cli(args); }

const std::string kDefault = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml";

TEST(Describe, DefaultScenarioJson) {
  const Result r = run("describe --json " + kDefault);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto d = nlohmann::json::parse(r.out);
  EXPECT_NEAR(d["params"]["total"].get<double>() / 1e9, 671.03, 0.01);
  EXPECT_NEAR(d["flops_per_token"]["causal"].get<double>() / 1e9, 250.5, 0.1);
  EXPECT_EQ(d["memory"].size(), 16u);
  EXPECT_EQ(d["stages"].size(), 16u);
  EXPECT_EQ(d["layout"]["micro_batches_per_step"].get<int>(), 120);
  EXPECT_TRUE(d["fits"].get<bool>());
  for (const auto& r : d["memory"]) {
    EXPECT_EQ(r["stages"].size(), 2u);  // DualPipe: two stages per rank
    EXPECT_LE(r["total_bytes"].get<double>(), r["capacity_bytes"].get<double>());
  }
}

TEST(Describe, TextNamesTheFigures) {
  const Result r = run("describe " + kDefault);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("671.03B parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("250.5 GFLOP per token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": fits"), std::string::npos) << r.out;
}

TEST(Describe, BadScenarioGivesFileLineAndNonZeroExit) {
  const Result r = run("describe " + std::string(CLUSTERSIM_SOURCE_DIR) + "/tests/cli/data/bad-layout.yaml");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("bad-layout.yaml:5:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layout.expert_parallel"), std::string::npos) << r.out;
}

// Output options given without a path, and options that would be ignored, are refused.
TEST(CommandLine, EmptyOutputPathsAndIgnoredOptionsAreRefused) {
  const std::string ex = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"run " + ex + "dualpipe-pp4.yaml --trace ''", "--trace: give the path to write"},
           {"run " + ex + "dualpipe-pp4.yaml --html ''", "--html: give the path to write"},
           {"run " + ex + "dualpipe-pp4.yaml --detail", "--detail: adds slices to the trace or HTML report"},
           {"compare " + ex + "dualpipe-pp4.yaml " + ex + "interleaved-pp4.yaml --json --only-changed", "excludes"},
           {"compare " + ex + "dualpipe-pp4.yaml " + ex + "interleaved-pp4.yaml --trace-a ''", "--trace-a: give the path"},
           {"sweep " + std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/sweeps/routing-skew.yaml -o ''", "--out: give the path"}}) {
    const auto r = cs::testing::run_cli(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_NE(r.out.find(says), std::string::npos) << args << "\n" << r.out;
  }
}

// A custom schedule file places its own stages: with virtual_stages 2, each of 2 ranks holds two of 4 stages. describe
// reads the placement and the micro-batches in flight from the file, as run does (it took one stage per rank and
// 1F1B's table before).
TEST(Describe, CustomScheduleStagesAndInFlightAreTheFilesAsRunHasThem) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("clustersim-describe-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream((dir / "vs2.yaml").string()) << R"(micro_batches: 2
virtual_stages: 2
ranks:
  - [{F: 0}, {F: 1}, {F: 0, chunk: 1}, {F: 1, chunk: 1}, {B: 0, chunk: 1}, {B: 1, chunk: 1}, {B: 0}, {B: 1}]
  - [{F: 0}, {F: 1}, {F: 0, chunk: 1}, {F: 1, chunk: 1}, {B: 0, chunk: 1}, {B: 1, chunk: 1}, {B: 0}, {B: 1}]
)";
  std::ofstream((dir / "scenario.yaml").string()) << R"(name: custom-vs2
model: deepseek-v3
cluster: {preset: h800-2048, nodes: 1}
layout: {pipeline_parallel: 2, expert_parallel: 2, data_parallel: 4, micro_batch: 1, global_batch: 8}
schedule: {kind: custom, file: vs2.yaml}
routing: {max_nodes: 1}
training:
  seq_len: 4096
  phases: [{name: step, steps: 1}]
price_per_gpu_hour: 2.0
)";
  const std::string scenario = (dir / "scenario.yaml").string();
  const Result d = run("describe --json " + scenario), r = run("run --json " + scenario);
  fs::remove_all(dir);
  ASSERT_EQ(d.rc, 0) << d.out;
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto dj = nlohmann::json::parse(d.out), rj = nlohmann::json::parse(r.out);
  EXPECT_EQ(dj["stages"].size(), 4u);
  ASSERT_EQ(dj["memory"].size(), 2u);
  for (size_t rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(dj["memory"][rank]["stages"], rj["memory"][rank]["stages"]) << rank;
    EXPECT_EQ(dj["memory"][rank]["microbatches_in_flight"], rj["memory"][rank]["microbatches_in_flight"]) << rank;
    EXPECT_NEAR(dj["memory"][rank]["total_bytes"].get<double>() / (1 << 30),
                rj["memory"][rank]["total_gib"].get<double>(), 1e-6)
        << rank;
  }
  EXPECT_EQ(dj["memory"][0]["stages"], nlohmann::json::array({0, 2}));
}

// Exit status, as README says: 0 done, 2 the command could not do what was asked (a usage error, a bad or missing
// input file, any other error), 1 only for a check that ran and failed (validate, calibrate compare). Usage errors
// exited with CLI11's own codes (105–109) and runtime errors with 1, the code of a regression.
TEST(CommandLine, ExitStatusSaysWhetherTheCommandCouldRun) {
  const std::string ex = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/dualpipe-pp4.yaml";
  for (const auto& [args, rc] : std::vector<std::pair<std::string, int>>{
           {"--help", 0},
           {"run --help", 0},
           {"describe " + ex, 0},
           {"", 2},                                         // no subcommand
           {"run " + ex + " --no-such-option", 2},          // unknown option
           {"run", 2},                                      // missing argument
           {"schedule --kind 1f1b --pp 0", 2},              // out of the allowed range
           {"describe /nonexistent/scenario.yaml", 2},      // missing file
           {"describe " + std::string(CLUSTERSIM_SOURCE_DIR) + "/tests/cli/data/bad-layout.yaml", 2},
           {"run " + ex + " --trace /nonexistent-dir/t.json", 2}}) {  // an output that cannot be written
    const auto r = cs::testing::run_cli(args);
    EXPECT_EQ(r.rc, rc) << args << "\n" << r.out;
  }
}

// describe counts a tensor-parallel layout; run cannot simulate it and says so before running, naming the file and the
// field (it failed inside the step simulation with neither).
TEST(CommandLine, TensorParallelIsDescribedButNotRun) {
  std::ifstream in(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/dualpipe-pp4.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "  data_parallel: 2\n";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "  data_parallel: 1\n  tensor_parallel: 2\n");
  text.replace(text.find("expert_parallel: 2"), 18, "expert_parallel: 1");
  text.replace(text.find("global_batch: 16"), 16, "global_batch: 8");
  const std::string path = ::testing::TempDir() + "clustersim-tp2.yaml";
  std::ofstream(path) << text;
  const Result d = run("describe " + path);
  EXPECT_EQ(d.rc, 0) << d.out;
  const Result r = run("run " + path);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find(path + ": layout.tensor_parallel: 2 is not simulated"), std::string::npos) << r.out;
}

TEST(Describe, MissingFileIsAnError) {
  const Result r = run("describe /nonexistent/scenario.yaml");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("error: /nonexistent/scenario.yaml: cannot open the file"), std::string::npos) << r.out;
}

}  // namespace
