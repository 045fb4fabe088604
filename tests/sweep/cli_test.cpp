// The sweep end to end: the clustersim command (examples, errors), a run killed half-way and resumed, and the same
// sweep under mpirun giving the files a single process writes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/sweep/synthetic_evaluator.hpp"

namespace {

namespace fs = std::filesystem;

// This process's own scratch folder (tests may run in parallel), removed when it exits.
const cs::test::ScratchDir kRoot("clustersim-sweep-cli");

using cs::test::read_text;

struct Shell {
  int rc;
  std::string output;  // stdout and stderr
};

Shell shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

fs::path fixture(const std::string& name) {
  const fs::path dir = kRoot.path / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  cs::test::write_text((dir / "base.yaml").string(), cs::test::kTestBase);
  cs::test::write_text((dir / "sweep.yaml").string(), cs::test::kTestSweep);
  return dir;
}

void expect_same_files(const fs::path& a, const fs::path& b) {
  for (const char* file : {"points.jsonl", "points.csv", "summary.json"}) {
    const std::string x = read_text(a / file), y = read_text(b / file);
    EXPECT_FALSE(x.empty()) << a / file;
    EXPECT_EQ(x, y) << file;
  }
}

bool have_mpirun() { return shell("command -v mpirun").rc == 0; }

TEST(SweepCli, ExampleSweepsRun) {
  const fs::path out = fixture("examples");
  for (const auto& e : fs::directory_iterator(fs::path(CLUSTERSIM_SOURCE_DIR) / "scenarios" / "sweeps")) {
    const fs::path dir = out / e.path().stem();
    const Shell r = shell(fmt::format("{} sweep {} -o {} -j 2", CLUSTERSIM_BINARY, e.path().string(), dir.string()));
    EXPECT_EQ(r.rc, 0) << e.path() << "\n" << r.output;
    EXPECT_NE(r.output.find(fmt::format("results in {}/", dir.string())), std::string::npos) << r.output;
    const auto summary = nlohmann::json::parse(read_text(dir / "summary.json"));
    EXPECT_EQ(summary["counts"]["pending"], 0) << e.path();
    EXPECT_GT(summary["counts"]["ok"].get<int>(), 0) << e.path();
    // Its base is the default scenario, whose context-extension phases do not fit as laid out: an "ok" point (its
    // first phase fits) says so, in the summary and in a column of its own.
    if (e.path().stem() == "cluster-size") {
      EXPECT_NE(r.output.find("note: in 4 of the ok points, phase(s) context-extension-32k, context-extension-128k do "
                              "not fit in memory"),
                std::string::npos)
          << r.output;
      EXPECT_NE(read_text(dir / "points.csv").find("phases_not_fitting"), std::string::npos);
    }
  }
}

TEST(SweepCli, ListsInfeasiblePointsAndWritesTheHtmlReport) {
  const fs::path dir = fixture("cli");
  const Shell r = shell(fmt::format("{} sweep {} -o {} --html {}", CLUSTERSIM_BINARY, (dir / "sweep.yaml").string(),
                                  (dir / "out").string(), (dir / "sweep.html").string()));
  ASSERT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("18 points, 12 ok, 6 infeasible, 0 failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("schedule.comm_sms: must leave SMs for compute"), std::string::npos) << r.output;
  // Every feasible point is simulated and projected: the best point is the one with the fewest GPU-hours.
  EXPECT_NE(r.output.find("best: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Pareto front (GPU-hours vs days):"), std::string::npos) << r.output;
  const auto summary = nlohmann::json::parse(read_text(dir / "out" / "summary.json"));
  double fewest = 1e300;
  std::ifstream rows(dir / "out" / "points.jsonl");
  for (std::string line; std::getline(rows, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row["status"] == "ok") fewest = std::min(fewest, row["result"]["total_gpu_hours"].get<double>());
  }
  ASSERT_TRUE(summary.contains("best")) << summary.dump(2);
  EXPECT_DOUBLE_EQ(summary["best"]["total_gpu_hours"].get<double>(), fewest) << summary["best"].dump(2);
  const std::string html = read_text(dir / "sweep.html");
  EXPECT_NE(html.find("vegaEmbed"), std::string::npos);
  EXPECT_EQ(html.find("<script src="), std::string::npos);  // nothing loaded from elsewhere
}

TEST(SweepCli, MalformedSweepFileFailsWithFileLineAndField) {
  const fs::path dir = fixture("malformed");
  const std::string path = (dir / "bad.yaml").string();
  cs::test::write_text(path, "base: base.yaml\ngrid:\n  layout.pipeline_parallel: [8, 16]\n  schedule.komm_sms: [20]\n");
  const Shell r = shell(fmt::format("{} sweep {} -o {}", CLUSTERSIM_BINARY, path, (dir / "out").string()));
  EXPECT_EQ(r.rc, 2) << r.output;
  EXPECT_NE(r.output.find(path + ":4:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("schedule.komm_sms"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("allowed here: comm_sms"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(SweepCli, KilledRunResumesWithoutLosingOrRepeatingRows) {
  const fs::path dir = fixture("kill");
  const std::string sweep = (dir / "sweep.yaml").string();
  const Shell ref = shell(fmt::format("{} {} {} 2 0", SWEEP_DRIVER, sweep, (dir / "reference").string()));
  ASSERT_EQ(ref.rc, 0) << ref.output;
  // 40 ms a point on 2 threads: the 12 points that reach the evaluator take ~240 ms.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string out = (dir / "killed").string();
    execl(SWEEP_DRIVER, SWEEP_DRIVER, sweep.c_str(), out.c_str(), "2", "40", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once it has written a few rows (polling, so a slow machine does not make the test flaky).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    const std::string text = read_text(dir / "killed" / "points.jsonl");
    if (std::count(text.begin(), text.end(), '\n') >= 3 || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it was killed; the test proves nothing";
  const std::string partial = read_text(dir / "killed" / "points.jsonl");
  const auto rows = std::count(partial.begin(), partial.end(), '\n');
  EXPECT_GT(rows, 0);
  EXPECT_LT(rows, 18);
  const Shell resumed = shell(fmt::format("{} {} {} 2 0", SWEEP_DRIVER, sweep, (dir / "killed").string()));
  ASSERT_EQ(resumed.rc, 0) << resumed.output;
  expect_same_files(dir / "reference", dir / "killed");
}

TEST(SweepCli, EditedBaseScenarioIsNotReusedAndTheCommandSaysSo) {
  const fs::path dir = fixture("edited-base");
  const std::string sweep = (dir / "prices.yaml").string();
  cs::test::write_text(sweep, "base: base.yaml\ngrid:\n  price_per_gpu_hour: [2.0, 3.0]\n");
  auto run = [&](const std::string& out, const char* extra) {
    return shell(fmt::format("{} sweep {} -q -j 2 -o {} {}", CLUSTERSIM_BINARY, sweep, (dir / out).string(), extra));
  };
  ASSERT_EQ(run("out", "").rc, 0);
  const std::string before = read_text(dir / "out" / "points.csv");
  // Fewer SMs for communication in the base scenario: every figure of the step changes.
  std::string base = read_text(dir / "base.yaml");
  ASSERT_NE(base.find("comm_sms: 20"), std::string::npos);
  base.replace(base.find("comm_sms: 20"), 12, "comm_sms: 12");
  cs::test::write_text((dir / "base.yaml").string(), base);
  const Shell resumed = run("out", "");
  ASSERT_EQ(resumed.rc, 0) << resumed.output;
  // Said once, at once, even with -q.
  EXPECT_EQ(resumed.output.find("warning: "), resumed.output.rfind("warning: ")) << resumed.output;
  EXPECT_NE(resumed.output.find(fmt::format("warning: {}/points.jsonl: 2 earlier result(s) were not computed from "
                                            "this run's inputs (changed since: the base scenario {})",
                                            (dir / "out").string(), (dir / "base.yaml").string())),
            std::string::npos)
      << resumed.output;
  ASSERT_EQ(run("fresh", "--fresh").rc, 0);
  EXPECT_EQ(read_text(dir / "out" / "points.csv"), read_text(dir / "fresh" / "points.csv"));
  EXPECT_EQ(read_text(dir / "out" / "summary.json"), read_text(dir / "fresh" / "summary.json"));
  EXPECT_NE(read_text(dir / "out" / "points.csv"), before);
}

TEST(SweepCli, MpiRanksGiveTheSingleProcessFiles) {
  if (!have_mpirun()) {
    std::fprintf(stderr, "mpirun not found: skipped\n");
    std::exit(77);
  }
  const fs::path dir = fixture("mpi");
  const std::string sweep = (dir / "sweep.yaml").string();
  ASSERT_EQ(shell(fmt::format("{} {} {} 1 0", SWEEP_DRIVER, sweep, (dir / "single").string())).rc, 0);
  const Shell mpi = shell(fmt::format("mpirun -np 2 --allow-run-as-root --oversubscribe {} {} {} 1 0", SWEEP_DRIVER,
                                    sweep, (dir / "ranks").string()));
  ASSERT_EQ(mpi.rc, 0) << mpi.output;
  expect_same_files(dir / "single", dir / "ranks");
  // 12 of the 18 points reach the evaluator; rank r takes the points i with i % 2 == r.
  EXPECT_NE(mpi.output.find("rank 0 of 2 evaluated 6 points"), std::string::npos) << mpi.output;
  EXPECT_NE(mpi.output.find("rank 1 of 2 evaluated 6 points"), std::string::npos) << mpi.output;
  // The clustersim command itself, under mpirun, with its own evaluator.
  ASSERT_EQ(shell(fmt::format("{} sweep {} -q -o {}", CLUSTERSIM_BINARY, sweep, (dir / "cli-single").string())).rc, 0);
  const Shell cli = shell(fmt::format("mpirun -np 2 --allow-run-as-root --oversubscribe {} sweep {} -q -o {}",
                                    CLUSTERSIM_BINARY, sweep, (dir / "cli-ranks").string()));
  ASSERT_EQ(cli.rc, 0) << cli.output;
  expect_same_files(dir / "cli-single", dir / "cli-ranks");
}

TEST(SweepCli, MpiResumesAPartialJournal) {
  if (!have_mpirun()) {
    std::fprintf(stderr, "mpirun not found: skipped\n");
    std::exit(77);
  }
  const fs::path dir = fixture("mpi-resume");
  const std::string sweep = (dir / "sweep.yaml").string();
  ASSERT_EQ(shell(fmt::format("{} {} {} 2 0", SWEEP_DRIVER, sweep, (dir / "single").string())).rc, 0);
  const std::string journal = read_text(dir / "single" / "points.jsonl");
  size_t cut = 0;
  for (int i = 0; i < 5; ++i) cut = journal.find('\n', cut) + 1;
  fs::create_directories(dir / "ranks");
  cs::test::write_text((dir / "ranks" / "points.jsonl").string(), journal.substr(0, cut + 10));
  const Shell mpi = shell(fmt::format("mpirun -np 2 --allow-run-as-root --oversubscribe {} {} {} 2 0", SWEEP_DRIVER,
                                    sweep, (dir / "ranks").string()));
  ASSERT_EQ(mpi.rc, 0) << mpi.output;
  expect_same_files(dir / "single", dir / "ranks");
}

}  // namespace
