// Malformed scenarios: each edit of the default DeepSeek-V3 scenario must fail with a message naming the file, the line
// of the offending field, the field path and what is allowed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "scenarios/scenario.hpp"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kDefault = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml";

struct Case {
  std::string name;
  std::string find;       // text of the default scenario to replace (must occur exactly once)
  std::string replace;
  std::string field;      // expected field path in the message
  std::string says;       // expected explanation (substring)
  int line_offset = 0;    // error line relative to the line where `find` starts (-1: don't check)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class Malformed : public ::testing::TestWithParam<Case> {};

TEST_P(Malformed, FailsWithFileLineFieldAndWhatIsAllowed) {
  const Case& c = GetParam();
  std::string text = read_text(kDefault);
  const auto pos = text.find(c.find);
  ASSERT_NE(pos, std::string::npos) << "test case edit not found: " << c.find;
  ASSERT_EQ(text.find(c.find, pos + 1), std::string::npos) << "edit is ambiguous: " << c.find;
  const int line = 1 + int(std::count(text.begin(), text.begin() + long(pos), '\n'));
  text.replace(pos, c.find.size(), c.replace);
  // Written beside the default scenario's folder layout so relative files resolve the same way.
  const auto dir = std::filesystem::temp_directory_path() / "clustersim-malformed";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (c.name + ".yaml")).string();
  std::ofstream(path) << text;
  try {
    cs::load_scenario(path);
    FAIL() << c.name << ": loaded without error";
  } catch (const cs::ScenarioError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.file(), path) << msg;
    EXPECT_NE(msg.find(path + ":"), std::string::npos) << msg;
    EXPECT_EQ(e.field(), c.field) << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << "message: " << msg << "\nexpected to contain: " << c.says;
    if (c.line_offset >= 0) { EXPECT_EQ(e.line(), line + c.line_offset) << msg; }
  }
}

// clang-format off
const Case kCases[] = {
  {"unknown_top_key", "\nseed: 1\n", "\nseed: 1\nsede: 2\n", "sede", "unknown field; allowed here:", 2},
  {"unknown_layout_key", "  tensor_parallel: 1 ", "  tensor_paralel: 1 ", "layout.tensor_paralel", "unknown field", 0},
  {"unknown_fabric_key", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  fabric:\n    plains: 8\n", "cluster.fabric.plains", "unknown field", 3},
  {"pp_not_integer", "pipeline_parallel: 16 ", "pipeline_parallel: sixteen ", "layout.pipeline_parallel", "expected an integer in [1, 4096], got \"sixteen\"", 0},
  {"pp_zero", "pipeline_parallel: 16 ", "pipeline_parallel: 0 ", "layout.pipeline_parallel", "expected an integer in [1, 4096], got 0", 0},
  {"dp_fraction", "data_parallel: 128 ", "data_parallel: 127.5 ", "layout.data_parallel", "expected an integer", 0},
  {"micro_batch_list", "micro_batch: 1 ", "micro_batch: [1, 2] ", "layout.micro_batch", "got a list", 0},
  {"missing_dp", "  data_parallel: 128 ", "  # data_parallel removed ", "layout.data_parallel", "required field is missing", -1},
  {"layout_not_map", "layout:\n", "layout: 16\nlayout_was:\n", "layout", "expected a mapping of fields", 0},
  {"product_mismatch", "data_parallel: 128 ", "data_parallel: 64  ", "layout.data_parallel", "must equal the cluster's GPUs (nodes × gpus_per_node = 256 × 8 = 2048)", 0},
  {"experts_not_divisible", "expert_parallel: 64 ", "expert_parallel: 48 ", "layout.expert_parallel", "256 routed experts must divide evenly over expert_parallel", 0},
  {"ep_not_dividing_dp", "expert_parallel: 64 ", "expert_parallel: 256", "layout.expert_parallel", "expert_parallel must divide it", 0},
  {"dualpipe_odd_pp", "  pipeline_parallel: 16 ", "  pipeline_parallel: 1  ", "layout.pipeline_parallel", "DualPipe needs an even pipeline_parallel, got 1", 0},
  {"dualpipe_pp_odd_2", "  pipeline_parallel: 16           # [TR] §3.2\n  expert_parallel: 64             # [TR] §3.2: EP64 spanning 8 nodes\n  data_parallel: 128 ",
                      "  pipeline_parallel: 2\n  expert_parallel: 64             # [TR] §3.2: EP64 spanning 8 nodes\n  data_parallel: 1023 ",
   "layout.data_parallel", "2 × 1023 × 1 = 2046 must equal the cluster's GPUs", 2},
  {"dualpipe_few_microbatches", "  global_batch: 15360             # [TR] §4.2: sequences per step after the ramp",
                                "  global_batch: 3840", "layout.global_batch", "DualPipe needs an even number of micro-batches ≥ 2 × pipeline_parallel = 32", 0},
  {"batch_not_divisible", "  global_batch: 15360             # [TR] §4.2: sequences per step after the ramp\nschedule:\n  kind: dualpipe",
                          "  global_batch: 15000\nschedule:\n  kind: 1f1b", "layout.global_batch", "must be a multiple of data_parallel × micro_batch = 128 × 1 = 128", 0},
  {"node_limit_too_many", "max_nodes: 4 ", "max_nodes: 9 ", "routing.max_nodes", "node-limited routing asks for up to 9 nodes, but an expert-parallel group of 64 GPUs spans only 8 node(s)", 0},
  {"schedule_kind_unknown", "kind: dualpipe\n", "kind: gpipe\n", "schedule.kind", "expected one of 1f1b | interleaved | zb1p | dualpipe | dualpipev | custom", 0},
  {"comm_sms_too_many", "comm_sms: 20 ", "comm_sms: 132 ", "schedule.comm_sms", "allowed 0 to 131", 0},
  {"comm_sms_negative", "comm_sms: 20 ", "comm_sms: -1 ", "schedule.comm_sms", "expected an integer in [0, 100000], got -1", 0},
  {"virtual_stages_without_interleaved", "  tensor_parallel: 1 ", "  virtual_stages: 2\n  tensor_parallel: 1 ", "layout.virtual_stages", "only the interleaved schedule uses virtual_stages", 0},
  {"custom_schedule_missing_file", "kind: dualpipe\n", "kind: custom\n  file: no-such-file.yaml\n", "schedule.file", "no such schedule file", 1},
  {"overlap_fb_without_dualpipe", "kind: dualpipe\n", "kind: zb1p\n  overlap_fb: false\n", "schedule.overlap_fb", "only DualPipe and DualPipeV overlap F&B pairs; schedule zb1p runs none", 1},
  {"phase_overlap_fb_without_dualpipe", "schedule: {kind: 1f1b}\n    # 480", "schedule: {kind: 1f1b, overlap_fb: false}\n    # 480", "training.phases[1].schedule.overlap_fb", "schedule 1f1b runs none", 0},
  {"file_without_custom", "kind: dualpipe\n", "kind: dualpipe\n  file: x.yaml\n", "schedule.file", "only a custom schedule (kind: custom) takes a file", 1},
  {"unknown_model_preset", "model: deepseek-v3\n", "model: deepseek-v4\n", "model", "no models preset named \"deepseek-v4\" (known: deepseek-v2, deepseek-v3, llama-3.1-405b)", 0},
  {"unknown_cluster_preset", "cluster: h800-2048\n", "cluster: h900-2048\n", "cluster", "no clusters preset named \"h900-2048\"", 0},
  {"model_override_bad_type", "model: deepseek-v3\n", "model:\n  preset: deepseek-v3\n  top_k: many\n", "model.top_k", "expected an integer", 2},
  {"model_override_topk_too_big", "model: deepseek-v3\n", "model:\n  preset: deepseek-v3\n  top_k: 300\n", "model.top_k", "top_k must be in [1, routed_experts = 256]", 2},
  {"model_override_unknown", "model: deepseek-v3\n", "model:\n  preset: deepseek-v3\n  experts: 300\n", "model.experts", "unknown field; allowed here:", 2},
  {"model_groups_hold_fewer_than_topk", "model: deepseek-v3\n", "model:\n  preset: deepseek-v3\n  expert_groups: 64\n  topk_groups: 1\n", "model.topk_groups", "so topk_groups × 4 must be ≥ 8 (allowed: topk_groups in [2, expert_groups = 64]); got 1", 3},
  {"model_attention_kind", "model: deepseek-v3\n", "model:\n  preset: deepseek-v3\n  attention: flash\n", "model.attention", "expected one of gqa | mla", 2},
  {"fabric_kind_unknown", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  fabric: {kind: torus}\n", "cluster.fabric.kind", "expected one of multi-plane-fat-tree | multi-rail-fat-tree | fat-tree", 2},
  {"fabric_planes_vs_nics", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  fabric: {planes: 4}\n", "cluster.fabric.planes", "must equal nics_per_node (8), got 4", 2},
  {"fabric_too_big", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  nodes: 4096\n", "cluster.nodes", "4096 endpoints per plane exceed a two-layer fat tree of 64-port switches (2048 = ports²/2)", 2},
  {"gpus_mismatch_nodes", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  nodes: 128\n", "layout.data_parallel", "must equal the cluster's GPUs (nodes × gpus_per_node = 128 × 8 = 1024)", -1},
  {"fabric_capacity", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  fabric: {switch_ports: 16}\n", "cluster.nodes", "exceed a two-layer fat tree of 16-port switches", -1},
  {"ib_efficiency_range", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  fabric: {ib_efficiency: 1.5}\n", "cluster.fabric.ib_efficiency", "expected a number in [0.01, 1], got 1.5", 2},
  {"price_negative", "price_per_gpu_hour: 2.0 ", "price_per_gpu_hour: -2 ", "price_per_gpu_hour", "expected a number in [0, 1000000], got -2", 0},
  {"price_missing", "price_per_gpu_hour: 2.0           # [TR] Table 1: $2 per H800 GPU-hour\n", "", "price_per_gpu_hour", "required field is missing", -1},
  {"routing_kind", "kind: balanced ", "kind: uniformish ", "routing.kind", "expected one of balanced | random | zipf | file", 0},
  {"zipf_without_exponent", "kind: balanced ", "kind: zipf ", "routing.zipf_exponent", "required with kind: zipf", -1},
  {"routing_file_missing", "kind: balanced ", "kind: file\n  load_file: nowhere.txt\n ", "routing.load_file", "no such load file", 1},
  {"network_mode", "mode: flow\n", "mode: packet\n", "network.mode", "expected one of flow | coflow", 0},
  {"network_backend", "mode: flow\n", "mode: flow\n  backend: ns3\n", "network.backend", "expected one of native | simgrid", 1},
  {"simgrid_backend_too_big", "mode: flow\n", "mode: flow\n  backend: simgrid\n", "network.backend", "the simgrid backend is for clusters of at most 256 GPUs (this step runs on 2048)", -1},
  {"phase_tokens_and_steps", "      tokens: 14.8e12             # [TR] §4.2; global batch: layout.global_batch\n", "      tokens: 14.8e12\n      steps: 10\n", "training.phases[0]", "a phase needs exactly one of tokens, steps or gpu_hours", -1},
  {"phase_ramp_from_too_big", "from: 3072 ", "from: 30720 ", "training.phases[0].batch_ramp.from", "expected an integer in [1, 15360], got 30720", 0},
  {"phase_ramp_not_divisible", "from: 3072 ", "from: 3000 ", "training.phases[0].batch_ramp.from", "ramp start 3000 must be a multiple of data_parallel × micro_batch = 128", 0},
  {"phase_ramp_shape", "shape: linear ", "shape: cosine ", "training.phases[0].batch_ramp.shape", "expected one of linear | step", 0},
  // The projection walks a ramp a step at a time: 14.8e12 tokens from 128 sequences of 4096 is up to 2.8e7 steps.
  {"phase_ramp_too_long", "from: 3072                # [TR] §4.2: 3072 → 15360 over the first 469B tokens\n        over_tokens: 469e9", "from: 128\n        over_tokens: 14.8e12", "training.phases[0].batch_ramp.over_tokens", "takes up to 2.82e+07 steps; at most 10000000 are allowed", 1},
  {"phase_batch_not_divisible", "      global_batch: 1920\n", "      global_batch: 1900\n", "training.phases[1].global_batch", "in phase \"context-extension-32k\": global batch 1900 must be a multiple", 0},
  {"phase_override_ep", "layout: {data_parallel: 32, expert_parallel: 32}", "layout: {data_parallel: 32, expert_parallel: 64}", "training.phases[2].layout.expert_parallel", "in phase \"context-extension-128k\"", 0},
  {"phase_given_with_tokens", "      gpu_hours: 5000 ", "      tokens: 5\n      gpu_hours: 5000 ", "training.phases[3].tokens", "a phase given as gpu_hours takes only name, gpu_hours and source", 0},
  {"phase_given_zero_hours", "      gpu_hours: 5000 ", "      gpu_hours: 0 ", "training.phases[3].gpu_hours", "a phase given as gpu_hours needs a number in (0, 1e12], got 0", 0},
  {"phase_given_without_source", "      source: \"[TR] Table 1: post-training 5K H800 GPU-hours\"\n", "", "training.phases[3].source", "required field is missing", -1},
  {"first_phase_mismatch", "    - name: pre-training\n", "    - name: pre-training\n      global_batch: 7680\n", "training.phases", "the first phase is the scenario's own step", -1},
  {"first_phase_override", "    - name: pre-training\n", "    - name: pre-training\n      nodes: 128\n", "training.phases", "override no layout, schedule or nodes", -1},
  {"yaml_syntax", "layout:\n", "layout: [\n", "", "YAML syntax error", -1},
  {"comm_sms_zero_moe", "comm_sms: 20 ", "comm_sms: 0 ", "schedule.comm_sms", "an MoE model needs at least 1 SM for dispatch/combine: allowed 1 to 131, got 0", 0},
  {"profile_unknown", "calibration_profile: h800-published", "calibration_profile: h900-measured", "calibration_profile", "h900-measured.json (allowed: a profile name from", 0},
  {"too_many_microbatches", "  global_batch: 15360             # [TR] §4.2: sequences per step after the ramp", "  global_batch: 1099511627776", "layout.global_batch", "8589934592 micro-batches per pipeline (global_batch / (data_parallel × micro_batch)) on 16 pipeline ranks is too large a step to simulate; allowed at most 65536", 0},
  {"phase_name_twice", "    - name: context-extension-32k\n", "    - name: pre-training\n", "training.phases[1].name", "phase name \"pre-training\" is already used by phases[0]", 0},
  {"pp_quoted", "pipeline_parallel: 16 ", "pipeline_parallel: \"16\" ", "layout.pipeline_parallel", "got the string \"16\" (write the number without quotes)", 0},
  {"pp_leading_zero", "pipeline_parallel: 16 ", "pipeline_parallel: 020 ", "layout.pipeline_parallel", "got 020 (a leading zero reads as octal", 0},
  {"price_quoted", "price_per_gpu_hour: 2.0 ", "price_per_gpu_hour: '2.0' ", "price_per_gpu_hour", "got the string \"2.0\"", 0},
  {"price_misspelt", "price_per_gpu_hour: 2.0 ", "price_per_gpu_hr: 2.0 ", "price_per_gpu_hr", "unknown field; did you mean price_per_gpu_hour? (required here, and missing)", 0},
  {"seq_len_misspelt", "  seq_len: 4096\n", "  seq_lne: 4096\n", "training.seq_lne", "unknown field; did you mean seq_len?", 0},
  {"seq_len_zero", "  seq_len: 4096\n", "  seq_len: 0\n", "training.seq_len", "expected an integer in [1, 16777216], got 0", 0},
  // A repeated key: yaml-cpp keeps both and lookups see the first, so the later value was silently dropped.
  {"duplicate_top_key", "\nseed: 1\n", "\nseed: 1\nseed: 2\n", "seed", "duplicate key (first at line 55)", 2},
  {"duplicate_layout_key", "  pipeline_parallel: 16 ", "  pipeline_parallel: 16\n  pipeline_parallel: 8 ", "layout.pipeline_parallel", "duplicate key (first at line 8)", 1},
  {"duplicate_flow_key", "layout: {data_parallel: 32, expert_parallel: 32}", "layout: {data_parallel: 32, data_parallel: 64, expert_parallel: 32}", "training.phases[2].layout.data_parallel", "duplicate key (first at line 49, column 16)", 0},
  {"duplicate_phase_key", "      global_batch: 1920\n", "      global_batch: 1920\n      global_batch: 3840\n", "training.phases[1].global_batch", "duplicate key (first at line 39)", 1},
  {"duplicate_deep_key", "from: 3072 ", "from: 3072\n        from: 6144 ", "training.phases[0].batch_ramp.from", "duplicate key (first at line 32)", 1},
  {"duplicate_cluster_key", "cluster: h800-2048\n", "cluster:\n  preset: h800-2048\n  nodes: 256\n  nodes: 128\n", "cluster.nodes", "duplicate key (first at line 8)", 3},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Scenarios, Malformed, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

TEST(Scenario, DefaultLoads) {
  const cs::Scenario s = cs::load_scenario(kDefault);
  EXPECT_EQ(s.cluster.gpus(), 2048);
  EXPECT_EQ(s.layout.pp, 16);
  EXPECT_EQ(s.layout.ep, 64);
  EXPECT_EQ(s.layout.dp, 128);
  EXPECT_EQ(s.layout.micro_batches(), 120);
  EXPECT_EQ(s.layout.seq_len, 4096);
  EXPECT_EQ(s.model.layers, 61);
  EXPECT_EQ(s.model.routed_experts, 256);
  EXPECT_EQ(s.cluster.gpu.sms, 132);
  EXPECT_EQ(s.schedule.comm_sms, 20);
  ASSERT_EQ(s.phases.size(), 4u);
  EXPECT_DOUBLE_EQ(s.phases[0].tokens, 14.8e12);
  ASSERT_TRUE(s.phases[0].ramp.has_value());
  EXPECT_EQ(s.phases[0].ramp->from, 3072);
  EXPECT_EQ(s.phases[2].nodes, 64);
  EXPECT_EQ(s.phases[2].layout.dp, 32);
  EXPECT_EQ(s.phases[2].layout.ep, 32);
  EXPECT_EQ(s.phases[2].layout.micro_batches(), 15);
  EXPECT_EQ(s.phases[1].schedule.kind, "1f1b");
  EXPECT_FALSE(s.phases[3].simulated());
  EXPECT_DOUBLE_EQ(s.phases[3].given_gpu_hours, 5000);
  EXPECT_DOUBLE_EQ(s.price_per_gpu_hour, 2.0);
}

TEST(Scenario, DuplicateKeyMessage) {
  // Checked as the file is loaded, before any field is read: the message is the whole story.
  const auto dir = std::filesystem::temp_directory_path() / "clustersim-malformed";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "duplicate-message.yaml").string();
  std::ofstream(path) << "name: x\nlayout:\n  pipeline_parallel: 16\n  pipeline_parallel: 8\n";
  try {
    cs::load_scenario(path);
    FAIL() << "loaded without error";
  } catch (const cs::ScenarioError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":4:3: layout.pipeline_parallel: duplicate key (first at line 3); a key "
                                              "may appear only once in a mapping");
  }
}

// A second YAML document after `---` was silently ignored, and a folder gave a stream error naming no file.
TEST(Scenario, SecondDocumentAndFolderAreRefused) {
  const auto dir = std::filesystem::temp_directory_path() / "clustersim-malformed";
  std::filesystem::create_directories(dir / "a-folder.yaml");
  const std::string two = (dir / "two-documents.yaml").string();
  std::ofstream(two) << "name: x\n---\nprice_per_gpu_hour: 99\n";
  for (const auto& [path, says] : {std::pair<std::string, std::string>{two, two + ":3:1: the file holds 2 YAML documents"},
                                   {(dir / "a-folder.yaml").string(), "is a folder, not a YAML file"}}) {
    try {
      cs::load_scenario(path);
      ADD_FAILURE() << path << ": loaded without error";
    } catch (const cs::ScenarioError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_EQ(e.file(), path);
    }
  }
}

TEST(Scenario, DuplicateKeyInAPresetFileNamesThePreset) {
  // A copy of the shipped presets with one cluster field given twice, found through $CLUSTERSIM_PRESETS.
  const auto dir = std::filesystem::temp_directory_path() / "clustersim-malformed" / "presets";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* kind : {"models", "gpus", "clusters"})
    std::filesystem::copy(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/" + kind, dir / kind,
                          std::filesystem::copy_options::recursive);
  const std::string preset = (dir / "clusters" / "h800-2048.yaml").string();
  std::string text = read_text(preset);
  const auto pos = text.find("  planes: 8\n");
  ASSERT_NE(pos, std::string::npos);
  const int line = 1 + int(std::count(text.begin(), text.begin() + long(pos), '\n'));
  text.insert(pos, "  planes: 8\n");
  std::ofstream(preset) << text;
  struct Env {  // the other tests of this process read the shipped presets
    Env(const std::string& v) { setenv("CLUSTERSIM_PRESETS", v.c_str(), 1); }
    ~Env() { unsetenv("CLUSTERSIM_PRESETS"); }
  } env(dir.string());
  try {
    cs::load_scenario(kDefault);
    FAIL() << "loaded without error";
  } catch (const cs::ScenarioError& e) {
    EXPECT_EQ(e.file(), preset) << e.what();
    EXPECT_EQ(e.line(), line + 1) << e.what();
    EXPECT_EQ(e.field(), "fabric.planes") << e.what();
    EXPECT_NE(std::string(e.what()).find(fmt::format("duplicate key (first at line {})", line)), std::string::npos)
        << e.what();
  }
}

TEST(Scenario, AtLeastThirtyMalformedCases) { EXPECT_GE(std::size(kCases), 30u); }

TEST(Scenario, PresetsLoad) {
  for (const char* name : {"deepseek-v3", "deepseek-v2", "llama-3.1-405b"}) {
    const cs::ModelConfig m = cs::load_model_preset(name);
    EXPECT_EQ(m.name, name);
  }
  EXPECT_EQ(cs::load_gpu_preset("h800").memory_bytes, 84943110144LL);
  EXPECT_EQ(cs::load_gpu_preset("h100-sxm").sms, 132);
}

}  // namespace
