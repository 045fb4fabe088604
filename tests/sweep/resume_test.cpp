// Resume reuses only results computed from this run's inputs: after an edit of the base scenario, a preset, the
// calibration profile or the sweep's own settings, the points that read it run again (one warning says why), and
// the files are a fresh run's; unchanged inputs (or values added to the grid) reuse every row; a journal written
// before rows recorded their inputs is run again, not trusted and not a crash.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/sweep_output.hpp"
#include "reports/sweep_run.hpp"
#include "tests/sweep/synthetic_evaluator.hpp"

namespace {

namespace fs = std::filesystem;

const cs::test::ScratchDir kRoot("clustersim-sweep-resume");

using cs::test::read_text;

// `from` replaced by `to` in the file, exactly once.
void edit(const fs::path& p, const std::string& from, const std::string& to) {
  std::string text = read_text(p);
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << p << " has no " << from;
  text.replace(at, from.size(), to);
  cs::test::write_text(p.string(), text);
}

struct Outcome {
  int evaluated = 0;
  std::vector<std::string> warnings;
};

struct Fixture {
  fs::path dir;
  explicit Fixture(const std::string& name, const std::string& sweep = cs::test::kTestSweep,
                   const std::string& base = cs::test::kTestBase) {
    dir = kRoot.path / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    cs::test::write_text((dir / "base.yaml").string(), base);
    cs::test::write_text((dir / "sweep.yaml").string(), sweep);
  }
  // Loads the sweep as its files are now and runs it into `out`.
  Outcome run(const std::string& out, bool resume = true, int jobs = 2) {
    Outcome r;
    std::atomic<int> calls{0};
    const cs::Evaluator counting = [&](const cs::Scenario& s) {
      ++calls;
      return cs::test::synthetic_figures(s);
    };
    cs::run_sweep(cs::load_sweep((dir / "sweep.yaml").string()), counting,
                  cs::SweepOptions{(dir / out).string(), jobs, resume, {},
                                   [&](const std::string& w) { r.warnings.push_back(w); }});
    r.evaluated = calls.load();
    return r;
  }
  std::string file(const std::string& out, const char* name) const { return read_text(dir / out / name); }
};

void expect_same_results(const Fixture& f, const std::string& a, const std::string& b) {
  for (const char* file : {"points.csv", "summary.json"}) {
    EXPECT_FALSE(f.file(a, file).empty()) << file;
    EXPECT_EQ(f.file(a, file), f.file(b, file)) << file;
  }
}

// kTestSweep: 18 points, 12 of which the loader accepts and reach the evaluator.
constexpr int kPoints = 18, kEvaluated = 12;

TEST(SweepResume, EditedBaseScenarioRunsEveryPointAgain) {
  Fixture f("base");
  ASSERT_EQ(f.run("out").evaluated, kEvaluated);
  const std::string old_journal = f.file("out", "points.jsonl"), old_csv = f.file("out", "points.csv");
  edit(f.dir / "base.yaml", "price_per_gpu_hour: 2.0", "price_per_gpu_hour: 3.0");

  const Outcome resumed = f.run("out");
  EXPECT_EQ(resumed.evaluated, kEvaluated);
  ASSERT_EQ(resumed.warnings.size(), 1u);
  const std::string& w = resumed.warnings[0];
  EXPECT_NE(w.find("points.jsonl: 18 earlier result(s) were not computed from this run's inputs"), std::string::npos)
      << w;
  EXPECT_NE(w.find("changed since: the base scenario " + (f.dir / "base.yaml").string() + ")"), std::string::npos)
      << w;
  EXPECT_NE(w.find("their points run again (--fresh discards earlier results)"), std::string::npos) << w;

  ASSERT_EQ(f.run("fresh", false).evaluated, kEvaluated);
  expect_same_results(f, "out", "fresh");
  EXPECT_NE(f.file("out", "points.csv"), old_csv);  // the stale costs are gone
  // The earlier rows stay in the journal, unused; the new rows follow them, in plan order.
  EXPECT_EQ(f.file("out", "points.jsonl"), old_journal + f.file("fresh", "points.jsonl"));

  // Done: a further resume reuses the new rows and has nothing to say.
  const Outcome again = f.run("out");
  EXPECT_EQ(again.evaluated, 0);
  EXPECT_TRUE(again.warnings.empty()) << again.warnings[0];
  expect_same_results(f, "out", "fresh");
}

TEST(SweepResume, UnchangedInputsOrAddedValuesReuseEveryRow) {
  Fixture f("unchanged");
  f.run("out", true, 1);
  const std::string journal = f.file("out", "points.jsonl");
  const Outcome same = f.run("out", true, 3);
  EXPECT_EQ(same.evaluated, 0);
  EXPECT_TRUE(same.warnings.empty()) << same.warnings[0];
  EXPECT_EQ(f.file("out", "points.jsonl"), journal);
  // Comments and values added to the grid are not inputs of the points already run.
  edit(f.dir / "sweep.yaml", "schedule.comm_sms: [16, 24, 200]", "schedule.comm_sms: [16, 24, 200, 32]  # more");
  const Outcome grown = f.run("out");
  EXPECT_EQ(grown.evaluated, 6);  // 32 SMs × 3 schedules × 2 cluster sizes
  EXPECT_TRUE(grown.warnings.empty()) << grown.warnings[0];
  f.run("fresh", false);
  expect_same_results(f, "out", "fresh");
}

TEST(SweepResume, JournalWithoutInputsRunsAgainWithAWarning) {
  Fixture f("old-journal");
  f.run("reference");
  // The same rows as an older clustersim wrote them: no inputs.
  std::istringstream rows(f.file("reference", "points.jsonl"));
  std::string old;
  for (std::string line; std::getline(rows, line);) {
    nlohmann::json row = nlohmann::json::parse(line);
    ASSERT_TRUE(row.contains("inputs")) << line;
    row.erase("inputs");
    old += row.dump() + "\n";
  }
  fs::create_directories(f.dir / "old");
  cs::test::write_text((f.dir / "old" / "points.jsonl").string(), old);

  const Outcome resumed = f.run("old");
  EXPECT_EQ(resumed.evaluated, kEvaluated);
  ASSERT_EQ(resumed.warnings.size(), 1u);
  EXPECT_NE(resumed.warnings[0].find("18 earlier result(s) were not computed from this run's inputs (18 written by an "
                                     "older clustersim that did not record inputs)"),
            std::string::npos)
      << resumed.warnings[0];
  expect_same_results(f, "old", "reference");
  EXPECT_EQ(f.file("old", "points.jsonl"), old + f.file("reference", "points.jsonl"));
}

TEST(SweepResume, RowsNameTheFilesTheirScenarioRead) {
  Fixture f("names");
  f.run("out");
  std::istringstream rows(f.file("out", "points.jsonl"));
  int accepted = 0, rejected = 0;
  for (std::string line; std::getline(rows, line);) {
    const nlohmann::json row = nlohmann::json::parse(line);
    std::vector<std::string> names;
    for (auto it = row["inputs"].begin(); it != row["inputs"].end(); ++it) {
      names.push_back(it.key());
      EXPECT_EQ(it.value().get<std::string>().size(), 16u) << line;
    }
    // A point the loader rejects (200 of 132 SMs) was judged on the GPU preset too, but has no profile to use.
    const std::string reason = row.value("reason", std::string());
    const bool loaded = reason.empty() || reason == "does not fit in memory";
    std::vector<std::string> expected{"base", "clusters:h800-2048", "gpus:h800", "models:deepseek-v3"};
    if (loaded) expected.push_back("profile:h800-published");
    expected.push_back("sweep");
    EXPECT_EQ(names, expected) << line;
    ++(loaded ? accepted : rejected);
  }
  EXPECT_EQ(accepted, kEvaluated);
  EXPECT_EQ(rejected, kPoints - kEvaluated);
}

// Presets from a copy of the shipped ones ($CLUSTERSIM_PRESETS), restored on exit.
struct PresetCopy {
  fs::path dir;
  explicit PresetCopy(const fs::path& to) : dir(to) {
    fs::create_directories(dir);
    for (const char* kind : {"models", "gpus", "clusters"})
      fs::copy(fs::path(CLUSTERSIM_SOURCE_DIR) / "scenarios" / kind, dir / kind, fs::copy_options::recursive);
    setenv("CLUSTERSIM_PRESETS", dir.c_str(), 1);
  }
  ~PresetCopy() { unsetenv("CLUSTERSIM_PRESETS"); }
};

TEST(SweepResume, EditedPresetProfileOrSweepSettingRunsThePointsAgain) {
  const fs::path profile = kRoot.path / "profiles" / "mine.json";
  fs::create_directories(profile.parent_path());
  fs::copy_file(fs::path(CLUSTERSIM_SOURCE_DIR) / "calibration" / "profiles" / "h800-published.json", profile);
  Fixture f("edits", cs::test::kTestSweep,
            std::string(cs::test::kTestBase) + "calibration_profile: " + profile.string() + "\n");
  const PresetCopy presets(f.dir / "presets");
  ASSERT_EQ(f.run("out").evaluated, kEvaluated);

  struct Case {
    fs::path file;
    std::string from, to, named;
    int rerun;  // rows not reused
  };
  const std::vector<Case> cases{
      // Every point reads the GPU preset, also those the loader rejects for its SM count.
      {presets.dir / "gpus" / "h800.yaml", "clock_mhz: 1830", "clock_mhz: 1755", "changed since: GPU preset h800)",
       kPoints},
      {presets.dir / "clusters" / "h800-2048.yaml", "\n", "\n# edited\n", "changed since: cluster preset h800-2048)",
       kPoints},
      // Only the points the loader accepts have a profile.
      {profile, "{", "{ ", "changed since: calibration profile " + profile.string() + ")", kEvaluated},
      {f.dir / "sweep.yaml", "name: test-sweep", "name: renamed",
       "changed since: the settings of " + (f.dir / "sweep.yaml").string() + " other than grid and zip)", kPoints},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file.string());
    edit(c.file, c.from, c.to);
    const Outcome r = f.run("out");
    EXPECT_EQ(r.evaluated, kEvaluated);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find(fmt::format("{} earlier result(s)", c.rerun)), std::string::npos) << r.warnings[0];
    EXPECT_NE(r.warnings[0].find(c.named), std::string::npos) << r.warnings[0];
    fs::remove_all(f.dir / "fresh");
    f.run("fresh", false);
    expect_same_results(f, "out", "fresh");
  }
}

TEST(SweepResume, OnlyThePointsThatReadAChangedFileRunAgain) {
  const fs::path a = kRoot.path / "split-profiles" / "a.json",
                 b = kRoot.path / "split-profiles" / "b.json";
  fs::create_directories(a.parent_path());
  for (const fs::path& p : {a, b})
    fs::copy_file(fs::path(CLUSTERSIM_SOURCE_DIR) / "calibration" / "profiles" / "h800-published.json", p);
  Fixture f("split", fmt::format("base: base.yaml\ngrid:\n  calibration_profile: [{}, {}]\n"
                                 "  price_per_gpu_hour: [2.0, 3.0, 4.0]\n",
                                 a.string(), b.string()));
  ASSERT_EQ(f.run("out").evaluated, 6);
  edit(b, "{", "{ ");
  const Outcome r = f.run("out");
  EXPECT_EQ(r.evaluated, 3);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("3 earlier result(s)"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("changed since: calibration profile " + b.string() + ")"), std::string::npos)
      << r.warnings[0];
  f.run("fresh", false);
  expect_same_results(f, "out", "fresh");
}

}  // namespace
