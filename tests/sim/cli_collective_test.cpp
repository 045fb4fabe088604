// The `collective` command on the example scenarios (scenarios/examples/), as a user runs it.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

namespace {
struct Output {
  int rc;
  std::string text;
};
Output run(const std::string& args) {
  const std::string cmd = std::string(CLUSTERSIM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}
const std::string kExamples = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/examples/";
}  // namespace

TEST(CollectiveCommand, DispatchOnTheEp64Example) {
  const Output o = run("collective " + kExamples + "ep64-dispatch.yaml --kind dispatch --tokens 1024");
  ASSERT_EQ(o.rc, 0) << o.text;
  EXPECT_NE(o.text.find("DeepEP bw"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("GB/s RDMA"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("nic_up"), std::string::npos) << o.text;
  // Deterministic: the same command prints the same bytes.
  EXPECT_EQ(run("collective " + kExamples + "ep64-dispatch.yaml --kind dispatch --tokens 1024").text, o.text);
}

TEST(CollectiveCommand, AllReduceRingAndTreeAndP2p) {
  for (const char* extra : {"--kind all-reduce --gpus 16 --bytes 67108864", "--kind all-reduce --gpus 16 --algo tree",
                            "--kind p2p --bytes 1048576", "--kind all-gather --gpus 16"}) {
    const Output o = run("collective " + kExamples + "allreduce-2node.yaml " + extra);
    ASSERT_EQ(o.rc, 0) << extra << "\n" << o.text;
    EXPECT_NE(o.text.find("busbw"), std::string::npos) << o.text;
  }
}

TEST(CollectiveCommand, BadInputIsRejectedClearly) {
  Output o = run("collective " + kExamples + "allreduce-2node.yaml --kind allreduce");
  EXPECT_NE(o.rc, 0);
  EXPECT_NE(o.text.find("--kind"), std::string::npos) << o.text;
  o = run("collective " + kExamples + "allreduce-2node.yaml --kind all-to-all --gpus 64");
  EXPECT_NE(o.rc, 0);
  EXPECT_NE(o.text.find("not all in the cluster"), std::string::npos) << o.text;
}
