// `clustersim compare` end to end (the binary) and the comparison itself (in process).
#include <gtest/gtest.h>

#include "tests/cli_run.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "reports/compare.hpp"

namespace {

namespace fs = std::filesystem;

using Result = cs::testing::CliResult;
Result run(const std::string& args, bool with_stderr = true) { return cs::testing::run_cli(args, with_stderr); }

nlohmann::json run_json(const std::string& args) {
  const Result r = run(args, false);
  EXPECT_EQ(r.rc, 0) << r.out;
  return nlohmann::json::parse(r.out);
}

const std::string kDefault = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("clustersim-compare-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir;
}

// Removes the temporary folder when the tests end.
class TempDirCleanup : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(temp_dir()); }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

// A variant of the default scenario: its text with one line replaced (scenario files have no inheritance).
fs::path variant(const std::string& name, const std::string& from, const std::string& to) {
  std::string text = read_file(kDefault);
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  const fs::path p = temp_dir() / name;
  std::ofstream(p) << text;
  return p;
}

const nlohmann::json& row(const nlohmann::json& cmp, const std::string& name) {
  for (const auto& r : cmp["rows"])
    if (r["name"] == name) return r;
  static const nlohmann::json none;
  ADD_FAILURE() << "no row " << name;
  return none;
}

TEST(Compare, ScenarioAgainstItselfHasNoDifferences) {
  const nlohmann::json c = run_json("compare --json " + kDefault + " " + kDefault);
  EXPECT_EQ(c["a"], kDefault);
  EXPECT_EQ(c["b"], kDefault);
  EXPECT_TRUE(c["changed_fields"].empty()) << c["changed_fields"].dump();
  ASSERT_GT(c["rows"].size(), 50u);
  for (const auto& r : c["rows"]) {
    EXPECT_FALSE(r["differs"].get<bool>()) << r.dump();
    EXPECT_EQ(r["a"], r["b"]) << r.dump();
    if (r["a"].is_number()) {
      EXPECT_EQ(r["diff"].get<double>(), 0.0) << r.dump();
      EXPECT_EQ(r["rel"].get<double>(), 0.0) << r.dump();
    }
  }
  // Every kind of figure is there: top level, nested, per stage, per phase, strings and bools.
  for (const char* n : {"step_time_s", "breakdown_s.bubble", "exposed_comm_s.dispatch", "instruction_ms.F&B",
                        "peak_memory_gib[15]", "max(peak_memory_gib)", "phases.pre-training.gpu_hours",
                        "phases.post-training.gpu_hours", "schedule", "calibration.profile", "fits", "days"})
    EXPECT_FALSE(row(c, n).is_null()) << n;
}

TEST(Compare, DualPipeAgainst1F1B) {
  const fs::path b = variant("1f1b.yaml", "kind: dualpipe", "kind: 1f1b");
  const nlohmann::json c = run_json("compare --json " + kDefault + " " + b.string());
  bool schedule_changed = false;
  for (const auto& f : c["changed_fields"]) {
    if (f["field"] == "schedule.kind") {
      schedule_changed = true;
      EXPECT_EQ(f["a"], "dualpipe");
      EXPECT_EQ(f["b"], "1f1b");
    }
  }
  EXPECT_TRUE(schedule_changed) << c["changed_fields"].dump();
  EXPECT_EQ(c["changed_fields"].size(), 1u) << c["changed_fields"].dump();  // the first phase inherits it: not listed

  // The figures are those `clustersim run` gives for each file, and the difference is B − A of them.
  const nlohmann::json ra = run_json("run --json " + kDefault), rb = run_json("run --json " + b.string());
  for (const char* k : {"step_time_s", "bubble_s", "tokens_per_s_per_gpu", "total_gpu_hours", "days"}) {
    const auto& r = row(c, k);
    EXPECT_EQ(r["a"].get<double>(), ra[k].get<double>()) << k;
    EXPECT_EQ(r["b"].get<double>(), rb[k].get<double>()) << k;
    EXPECT_DOUBLE_EQ(r["diff"].get<double>(), rb[k].get<double>() - ra[k].get<double>()) << k;
    EXPECT_TRUE(r["differs"].get<bool>()) << k;
  }
  const auto& step = row(c, "step_time_s");
  EXPECT_NEAR(step["rel"].get<double>(),
              100 * (rb["step_time_s"].get<double>() / ra["step_time_s"].get<double>() - 1), 1e-9);
  EXPECT_GT(row(c, "bubble_s")["diff"].get<double>(), 0) << "1F1B idles more than DualPipe";
  EXPECT_EQ(row(c, "schedule")["a"], "dualpipe");
  EXPECT_EQ(row(c, "schedule")["b"], "1f1b");
  EXPECT_TRUE(row(c, "schedule")["differs"].get<bool>());
  EXPECT_TRUE(row(c, "schedule")["diff"].is_null());
  // Phases that override the schedule (1F1B in both) are unchanged.
  EXPECT_EQ(row(c, "phases.context-extension-32k.step_time_s")["diff"].get<double>(), 0.0);

  // The text names both files, lists the setting and leads with the headline figures.
  const Result t = run("compare --only-changed " + kDefault + " " + b.string());
  ASSERT_EQ(t.rc, 0) << t.out;
  EXPECT_NE(t.out.find("A  " + kDefault), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("B  " + b.string()), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("schedule.kind  dualpipe → 1f1b"), std::string::npos) << t.out;
  EXPECT_LT(t.out.find("step_time_s"), t.out.find("bubble_s"));
  EXPECT_LT(t.out.find("days"), t.out.find("breakdown_s.bubble"));
  EXPECT_EQ(t.out.find("phases.post-training"), std::string::npos) << "--only-changed lists equal figures";
}

TEST(Compare, WritesBothTraces) {
  const fs::path dir = temp_dir();
  const fs::path ta = dir / "a.trace.json", tb = dir / "b.trace.json";
  const Result r = run("compare " + kDefault + " " + kDefault + " --trace-a " + ta.string() + " --trace-b " +
                       tb.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const fs::path& p : {ta, tb}) {
    ASSERT_TRUE(fs::exists(p)) << p;
    const auto j = nlohmann::json::parse(read_file(p));
    ASSERT_TRUE(j.contains("traceEvents")) << p;
    EXPECT_GT(j["traceEvents"].size(), 100u) << p;
  }
}

TEST(Compare, MalformedSecondFileNamesIt) {
  const fs::path bad = variant("bad.yaml", "pipeline_parallel: 16", "pipeline_parallel: sixteen");
  const Result r = run("compare " + kDefault + " " + bad.string());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find(bad.string() + ":8:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layout.pipeline_parallel"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("step_time_s"), std::string::npos) << "nothing compared: " << r.out;
}

// In process: a phase only B has shows as missing on A's side, and the settings name the phase.
TEST(Compare, PhaseOnlyOneSideHasIsMissingOnTheOther) {
  const fs::path b = variant("extra-phase.yaml", "price_per_gpu_hour:",
                             "    - name: evaluation\n      gpu_hours: 100\n      source: assumed\nprice_per_gpu_hour:");
  const cs::Scenario sa = cs::load_scenario(kDefault), sb = cs::load_scenario(b.string());
  cs::RunOptions o;
  o.timeline = false;
  const cs::Comparison c = cs::compare_scenarios(sa, sb, o).comparison;
  bool found = false;
  for (const cs::CompareRow& r : c.rows)
    if (r.name == "phases.evaluation.gpu_hours") {
      found = true;
      EXPECT_TRUE(r.a.is_null());
      EXPECT_EQ(r.b.get<double>(), 100.0);
      EXPECT_FALSE(r.diff.has_value());
      EXPECT_TRUE(r.differs);
    }
  EXPECT_TRUE(found);
  bool setting = false;
  for (const cs::SettingChange& s : c.changed_fields) setting = setting || s.field == "training.phases.evaluation.gpu_hours";
  EXPECT_TRUE(setting);
  const std::string text = cs::comparison_text(c);
  EXPECT_NE(text.find("phases.evaluation.gpu_hours"), std::string::npos);
}

}  // namespace
