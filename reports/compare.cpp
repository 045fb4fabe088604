#include "reports/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>

namespace cs {
namespace {

using Flat = std::vector<std::pair<std::string, nlohmann::json>>;

// Leaves of a JSON tree under dotted names (objects) and [i] indices (arrays).
template <class J>
void flatten(const J& v, const std::string& name, Flat& out) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) flatten(x, name.empty() ? k : name + "." + k, out);
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) flatten(v[i], fmt::format("{}[{}]", name, i), out);
  } else {
    out.emplace_back(name, nlohmann::json::parse(v.dump()));
  }
}

// Union of the names of both sides: A's order, then those only B has.
std::vector<std::string> union_names(const Flat& a, const Flat& b) {
  std::vector<std::string> names;
  std::map<std::string, bool> seen;
  for (const Flat* f : {&a, &b})
    for (const auto& [k, v] : *f)
      if (!seen[k]) {
        seen[k] = true;
        names.push_back(k);
      }
  return names;
}

nlohmann::json lookup(const std::map<std::string, nlohmann::json>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? nlohmann::json() : it->second;
}

// The run's summary figures, ready to flatten: labels, notes, paths and the per-rank memory detail (its totals are
// peak_memory_gib) left out; phases keyed by name so that a phase one side lacks shows as missing there.
nlohmann::ordered_json summary_figures(const nlohmann::json& run) {
  nlohmann::ordered_json f = nlohmann::ordered_json::parse(run.dump());
  for (const char* k : {"scenario", "file", "notes", "mfu_convention", "memory"}) f.erase(k);
  if (f.contains("calibration"))
    for (const char* k : {"file", "provenance"}) f["calibration"].erase(k);
  if (f.contains("phases") && f["phases"].is_array()) {
    nlohmann::ordered_json by_name = nlohmann::ordered_json::object();  // in the scenario's order
    for (nlohmann::ordered_json p : f["phases"]) {
      const std::string name = p["name"].get<std::string>();
      p.erase("name");
      p.erase("source");
      by_name[name] = p;
    }
    f["phases"] = by_name;
  }
  return f;
}

// Display order: the figures a reader asks about first (kHeadline groups), then the rest; a name belongs to the first
// group it equals or extends (group "x" holds x, x.… and x[…]); names in no group come last, in the JSON's order.
const std::vector<std::string> kGroups = {
    "step_time_s", "tokens_per_s_per_gpu", "mfu", "mfu_non_causal", "bubble_s", "exposed_comm_s",
    "max(peak_memory_gib)", "fits", "gpu_hours_per_trillion_tokens", "total_gpu_hours", "total_cost_usd", "days",
    // the rest
    "schedule", "gpus", "micro_batches", "simulated_gpus", "representative", "phase", "tokens_per_step",
    "tokens_per_s", "breakdown_s", "instruction_ms", "peak_memory_gib", "phases", "calibration",
    "price_per_gpu_hour"};
constexpr size_t kHeadline = 12;

size_t group_of(const std::string& name) {
  for (size_t g = 0; g < kGroups.size(); ++g) {
    const std::string& p = kGroups[g];
    if (name == p || (name.size() > p.size() && name.compare(0, p.size(), p) == 0 &&
                      (name[p.size()] == '.' || name[p.size()] == '[')))
      return g;
  }
  return kGroups.size();
}

Flat figures_flat(const nlohmann::json& run) {
  Flat f;
  flatten(summary_figures(run), "", f);
  if (run.contains("peak_memory_gib") && !run["peak_memory_gib"].empty()) {
    double peak = 0;
    for (const auto& m : run["peak_memory_gib"]) peak = std::max(peak, m.get<double>());
    f.emplace_back("max(peak_memory_gib)", peak);
  }
  return f;
}

CompareRow make_row(const std::string& name, nlohmann::json a, nlohmann::json b) {
  CompareRow r;
  r.name = name;
  r.differs = a != b;
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    r.differs = x != y;
    r.diff = y - x;
    if (x != 0) r.rel = 100.0 * (y - x) / std::fabs(x);
    else if (y == 0) r.rel = 0.0;
  }
  r.a = std::move(a);
  r.b = std::move(b);
  return r;
}



nlohmann::ordered_json layout_settings(const Layout& l) {
  return {{"pipeline_parallel", l.pp}, {"expert_parallel", l.ep}, {"data_parallel", l.dp},
          {"tensor_parallel", l.tp},   {"virtual_stages", l.virtual_stages}, {"micro_batch", l.micro_batch}};
}

nlohmann::ordered_json schedule_settings(const ScheduleConfig& c) {
  nlohmann::ordered_json j = {{"kind", c.kind}, {"comm_sms", c.comm_sms}, {"overlap_fb", c.overlap_fb}};
  if (c.kind == "custom") j["file"] = c.file;
  return j;
}

std::string number_text(double x, bool sign = false) {
  if (x == 0) return "0";
  if (x == std::trunc(x) && std::fabs(x) < 1e15) return sign ? fmt::format("{:+.0f}", x) : fmt::format("{:.0f}", x);
  if (std::fabs(x) >= 1e4) return sign ? fmt::format("{:+.1f}", x) : fmt::format("{:.1f}", x);
  return sign ? fmt::format("{:+.6g}", x) : fmt::format("{:.6g}", x);
}

std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return number_text(v.get<double>());
  return v.dump();
}

}  // namespace

nlohmann::ordered_json scenario_settings(const Scenario& s) {
  using oj = nlohmann::ordered_json;
  const ModelConfig& m = s.model;
  oj j;
  j["model"] = {{"name", m.name},
                {"layers", m.layers},
                {"dense_layers", m.dense_layers},
                {"hidden", m.hidden},
                {"vocab", m.vocab},
                {"heads", m.heads},
                {"tie_embeddings", m.tie_embeddings},
                {"attention", m.attention == AttentionKind::mla ? "mla" : "gqa"},
                {"kv_heads", m.kv_heads},
                {"head_dim", m.head_dim},
                {"q_lora_rank", m.q_lora_rank},
                {"kv_lora_rank", m.kv_lora_rank},
                {"qk_nope_head_dim", m.qk_nope_head_dim},
                {"qk_rope_head_dim", m.qk_rope_head_dim},
                {"v_head_dim", m.v_head_dim},
                {"dense_intermediate", m.dense_intermediate},
                {"routed_experts", m.routed_experts},
                {"shared_experts", m.shared_experts},
                {"expert_intermediate", m.expert_intermediate},
                {"top_k", m.top_k},
                {"expert_groups", m.expert_groups},
                {"topk_groups", m.topk_groups},
                {"mtp_depth", m.mtp_depth},
                {"gemm_precision", to_string(m.gemm_precision)},
                {"deepseek_recompute", m.deepseek_recompute}};
  const ClusterSpec& c = s.cluster;
  const GpuSpec& g = c.gpu;
  const FabricSpec& f = c.fabric;
  j["cluster"] = {{"name", c.name},
                  {"gpu",
                   {{"name", g.name},
                    {"sms", g.sms},
                    {"bf16_tflops", g.bf16_tflops},
                    {"fp8_tflops", g.fp8_tflops},
                    {"fp32_tflops", g.fp32_tflops},
                    {"hbm_gbps", g.hbm_gbps},
                    {"memory_bytes", g.memory_bytes},
                    {"nvlink_gbps", g.nvlink_gbps},
                    {"nvlink_achievable_gbps", g.nvlink_achievable_gbps},
                    {"clock_mhz", g.clock_mhz}}},
                  {"nodes", c.nodes},
                  {"gpus_per_node", c.node.gpus},
                  {"nics_per_node", c.node.nics},
                  {"nic_gbps", c.node.nic_gbps},
                  {"pcie_gbps", c.node.pcie_gbps},
                  {"nvlink_latency_ns", c.node.nvlink_latency_ns},
                  {"fabric",
                   {{"kind", fabric_kind_name(f.kind)},
                    {"planes", f.planes},
                    {"switch_ports", f.switch_ports},
                    {"oversubscription", f.oversubscription},
                    {"link_gbps", f.link_gbps},
                    {"ib_efficiency", f.ib_efficiency},
                    {"latency_same_leaf_ns", f.latency_same_leaf_ns},
                    {"latency_cross_leaf_ns", f.latency_cross_leaf_ns},
                    {"routing", f.routing}}}};
  j["layout"] = layout_settings(s.layout);
  j["layout"]["global_batch"] = s.layout.global_batch;
  j["schedule"] = schedule_settings(s.schedule);
  j["routing"] = {{"kind", s.routing.kind}, {"zipf_exponent", s.routing.zipf_exponent},
                  {"max_nodes", s.routing.max_nodes}, {"seed", s.routing.seed}};
  if (s.routing.kind == "file") j["routing"]["load_file"] = s.routing.load_file;
  j["network"] = {{"mode", s.network.mode}, {"backend", s.network.backend},
                  {"time_quantum_ns", s.network.time_quantum_ns}};
  j["training"]["seq_len"] = s.layout.seq_len;
  oj phases = oj::object();
  for (size_t i = 0; i < s.phases.size(); ++i) {
    const Phase& p = s.phases[i];
    oj ph;
    if (!p.simulated()) {
      ph["gpu_hours"] = p.given_gpu_hours;
      ph["source"] = p.given_source;
    } else {
      ph["seq_len"] = p.seq_len;
      ph["global_batch"] = p.global_batch;
      if (p.steps > 0) ph["steps"] = p.steps;
      else ph["tokens"] = p.tokens;
      if (p.ramp)
        ph["batch_ramp"] = {{"from", p.ramp->from}, {"over_tokens", p.ramp->over_tokens}, {"shape", p.ramp->shape}};
      // The first phase is the scenario's own step: its layout, schedule and nodes are the scenario's (listed above).
      if (i > 0) {
        ph["nodes"] = p.nodes;
        ph["layout"] = layout_settings(p.layout);
        ph["schedule"] = schedule_settings(p.schedule);
      }
    }
    phases[p.name] = ph;
  }
  j["training"]["phases"] = phases;
  j["price_per_gpu_hour"] = s.price_per_gpu_hour;
  j["calibration_profile"] = s.profile;
  j["seed"] = s.seed;
  return j;
}

Comparison compare_runs(const Scenario& a, const nlohmann::json& run_a, const Scenario& b,
                        const nlohmann::json& run_b) {
  Comparison c;
  c.file_a = a.file;
  c.file_b = b.file;
  c.name_a = a.name;
  c.name_b = b.name;

  const Flat fa = figures_flat(run_a), fb = figures_flat(run_b);
  const std::map<std::string, nlohmann::json> ma(fa.begin(), fa.end()), mb(fb.begin(), fb.end());
  for (const std::string& k : union_names(fa, fb)) c.rows.push_back(make_row(k, lookup(ma, k), lookup(mb, k)));
  std::stable_sort(c.rows.begin(), c.rows.end(),
                   [](const CompareRow& x, const CompareRow& y) { return group_of(x.name) < group_of(y.name); });

  Flat sa, sb;
  flatten(scenario_settings(a), "", sa);
  flatten(scenario_settings(b), "", sb);
  const std::map<std::string, nlohmann::json> msa(sa.begin(), sa.end()), msb(sb.begin(), sb.end());
  for (const std::string& k : union_names(sa, sb)) {
    nlohmann::json x = lookup(msa, k), y = lookup(msb, k);
    if (x != y) c.changed_fields.push_back({k, std::move(x), std::move(y)});
  }
  return c;
}

CompareOutput compare_scenarios(const Scenario& a, const Scenario& b, const RunOptions& options) {
  RunOptions o = options;  // both sides share collective timings where their clusters and networks are equal
  if (!o.timings) o.timings = std::make_shared<TimingCache>();
  auto run = [&o](const Scenario& s) {
    try {
      return run_scenario(s, o);
    } catch (const ScenarioError&) {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: {}", s.file, e.what()));
    }
  };
  CompareOutput out;
  out.a = run(a);
  out.b = run(b);
  out.comparison = compare_runs(a, out.a.json, b, out.b.json);
  return out;
}

nlohmann::ordered_json comparison_json(const Comparison& c) {
  using oj = nlohmann::ordered_json;
  auto opt = [](const std::optional<double>& x) { return x ? oj(*x) : oj(); };
  auto value = [](const nlohmann::json& v) { return oj::parse(v.dump()); };
  oj rows = oj::array();
  for (const CompareRow& r : c.rows)
    rows.push_back({{"name", r.name}, {"a", value(r.a)}, {"b", value(r.b)}, {"diff", opt(r.diff)},
                    {"rel", opt(r.rel)}, {"differs", r.differs}});
  oj changed = oj::array();
  for (const SettingChange& s : c.changed_fields)
    changed.push_back({{"field", s.field}, {"a", value(s.a)}, {"b", value(s.b)}});
  return {{"a", c.file_a},          {"b", c.file_b}, {"scenario_a", c.name_a},
          {"scenario_b", c.name_b}, {"rows", rows},  {"changed_fields", changed}};
}

std::string comparison_text(const Comparison& c, bool only_changed) {
  std::string o;
  auto line = [&o](const std::string& s) { o += s + "\n"; };
  line(fmt::format("compare  A  {} ({})", c.file_a, c.name_a));
  line(fmt::format("         B  {} ({})", c.file_b, c.name_b));
  line("");
  if (c.changed_fields.empty()) {
    line("settings: the same in both scenarios");
  } else {
    size_t w = 0;
    for (const SettingChange& s : c.changed_fields) w = std::max(w, s.field.size());
    line("settings that differ (A → B)");
    for (const SettingChange& s : c.changed_fields)
      line(fmt::format("  {:<{}}  {} → {}", s.field, w, value_text(s.a), value_text(s.b)));
  }
  line("");

  struct Cells {
    std::string name, a, b, diff, rel;
    bool headline;
  };
  std::vector<Cells> cells;
  for (const CompareRow& r : c.rows) {
    if (only_changed && !r.differs) continue;
    Cells x{r.name, value_text(r.a), value_text(r.b), "", "", group_of(r.name) < kHeadline};
    if (r.diff) {
      x.diff = number_text(*r.diff, true);
      x.rel = r.rel ? fmt::format("{:+.2f} %", *r.rel) : "-";
      if (r.rel && *r.rel == 0) x.rel = "0 %";
    } else {
      x.diff = r.differs ? "differs" : "same";
      x.rel = "";
    }
    cells.push_back(std::move(x));
  }
  if (cells.empty()) {
    line("figures: the same in both runs");
    return o;
  }
  size_t wn = 6, wa = 1, wb = 1, wd = 5, wr = 3;
  for (const Cells& x : cells) {
    wn = std::max(wn, x.name.size());
    wa = std::max(wa, x.a.size());
    wb = std::max(wb, x.b.size());
    wd = std::max(wd, x.diff.size());
    wr = std::max(wr, x.rel.size());
  }
  line(fmt::format("{:<{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}", "figure", wn, "A", wa, "B", wb, "B - A", wd, "rel", wr));
  bool in_headline = true;
  for (const Cells& x : cells) {
    if (in_headline && !x.headline) {
      in_headline = false;
      line("");
    }
    line(fmt::format("{:<{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}", x.name, wn, x.a, wa, x.b, wb, x.diff, wd, x.rel, wr));
  }
  return o;
}

}  // namespace cs
