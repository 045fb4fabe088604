// `clustersim calibrate` end to end: compare's exit codes on synthetic profiles, malformed input, check's tally and
// the shape list a scenario produces.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sys/wait.h>
#include <tuple>

#include "calibration/shapes.hpp"
#include "models/ops.hpp"
#include "scenarios/scenario.hpp"
#include "tests/calibration/synthetic.hpp"

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct Outcome {
  int rc = -1;
  std::string out;
};

Outcome run(const std::string& args) {
  Outcome r;
  FILE* p = popen((std::string(CLUSTERSIM_BINARY) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CalibrateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cs_cal_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const json& j) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << j.dump(1);
    return path;
  }
  static json with(std::vector<json> recs) {
    json d = cs::test::base_profile();
    for (auto& r : recs) d["records"].push_back(r);
    return d;
  }
  fs::path dir_;
};

TEST_F(CalibrateCli, CompareExitCodes) {
  const auto base = write("base.json", with({cs::test::timed("rmsnorm", 1000, 990, 1010),
                                             cs::test::timed("rope", 500, 495, 505)}));
  const auto slower = write("slower.json", with({cs::test::timed("rmsnorm", 1200, 1188, 1212),
                                                 cs::test::timed("rope", 500, 495, 505)}));
  const auto faster = write("faster.json", with({cs::test::timed("rmsnorm", 800, 792, 808),
                                                 cs::test::timed("rope", 500, 495, 505)}));
  const auto noisy = write("noisy.json", with({cs::test::timed("rmsnorm", 1100, 800, 1400),
                                               cs::test::timed("rope", 500, 495, 505)}));
  const auto missing = write("missing.json", with({cs::test::timed("rmsnorm", 1000, 990, 1010)}));

  Outcome r = run("calibrate compare " + base + " " + slower);
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("SLOWER"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+20.0%"), std::string::npos) << r.out;
  r = run("calibrate compare " + base + " " + slower + " --threshold 25");
  EXPECT_EQ(r.rc, 0) << r.out;
  r = run("calibrate compare " + base + " " + faster);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("faster"), std::string::npos) << r.out;
  r = run("calibrate compare " + base + " " + noisy);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("noisy"), std::string::npos) << r.out;
  r = run("calibrate compare " + base + " " + missing);
  EXPECT_EQ(r.rc, 1) << r.out;
  r = run("calibrate compare " + base + " " + missing + " --allow-missing");
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST_F(CalibrateCli, MalformedProfileNamesRecordAndField) {
  json bad = with({cs::test::timed("rmsnorm", 1000, 990, 1010)});
  bad["records"][0]["sms"] = "all";
  const auto path = write("bad.json", bad);
  const Outcome r = run("calibrate compare " + path + " " + path);
  EXPECT_EQ(r.rc, 2) << r.out;
  // The line of the bad value in the file as written.
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.find("\"all\"");
  ASSERT_NE(at, std::string::npos);
  const long line = 1 + std::count(text.begin(), text.begin() + long(at), '\n');
  EXPECT_GT(line, 1);
  EXPECT_NE(r.out.find(path + ":" + std::to_string(line) + ": records[0].sms: expected an integer"), std::string::npos)
      << r.out;
}

TEST_F(CalibrateCli, CheckCountsTheScenarioOps) {
  const Outcome r = run("calibrate check --scenario " + std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("profile h800-published"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("112 SMs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ops from records"), std::string::npos) << r.out;
}

// --block lists one block's ops with their durations, labelled in µs; without a scenario there is no block to list,
// and the option is refused rather than ignored.
TEST_F(CalibrateCli, CheckBlockNeedsAScenarioAndSaysItsUnit) {
  const std::string scenario = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml";
  Outcome r = run("calibrate check --scenario " + scenario + " --block 3");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("time (µs)"), std::string::npos) << r.out;
  // 2·4096·2112·7168 FLOPs at DeepGEMM's 1127 TFLOPS on 132 SMs, scaled to the 112 SMs left to compute: 129.7 µs.
  EXPECT_NE(r.out.find("129.7  record"), std::string::npos) << r.out;
  r = run("calibrate check h800-published --block 3");
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("--block requires --scenario"), std::string::npos) << r.out;
  r = run("calibrate check --scenario " + scenario + " --block -1");
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("--block: Value -1 not in range"), std::string::npos) << r.out;
}

TEST_F(CalibrateCli, RunWithoutHarnessSaysWhy) {
  const Outcome r = run("calibrate run " + std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml -o " +
                    (dir_ / "p.json").string() + " --harness " + (dir_ / "nope").string());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("not found"), std::string::npos) << r.out;
}

// A run that measures nothing leaves an existing profile (e.g. a baseline) as it was; only a profile the harness
// wrote and that loads replaces it. The harness here is a script standing in for clustersim-kernels.
TEST_F(CalibrateCli, RunReplacesTheOutputOnlyWithAProfileThatLoads) {
  const std::string scenario = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml";
  const std::string out = (dir_ / "baseline.json").string();
  const std::string before = with({cs::test::timed("rmsnorm", 1000, 990, 1010)}).dump(1);
  const auto good = write("good.json", with({cs::test::timed("rope", 500, 495, 505)}));
  auto harness = [&](const std::string& name, const std::string& body) {
    const auto path = (dir_ / name).string();
    // Arguments: --shapes S --output P --base B --name N --repetitions R.
    std::ofstream(path) << "#!/bin/sh\nout=$4\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
    return path;
  };
  auto content = [&] {
    std::ifstream in(out);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  for (const auto& [body, rc, says] : std::vector<std::tuple<std::string, int, std::string>>{
           {"exit 77", 77, "no CUDA GPU on this machine; nothing measured, " + out + " left as it was"},
           {"exit 3", 2, "kernel harness failed (exit 3), " + out + " left as it was"},
           {"kill -9 $$", 2, "(exit 137: killed by signal 9), " + out + " left as it was"},
           {"exit 0", 2, "exit 0 but no profile written"},
           {"echo '{\"format\": 1}' > \"$out\"", 2, "format: expected a string"}}) {
    std::ofstream(out) << before;
    const Outcome r = run("calibrate run " + scenario + " -o " + out + " --harness " + harness("h.sh", body));
    EXPECT_EQ(r.rc, rc) << body << "\n" << r.out;
    EXPECT_NE(r.out.find(says), std::string::npos) << body << "\n" << r.out;
    EXPECT_EQ(content(), before) << body;
  }
  // A profile written with some kernels failed (exit 1) replaces the output, and the command says what is missing.
  fs::remove(out + ".partial");
  Outcome r = run("calibrate run " + scenario + " -o " + out + " --harness " +
                  harness("h.sh", "cp " + good + " \"$out\"; exit 1"));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("was written without them"), std::string::npos) << r.out;
  EXPECT_EQ(cs::load_profile(out).records.at(0).kernel, "rope");
  r = run("calibrate run " + scenario + " -o " + out + " --harness " + harness("h.sh", "cp " + good + " \"$out\""));
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out + ".partial"));
}

TEST(ShapeList, DeepSeekV3HasEveryLinearLayerAndTheGroupedExperts) {
  const cs::Scenario s = cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  cs::OpsContext c;
  c.seq_len = s.layout.seq_len;
  c.ep = s.layout.ep;
  const cs::ShapeList l = cs::build_shape_list(s.model, c, s.layout.pp, {132, 112, 132});
  EXPECT_EQ(l.sms, (std::vector<int>{132, 112}));
  auto has = [&](const std::string& kernel, const std::string& role, int64_t m, int64_t n, int64_t k, int64_t count) {
    for (const auto& e : l.entries)
      if (e.kernel == kernel && e.role == role && e.shape.m == m && e.shape.n == n && e.shape.k == k &&
          e.shape.count == count)
        return true;
    return false;
  };
  // reference/deepseek-v3.md §5: the V3 shapes (N×K) at 4096 tokens, and the experts as 4 groups × 8192 rows.
  EXPECT_TRUE(has("gemm_fp8", "fprop", 4096, 2112, 7168, 1));
  EXPECT_TRUE(has("gemm_fp8", "fprop", 4096, 24576, 1536, 1));
  EXPECT_TRUE(has("gemm_fp8", "fprop", 4096, 32768, 512, 1));
  EXPECT_TRUE(has("gemm_fp8", "fprop", 4096, 7168, 16384, 1));
  EXPECT_TRUE(has("gemm_fp8", "fprop", 8192, 4096, 7168, 4));
  EXPECT_TRUE(has("gemm_fp8", "fprop", 8192, 7168, 2048, 4));
  EXPECT_TRUE(has("gemm_fp8", "dgrad", 8192, 7168, 4096, 4));
  EXPECT_TRUE(has("gemm_fp8", "wgrad", 4096, 7168, 8192, 4));
  EXPECT_TRUE(has("gemm_bf16", "fprop", 4096, 256, 7168, 1));     // router gate
  EXPECT_TRUE(has("gemm_bf16", "fprop", 4096, 129280, 7168, 1));  // output head
  // Unique entries, and they survive the JSON round trip.
  const cs::ShapeList back = cs::parse_shape_list(cs::shape_list_to_json(l), "l.json");
  ASSERT_EQ(back.entries.size(), l.entries.size());
  for (size_t i = 0; i < l.entries.size(); ++i) {
    EXPECT_EQ(back.entries[i].shape, l.entries[i].shape);
    EXPECT_EQ(back.entries[i].ops, l.entries[i].ops);
    for (size_t j = 0; j < i; ++j)
      EXPECT_FALSE(l.entries[j].kernel == l.entries[i].kernel && l.entries[j].role == l.entries[i].role &&
                   l.entries[j].shape == l.entries[i].shape);
  }
}

TEST(ShapeList, MalformedEntryNamesIt) {
  json d = {{"format", "clustersim-shapes/1"},
            {"sms", {132}},
            {"entries", json::array({{{"kernel", "gemm_fp8"}, {"role", "fprop"},
                                      {"shape", {{"m", 1}, {"n", 1}, {"k", 1}}}},
                                     {{"kernel", "gemm_fp8"}, {"role", "fprop"}, {"shape", {{"m", 0}, {"n", 1}, {"k", 1}}}}})}};
  try {
    cs::parse_shape_list(d.dump(), "s.json");
    FAIL();
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.field(), "entries[1].shape.m") << e.what();
    EXPECT_NE(std::string(e.what()).find("allowed range"), std::string::npos) << e.what();
  }
  d["sms"] = json::array();
  EXPECT_THROW(cs::parse_shape_list(d.dump(), "s.json"), cs::ProfileError);
}

TEST(ShapeList, DuplicateKeyNamesIt) {
  try {
    cs::parse_shape_list(R"({"format": "clustersim-shapes/1", "sms": [132], "sms": [66], "entries": []})", "s.json");
    FAIL();
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.field(), "sms") << e.what();
    EXPECT_NE(std::string(e.what()).find("duplicate key"), std::string::npos) << e.what();
  }
}

// An error in an entry (read as a profile record inside) names the entry's line in the list's own file.
TEST(ShapeList, AnEntryErrorNamesItsLineInTheList) {
  const cs::Scenario s = cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  json d = json::parse(cs::shape_list_to_json(cs::build_shape_list(s.model, cs::ops_context(s.layout), s.layout.pp, {132})));
  d["entries"][3]["shape"]["m"] = -7;
  d["entries"][5]["role"] = "sideways";
  const std::string text = d.dump(1);
  auto line_of = [&](const std::string& what) {
    const size_t at = text.find(what);
    return at == std::string::npos ? -1 : 1 + int(std::count(text.begin(), text.begin() + long(at), '\n'));
  };
  try {
    cs::parse_shape_list(text, "s.json");
    ADD_FAILURE() << "accepted";
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.field(), "entries[3].shape.m") << e.what();
    EXPECT_GT(line_of("\"m\": -7"), 1);
    EXPECT_EQ(e.line(), line_of("\"m\": -7")) << e.what();
  }
  d["entries"][3]["shape"]["m"] = 64;
  const std::string text2 = d.dump(1);
  try {
    cs::parse_shape_list(text2, "s.json");
    ADD_FAILURE() << "accepted";
  } catch (const cs::ProfileError& e) {
    EXPECT_EQ(e.field(), "entries[5].role") << e.what();
    const size_t at = text2.find("\"role\": \"sideways\"");
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(e.line(), 1 + int(std::count(text2.begin(), text2.begin() + long(at), '\n'))) << e.what();
  }
}

// A shape list is edited by hand to time extra shapes: what the harness would not read is refused with the field and
// what is allowed, not dropped (an entry's own "sms" was silently replaced, a misspelt top-level key ignored).
TEST(ShapeList, FieldsTheHarnessWouldNotReadAreRefused) {
  const cs::Scenario s = cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  const json good = json::parse(cs::shape_list_to_json(
      cs::build_shape_list(s.model, cs::ops_context(s.layout), s.layout.pp, {132, 112})));
  ASSERT_NO_THROW(cs::parse_shape_list(good.dump(), "s.json"));
  auto edited = [&](const std::function<void(json&)>& edit) {
    json d = good;
    edit(d);
    return d.dump();
  };
  for (const auto& [edit, field, says] : std::vector<std::tuple<std::function<void(json&)>, std::string, std::string>>{
           {[](json& d) { d["entries"][0]["sms"] = 66; }, "entries[0].sms",
            "unknown field; allowed here: kernel, role, shape, ops (an entry is timed at every SM count"},
           {[](json& d) { d["entries"][2]["median_ns"] = 5; }, "entries[2].median_ns", "unknown field"},
           {[](json& d) { d["smss"] = {66}; }, "smss", "unknown field; allowed here: format, model, sms, routing, entries"},
           {[](json& d) { d["routing"]["top-k"] = 8; }, "routing.top-k", "unknown field"},
           {[](json& d) { d["sms"] = {132, 112, 132}; }, "sms[2]", "132 is given twice (first at sms[0])"},
           {[](json& d) { d["model"] = 5; }, "model", "expected a string, got number"},
           {[](json& d) { d["format"] = 1; }, "format", "expected \"clustersim-shapes/1\", got 1"},
           {[](json& d) { d["entries"][1]["ops"] = {"a", 7}; }, "entries[1].ops[1]", "expected a string (an op name)"},
           {[](json& d) { d["entries"][3]["shape"]["m"] = 0; }, "entries[3].shape.m", "0 is outside the allowed range"},
           {[](json& d) { d["entries"].push_back(d["entries"][4]); }, "entries[" + std::to_string(good["entries"].size()) + "]",
            "duplicates entries[4] ("}}) {
    try {
      cs::parse_shape_list(edited(edit), "dir: odd/s.json");
      ADD_FAILURE() << field << " was accepted";
    } catch (const cs::ProfileError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
      EXPECT_EQ(e.line(), 1) << e.what();  // the text is one line
      EXPECT_NE(std::string(e.what()).find("dir: odd/s.json:1: " + field + ": " + says), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << field << ": not a ProfileError: " << e.what();
    }
  }
}

}  // namespace
