// Running sweeps with the synthetic test evaluator: infeasible points listed with their reason, byte-identical files
// whatever the thread count, resume after a cut-off journal, CSV columns from the evaluator, best point and front.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/csv.hpp"
#include "reports/pareto.hpp"
#include "reports/sweep_output.hpp"
#include "reports/sweep_run.hpp"
#include "tests/sweep/synthetic_evaluator.hpp"

namespace {

namespace fs = std::filesystem;

// This process's own scratch folder (tests may run in parallel), removed when it exits.
const cs::test::ScratchDir kRoot("clustersim-sweep-run");

using cs::test::read_text;

struct Fixture {
  fs::path dir;
  cs::SweepPlan plan;
  explicit Fixture(const std::string& name, const std::string& sweep = cs::test::kTestSweep) {
    dir = kRoot.path / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    cs::test::write_text((dir / "base.yaml").string(), cs::test::kTestBase);
    cs::test::write_text((dir / "sweep.yaml").string(), sweep);
    plan = cs::load_sweep((dir / "sweep.yaml").string());
  }
  nlohmann::json run(const std::string& out, int jobs, const cs::Evaluator& eval = cs::test::synthetic_figures,
                     bool resume = true) {
    return cs::run_sweep(plan, eval, cs::SweepOptions{(dir / out).string(), jobs, resume, {}, {}});
  }
};

const nlohmann::json& point(const nlohmann::json& summary, const nlohmann::json& fields_subset) {
  for (const auto& p : summary["points"]) {
    bool all = true;
    for (auto it = fields_subset.begin(); it != fields_subset.end(); ++it) all = all && p["fields"][it.key()] == *it;
    if (all) return p;
  }
  throw std::runtime_error("no such point: " + fields_subset.dump());
}

TEST(SweepRun, InfeasiblePointsAreListedWithTheirReason) {
  Fixture f("infeasible");
  const nlohmann::json s = f.run("out", 2);
  EXPECT_EQ(s["counts"], (nlohmann::json{{"points", 18}, {"ok", 10}, {"infeasible", 8}, {"error", 0}, {"pending", 0}}));
  const auto& rejected = point(s, {{"schedule.comm_sms", 200}, {"schedule.kind", "1f1b"}, {"cluster.nodes", 128}});
  EXPECT_EQ(rejected["status"], "infeasible");
  const std::string why = rejected["reason"];
  EXPECT_NE(why.find("base.yaml:13:"), std::string::npos) << why;  // the base file's line of comm_sms
  EXPECT_NE(why.find("schedule.comm_sms: must leave SMs for compute"), std::string::npos) << why;
  EXPECT_TRUE(rejected["result"].empty());
  const auto& too_big = point(s, {{"schedule.comm_sms", 16}, {"schedule.kind", "dualpipe"}, {"cluster.nodes", 128}});
  EXPECT_EQ(too_big["status"], "infeasible");
  EXPECT_EQ(too_big["reason"], "does not fit in memory");
  EXPECT_EQ(too_big["result"]["fits"], false);  // the evaluator's figures are kept
  const auto& ok = point(s, {{"schedule.comm_sms", 16}, {"schedule.kind", "dualpipe"}, {"cluster.nodes", 256}});
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_EQ(ok["result"]["peak_memory_gib"].size(), 16u);
}

TEST(SweepRun, FilesAreByteIdenticalWhateverTheThreadCount) {
  Fixture f("determinism");
  f.run("one", 1);
  f.run("four", 4);
  for (const char* file : {"points.jsonl", "points.csv", "summary.json"}) {
    const std::string a = read_text(f.dir / "one" / file), b = read_text(f.dir / "four" / file);
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_EQ(a, b) << file;
  }
}

TEST(SweepRun, SummaryAndCsvAreInPlanOrder) {
  Fixture f("order");
  const nlohmann::json s = f.run("out", 3);
  ASSERT_EQ(s["points"].size(), 18u);
  for (size_t i = 0; i < 18; ++i) EXPECT_EQ(s["points"][i]["id"], cs::sweep_point(f.plan, i).id) << i;
  std::istringstream csv(read_text(f.dir / "out" / "points.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line,
            "id,schedule.kind,schedule.comm_sms,cluster.nodes,layout.data_parallel,status,reason,bubble_s,"
            "calibration.profile,calibration.source,days,fits,gpu_hours_per_trillion_tokens,mfu,peak_memory_gib,"
            "step_time_s,tokens_per_s_per_gpu,total_cost_usd,total_gpu_hours");
  for (size_t i = 0; i < 18; ++i) {
    ASSERT_TRUE(std::getline(csv, line));
    EXPECT_EQ(line.rfind(cs::sweep_point(f.plan, i).id + ",", 0), 0u) << line;
  }
  EXPECT_FALSE(std::getline(csv, line));
}

TEST(SweepRun, ResultKeysThatRepeatASweptFieldGetTheirOwnColumn) {
  Fixture f("echo", "base: base.yaml\ngrid:\n  price_per_gpu_hour: [2.0, 3.5]\n");
  f.run("out", 1, [](const cs::Scenario& s) {
    return nlohmann::json{{"price_per_gpu_hour", s.price_per_gpu_hour}, {"gpus", s.layout.gpus()}};
  });
  std::istringstream csv(read_text(f.dir / "out" / "points.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header, "id,price_per_gpu_hour,status,reason,gpus,result.price_per_gpu_hour");
  EXPECT_EQ(row, cs::sweep_point(f.plan, 0).id + ",2.0,ok,,2048,2.0");
}

TEST(SweepRun, ResumeRunsOnlyMissingPointsAndDropsAHalfWrittenLine) {
  Fixture f("resume");
  f.run("reference", 2);
  const std::string journal = read_text(f.dir / "reference" / "points.jsonl");
  // A run killed after 7 whole rows, in the middle of writing the 8th.
  size_t cut = 0;
  for (int i = 0; i < 7; ++i) cut = journal.find('\n', cut) + 1;
  const size_t half = cut + (journal.find('\n', cut) - cut) / 2;
  fs::create_directories(f.dir / "killed");
  cs::test::write_text((f.dir / "killed" / "points.jsonl").string(), journal.substr(0, half));
  std::atomic<int> calls{0};
  const cs::Evaluator counting = [&](const cs::Scenario& s) {
    ++calls;
    return cs::test::synthetic_figures(s);
  };
  f.run("killed", 2, counting);
  // 18 points − 7 kept rows; the 6 points the loader rejects never reach the evaluator.
  int rejected_kept = 0;
  std::istringstream kept(journal.substr(0, cut));
  for (std::string line; std::getline(kept, line);)
    if (line.find("must leave SMs") != std::string::npos) ++rejected_kept;
  EXPECT_EQ(calls.load(), 18 - 7 - (6 - rejected_kept));
  for (const char* file : {"points.jsonl", "points.csv", "summary.json"})
    EXPECT_EQ(read_text(f.dir / "killed" / file), read_text(f.dir / "reference" / file)) << file;
  // Nothing left to run: a second resume evaluates nothing and changes nothing.
  calls = 0;
  f.run("killed", 2, counting);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(read_text(f.dir / "killed" / "points.jsonl"), journal);
}

TEST(SweepRun, FreshDiscardsEarlierResults) {
  Fixture f("fresh");
  f.run("out", 2);
  std::atomic<int> calls{0};
  f.run("out", 2, [&](const cs::Scenario& s) { ++calls; return cs::test::synthetic_figures(s); }, false);
  EXPECT_EQ(calls.load(), 12);  // every point the loader accepts
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(std::ifstream(f.dir / "out" / "points.jsonl").rdbuf()), {},
                       '\n'),
            18);
}

TEST(SweepRun, RowsOfOtherSweepsAreIgnoredAndCorruptRowsNamed) {
  Fixture f("foreign");
  fs::create_directories(f.dir / "out");
  cs::test::write_text((f.dir / "out" / "points.jsonl").string(),
                       R"({"id":"0123456789abcdef","fields":{},"status":"ok","result":{}})"
                       "\n");
  cs::SweepJournal journal((f.dir / "out").string(), f.plan, true);
  EXPECT_TRUE(journal.rows().empty());
  ASSERT_EQ(journal.warnings().size(), 1u);
  EXPECT_NE(journal.warnings()[0].find("points.jsonl:1: point 0123456789abcdef is not in this sweep"),
            std::string::npos);
  cs::test::write_text((f.dir / "out" / "points.jsonl").string(), "{\"id\": 1}\nnot json\n");
  try {
    cs::SweepJournal bad((f.dir / "out").string(), f.plan, true);
    FAIL() << "a corrupt journal was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("points.jsonl:1: not a sweep result row"), std::string::npos) << e.what();
  }
}

TEST(SweepRun, EvaluatorFailuresAreErrorsNotCrashes) {
  Fixture f("errors");
  const nlohmann::json s = f.run("out", 2, [](const cs::Scenario& sc) -> nlohmann::json {
    if (sc.schedule.kind == "dualpipev") throw std::runtime_error("no schedule for you");
    if (sc.schedule.comm_sms == 24) return 42;
    return cs::test::synthetic_figures(sc);
  });
  const auto& thrown = point(s, {{"schedule.kind", "dualpipev"}, {"schedule.comm_sms", 16}, {"cluster.nodes", 256}});
  EXPECT_EQ(thrown["status"], "error");
  EXPECT_EQ(thrown["reason"], "evaluation failed: no schedule for you");
  const auto& not_object = point(s, {{"schedule.kind", "1f1b"}, {"schedule.comm_sms", 24}, {"cluster.nodes", 256}});
  EXPECT_EQ(not_object["status"], "error");
  EXPECT_NE(not_object["reason"].get<std::string>().find("must return a JSON object"), std::string::npos);
  // dualpipev at 16 and 24 SMs (throws), 1f1b and dualpipe at 24 SMs (not an object), × 2 cluster sizes; the 200-SM
  // points never reach the evaluator.
  EXPECT_EQ(s["counts"]["error"], (2 + 2) * 2);
}

TEST(SweepRun, BestPointAndParetoFrontMatchABruteForceCheck) {
  Fixture f("pareto");
  const nlohmann::json s = f.run("out", 2);
  std::vector<nlohmann::json> ok;
  for (const auto& p : s["points"])
    if (p["status"] == "ok") ok.push_back(p);
  ASSERT_EQ(ok.size(), 10u);
  auto gh = [](const nlohmann::json& p) { return p["result"]["total_gpu_hours"].get<double>(); };
  auto days = [](const nlohmann::json& p) { return p["result"]["days"].get<double>(); };
  std::set<std::string> expected_front;
  for (const auto& p : ok) {
    bool dominated = false;
    for (const auto& q : ok)
      dominated = dominated || (gh(q) <= gh(p) && days(q) <= days(p) && (gh(q) < gh(p) || days(q) < days(p)));
    if (!dominated) expected_front.insert(p["id"]);
  }
  std::set<std::string> front;
  for (const auto& o : s["pareto"]) front.insert(o["id"]);
  EXPECT_EQ(front, expected_front);
  EXPECT_GE(front.size(), 2u);  // the test double has a real trade-off: more GPUs, fewer days, more GPU-hours
  const auto best = *std::min_element(ok.begin(), ok.end(), [&](auto& a, auto& b) { return gh(a) < gh(b); });
  EXPECT_EQ(s["best"]["id"], best["id"]);
  EXPECT_EQ(s["best"]["total_gpu_hours"], gh(best));
  EXPECT_EQ(s["best"]["fields"], best["fields"]);
}

TEST(Pareto, TiesAndDuplicates) {
  using O = cs::Objectives;
  const std::vector<O> pts{{0, 10, 5}, {1, 10, 4}, {2, 8, 6}, {3, 12, 1}, {4, 8, 6}, {5, 9, 7}, {6, 13, 1}};
  EXPECT_EQ(cs::best_point(pts), 2u);  // 8 GPU-hours; 2 and 4 tie exactly, the lower index wins
  std::vector<size_t> front;
  for (const O& o : cs::pareto_front(pts)) front.push_back(o.index);
  EXPECT_EQ(front, (std::vector<size_t>{2, 4, 1, 3}));
  EXPECT_FALSE(cs::best_point({}).has_value());
  EXPECT_TRUE(cs::pareto_front({}).empty());
}

TEST(Csv, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(cs::csv_row({"a", "b,c", "say \"hi\"", "two\nlines", ""}), "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",\n");
}

}  // namespace
