// The `collective` command on the example scenarios (scenarios/examples/), as a user runs it.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "tests/cli_run.hpp"

#include <array>
#include <cstdio>
#include <string>

namespace {
using Output = cs::testing::CliResult;
Output run(const std::string& args) { return cs::testing::run_cli(args); }
const std::string kExamples = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/";
}  // namespace

TEST(CollectiveCommand, DispatchOnTheEp64Example) {
  const Output o = run("collective " + kExamples + "ep64-dispatch.yaml --kind dispatch --tokens 1024");
  ASSERT_EQ(o.rc, 0) << o.out;
  EXPECT_NE(o.out.find("DeepEP bw"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("GB/s RDMA"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("nic_up"), std::string::npos) << o.out;
  // Deterministic: the same command prints the same bytes.
  EXPECT_EQ(run("collective " + kExamples + "ep64-dispatch.yaml --kind dispatch --tokens 1024").out, o.out);
}

TEST(CollectiveCommand, AllReduceRingAndTreeAndP2p) {
  for (const char* extra : {"--kind all-reduce --gpus 16 --bytes 67108864", "--kind all-reduce --gpus 16 --algo tree",
                            "--kind p2p --bytes 1048576", "--kind all-gather --gpus 16"}) {
    const Output o = run("collective " + kExamples + "allreduce-2node.yaml " + extra);
    ASSERT_EQ(o.rc, 0) << extra << "\n" << o.out;
    EXPECT_NE(o.out.find("busbw"), std::string::npos) << o.out;
  }
}

TEST(CollectiveCommand, BadInputIsRejectedClearly) {
  Output o = run("collective " + kExamples + "allreduce-2node.yaml --kind allreduce");
  EXPECT_NE(o.rc, 0);
  EXPECT_NE(o.out.find("--kind"), std::string::npos) << o.out;
  o = run("collective " + kExamples + "allreduce-2node.yaml --kind all-to-all --gpus 64");
  EXPECT_NE(o.rc, 0);
  EXPECT_NE(o.out.find("not all in the cluster"), std::string::npos) << o.out;
  // Options the kind does not read are refused, not ignored; a quantum beyond 1 s is out of range (it hung).
  for (const auto& [extra, says] : std::vector<std::pair<std::string, std::string>>{
           {"--kind all-to-all --algo tree", "--algo: all-to-all: only all-reduce chooses ring or tree"},
           {"--kind dispatch --bytes 5", "--bytes: dispatch: the size comes from --tokens"},
           {"--kind p2p --tokens 5", "--tokens: p2p: only dispatch and combine take tokens"},
           {"--kind p2p --gpus 4", "--gpus: p2p: a p2p transfer runs between 2 GPUs"},
           {"--kind all-reduce --quantum-ns 9223372036854775807", "--quantum-ns: Value 9223372036854775807 not in range"},
           {"--kind all-reduce --threads 0", "--threads: Value 0 not in range"}}) {
    o = run("collective " + kExamples + "allreduce-2node.yaml " + extra);
    EXPECT_NE(o.rc, 0) << extra;
    EXPECT_NE(o.out.find(says), std::string::npos) << extra << "\n" << o.out;
  }
}

// The scenario's network.backend is honoured (simgrid in this example), --backend overrides it, and a dispatch on
// 16 GPUs takes the same time in both (the SimGrid oracle tests bound the difference at 1e-4).
TEST(CollectiveCommand, SimGridBackendFromTheScenarioOrTheFlag) {
  const std::string base = "collective " + kExamples + "simgrid-backend.yaml --kind dispatch --tokens 512";
  const Output sg = run(base), native = run(base + " --backend native");
  ASSERT_EQ(sg.rc, 0) << sg.out;
  ASSERT_EQ(native.rc, 0) << native.out;
  EXPECT_NE(sg.out.find("network SimGrid 3.32"), std::string::npos) << sg.out;
  EXPECT_NE(native.out.find("network mode flow"), std::string::npos) << native.out;
  auto time_us = [](const std::string& text) {
    const auto at = text.find("time ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + 5));
  };
  ASSERT_GT(time_us(native.out), 0) << native.out;
  EXPECT_NEAR(time_us(sg.out), time_us(native.out), 1e-4 * time_us(native.out));
  const Output threads = run(base + " --threads 2");
  EXPECT_NE(threads.rc, 0);
  EXPECT_NE(threads.out.find("--threads: the simgrid backend runs on one thread"), std::string::npos) << threads.out;
  const Output big = run("collective " + std::string(CLUSTERSIM_SOURCE_DIR) +
                         "/scenarios/deepseek-v3.yaml --kind all-reduce --gpus 512 --backend simgrid");
  EXPECT_NE(big.rc, 0);
  EXPECT_NE(big.out.find("--backend: simgrid times groups of at most 256 GPUs"), std::string::npos) << big.out;
}

// Solver threads share the work of a large collective (the 4,032-flow all-to-all is set up on all of them, and the
// dispatch's components re-solved on them); every figure printed is the same as on one thread.
TEST(CollectiveCommand, SolverThreadsPrintTheSameFigures) {
  for (const std::string extra : {"--kind all-to-all --gpus 64 --bytes 268435456", "--kind dispatch --tokens 1024"}) {
    const std::string base = "collective " + kExamples + "ep64-dispatch.yaml " + extra;
    const Output one = run(base);
    ASSERT_EQ(one.rc, 0) << one.out;
    EXPECT_NE(one.out.find("time "), std::string::npos) << one.out;
    for (const char* t : {" --threads 2", " --threads 3"}) {
      const Output more = run(base + t);
      ASSERT_EQ(more.rc, 0) << more.out;
      EXPECT_EQ(more.out, one.out) << extra << t;
    }
  }
}
