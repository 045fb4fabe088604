#include "reports/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "calibration/cost_model.hpp"
#include "calibration/profile.hpp"
#include "models/params.hpp"
#include "reports/run.hpp"
#include "scenarios/scenario.hpp"
#include "sim/collectives.hpp"
#include "sim/schedule/schedule.hpp"
#include "sim/schedule/timeline.hpp"
#include "sim/topology.hpp"

namespace cs {

double relative_error(const Check& c) {
  if (c.published == 0) return c.predicted == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return (c.predicted - c.published) / c.published;
}

bool within_tolerance(const Check& c) { return std::abs(relative_error(c)) <= c.tolerance; }

bool known_gap(const Check& c) {
  return !c.informational && c.target >= 0 && within_tolerance(c) && std::abs(relative_error(c)) > c.target;
}

bool fails(const Check& c) { return !c.informational && !within_tolerance(c); }

std::string status(const Check& c) {
  if (c.informational) return "INFO";
  return within_tolerance(c) ? "PASS" : "FAIL";
}

const std::vector<std::string>& validation_groups() {
  static const std::vector<std::string> names = {"model", "kernels", "network", "schedules", "training"};
  return names;
}

// ---------------------------------------------------------------------------------------------------------------
// model: parameter counts and FLOPs per token from the architecture alone.

CheckGroup validate_model() {
  CheckGroup g{"model", {}, {}};
  g.notes.push_back("counted from the model presets (scenarios/models/*.yaml) by models/params.cpp");
  const ModelConfig v3 = load_model_preset("deepseek-v3");
  const ParamCount p = count_params(v3);

  Check total{"model", "DeepSeek-V3 total parameters", p.total / 1e9, 671, "B params", 0.003, "", "", false, -1, ""};
  total.tolerance_reason =
      "the figure is quoted to 1B; small conventions (norms, router bias, MTP excluded) move the count by < 0.3 %";
  total.source = "[TR] DeepSeek-V3 Technical Report: 671B total (main model, MTP not counted)";
  g.checks.push_back(total);

  Check act{"model", "DeepSeek-V3 activated parameters", p.activated / 1e9, 37, "B params", 0.02, "", "", false, -1,
            ""};
  act.tolerance_reason = "quoted to 2 digits (±1.4 % rounding); whether the input embedding counts is not stated";
  act.source = "[TR] DeepSeek-V3 Technical Report: 37B activated per token";
  act.note = fmt::format("embedding included; {:.2f}B without it", p.activated_no_embedding / 1e9);
  g.checks.push_back(act);

  struct FlopsRow {
    const char* preset;
    const char* label;
    double gflop;
  };
  for (const FlopsRow& r : {FlopsRow{"deepseek-v3", "DeepSeek-V3", 250}, FlopsRow{"deepseek-v2", "DeepSeek-V2", 155},
                            FlopsRow{"llama-3.1-405b", "Llama-3.1-405B", 2448}}) {
    Check c{"model",
            fmt::format("{} training FLOPs per token, seq 4096", r.label),
            training_flops_per_token(load_model_preset(r.preset), 4096) / 1e9,
            r.gflop,
            "GFLOP/token",
            0.02,
            "",
            "",
            false,
            -1,
            ""};
    c.tolerance_reason =
        "the table rounds to 3 digits and does not spell out its attention count; convention used: 6 × activated "
        "parameters without the input embedding + causal attention score/value FLOPs";
    c.source = "[ISCA] ISCA'25 (Insights into DeepSeek-V3) Table 2";
    g.checks.push_back(c);
  }
  return g;
}

// ---------------------------------------------------------------------------------------------------------------
// kernels: leave-one-out over the DeepGEMM rows of the published profile.

namespace {

Op gemm_op(const KernelRecord& r) {
  Op op;
  op.name = "deepgemm." + r.kernel;
  op.kind = OpKind::gemm;
  op.precision = Precision::fp8;
  op.m = r.shape.m, op.n = r.shape.n, op.k = r.shape.k, op.count = r.shape.count;
  op.flops = record_flops(r.kernel, r.role, r.shape);
  return op;
}

bool same_curve(const KernelRecord& a, const KernelRecord& b) {
  return a.kernel == b.kernel && a.role == b.role && a.sms == b.sms && (a.shape.count > 1) == (b.shape.count > 1) &&
         a.shape.n == b.shape.n && a.shape.k == b.shape.k;
}

std::string gemm_label(const KernelRecord& r) {
  if (r.shape.count > 1)
    return fmt::format("grouped {}×{} rows N={} K={}", r.shape.count, r.shape.m, r.shape.n, r.shape.k);
  return fmt::format("M={} N={} K={}", r.shape.m, r.shape.n, r.shape.k);
}

}  // namespace

CheckGroup validate_kernels(const std::string& profile_path) {
  CheckGroup g{"kernels", {}, {}};
  const Profile full = load_profile(profile_path);
  const GpuSpec gpu = load_gpu_preset("h800");
  g.notes.push_back(fmt::format(
      "LEAVE-ONE-OUT: each DeepGEMM row of profile {} ({}) is predicted by the cost model built on a copy of the "
      "profile with that row removed, then compared to the row's published TFLOPS",
      full.name, profile_path));
  g.notes.push_back(
      "a row between remaining rows of the same N×K (and grouping) is an interpolation; a row below two remaining "
      "rows is a linear extrapolation with a wider tolerance; a row beyond a single remaining row only gets that "
      "row's time or throughput held, and is reported as informational");
  for (size_t i = 0; i < full.records.size(); ++i) {
    const KernelRecord& left = full.records[i];
    if (left.kernel != "gemm_fp8") continue;  // the DeepGEMM rows
    Profile cut = full;
    cut.records.erase(cut.records.begin() + std::ptrdiff_t(i));
    std::vector<int64_t> ms;  // rows per group of the remaining records on the same curve
    for (const KernelRecord& r : cut.records)
      if (same_curve(r, left)) ms.push_back(r.shape.m);
    std::sort(ms.begin(), ms.end());
    ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
    const size_t lower = size_t(std::lower_bound(ms.begin(), ms.end(), left.shape.m) - ms.begin());
    const CostModel model(cut, gpu);
    const Op op = gemm_op(left);
    const OpTime t = model.time(op, left.sms);
    Check c{"kernels",
            gemm_label(left),
            op.flops / double(t.ns) / 1e3,
            op.flops / left.median_ns / 1e3,
            "TFLOPS",
            0.12,
            "",
            left.source,
            false,
            -1,
            ""};
    const std::string curve =
        fmt::format("N={} K={}{}", left.shape.n, left.shape.k, left.shape.count > 1 ? " grouped" : "");
    if (lower > 0 && lower < ms.size()) {
      c.tolerance_reason =
          "12 %, as tests/calibration/published_profile_test.cpp: time affine in M between the neighbouring rows "
          "underestimates how fast small-M throughput rises";
      c.note = fmt::format("interpolation between M={} and M={} of {}", ms[lower - 1], ms[lower], curve);
    } else if (lower == 0 && ms.size() >= 2) {
      c.tolerance = 0.24;
      c.tolerance_reason =
          "24 %: the same affine law extended one row beyond the data, where no measured row brackets its error: "
          "twice the interpolation tolerance";
      c.note = fmt::format("extrapolation: the line through M={} and M={} of {} extended below", ms[0], ms[1], curve);
    } else {
      c.informational = true;
      c.tolerance_reason =
          "none: with one remaining row on this side the cost model only holds that row's time "
          "(below) or throughput (above), a fallback, not a prediction";
      c.note = ms.empty() ? fmt::format("no remaining row of {}", curve)
                          : fmt::format("extrapolation from the single row M={} of {} ({} it)",
                                        lower == 0 ? ms[0] : ms.back(), curve, lower == 0 ? "below" : "above");
    }
    c.note += fmt::format("; cost model source: {}", to_string(t.source));
    g.checks.push_back(c);
  }
  return g;
}

// ---------------------------------------------------------------------------------------------------------------
// network: DeepEP normal kernels reproduced from link-level figures, as tests/sim/deepep_test.cpp.

namespace {

struct DeepEpRow {
  int ep;
  double dispatch_gbps, combine_gbps;  // published, DeepEP README table of 2025-04
  double tolerance;
  const char* reason;
};

}  // namespace

CheckGroup validate_network() {
  CheckGroup g{"network", {}, {}};
  const Scenario s = load_scenario(preset_dir() + "/deepseek-v3.yaml");
  const ClusterSpec& c = s.cluster;
  g.notes.push_back(
      fmt::format("DeepEP normal kernels on the {} cluster preset at 1..8 nodes, coflow network mode (as "
                  "tests/sim/deepep_test.cpp)",
                  c.name));
  g.notes.push_back(fmt::format(
      "constants used, none fitted to these rows: NVLink {:g} GB/s per direction achievable (of {:g}, gpus/{}.yaml); "
      "IB {:g} Gb/s × {:g} = {:g} GB/s per NIC, {} NICs per node; latencies NVLink {:g} µs, IB {:g}/{:g} µs "
      "(same/cross leaf)",
      c.gpu.nvlink_achievable_gbps, c.gpu.nvlink_gbps, c.gpu.name, c.node.nic_gbps, c.fabric.ib_efficiency,
      c.node.nic_gbps / 8 * c.fabric.ib_efficiency, c.node.nics, c.node.nvlink_latency_ns / 1e3,
      c.fabric.latency_same_leaf_ns / 1e3, c.fabric.latency_cross_leaf_ns / 1e3));
  g.notes.push_back(fmt::format(
      "workload as DeepEP's tests: 4096 tokens per GPU, hidden {}, top-{} of {} experts, ≤ min(nodes, {}) nodes per "
      "token, random scores (seed 1); FP8 dispatch, BF16 combine; bandwidth = bytes over the bottleneck link class "
      "per rank ÷ time, RDMA counting one copy per (token, distinct target node), own node included",
      s.model.hidden, s.model.top_k, s.model.routed_experts, s.model.topk_groups));
  g.notes.push_back(
      "target 10 %; rows that miss it keep the sim test's 30 % regression tolerance and are flagged "
      "KNOWN GAP (not tuned away)");
  const char* nvl_gap =
      "30 %, the sim test's regression guard for this EP size, whose rows miss the 10 % target: NVLink-bound in the "
      "model, which forwards at the full achievable 160 GB/s (a link-level figure); DeepEP's SM-driven copies do not "
      "reach it: EP8's 153 GB/s counts the 1/8 a GPU keeps, so ≈134 GB/s crossed NVLink, and at EP16 DeepEP's "
      "maintainers name NVLink the bottleneck at ≈140 GB/s as counted (DeepEP issue #285); no published link-level "
      "figure gives that rate";
  const char* ib_gap =
      "30 %, the sim test's regression guard for EP64, whose dispatch misses the 10 % target: IB-bound at 40 GB/s "
      "per NIC, [ISCA]'s small-message planning figure; DeepEP's rows imply ≈44 GB/s crossed each NIC at EP32 and "
      "EP64 (58 × 3/4, 51 × 7/8: the rows count the own-node copy), between 40 and the 49 GB/s link-level "
      "measurement (NVIDIA's MLPerf DGX-H100 system notes); 49 would give EP32 +12 %, 40 gives EP64 −11.5 %";
  for (const DeepEpRow& row :
       {DeepEpRow{8, 153, 158, 0.30, nvl_gap}, DeepEpRow{16, 43, 43, 0.30, nvl_gap},
        DeepEpRow{32, 58, 57, 0.10, "10 %: the target for this reproduction"}, DeepEpRow{64, 51, 50, 0.30, ib_gap}}) {
    ClusterSpec cluster = c;
    cluster.nodes = std::max(1, row.ep / cluster.node.gpus);
    const Topology topo(cluster);
    for (CollectiveKind kind : {CollectiveKind::dispatch, CollectiveKind::combine}) {
      CollectiveSpec spec;
      spec.kind = kind;
      for (int gpu = 0; gpu < row.ep; ++gpu) spec.gpus.push_back(gpu);
      spec.tokens_per_rank = 4096;
      spec.hidden = s.model.hidden;
      spec.experts = s.model.routed_experts;
      spec.topk = s.model.top_k;
      spec.routing.kind = RoutingKind::random;
      spec.routing.seed = 1;
      spec.routing.max_nodes = std::min(cluster.nodes, s.model.topk_groups);
      const CollectiveResult r = run_collective(topo, spec, NetworkOptions{NetworkMode::coflow, 0});
      const bool dispatch = kind == CollectiveKind::dispatch;
      Check ch{"network",
               fmt::format("EP{} {} ({})", row.ep, collective_kind_name(kind), row.ep <= 8 ? "intranode" : "internode"),
               r.deepep_gbps,
               dispatch ? row.dispatch_gbps : row.combine_gbps,
               "GB/s " + r.deepep_link,
               row.tolerance,
               row.reason,
               "[DeepEP] README, normal kernels on H800, table of 2025-04 (reference/deepseek-v3.md §5)",
               false,
               0.10,
               ""};
      g.checks.push_back(ch);
    }
  }
  return g;
}

// ---------------------------------------------------------------------------------------------------------------
// schedules: idle per rank on the timeline vs the bubble formulas, under the conditions where they are exact.

namespace {

struct ScheduleCase {
  const char* kind;
  const char* label;
  TimeNs f, b, w, fb;  // per model chunk (interleaved: a rank's stage is `v` chunks)
  int v = 1;           // interleaved: model chunks per rank
};

// The ranks a formula is exact on, and the formula, per tests/schedule/bubble_test.cpp.
TimeNs bubble_formula(const ScheduleCase& c, int pp) {
  const std::string k = c.kind;
  if (k == "1f1b") return (pp - 1) * (c.f + c.b);
  if (k == "zb1p") return (pp - 1) * (c.f + c.b - 2 * c.w);
  if (k == "interleaved") return (pp - 1) * (c.v * c.f + c.v * c.b) / c.v;  // a stage's F and B are v chunks'
  return (pp / 2 - 1) * (c.fb + c.b - 3 * c.w);
}

}  // namespace

CheckGroup validate_schedules() {
  CheckGroup g{"schedules", {}, {}};
  const int pp = 16;
  const ScheduleCase cases[] = {{"1f1b", "1F1B", 1000, 2000, 0, 0},
                                {"zb1p", "ZB1P", 1000, 2000, 500, 0},
                                {"dualpipe", "DualPipe", 1500, 2000, 500, 2600},
                                {"dualpipev", "DualPipeV", 1500, 2000, 500, 2600},
                                {"interleaved", "Interleaved 1F1B v2", 500, 1000, 0, 0, 2}};
  g.notes.push_back(
      "make_schedule + run_timeline with constant costs and zero communication; idle = makespan − busy per rank; "
      "predicted = the idle of the rank farthest from the formula among the ranks checked");
  g.notes.push_back(
      "costs (ns): 1F1B F=1000 B=2000; ZB1P F=1000 B=2000 W=500 (W ≤ min(F, B−W)); DualPipe and DualPipeV F=1500 "
      "B=2000 W=500 F&B=2600 (F = B−W, the proportion the paper's figure draws); DualPipeV runs the pp16 stages on 8 "
      "ranks; interleaved 1F1B F=1000 B=2000 per stage as 2 chunks of 500 and 1000");
  for (const ScheduleCase& c : cases) {
    const std::string kind = c.kind;
    const bool dualpipe = kind == "dualpipe", v = kind == "dualpipev";
    const int ranks = v ? pp / 2 : pp;  // DualPipeV: the formula's PP counts stages, two per rank
    for (int n : {2 * ranks, 3 * ranks}) {
      const sched::Schedule s = sched::make_schedule({c.kind, ranks, n, c.v});
      const sched::Timeline t = sched::run_timeline(s, sched::unit_costs(c.f, c.b, c.w, c.fb));
      const TimeNs formula = bubble_formula(c, pp);
      // The ranks that idle exactly the formula (h ≥ PP/2 − 2, h = min(r, PP−1−r) for DualPipe, r for DualPipeV).
      const int first = dualpipe ? pp / 2 - 1 : v ? ranks - 2 : 0, last = dualpipe ? pp / 2 : ranks - 1;
      TimeNs worst = t.ranks[first].idle;
      for (int r = first; r <= last; ++r)
        if (std::llabs(t.ranks[r].idle - formula) > std::llabs(worst - formula)) worst = t.ranks[r].idle;
      const std::string which = dualpipe ? fmt::format("middle ranks {} and {}", first, last)
                                : v      ? fmt::format("{} ranks, last ranks {} and {}", ranks, first, last)
                                         : fmt::format("all {} ranks", pp);
      Check ch{
          "schedules",
          fmt::format("{} pp{} N{}: idle, {}", c.label, pp, n, which),
          double(worst),
          double(formula),
          "ns",
          0,
          "",
          "",
          false,
          -1,
          ""};
      if (std::string(c.kind) == "1f1b") {
        ch.source = "reference/deepseek-v3.md §4: 1F1B bubble (PP−1)(F+B)";
        ch.tolerance_reason = "exact: constant costs, N ≥ PP";
      } else if (std::string(c.kind) == "zb1p") {
        ch.source = "reference/deepseek-v3.md §4: ZB1P bubble (PP−1)(F+B−2W)";
        ch.tolerance_reason = "exact: constant costs, N ≥ PP, W ≤ min(F, B−W) (ZB-H1's conditions)";
      } else if (kind == "interleaved") {
        ch.source = "Narayanan et al., Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM "
                    "(SC'21): interleaved schedule's bubble (p−1)(tf+tb)/v";
        ch.tolerance_reason = "exact: constant costs, N a multiple of PP (Megatron's condition)";
      } else if (dualpipe) {
        ch.source = "reference/deepseek-v3.md §4: DualPipe bubble (PP/2−1)(F&B+B−3W)";
        ch.tolerance_reason =
            "exact on the middle ranks when F = B−W, N even, N ≥ 2·PP (other ranks idle less by "
            "(PP/2−2−h)(F+B−F&B), see tests/schedule/bubble_test.cpp)";
      } else {
        ch.source = "reference/deepseek-v3.md §4: DualPipeV bubble (PP/2−1)(F&B+B−3W) on PP/2 devices";
        ch.tolerance_reason =
            "exact on the last two ranks when F = B−W, N ≥ PP (rank r idles less by (PP/2−2−r)(F+B−F&B) below them, "
            "see tests/schedule/bubble_test.cpp)";
      }
      g.checks.push_back(ch);
    }
  }
  return g;
}

// ---------------------------------------------------------------------------------------------------------------
// training: the default scenario's whole-run projection vs DeepSeek's published cost. Informational only: end-to-end
// figures validate the model and are never a target for its constants.

CheckGroup validate_training() {
  CheckGroup g{"training", {}, {}};
  const std::string path = preset_dir() + "/deepseek-v3.yaml";
  g.notes.push_back(fmt::format("clustersim run {} (representative pipeline); every figure informational", path));
  g.notes.push_back(
      "the published figures are the whole run's wall-clock: failures and restarts, checkpoints, evaluation and idle "
      "time included; the model times published best-case kernels (DeepGEMM rows, FlashMLA efficiency, roofline "
      "for memory-bound ops) with no launch gaps, host overhead or jitter, so it is expected to come out lower");
  const Scenario sc = load_scenario(path);
  RunOptions o;
  o.timeline = false;
  const RunOutput run = run_scenario(sc, o);
  const Projection& p = run.projection;
  for (const auto& n : run.json["notes"])  // a phase whose layout does not fit in memory: its figure is suspect
    if (n.get<std::string>().rfind("phase ", 0) == 0) g.notes.push_back(n.get<std::string>());
  double pre = 0, ext = 0;
  bool has_pre = false, has_ext = false;
  for (const PhaseProjection& ph : p.phases) {
    if (ph.name == "pre-training") pre += ph.gpu_hours, has_pre = true;
    if (ph.name.rfind("context-extension", 0) == 0) ext += ph.gpu_hours, has_ext = true;
  }
  if (!has_pre || !has_ext)
    throw std::logic_error(path + ": expected phases named pre-training and context-extension-*");
  const std::string why = "none: end-to-end figures are for validation only; no constant is tuned toward them";
  const std::string tr = "[TR] DeepSeek-V3 Technical Report, Table 1 and §1 (reference/deepseek-v3.md §2)";
  auto add = [&](std::string name, double predicted, double published, std::string unit, std::string source) {
    g.checks.push_back(Check{"training", std::move(name), predicted, published, std::move(unit), 0, why,
                             std::move(source), true, -1, ""});
  };
  add("GPU-hours per trillion tokens (pre-training)", p.gpu_hours_per_trillion_tokens / 1e3, 180, "K GPU-h",
      tr + ": 180K H800 GPU-hours per trillion tokens");
  add("days per trillion tokens on 2048 GPUs", p.gpu_hours_per_trillion_tokens / 2048 / 24, 3.7, "days",
      tr + ": 3.7 days per trillion tokens on the 2048-GPU cluster");
  add("pre-training GPU-hours (14.8T tokens)", pre / 1e3, 2664, "K GPU-h", tr + ": pre-training 2664K");
  add("context extension GPU-hours (32K, 128K)", ext / 1e3, 119, "K GPU-h", tr + ": context extension 119K");
  add("whole training GPU-hours", p.total_gpu_hours / 1e3, 2788, "K GPU-h",
      tr + ": 2788K in all (post-training's 5K is given in the scenario, not simulated)");
  add("whole training cost at $2 per GPU-hour", p.total_cost_usd / 1e6, 5.576, "M USD", tr + ": $5.576M");
  return g;
}

// ---------------------------------------------------------------------------------------------------------------

std::vector<CheckGroup> run_validation(const std::vector<std::string>& only, const std::string& profile_path) {
  for (const std::string& name : only)
    if (std::find(validation_groups().begin(), validation_groups().end(), name) == validation_groups().end())
      throw std::invalid_argument(
          fmt::format("unknown validation group '{}' (allowed: {})", name, fmt::join(validation_groups(), ", ")));
  std::vector<CheckGroup> out;
  auto wanted = [&](const std::string& n) {
    return only.empty() || std::find(only.begin(), only.end(), n) != only.end();
  };
  if (wanted("model")) out.push_back(validate_model());
  if (wanted("kernels")) out.push_back(validate_kernels(profile_path));
  if (wanted("network")) out.push_back(validate_network());
  if (wanted("schedules")) out.push_back(validate_schedules());
  if (wanted("training")) out.push_back(validate_training());
  return out;
}

int failed_checks(const std::vector<CheckGroup>& groups) {
  int n = 0;
  for (const CheckGroup& g : groups)
    for (const Check& c : g.checks) n += fails(c) ? 1 : 0;
  return n;
}

namespace {

std::string error_text(const Check& c) {
  const double e = relative_error(c);
  if (!std::isfinite(e)) return "inf";
  return fmt::format("{:+.2f} %", std::abs(e) < 5e-5 ? 0.0 : 100 * e);  // no "-0.00 %"
}

std::string tolerance_text(const Check& c) {
  if (c.informational) return "info";
  return c.tolerance == 0 ? std::string("exact") : fmt::format("{:g} %", 100 * c.tolerance);
}

std::string status_text(const Check& c) { return known_gap(c) ? status(c) + " (KNOWN GAP)" : status(c); }

}  // namespace

std::string format_validation_text(const std::vector<CheckGroup>& groups) {
  size_t name_w = 5, unit_w = 4;
  for (const CheckGroup& g : groups)
    for (const Check& c : g.checks) {
      name_w = std::max(name_w, c.name.size());
      unit_w = std::max(unit_w, c.unit.size());
    }
  std::string out;
  int total = 0, passed = 0, gaps = 0, info = 0, failed = 0;
  for (const CheckGroup& g : groups) {
    out += fmt::format("== {} ==\n", g.name);
    for (const std::string& n : g.notes) out += fmt::format("  {}\n", n);
    out += fmt::format("  {:<{}}  {:>10}  {:>10}  {:<{}}  {:>9}  {:>6}  {}\n", "check", name_w, "predicted",
                       "published", "unit", unit_w, "error", "tol", "status");
    std::string last_reason, last_source;
    for (const Check& c : g.checks) {
      out += fmt::format("  {:<{}}  {:>10.2f}  {:>10.2f}  {:<{}}  {:>9}  {:>6}  {}\n", c.name, name_w, c.predicted,
                         c.published, c.unit, unit_w, error_text(c), tolerance_text(c), status_text(c));
      if (!c.note.empty()) out += fmt::format("      {}\n", c.note);
      if (c.tolerance_reason != last_reason) out += fmt::format("      tolerance: {}\n", c.tolerance_reason);
      if (c.source != last_source) out += fmt::format("      source: {}\n", c.source);
      last_reason = c.tolerance_reason;
      last_source = c.source;
      ++total;
      if (c.informational)
        ++info;
      else if (within_tolerance(c))
        ++passed;
      else
        ++failed;
      gaps += known_gap(c) ? 1 : 0;
    }
    out += "\n";
  }
  out += fmt::format("{} checks: {} PASS ({} of them known gaps), {} FAIL, {} informational\n", total, passed, gaps,
                     failed, info);
  return out;
}

nlohmann::json validation_to_json(const std::vector<CheckGroup>& groups) {
  nlohmann::json j;
  j["groups"] = nlohmann::json::array();
  for (const CheckGroup& g : groups) {
    nlohmann::json jg{{"group", g.name}, {"notes", g.notes}, {"checks", nlohmann::json::array()}};
    for (const Check& c : g.checks) {
      const double e = relative_error(c);
      nlohmann::json jc{{"group", c.group},
                        {"name", c.name},
                        {"predicted", c.predicted},
                        {"published", c.published},
                        {"unit", c.unit},
                        {"error", std::isfinite(e) ? nlohmann::json(e) : nlohmann::json(nullptr)},
                        {"tolerance", c.tolerance},
                        {"tolerance_reason", c.tolerance_reason},
                        {"source", c.source},
                        {"informational", c.informational},
                        {"known_gap", known_gap(c)},
                        {"status", status(c)}};
      if (c.target >= 0) jc["target"] = c.target;
      if (!c.note.empty()) jc["note"] = c.note;
      jg["checks"].push_back(jc);
    }
    j["groups"].push_back(jg);
  }
  j["failed"] = failed_checks(groups);
  j["passed"] = failed_checks(groups) == 0;
  return j;
}

}  // namespace cs
