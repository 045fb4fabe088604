// Model, GPU and cluster presets: YAML files whose keys are the fields of ModelConfig / GpuSpec / ClusterSpec.
// A scenario names a preset, or gives the fields inline, or names a preset and overrides some of its fields.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "scenarios/scenario.hpp"
#include "scenarios/sections.hpp"

namespace cs {

namespace {
constexpr int64_t kBig = std::numeric_limits<int32_t>::max();
}

std::string preset_dir() {
  if (const char* env = std::getenv("CLUSTERSIM_PRESETS"); env && *env) return env;
  return CLUSTERSIM_SCENARIO_DIR;
}

std::string preset_path(const std::string& kind, const std::string& name) {
  return (std::filesystem::path(preset_dir()) / kind / (name + ".yaml")).string();
}

std::string input_path(const ScenarioInput& in, const std::string& scenario_file) {
  if (in.kind == "models" || in.kind == "gpus" || in.kind == "clusters") return preset_path(in.kind, in.name);
  return (std::filesystem::path(scenario_file).parent_path() / in.name).string();
}

// Reads every model field, each defaulting to `base`'s value; `complete` = the result must be a whole model.
ModelConfig read_model_fields(YamlSection& s, ModelConfig m, bool complete) {
  m.name = s.text_or("name", m.name);
  m.layers = int(s.integer_or("layers", m.layers, 1, 4096));
  m.dense_layers = int(s.integer_or("dense_layers", m.dense_layers, 0, 4096));
  m.hidden = s.integer_or("hidden", m.hidden, 1, 1 << 20);
  m.vocab = s.integer_or("vocab", m.vocab, 1, 1 << 24);
  m.heads = int(s.integer_or("heads", m.heads, 1, 4096));
  m.tie_embeddings = s.boolean_or("tie_embeddings", m.tie_embeddings);
  m.attention = s.choice_or("attention", m.attention == AttentionKind::mla ? "mla" : "gqa", {"gqa", "mla"}) == "mla"
                    ? AttentionKind::mla
                    : AttentionKind::gqa;
  m.kv_heads = int(s.integer_or("kv_heads", m.kv_heads, 0, 4096));
  m.head_dim = int(s.integer_or("head_dim", m.head_dim, 0, 4096));
  m.q_lora_rank = int(s.integer_or("q_lora_rank", m.q_lora_rank, 0, 1 << 20));
  m.kv_lora_rank = int(s.integer_or("kv_lora_rank", m.kv_lora_rank, 0, 1 << 20));
  m.qk_nope_head_dim = int(s.integer_or("qk_nope_head_dim", m.qk_nope_head_dim, 0, 4096));
  m.qk_rope_head_dim = int(s.integer_or("qk_rope_head_dim", m.qk_rope_head_dim, 0, 4096));
  m.v_head_dim = int(s.integer_or("v_head_dim", m.v_head_dim, 0, 4096));
  m.dense_intermediate = s.integer_or("dense_intermediate", m.dense_intermediate, 0, 1 << 22);
  m.routed_experts = int(s.integer_or("routed_experts", m.routed_experts, 0, 1 << 16));
  m.shared_experts = int(s.integer_or("shared_experts", m.shared_experts, 0, 1 << 10));
  m.expert_intermediate = s.integer_or("expert_intermediate", m.expert_intermediate, 0, 1 << 22);
  m.top_k = int(s.integer_or("top_k", m.top_k, 0, 1 << 10));
  m.expert_groups = int(s.integer_or("expert_groups", m.expert_groups, 0, 1 << 10));
  m.topk_groups = int(s.integer_or("topk_groups", m.topk_groups, 0, 1 << 10));
  m.mtp_depth = int(s.integer_or("mtp_depth", m.mtp_depth, 0, 16));
  {
    const char* cur = m.gemm_precision == Precision::fp8 ? "fp8" : "bf16";
    m.gemm_precision = s.choice_or("gemm_precision", cur, {"fp8", "bf16"}) == "fp8" ? Precision::fp8 : Precision::bf16;
  }
  m.deepseek_recompute = s.boolean_or("deepseek_recompute", m.deepseek_recompute);
  s.finish();
  if (!complete) return m;

  auto need = [&](const char* key, bool ok, const std::string& what) {
    if (!ok) s.fail(key, what);
  };
  need("name", !m.name.empty(), "a model needs a name");
  need("layers", m.layers > 0, "a model needs layers ≥ 1");
  need("hidden", m.hidden > 0, "a model needs hidden ≥ 1");
  need("vocab", m.vocab > 0, "a model needs vocab ≥ 1");
  need("heads", m.heads > 0, "a model needs heads ≥ 1");
  need("dense_layers", m.dense_layers <= m.layers, fmt::format("must be ≤ layers ({})", m.layers));
  if (m.attention == AttentionKind::gqa) {
    need("kv_heads", m.kv_heads > 0 && m.heads % m.kv_heads == 0,
         fmt::format("gqa attention needs kv_heads ≥ 1 dividing heads ({})", m.heads));
    need("head_dim", m.head_dim > 0, "gqa attention needs head_dim ≥ 1");
  } else {
    need("kv_lora_rank", m.kv_lora_rank > 0, "mla attention needs kv_lora_rank ≥ 1");
    need("qk_nope_head_dim", m.qk_nope_head_dim > 0, "mla attention needs qk_nope_head_dim ≥ 1");
    need("qk_rope_head_dim", m.qk_rope_head_dim > 0, "mla attention needs qk_rope_head_dim ≥ 1");
    need("v_head_dim", m.v_head_dim > 0, "mla attention needs v_head_dim ≥ 1");
  }
  if (m.dense_layers > 0) need("dense_intermediate", m.dense_intermediate > 0, "dense blocks need dense_intermediate ≥ 1");
  if (m.dense_layers < m.layers) {
    need("routed_experts", m.routed_experts > 0, "MoE blocks (layers > dense_layers) need routed_experts ≥ 1");
    need("expert_intermediate", m.expert_intermediate > 0, "MoE blocks need expert_intermediate ≥ 1");
    need("top_k", m.top_k >= 1 && m.top_k <= m.routed_experts,
         fmt::format("top_k must be in [1, routed_experts = {}]", m.routed_experts));
    if (m.expert_groups > 0) {
      need("expert_groups", m.routed_experts % m.expert_groups == 0,
           fmt::format("must divide routed_experts ({})", m.routed_experts));
      need("topk_groups", m.topk_groups >= 1 && m.topk_groups <= m.expert_groups,
           fmt::format("must be in [1, expert_groups = {}]", m.expert_groups));
      // Group-limited routing picks a token's top_k experts inside its topk_groups groups: they must hold that many.
      const int per_group = m.routed_experts / m.expert_groups;
      need("topk_groups", int64_t(m.topk_groups) * per_group >= m.top_k,
           fmt::format("a token's top_k = {} experts are chosen inside its topk_groups groups of routed_experts / "
                       "expert_groups = {} / {} = {} experts each, so topk_groups × {} must be ≥ {} (allowed: "
                       "topk_groups in [{}, expert_groups = {}]); got {}",
                       m.top_k, m.routed_experts, m.expert_groups, per_group, per_group, m.top_k,
                       (m.top_k + per_group - 1) / per_group, m.expert_groups, m.topk_groups));
    }
  } else {
    need("routed_experts", m.routed_experts == 0, "a dense model (dense_layers == layers) has no routed experts");
  }
  return m;
}

ModelConfig load_model_file(const std::string& path) {
  YamlSection s(load_yaml_file(path), path, "");
  return read_model_fields(s, ModelConfig{}, true);
}

ModelConfig load_model_preset(const std::string& name) { return load_model_file(preset_path("models", name)); }

GpuSpec read_gpu_fields(YamlSection& s, GpuSpec g, bool complete) {
  g.name = s.text_or("name", g.name);
  g.sms = int(s.integer_or("sms", g.sms, 0, 100000));
  g.bf16_tflops = s.number_or("bf16_tflops", g.bf16_tflops, 0, 1e6);
  g.fp8_tflops = s.number_or("fp8_tflops", g.fp8_tflops, 0, 1e6);
  g.fp32_tflops = s.number_or("fp32_tflops", g.fp32_tflops, 0, 1e6);
  g.hbm_gbps = s.number_or("hbm_gbps", g.hbm_gbps, 0, 1e6);
  g.memory_bytes = s.integer_or("memory_bytes", g.memory_bytes, 0, int64_t(1) << 50);
  g.nvlink_gbps = s.number_or("nvlink_gbps", g.nvlink_gbps, 0, 1e6);
  g.nvlink_achievable_gbps = s.number_or("nvlink_achievable_gbps", g.nvlink_achievable_gbps, 0, 1e6);
  g.clock_mhz = s.number_or("clock_mhz", g.clock_mhz, 0, 1e5);
  s.finish();
  if (complete) {
    for (auto [key, ok] : {std::pair{"name", !g.name.empty()}, {"sms", g.sms > 0}, {"bf16_tflops", g.bf16_tflops > 0},
                           {"fp8_tflops", g.fp8_tflops > 0}, {"hbm_gbps", g.hbm_gbps > 0},
                           {"memory_bytes", g.memory_bytes > 0}, {"nvlink_gbps", g.nvlink_gbps > 0},
                           {"nvlink_achievable_gbps", g.nvlink_achievable_gbps > 0 &&
                                                          g.nvlink_achievable_gbps <= g.nvlink_gbps}})
      if (!ok)
        s.fail(key, std::string(key) == "nvlink_achievable_gbps"
                        ? fmt::format("required for a GPU: allowed 0 < nvlink_achievable_gbps ≤ nvlink_gbps ({}), got {}",
                                      g.nvlink_gbps, g.nvlink_achievable_gbps)
                        : "required for a GPU, must be > 0");
  }
  return g;
}

GpuSpec load_gpu_preset(const std::string& name) {
  const std::string path = preset_path("gpus", name);
  YamlSection s(load_yaml_file(path), path, "");
  return read_gpu_fields(s, GpuSpec{}, true);
}

// `key` may name a preset (a string), give the fields inline (a mapping), or both ({preset: NAME, field: value}).
template <class T, class ReadFn>
T preset_or_inline(YamlSection& parent, const std::string& key, const std::string& kind, ReadFn read,
                   std::vector<ScenarioInput>* inputs) {
  YAML::Node n = parent.raw(key);
  if (!n || n.IsNull()) parent.fail(key, fmt::format("required field is missing: a {} preset name or a mapping", kind));
  auto from_preset = [&](const std::string& name) {
    if (inputs) inputs->push_back({kind, name});
    const std::string path = preset_path(kind, name);
    if (!std::filesystem::exists(path)) {
      std::string known;
      if (std::filesystem::is_directory(std::filesystem::path(preset_dir()) / kind)) {
        std::vector<std::string> names;
        for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(preset_dir()) / kind))
          if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
        std::sort(names.begin(), names.end());
        for (auto& x : names) known += (known.empty() ? "" : ", ") + x;
      }
      parent.fail(key, fmt::format("no {} preset named \"{}\" (known: {})", kind, name, known));
    }
    YamlSection ps(load_yaml_file(path), path, "");
    return read(ps, T{}, true);
  };
  if (n.IsScalar()) return from_preset(n.Scalar());
  YamlSection s = parent.section(key);
  if (s.has("preset")) {
    T base = from_preset(s.text("preset"));
    return read(s, base, true);
  }
  return read(s, T{}, true);
}

ModelConfig read_model(YamlSection& root, std::vector<ScenarioInput>* inputs) {
  return preset_or_inline<ModelConfig>(
      root, "model", "models", [](YamlSection& s, ModelConfig b, bool c) { return read_model_fields(s, b, c); },
      inputs);
}

GpuSpec read_gpu(YamlSection& cluster, std::vector<ScenarioInput>* inputs) {
  return preset_or_inline<GpuSpec>(
      cluster, "gpu", "gpus", [](YamlSection& s, GpuSpec b, bool c) { return read_gpu_fields(s, b, c); }, inputs);
}

namespace {
const std::vector<std::string> kFabricKinds = {"multi-plane-fat-tree", "multi-rail-fat-tree", "fat-tree"};

FabricKind fabric_kind(const std::string& s) {
  if (s == "multi-plane-fat-tree") return FabricKind::multi_plane_fat_tree;
  if (s == "multi-rail-fat-tree") return FabricKind::multi_rail_fat_tree;
  return FabricKind::fat_tree;
}
}  // namespace

ClusterSpec read_cluster_fields(YamlSection& s, ClusterSpec c, bool complete, std::vector<ScenarioInput>* inputs) {
  c.name = s.text_or("name", c.name);
  if (s.has("gpu")) c.gpu = read_gpu(s, inputs);
  else s.raw("gpu");
  c.node.gpus = int(s.integer_or("gpus_per_node", c.node.gpus, 1, 1024));
  c.nodes = int(s.integer_or("nodes", c.nodes, 1, 1 << 20));
  c.node.nics = int(s.integer_or("nics_per_node", c.node.nics, 1, 1024));
  c.node.nic_gbps = s.number_or("nic_gbps", c.node.nic_gbps, 1, 1e5);
  c.node.pcie_gbps = s.number_or("pcie_gbps", c.node.pcie_gbps, 1, 1e5);
  c.node.nvlink_latency_ns = s.integer_or("nvlink_latency_ns", c.node.nvlink_latency_ns, 0, 1000000000);
  if (s.has("fabric")) {
    YamlSection f = s.section("fabric");
    FabricSpec& fb = c.fabric;
    fb.kind = fabric_kind(f.choice_or("kind", fabric_kind_name(fb.kind), kFabricKinds));
    fb.planes = int(f.integer_or("planes", fb.planes, 1, 1024));
    fb.switch_ports = int(f.integer_or("switch_ports", fb.switch_ports, 2, 4096));
    fb.oversubscription = f.number_or("oversubscription", fb.oversubscription, 1, 64);
    fb.link_gbps = f.number_or("link_gbps", fb.link_gbps, 1, 1e5);
    fb.ib_efficiency = f.number_or("ib_efficiency", fb.ib_efficiency, 0.01, 1);
    fb.latency_same_leaf_ns = f.integer_or("latency_same_leaf_ns", fb.latency_same_leaf_ns, 0, 1000000000);
    fb.latency_cross_leaf_ns = f.integer_or("latency_cross_leaf_ns", fb.latency_cross_leaf_ns, 0, 1000000000);
    fb.routing = f.choice_or("routing", fb.routing, {"ecmp-dest", "ecmp-hash"});
    f.finish();
  } else {
    s.raw("fabric");
  }
  s.finish();
  if (complete && c.gpu.name.empty()) s.fail("gpu", "required field is missing: a gpu preset name or a mapping");
  return c;
}

ClusterSpec read_cluster(YamlSection& root, std::vector<ScenarioInput>* inputs) {
  return preset_or_inline<ClusterSpec>(
      root, "cluster", "clusters",
      [inputs](YamlSection& s, ClusterSpec b, bool c) { return read_cluster_fields(s, b, c, inputs); }, inputs);
}

}  // namespace cs
