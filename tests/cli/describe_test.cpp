// `clustersim describe` end to end: the binary on the default scenario, text and JSON.
#include <gtest/gtest.h>

#include "tests/cli_run.hpp"
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

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

TEST(Describe, MissingFileIsAnError) {
  const Result r = run("describe /nonexistent/scenario.yaml");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("/nonexistent/scenario.yaml"), std::string::npos) << r.out;
}

}  // namespace
