// `clustersim describe` end to end: the binary on the default scenario, text and JSON.
#include <gtest/gtest.h>

#include "tests/cli_run.hpp"
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
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

TEST(Describe, MissingFileIsAnError) {
  const Result r = run("describe /nonexistent/scenario.yaml");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("/nonexistent/scenario.yaml"), std::string::npos) << r.out;
}

}  // namespace
