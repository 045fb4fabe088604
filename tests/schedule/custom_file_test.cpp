// Custom schedule files: a valid one reproduces 1F1B; malformed ones fail with file:line, field and what is allowed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "scenarios/scenario.hpp"
#include "sim/schedule/custom_file.hpp"
#include "sim/schedule/timeline.hpp"
#include "tests/cli_run.hpp"

namespace cs::sched {
namespace {

using ::testing::HasSubstr;

const std::string kExamples = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/";

std::string write_temp(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "clustersim-schedule-tests";
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

// Loads and returns the error; checks the message names the file and `line`.
std::string error_of(const std::string& name, const std::string& text, int line) {
  const std::string path = write_temp(name, text);
  try {
    load_custom_schedule(path);
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_THAT(std::string(e.what()), HasSubstr(path + ":" + std::to_string(line) + ":"));
    return e.what();
  }
  ADD_FAILURE() << "no error for " << name;
  return "";
}

TEST(CustomFile, HandWritten1F1BReproducesTheBuiltIn) {
  const Schedule c = load_custom_schedule(kExamples + "schedules/custom-1f1b.yaml", 4, 8);
  const Schedule b = one_f_one_b(4, 8);
  ASSERT_EQ(c.ranks, 4);
  for (int r = 0; r < 4; ++r) {
    ASSERT_EQ(c.ops[r].size(), b.ops[r].size()) << r;
    for (size_t i = 0; i < b.ops[r].size(); ++i) {
      EXPECT_EQ(c.ops[r][i].op, b.ops[r][i].op) << r << " " << i;
      EXPECT_EQ(c.ops[r][i].pass, b.ops[r][i].pass) << r << " " << i;
    }
  }
  const Timeline tc = run_timeline(c, unit_costs(3, 5, 1, 8, 2)), tb = run_timeline(b, unit_costs(3, 5, 1, 8, 2));
  EXPECT_EQ(tc.makespan, tb.makespan);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(tc.ranks[r].idle, tb.ranks[r].idle);
}

TEST(CustomFile, SplitBackwardsAndWeights) {
  const Schedule c = load_custom_schedule(kExamples + "schedules/custom-zb.yaml");
  const Timeline t = run_timeline(c, unit_costs(1, 2, 1, 3));
  // It is ZB1P on 2 ranks: the bubble is (PP−1)(F+B−2W) = 1.
  for (const auto& r : t.ranks) EXPECT_EQ(r.idle, 1);
  const Timeline z = run_timeline(zb1p(2, 4), unit_costs(1, 2, 1, 3));
  EXPECT_EQ(t.makespan, z.makespan);
}

TEST(CustomFile, ChunksReproduceInterleaved) {
  // Writes the built-in interleaved order (2 ranks, 2 chunks) as a custom file and reads it back.
  const Schedule b = interleaved_1f1b(2, 4, 2);
  std::string text = "micro_batches: 4\nvirtual_stages: 2\nranks:\n";
  for (int r = 0; r < 2; ++r) {
    text += "  - [";
    bool first = true;
    for (const auto& in : b.ops[r]) {
      if (!in.is_compute()) continue;
      text += (first ? "" : ", ") + std::string("{") + (in.op == Op::F ? "F" : "B") + ": " +
              std::to_string(in.pass.mb) + ", chunk: " + std::to_string(in.pass.stage / 2) + "}";
      first = false;
    }
    text += "]\n";
  }
  const Schedule c = load_custom_schedule(write_temp("interleaved.yaml", text));
  ASSERT_EQ(c.stages, 4);
  const Timeline tb = run_timeline(b, unit_costs(1, 2, 1, 3)), tc = run_timeline(c, unit_costs(1, 2, 1, 3));
  EXPECT_EQ(tc.makespan, tb.makespan);
  EXPECT_EQ(tc.ranks[0].idle, (2 - 1) * (1 + 2));  // (PP−1)(f+b) in chunk times
}

TEST(CustomFile, ScenarioNamingTheFileLoads) {
  const Scenario s = load_scenario(kExamples + "custom-pp4.yaml");
  EXPECT_EQ(s.schedule.kind, "custom");
  const Schedule c = load_custom_schedule(s.schedule.file, s.layout.pp, int(s.layout.micro_batches()));
  EXPECT_EQ(c.ranks, 4);
}

TEST(CustomFile, UnknownOp) {
  const std::string e = error_of("unknown.yaml",
                                 "micro_batches: 1\n"
                                 "ranks:\n"
                                 "  - [{F: 0}, {B: 0}]\n"
                                 "  - [{F: 0},\n"
                                 "     {X: 0}]\n",
                                 5);
  EXPECT_THAT(e, HasSubstr("ranks[1][1]"));
  EXPECT_THAT(e, HasSubstr("unknown instruction"));
  EXPECT_THAT(e, HasSubstr("{F: m}, {B: m}"));
}

TEST(CustomFile, ScalarInsteadOfMapping) {
  const std::string e = error_of("scalar.yaml", "micro_batches: 1\nranks:\n  - [F0, {B: 0}]\n", 3);
  EXPECT_THAT(e, HasSubstr("ranks[0][0]"));
  EXPECT_THAT(e, HasSubstr("an instruction is a mapping"));
}

TEST(CustomFile, MicroBatchOutOfRange) {
  const std::string e = error_of("range.yaml", "micro_batches: 2\nranks:\n  - [{F: 0}, {F: 2}]\n", 3);
  EXPECT_THAT(e, HasSubstr("ranks[0][1].F"));
  EXPECT_THAT(e, HasSubstr("[0, 1]"));
}

TEST(CustomFile, MissingMicroBatch) {
  const std::string e = error_of("missing.yaml",
                                 "micro_batches: 2\n"
                                 "ranks:\n"
                                 "  - [{F: 0}, {F: 1}, {B: 0}, {B: 1}]\n"
                                 "  - [{F: 0}, {B: 0}]\n",
                                 4);
  EXPECT_THAT(e, HasSubstr("ranks[1]"));
  EXPECT_THAT(e, HasSubstr("F1 d0 s1 is missing"));
}

TEST(CustomFile, WBeforeItsBackward) {
  const std::string e = error_of("w.yaml",
                                 "micro_batches: 1\n"
                                 "ranks:\n"
                                 "  - [{F: 0}, {W: 0}, {B: 0, split: true}]\n",
                                 3);
  EXPECT_THAT(e, HasSubstr("ranks[0][1]"));
  EXPECT_THAT(e, HasSubstr("W0 d0 s0 comes before its backward"));
}

TEST(CustomFile, Deadlock) {
  // Each rank's own order is consistent (F before B), but rank 0 waits for rank 1's B0 before forwarding
  // micro-batch 1, and rank 1 waits for that forward before running B0: a cycle across the ranks.
  const std::string e = error_of("deadlock.yaml",
                                 "micro_batches: 2\n"
                                 "ranks:\n"
                                 "  - [{F: 0},\n"
                                 "     {B: 0}, {F: 1}, {B: 1}]\n"
                                 "  - [{F: 0}, {F: 1}, {B: 0}, {B: 1}]\n",
                                 4);
  EXPECT_THAT(e, HasSubstr("ranks[0][1]"));
  EXPECT_THAT(e, HasSubstr("B0 d0 s1 on rank 1"));
  EXPECT_THAT(e, HasSubstr("F1 d0 s0 on rank 0"));
  EXPECT_THAT(e, HasSubstr("deadlocks"));
  EXPECT_THAT(e, HasSubstr("rank 0 waits at"));
  EXPECT_THAT(e, HasSubstr("rank 1 waits at"));
}

TEST(CustomFile, DuplicateKeyInAFlowInstruction) {
  // {F: 0, F: 1} used to run as F0: the second F was never seen.
  const std::string e = error_of("dup-flow.yaml", "micro_batches: 2\nranks:\n  - [{F: 0, F: 1}, {B: 0}]\n", 3);
  EXPECT_THAT(e, HasSubstr(":3:13: ranks[0][0].F: duplicate key (first at line 3, column 7)"));
}

TEST(CustomFile, DuplicateKeyInABlockInstructionAndAtTopLevel) {
  std::string e = error_of("dup-block.yaml",
                           "micro_batches: 1\n"
                           "ranks:\n"
                           "  - - F: 0\n"
                           "      F: 1\n"
                           "    - B: 0\n",
                           4);
  EXPECT_THAT(e, HasSubstr("ranks[0][0].F: duplicate key (first at line 3)"));
  e = error_of("dup-top.yaml", "micro_batches: 1\nranks:\n  - [{F: 0}, {B: 0}]\nmicro_batches: 2\n", 4);
  EXPECT_THAT(e, HasSubstr(":4:1: micro_batches: duplicate key (first at line 1)"));
}

TEST(CustomFile, UnknownTopLevelFieldAndRankCountMismatch) {
  std::string e = error_of("typo.yaml", "micro_batches: 1\nranks:\n  - [{F: 0}, {B: 0}]\nrank: 3\n", 4);
  EXPECT_THAT(e, HasSubstr("rank"));
  const std::string path = write_temp("count.yaml", "micro_batches: 1\nranks:\n  - [{F: 0}, {B: 0}]\n");
  try {
    load_custom_schedule(path, 4, 1);
    ADD_FAILURE() << "no error";
  } catch (const ScenarioError& err) {
    EXPECT_THAT(std::string(err.what()), HasSubstr("pipeline_parallel is 4, the file lists 1 ranks"));
  }
}

}  // namespace
}  // namespace cs::sched

namespace cs::sched {
namespace {

// A file cutting the scenario's model into more stages than it has blocks is an error on the file's virtual_stages
// line (`run`, `describe` and `schedule` of the scenario), not an internal failure without a place.
TEST(CustomFile, MoreStagesThanTheModelHasBlocks) {
  std::string text = "micro_batches: 1\nvirtual_stages: 16\nranks:\n";
  for (int r = 0; r < 4; ++r) {
    text += "  - [";
    for (int c = 0; c < 16; ++c) text += fmt::format("{{F: 0, chunk: {}}}, ", c);
    for (int c = 15; c >= 0; --c) text += fmt::format("{{B: 0, chunk: {}}}{}", c, c > 0 ? ", " : "]\n");
  }
  const std::string path = write_temp("many-chunks.yaml", text);
  EXPECT_NO_THROW(load_custom_schedule(path, 4, 1));  // no model to check against
  try {
    load_custom_schedule(path, 4, 1, 62);
    ADD_FAILURE() << "no error";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_THAT(std::string(e.what()), HasSubstr("virtual_stages: 4 ranks × 16 virtual stages = 64 pipeline stages"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("allowed at most 15 virtual stages with 4 ranks"));
  }
  // The same file named by a DeepSeek-V3 scenario (61 layers + 1 MTP block).
  std::ifstream in(kExamples + "custom-pp4.yaml");
  std::string scenario((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "file: schedules/custom-1f1b.yaml";
  scenario.replace(scenario.find(from), from.size(), "file: " + path);
  scenario.replace(scenario.find("global_batch: 16"), 16, "global_batch: 2 ");
  const std::string sc = write_temp("many-chunks-scenario.yaml", scenario);
  for (const std::string cmd : {"run", "describe", "schedule"}) {
    const cs::testing::CliResult r = cs::testing::run_cli(cmd + " " + sc);
    EXPECT_EQ(r.rc, 2) << cmd << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr(path + ":2:")) << cmd;
    EXPECT_THAT(r.out, HasSubstr("the scenario's model has 62 blocks")) << cmd;
  }
}

}  // namespace
}  // namespace cs::sched
