#include "calibration/cost_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace cs {

const char* to_string(TimeSource s) {
  switch (s) {
    case TimeSource::record: return "record";
    case TimeSource::interpolated: return "interpolated";
    case TimeSource::roofline: return "roofline";
  }
  return "?";
}

KernelKey kernel_key(const Op& op) {
  // A recomputed op re-runs its forward kernel during the backward pass.
  const bool fwd = op.pass == Pass::forward || op.recompute;
  const std::string role = fwd ? "forward" : "backward";
  auto has = [&](const char* s) { return op.name.find(s) != std::string::npos; };
  switch (op.kind) {
    case OpKind::gemm: {
      const std::string r = fwd ? "fprop" : op.pass == Pass::backward_input ? "dgrad" : "wgrad";
      return {op.precision == Precision::fp8 ? "gemm_fp8" : "gemm_bf16", r};
    }
    case OpKind::attention: return {"attention", role};
    case OpKind::norm: return {"rmsnorm", role};
    case OpKind::rope: return {"rope", role};
    case OpKind::swiglu: return {"swiglu", role};
    case OpKind::quantize: return {has("transpose") ? "transpose_quantize" : "quantize", role};
    case OpKind::router: return {"router_topk", role};
    case OpKind::elementwise:
      if (has("weighted_combine")) return {"weighted_combine", role};
      if (has("permute")) return {"permute", role};
      if (has("gather")) return {"gather_fp8", role};
      return {"elementwise", role};
    case OpKind::embedding: return {"embedding", role};
    case OpKind::loss: return {"loss", role};
    case OpKind::dispatch:
    case OpKind::combine: return {"", ""};
  }
  return {"", ""};
}

KernelShape kernel_shape(const Op& op) {
  KernelShape s;
  if (op.kind == OpKind::gemm) {
    s.m = op.m, s.n = op.n, s.k = op.k, s.count = std::max<int64_t>(1, op.count);
  } else if (op.kind == OpKind::attention) {
    s.batch = op.batch, s.seq = op.seq, s.heads = op.heads, s.d_qk = op.d_qk, s.d_v = op.d_v, s.causal = op.causal;
  } else {
    // A memory-bound op over `count` instances (e.g. dY of 4 local experts) is one kernel over all their rows.
    s.m = op.m * std::max<int64_t>(1, op.count), s.n = op.n, s.k = op.k, s.bytes = op.bytes;
  }
  return s;
}

namespace {

bool is_gemm(const std::string& kernel) { return kernel == "gemm_fp8" || kernel == "gemm_bf16"; }

// The curve key and work coordinate of a shape (see cost_model.hpp).
void key_of(const std::string& kernel, const std::string& role, const KernelShape& s, int64_t& n, int64_t& k,
            double& x) {
  if (is_gemm(kernel)) {
    n = s.n, k = s.k, x = double(s.m);
  } else if (kernel == "attention") {
    n = s.d_qk, k = s.d_v, x = record_flops(kernel, role, s);
  } else {
    n = 0, k = 0, x = s.bytes;
  }
}

}  // namespace

CostModel::CostModel(Profile profile, GpuSpec gpu) : profile_(std::move(profile)), gpu_(std::move(gpu)) {
  if (gpu_.sms <= 0 || gpu_.fp8_tflops <= 0 || gpu_.bf16_tflops <= 0 || gpu_.fp32_tflops <= 0 || gpu_.hbm_gbps <= 0)
    throw std::invalid_argument(fmt::format(
        "cost model: GPU spec \"{}\" lacks sms, fp8/bf16/fp32 peaks or HBM bandwidth needed by the roofline", gpu_.name));
  for (const auto& r : profile_.records) {
    int64_t n = 0, k = 0;
    double x = 0;
    key_of(r.kernel, r.role, r.shape, n, k, x);
    const bool grouped = r.shape.count > 1;
    auto& list = curves_[r.kernel];
    auto it = std::find_if(list.begin(), list.end(), [&](const Curve& c) {
      return c.role == r.role && c.sms == r.sms && c.grouped == grouped && c.n == n && c.k == k;
    });
    if (it == list.end()) {
      list.push_back(Curve{r.kernel, r.role, r.sms, grouped, n, k, {}, {}});
      it = list.end() - 1;
    }
    const double per_group = is_gemm(r.kernel) ? r.median_ns / double(r.shape.count) : r.median_ns;
    it->points.push_back(Point{x, per_group, r.shape.count});
    it->shapes.push_back(r.shape);
  }
  for (auto& [kernel, list] : curves_)
    for (auto& c : list) {
      std::stable_sort(c.points.begin(), c.points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
      // Records at the same coordinate (e.g. 4 groups × 8192 rows and 8 groups × 4096 rows are the same total
      // work; or one shape at two group counts) are averaged into one point.
      std::vector<Point> merged;
      for (size_t i = 0; i < c.points.size();) {
        size_t j = i;
        double sum = 0;
        while (j < c.points.size() && c.points[j].x == c.points[i].x) sum += c.points[j++].ns;
        merged.push_back(Point{c.points[i].x, sum / double(j - i), c.points[i].count});
        i = j;
      }
      c.points = std::move(merged);
    }
}

double CostModel::eval(const Curve& c, double x) {
  const auto& p = c.points;
  if (x <= p.front().x) {
    if (p.size() < 2) return p.front().ns;
    const double slope = (p[1].ns - p[0].ns) / (p[1].x - p[0].x);
    const double line = p[0].ns + slope * (x - p[0].x);
    return std::clamp(line, p[0].ns * x / p[0].x, p[0].ns);
  }
  if (x >= p.back().x) return p.back().ns * x / p.back().x;  // throughput saturates above the largest
  const auto hi = std::upper_bound(p.begin(), p.end(), x, [](double v, const Point& q) { return v < q.x; });
  const auto lo = hi - 1;
  const double f = (x - lo->x) / (hi->x - lo->x);
  return lo->ns + f * (hi->ns - lo->ns);
}

const CostModel::Curve* CostModel::pick(const std::string& kernel, const std::string& role, bool grouped, int sms,
                                        int64_t n, int64_t k, bool& exact_key, bool& same_role) const {
  const auto found = curves_.find(kernel);
  if (found == curves_.end()) return nullptr;
  std::vector<const Curve*> cand;
  for (const auto& c : found->second) cand.push_back(&c);
  auto narrow = [&](auto pred) {
    std::vector<const Curve*> keep;
    for (const Curve* c : cand)
      if (pred(*c)) keep.push_back(c);
    if (!keep.empty()) cand = std::move(keep);
  };
  same_role = std::any_of(cand.begin(), cand.end(), [&](const Curve* c) { return c->role == role; });
  if (same_role) narrow([&](const Curve& c) { return c.role == role; });
  // Without records of this role, GEMMs fall back to fprop (dgrad and wgrad run the same TN FP8 GEMM kernels).
  else narrow([&](const Curve& c) { return c.role == "fprop" || c.role == "forward"; });
  narrow([&](const Curve& c) { return c.grouped == grouped; });
  int best_sms = 0;
  for (const Curve* c : cand)
    if (best_sms == 0 || std::abs(c->sms - sms) < std::abs(best_sms - sms) ||
        (std::abs(c->sms - sms) == std::abs(best_sms - sms) && c->sms > best_sms))
      best_sms = c->sms;
  narrow([&](const Curve& c) { return c.sms == best_sms; });
  const Curve* best = nullptr;
  double best_d = 0;
  for (const Curve* c : cand) {
    const double d = (n > 0 && c->n > 0 ? std::abs(std::log(double(n) / double(c->n))) : 0) +
                     (k > 0 && c->k > 0 ? std::abs(std::log(double(k) / double(c->k))) : 0);
    if (!best || d < best_d) best = c, best_d = d;
  }
  exact_key = best && best->n == n && best->k == k;
  return best;
}

double CostModel::sm_factor(bool compute, int recorded_sms, int sms) const {
  if (compute) return double(recorded_sms) / double(sms);
  const double sat = profile_.memory_saturation_sms.value;
  return std::max(1.0, sat / double(sms)) / std::max(1.0, sat / double(recorded_sms));
}

double CostModel::efficiency(const Op& op, const std::string& bound) const {
  const std::string kind = to_string(op.kind), prec = to_string(op.precision);
  for (const auto& [o, p] : {std::pair{kind, prec}, {kind, std::string()}, {std::string("default"), prec},
                             {std::string("default"), std::string()}})
    for (const auto& e : profile_.efficiencies)
      if (e.op == o && e.precision == p && e.bound == bound) return e.value;
  return 1.0;  // unreachable for a validated profile: it has both default entries
}

OpTime CostModel::roofline(const Op& op, int sms) const {
  double peak_tflops = gpu_.fp32_tflops;  // CUDA cores for everything but tensor-core ops
  if (op.kind == OpKind::gemm || op.kind == OpKind::attention)
    peak_tflops = op.precision == Precision::fp8    ? gpu_.fp8_tflops
                  : op.precision == Precision::bf16 ? gpu_.bf16_tflops
                                                    : gpu_.fp32_tflops;
  const double compute_ns = op.flops / (peak_tflops * 1e3 * efficiency(op, "compute")) * sm_factor(true, gpu_.sms, sms);
  const double memory_ns = op.bytes / (gpu_.hbm_gbps * efficiency(op, "memory")) * sm_factor(false, gpu_.sms, sms);
  const double ns = std::max(compute_ns, memory_ns);
  return OpTime{ns > 0 ? std::max<TimeNs>(1, std::llround(ns)) : 0, TimeSource::roofline};
}

OpTime CostModel::time(const Op& op, int sms) const {
  if (op.kind == OpKind::dispatch || op.kind == OpKind::combine)
    throw std::invalid_argument(fmt::format("cost model: {} ({}) is communication, timed by the network model",
                                            op.name, to_string(op.kind)));
  if (sms < 1 || sms > gpu_.sms)
    throw std::invalid_argument(fmt::format("cost model: {} SMs requested for {}; {} has {}", sms, op.name, gpu_.name,
                                            gpu_.sms));
  const KernelKey key = kernel_key(op);
  const KernelShape shape = kernel_shape(op);
  int64_t n = 0, k = 0;
  double x = 0;
  key_of(key.kernel, key.role, shape, n, k, x);
  const bool gemm = is_gemm(key.kernel);
  bool exact_key = false, same_role = false;
  const Curve* c = pick(key.kernel, key.role, gemm && shape.count > 1, sms, n, k, exact_key, same_role);
  if (!c || x <= 0) return roofline(op, sms);
  double ns = eval(*c, x);
  if (gemm) {
    ns *= double(shape.count);
    // Another weight shape: same throughput at the same rows, so time scales with the FLOPs (n·k).
    if (!exact_key) ns *= double(n) * double(k) / (double(c->n) * double(c->k));
  }
  ns *= sm_factor(kernel_is_compute_bound(key.kernel), c->sms, sms);
  const bool exact_shape = std::find(c->shapes.begin(), c->shapes.end(), shape) != c->shapes.end();
  const TimeSource src = same_role && exact_key && exact_shape ? TimeSource::record : TimeSource::interpolated;
  return OpTime{std::max<TimeNs>(1, std::llround(ns)), src};
}

std::string describe_tally(const Profile& p, const CostTally& t) {
  return fmt::format("profile {} ({}, {}): {} ops from records, {} interpolated, {} roofline", p.name, p.file, p.method,
                     t.ops[0], t.ops[1], t.ops[2]);
}

}  // namespace cs
