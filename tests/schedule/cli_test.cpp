// `clustersim schedule`: the chart and the bubble per rank, from flags or a scenario, and its errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli_run.hpp"

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <sys/wait.h>

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using CliRun = cs::testing::CliResult;
CliRun run(const std::string& args) { return cs::testing::run_cli("schedule " + args); }

const std::string kExamples = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/";

TEST(ScheduleCli, OneFOneBBubbleFromFlags) {
  const CliRun r = run("--kind 1f1b --pp 4 --microbatches 8 --unit-chars 4");
  ASSERT_EQ(r.rc, 0) << r.out;
  // (PP−1)(F+B) = 3·3 with the default unit durations, out of a makespan of 8·3 + 9.
  EXPECT_THAT(r.out, HasSubstr("makespan 33"));
  for (int rank = 0; rank < 4; ++rank)
    EXPECT_THAT(r.out, HasSubstr("rank   " + std::to_string(rank) + ": busy 24 idle 9 "));
  EXPECT_THAT(r.out, HasSubstr("activations in flight peak 4"));  // rank 0: PP
  // One chart row per rank, the last stage alternating F and B from its first unit on (4 chars per unit).
  EXPECT_THAT(r.out, HasSubstr("rank   3 ............F0 |B0     |F1 |B1     |"));
}

TEST(ScheduleCli, CellsWideEnoughForEveryLabel) {
  // 12 micro-batches: "F10" and a separator need 4 characters for a unit-long forward.
  const CliRun r = run("--kind 1f1b --pp 2 --microbatches 12");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("|F10|B9     |"));
  // Chunks are marked: interleaving's second chunk gets a prime.
  const CliRun v = run("--kind interleaved --pp 2 --microbatches 2 --vstages 2");
  ASSERT_EQ(v.rc, 0) << v.out;
  EXPECT_THAT(v.out, HasSubstr("F0'"));
}

TEST(ScheduleCli, DurationsFromFlags) {
  const CliRun r = run("--kind zb1p --pp 4 --microbatches 8 --f 2 --b 4 --w 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  // (PP−1)(F+B−2W) = 3·4
  EXPECT_THAT(r.out, HasSubstr("rank   0: busy 48 idle 12 "));
}

// Durations with no common unit would make rows of billions of characters (and overflowed the cell width): the
// chart is left out with a note, the bubble figures stay.
TEST(ScheduleCli, DurationsTooFineForAChart) {
  for (const char* kind : {"dualpipe", "zb1p", "dualpipev", "interleaved", "1f1b"}) {
    SCOPED_TRACE(kind);
    const CliRun r = run(std::string("--kind ") + kind + " --pp 4 --microbatches 8 --f 4294967296");
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("(chart left out: "));
    EXPECT_THAT(r.out, HasSubstr("rank   0: busy "));
    EXPECT_EQ(run(std::string("--kind ") + kind + " --pp 4 --microbatches 8 --f 4294967296 --no-chart").rc, 0);
  }
}

// --w 0 (a weight gradient that takes no time) leaves W instructions of zero length: they take no cell, and the
// chart of a split-backward schedule prints (it ended in "error: basic_string::_M_create" before).
TEST(ScheduleCli, ZeroLengthWeightGradientsTakeNoCell) {
  for (const char* kind : {"zb1p", "dualpipe", "dualpipev"}) {
    const CliRun r = run(std::string("--kind ") + kind + " --pp 2 --microbatches 4 --w 0");
    ASSERT_EQ(r.rc, 0) << kind << "\n" << r.out;
    EXPECT_THAT(r.out, Not(HasSubstr("error"))) << kind;
    EXPECT_THAT(r.out, HasSubstr("rank   1 ")) << kind;
    EXPECT_THAT(r.out, Not(HasSubstr("|W"))) << kind << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr("makespan")) << kind;
  }
}

TEST(ScheduleCli, ScenarioGivesKindAndSizes) {
  const CliRun r = run(kExamples + "dualpipe-pp4.yaml");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("dualpipe schedule, 4 ranks, 8 micro-batches"));
  EXPECT_THAT(r.out, HasSubstr("F2'&B0"));  // an overlapped pair, reverse-direction forward
  EXPECT_THAT(r.out, HasSubstr("rank   0: busy 24 idle 2 "));
  EXPECT_THAT(r.out, HasSubstr("activations in flight peak 5"));  // PP+1
  const CliRun k = run(kExamples + "dualpipe-pp4.yaml --kind 1f1b");
  ASSERT_EQ(k.rc, 0) << k.out;
  EXPECT_THAT(k.out, HasSubstr("1f1b schedule, 4 ranks, 8 micro-batches"));
}

TEST(ScheduleCli, InterleavedScenario) {
  const CliRun r = run(kExamples + "interleaved-pp4.yaml");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("interleaved schedule, 4 ranks, 8 micro-batches"));
  // chunk times F=1, B=2: (PP−1)(f+b) = 9, half of 1F1B's bubble with whole-stage times 2 and 4
  EXPECT_THAT(r.out, HasSubstr("rank   0: busy 48 idle 9 "));
}

TEST(ScheduleCli, DefaultDeepSeekScenarioWithoutChart) {
  // DualPipe, PP 16, 120 micro-batches per pipeline: bubble (PP/2−1)(F&B+B−3W) = 7·2 with the unit durations.
  const CliRun r = run(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml --no-chart");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("dualpipe schedule, 16 ranks, 120 micro-batches"));
  EXPECT_THAT(r.out, HasSubstr("rank  15: busy 360 idle 14 "));
  EXPECT_THAT(r.out, HasSubstr("peak 17"));
  EXPECT_THAT(r.out, Not(HasSubstr("rank   0 F0")));
}

TEST(ScheduleCli, CustomScenario) {
  const CliRun r = run(kExamples + "custom-pp4.yaml --list");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("custom schedule, 4 ranks, 8 micro-batches"));
  EXPECT_THAT(r.out, HasSubstr("idle 9 "));
  EXPECT_THAT(r.out, HasSubstr("send F0 d0 s0→1"));
}

TEST(ScheduleCli, Colour) {
  const CliRun plain = run("--kind 1f1b --pp 2 --microbatches 2");
  const CliRun col = run("--kind 1f1b --pp 2 --microbatches 2 --color");
  ASSERT_EQ(col.rc, 0);
  EXPECT_THAT(col.out, HasSubstr("\x1b["));
  EXPECT_THAT(plain.out, Not(HasSubstr("\x1b[")));
}

TEST(ScheduleCli, Errors) {
  const CliRun odd = run("--kind dualpipe --pp 5 --microbatches 20");
  EXPECT_NE(odd.rc, 0);
  EXPECT_THAT(odd.out, HasSubstr("DualPipe needs an even pp"));
  const CliRun few = run("--kind dualpipe --pp 4 --microbatches 6");
  EXPECT_NE(few.rc, 0);
  EXPECT_THAT(few.out, HasSubstr("≥ 2·pp = 8"));
  const CliRun big = run("--kind 1f1b --pp 4096 --microbatches 65536 --no-chart");  // 2^28 passes: refused, not run
  EXPECT_NE(big.rc, 0);
  EXPECT_THAT(big.out, HasSubstr("too large a schedule; allowed at most 65536 micro-batches and 1048576"));
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"--kind 1f1b --pp 4 --microbatches 8 --vstages 3", "--vstages: only the interleaved schedule"},
           {"--kind 1f1b --pp 4 --microbatches 8 --file x.yaml", "--file: only a custom schedule is read from a file"},
           {"--kind zb1p --pp 4 --microbatches 8 --no-overlap", "--no-overlap: only DualPipe and DualPipeV"}}) {
    const CliRun r = run(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_THAT(r.out, HasSubstr(says)) << args;
  }
  const CliRun none = run("--pp 4");
  EXPECT_NE(none.rc, 0);
  EXPECT_THAT(none.out, HasSubstr("--kind, --pp and --microbatches"));
}

}  // namespace
