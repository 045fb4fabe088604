// Sweep files: point order, stable ids, how fields are applied to the base scenario, and malformed sweep files
// (each must fail naming the sweep file, the line, the field and what is allowed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "reports/sweep_plan.hpp"
#include "tests/sweep/synthetic_evaluator.hpp"

namespace {

namespace fs = std::filesystem;

// This process's own scratch folder (tests may run in parallel), removed when it exits.
const cs::test::ScratchDir kRoot("clustersim-sweep-plan");

fs::path temp_dir(const std::string& name) {
  const fs::path dir = kRoot.path / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  cs::test::write_text((dir / "base.yaml").string(), cs::test::kTestBase);
  return dir;
}

cs::SweepPlan plan_from(const std::string& name, const std::string& sweep) {
  const fs::path dir = temp_dir(name);
  cs::test::write_text((dir / "sweep.yaml").string(), sweep);
  return cs::load_sweep((dir / "sweep.yaml").string());
}

TEST(SweepPlan, PointsAreNestedLoopsWithTheLastAxisFastest) {
  const cs::SweepPlan plan = plan_from("order", cs::test::kTestSweep);
  ASSERT_EQ(plan.size(), 18u);
  ASSERT_EQ(plan.axes.size(), 3u);  // grid keys in file order, then the zip group
  EXPECT_EQ(plan.name, "test-sweep");
  const auto fields = [&](size_t i) { return cs::point_fields_json(cs::sweep_point(plan, i)); };
  EXPECT_EQ(fields(0), (nlohmann::json{{"schedule.kind", "1f1b"}, {"schedule.comm_sms", 16}, {"cluster.nodes", 128},
                                       {"layout.data_parallel", 64}}));
  EXPECT_EQ(fields(1), (nlohmann::json{{"schedule.kind", "1f1b"}, {"schedule.comm_sms", 16}, {"cluster.nodes", 256},
                                       {"layout.data_parallel", 128}}));
  EXPECT_EQ(fields(2)["schedule.comm_sms"], 24);
  EXPECT_EQ(fields(6)["schedule.kind"], "dualpipe");
  EXPECT_EQ(fields(17), (nlohmann::json{{"schedule.kind", "dualpipev"}, {"schedule.comm_sms", 200},
                                        {"cluster.nodes", 256}, {"layout.data_parallel", 128}}));
}

// A zip list may repeat a value as long as the group's tuples differ (EP64 at two cluster sizes); a repeated tuple is
// a repeated point and is refused. A grid axis may not repeat a value (see MalformedSweep.duplicate_value).
TEST(SweepPlan, ZipListsMayRepeatAValueButNotATuple) {
  const cs::SweepPlan plan = plan_from("zip-repeat", "base: base.yaml\nzip:\n  - cluster.nodes: [64, 128, 256]\n"
                                                     "    layout.expert_parallel: [32, 64, 64]\n");
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(cs::point_fields_json(cs::sweep_point(plan, 2)),
            (nlohmann::json{{"cluster.nodes", 256}, {"layout.expert_parallel", 64}}));
  try {
    plan_from("zip-tuple", "base: base.yaml\nzip:\n  - cluster.nodes: [128, 128]\n    layout.expert_parallel: [64, 64]\n");
    FAIL() << "a repeated tuple was accepted";
  } catch (const cs::ScenarioError& e) {
    EXPECT_EQ(e.line(), 3) << e.what();
    EXPECT_NE(std::string(e.what()).find("this combination of values appears twice"), std::string::npos) << e.what();
  }
}

TEST(SweepPlan, IdsAreUniqueAndFollowTheValuesNotTheAxisOrder) {
  const cs::SweepPlan a = plan_from("ids-a", cs::test::kTestSweep);
  const cs::SweepPlan b = plan_from("ids-b", R"(base: base.yaml
zip:
  - layout.data_parallel: [128, 64]
    cluster.nodes: [256, 128]
grid:
  schedule.comm_sms: [200, 24, 16]
  schedule.kind: [dualpipev, 1f1b, dualpipe]
)");
  std::set<std::string> ids_a, ids_b;
  for (size_t i = 0; i < a.size(); ++i) ids_a.insert(cs::sweep_point(a, i).id);
  for (size_t i = 0; i < b.size(); ++i) ids_b.insert(cs::sweep_point(b, i).id);
  EXPECT_EQ(ids_a.size(), 18u);
  EXPECT_EQ(ids_a, ids_b);
  EXPECT_EQ(cs::sweep_point(a, 5).id, cs::sweep_point(a, 5).id);
  EXPECT_EQ(cs::sweep_point(a, 0).id.size(), 16u);
}

TEST(SweepPlan, FieldsOfPresetsListsAndTopLevelAreApplied) {
  const cs::SweepPlan plan = plan_from("apply", R"(base: base.yaml
grid:
  cluster.nodes: [128]
  layout.data_parallel: [64]
  cluster.fabric.kind: [fat-tree]
  cluster.gpu.memory_bytes: [150000000000]
  training.phases[0].tokens: [2.0e12]
  price_per_gpu_hour: [3.5]
  routing.kind: [zipf]
  routing.zipf_exponent: [1.2]
)");
  const cs::SweepPoint p = cs::sweep_point(plan, 0);
  const cs::Scenario s = cs::load_scenario(cs::apply_point(plan, p), plan.base_path);
  EXPECT_EQ(s.cluster.nodes, 128);
  EXPECT_EQ(s.cluster.node.gpus, 8);  // the rest of the h800-2048 preset is kept
  EXPECT_EQ(s.cluster.fabric.kind, cs::FabricKind::fat_tree);
  EXPECT_EQ(s.cluster.gpu.memory_bytes, 150000000000);
  EXPECT_EQ(s.cluster.gpu.sms, 132);  // the rest of the h800 preset is kept
  EXPECT_EQ(s.layout.dp, 64);
  EXPECT_DOUBLE_EQ(s.phases[0].tokens, 2.0e12);
  EXPECT_DOUBLE_EQ(s.price_per_gpu_hour, 3.5);
  EXPECT_EQ(s.routing.kind, "zipf");
  EXPECT_DOUBLE_EQ(s.routing.zipf_exponent, 1.2);
}

TEST(SweepPlan, ValuesBecomeTypedJson) {
  EXPECT_EQ(cs::yaml_to_json(YAML::Load("8")), 8);
  EXPECT_EQ(cs::yaml_to_json(YAML::Load("2.5")), 2.5);
  EXPECT_EQ(cs::yaml_to_json(YAML::Load("true")), true);
  EXPECT_EQ(cs::yaml_to_json(YAML::Load("1f1b")), "1f1b");
  EXPECT_EQ(cs::yaml_to_json(YAML::Load("\"16\"")), "16");
}

struct Bad {
  std::string name;
  std::string sweep;   // sweep file text (base.yaml is the test base)
  int line;            // expected line in the sweep file
  std::string field;   // expected field
  std::string says;    // expected part of the message
};
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class MalformedSweep : public ::testing::TestWithParam<Bad> {};

TEST_P(MalformedSweep, FailsWithFileLineFieldAndWhatIsAllowed) {
  const Bad& b = GetParam();
  const fs::path dir = temp_dir("bad-" + b.name);
  const std::string path = (dir / "sweep.yaml").string();
  cs::test::write_text(path, b.sweep);
  try {
    cs::load_sweep(path);
    FAIL() << "loaded without error";
  } catch (const cs::ScenarioError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.file(), path) << msg;
    EXPECT_EQ(msg.rfind(path + ":", 0), 0u) << msg;
    EXPECT_EQ(e.line(), b.line) << msg;
    EXPECT_EQ(e.field(), b.field) << msg;
    EXPECT_NE(msg.find(b.says), std::string::npos) << "message: " << msg << "\nexpected to contain: " << b.says;
  }
}

TEST(SweepPlan, DuplicateKeyInTheBaseScenarioNamesTheBase) {
  const fs::path dir = temp_dir("duplicate-in-base");
  const std::string base = (dir / "base.yaml").string();
  cs::test::write_text(base, std::string(cs::test::kTestBase) + "price_per_gpu_hour: 3.0\n");
  cs::test::write_text((dir / "sweep.yaml").string(), "base: base.yaml\ngrid:\n  schedule.comm_sms: [16]\n");
  try {
    cs::load_sweep((dir / "sweep.yaml").string());
    FAIL() << "loaded without error";
  } catch (const cs::ScenarioError& e) {
    EXPECT_EQ(e.file(), base) << e.what();
    EXPECT_EQ(e.line(), 23) << e.what();
    EXPECT_EQ(e.field(), "price_per_gpu_hour") << e.what();
    EXPECT_NE(std::string(e.what()).find("duplicate key (first at line 22)"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sweep, MalformedSweep,
    ::testing::Values(
        Bad{"unknown_field", "base: base.yaml\ngrid:\n  schedule.kind: [1f1b]\n  layout.pipline_parallel: [8]\n", 4,
            "layout.pipline_parallel", "unknown field; allowed here: data_parallel, expert_parallel, global_batch"},
        Bad{"unknown_section", "base: base.yaml\ngrid:\n  clusterr.nodes: [8]\n", 3, "clusterr.nodes",
            "not a field of the base scenario"},
        Bad{"unknown_preset_field", "base: base.yaml\ngrid:\n  cluster.nodez: [8]\n", 3, "cluster.nodez",
            "allowed here:"},
        Bad{"empty_list", "base: base.yaml\ngrid:\n  schedule.comm_sms: []\n", 3, "grid.schedule.comm_sms",
            "expected a non-empty list of values for field schedule.comm_sms, got an empty list"},
        Bad{"not_a_list", "base: base.yaml\ngrid:\n  schedule.comm_sms: 20\n", 3, "grid.schedule.comm_sms",
            "expected a non-empty list of values for field schedule.comm_sms, got \"20\""},
        Bad{"bad_base", "name: x\nbase: ../nowhere/base.yaml\ngrid:\n  schedule.comm_sms: [20]\n", 2, "base",
            "no such scenario file"},
        Bad{"missing_base", "grid:\n  schedule.comm_sms: [20]\n", 1, "base", "required field is missing"},
        Bad{"name_with_a_path", "name: ../../x\nbase: base.yaml\ngrid:\n  schedule.comm_sms: [20]\n", 1, "name",
            "\"../../x\": allowed letters, digits, '.', '_' and '-' (no '/' or '..')"},
        Bad{"bad_integer", "base: base.yaml\ngrid:\n  schedule.comm_sms:\n    - 16\n    - lots\n", 5,
            "schedule.comm_sms", "expected an integer in [0, 100000], got \"lots\""},
        Bad{"bad_choice", "base: base.yaml\ngrid:\n  schedule.kind:\n    - 1f1b\n    - zigzag\n", 5, "schedule.kind",
            "expected one of 1f1b | interleaved | zb1p | dualpipe | dualpipev | custom"},
        Bad{"zip_unequal", "base: base.yaml\nzip:\n  - cluster.nodes: [128, 256]\n    layout.data_parallel: [64]\n", 4,
            "zip[0].layout.data_parallel", "advance together"},
        Bad{"duplicate_value", "base: base.yaml\ngrid:\n  schedule.comm_sms: [16, 16]\n", 3, "grid.schedule.comm_sms",
            "appears twice"},
        Bad{"swept_twice", "base: base.yaml\ngrid:\n  layout.data_parallel: [64]\nzip:\n  - layout.data_parallel: [64]\n",
            5, "zip[0].layout.data_parallel", "swept twice"},
        Bad{"section_and_its_field", "base: base.yaml\ngrid:\n  layout.data_parallel: [64]\n  layout: [{pipeline_parallel: 8}]\n",
            4, "grid.layout", "field layout is a section holding layout.data_parallel, which is swept too"},
        Bad{"field_of_a_zipped_list", "base: base.yaml\nzip:\n  - training.phases: [[{name: a, tokens: 1}]]\n"
            "grid:\n  training.phases[0].tokens: [1]\n",
            3, "zip[0].training.phases", "is a section holding training.phases[0].tokens, which is swept too"},
        Bad{"empty_value", "base: base.yaml\ngrid:\n  schedule.kind:\n    - dualpipe\n    - ~\n", 5, "schedule.kind",
            "value ~ (empty) is not allowed: schedule.kind: required field is missing"},
        Bad{"section_without_a_required_field", "base: base.yaml\ngrid:\n  schedule: [{kind: 1f1b}, {comm_sms: 20}]\n",
            3, "schedule", "schedule.kind: required field is missing (a swept section replaces the base's whole"},
        Bad{"nothing_to_vary", "base: base.yaml\nname: idle\n", 1, "", "at least one field to vary"},
        Bad{"unknown_sweep_key", "base: base.yaml\ngird:\n  schedule.comm_sms: [16]\n", 2, "gird",
            "allowed here: base, grid, name, zip"},
        Bad{"through_a_value", "base: base.yaml\ngrid:\n  layout.pipeline_parallel.x: [1]\n", 3,
            "layout.pipeline_parallel.x", "layout.pipeline_parallel is a value"},
        Bad{"index_out_of_range", "base: base.yaml\ngrid:\n  training.phases[3].tokens: [1]\n", 3,
            "training.phases[3].tokens", "has no element [3]"},
        Bad{"bad_path_syntax", "base: base.yaml\ngrid:\n  layout..data_parallel: [1]\n", 3, "layout..data_parallel",
            "not a field path"},
        Bad{"duplicate_grid_key", "base: base.yaml\ngrid:\n  schedule.comm_sms: [16]\n  schedule.comm_sms: [20]\n", 4,
            "grid.schedule.comm_sms", "duplicate key (first at line 3)"},
        Bad{"duplicate_base", "base: base.yaml\nbase: elsewhere.yaml\ngrid:\n  schedule.comm_sms: [16]\n", 2, "base",
            "duplicate key (first at line 1)"},
        Bad{"duplicate_zip_key", "base: base.yaml\nzip:\n  - {cluster.nodes: [128], cluster.nodes: [256]}\n", 3,
            "zip[0].cluster.nodes", "duplicate key (first at line 3, column 6)"},
        Bad{"duplicate_in_value", "base: base.yaml\ngrid:\n  cluster:\n    - {preset: h800-2048, preset: h800-1024}\n", 4,
            "grid.cluster[0].preset", "duplicate key (first at line 4, column 8)"},
        Bad{"yaml_syntax", "base: base.yaml\ngrid:\n  schedule.comm_sms: [16, 20\n", 4, "", "YAML syntax error"}),
    [](const ::testing::TestParamInfo<Bad>& i) { return i.param.name; });

}  // namespace
