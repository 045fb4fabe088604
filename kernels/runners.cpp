#include "kernels/runners.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels/gemm.hpp"
#include "kernels/launch.hpp"

namespace cs::kern {
namespace {

template <class T>
DevBuf upload(const std::vector<T>& h) {
  DevBuf d(h.size() * sizeof(T));
  CS_CUDA(cudaMemcpy(d.get(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

DevBuf bf16_buf(size_t n, uint64_t seed, cudaStream_t s, float lo = -1, float hi = 1) {
  DevBuf d(n * 2);
  fill_bf16(d.get(), n, seed, lo, hi, s);
  return d;
}

std::vector<float> to_f(const std::vector<uint16_t>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = bf16_to_float(v[i]);
  return f;
}

// |got − want| ≤ rel·|want| + abs, else CheckFailed naming the kernel and element.
void expect_close(const std::string& what, size_t i, double got, double want, double rel, double abs) {
  if (!(std::abs(got - want) <= rel * std::abs(want) + abs))
    throw CheckFailed(fmt::format("{} disagrees with the CPU reference at element {}: got {} expected {}", what, i,
                                  got, want));
}

constexpr double kBf16Rel = 1.0 / 128;  // two BF16 roundings
constexpr double kFp8Rel = 1.0 / 14;    // E4M3: 3 mantissa bits, half-ulp 1/16, plus the scale's rounding

using Call = std::function<void(cudaStream_t)>;

RunResult timed(Timer& timer, const Call& call, std::string note = "") {
  RunResult r;
  r.ran = true;
  r.stats = timer.time(call);
  r.note = std::move(note);
  return r;
}

RunResult run_gemm(const ShapeEntry& e, int sms, const RunContext& ctx, Timer& timer) {
  const bool fp8 = e.kernel == "gemm_fp8", wgrad = e.role == "wgrad";
  const GemmKind kind = !fp8 ? GemmKind::bf16 : wgrad ? GemmKind::fp8_wgrad : GemmKind::fp8_fprop;
  Gemm g(kind, GemmShape{e.shape.m, e.shape.n, e.shape.k, e.shape.count}, sms == ctx.device_sms ? 0 : sms, wgrad,
         timer.stream());
  if (ctx.check) g.check(16);
  return timed(timer, [&](cudaStream_t s) { g.run(s); }, g.algo_note());
}

RunResult run_rmsnorm(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t m = e.shape.m, n = e.shape.n;
  cudaStream_t s = timer.stream();
  DevBuf x = bf16_buf(size_t(m * n), 1, s), w = bf16_buf(size_t(n), 2, s, 0.5f, 1.5f), dy = bf16_buf(size_t(m * n), 3, s),
         y(size_t(m * n) * 2);
  const bool fwd = e.role == "forward";
  const Call call = [&](cudaStream_t st) {
    if (fwd) rmsnorm_fwd(x.as<bf16_t>(), w.as<bf16_t>(), y.as<bf16_t>(), m, n, grid, st);
    else rmsnorm_bwd(x.as<bf16_t>(), w.as<bf16_t>(), dy.as<bf16_t>(), y.as<bf16_t>(), m, n, grid, st);
  };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    const auto wv = to_f(w.fetch<uint16_t>(0, size_t(n)));
    for (int64_t r : {int64_t(0), m / 2, m - 1}) {
      const auto xv = to_f(x.fetch<uint16_t>(size_t(r * n), size_t(n)));
      const auto gv = to_f(dy.fetch<uint16_t>(size_t(r * n), size_t(n)));
      const auto yv = to_f(y.fetch<uint16_t>(size_t(r * n), size_t(n)));
      double ss = 0, dot = 0;
      for (int64_t c = 0; c < n; ++c) ss += double(xv[c]) * xv[c], dot += double(gv[c]) * wv[c] * xv[c];
      const double inv = 1 / std::sqrt(ss / double(n) + 1e-6);
      dot /= double(n);
      for (int64_t c = 0; c < n; ++c) {
        const double want = fwd ? xv[c] * inv * wv[c] : inv * gv[c] * wv[c] - xv[c] * inv * inv * inv * dot;
        expect_close("rmsnorm/" + e.role, size_t(r * n + c), yv[c], want, 2 * kBf16Rel, 1e-3 * inv);
      }
    }
  }
  return timed(timer, call);
}

RunResult run_rope(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t m = e.shape.m, n = e.shape.n;
  if (n % 64) return RunResult{false, fmt::format("rope: row width {} is not a multiple of the 64-wide head", n), {}};
  cudaStream_t s = timer.stream();
  DevBuf x = bf16_buf(size_t(m * n), 4, s);
  const float sign = e.role == "forward" ? 1.0f : -1.0f;
  if (ctx.check) {
    const int64_t r = std::min<int64_t>(m - 1, 1000);
    const auto before = to_f(x.fetch<uint16_t>(size_t(r * n), size_t(n)));
    rope(x.as<bf16_t>(), m, n, ctx.seq, sign, grid, s);
    CS_CUDA(cudaStreamSynchronize(s));
    const auto after = to_f(x.fetch<uint16_t>(size_t(r * n), size_t(n)));
    for (int64_t p = 0; p < n / 2; ++p) {
      const double ang = sign * double(r % ctx.seq) * std::pow(10000.0, -2.0 * double(p % 32) / 64.0);
      const double x0 = before[size_t(2 * p)], x1 = before[size_t(2 * p + 1)];
      expect_close("rope", size_t(2 * p), after[size_t(2 * p)], x0 * std::cos(ang) - x1 * std::sin(ang), kBf16Rel, 1e-2);
      expect_close("rope", size_t(2 * p + 1), after[size_t(2 * p + 1)], x0 * std::sin(ang) + x1 * std::cos(ang),
                   kBf16Rel, 1e-2);
    }
  }
  return timed(timer, [&](cudaStream_t st) { rope(x.as<bf16_t>(), m, n, ctx.seq, sign, grid, st); });
}

// Dequantised row r of an FP8 m × n matrix with VEC128 scales s[kb·m + r].
std::vector<double> dequant_row(const DevBuf& q, const DevBuf& sc, int64_t m, int64_t n, int64_t r) {
  const auto qv = q.fetch<uint8_t>(size_t(r * n), size_t(n));
  const auto all = sc.fetch<float>(0, size_t(((n + 127) / 128) * m));
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) out[size_t(c)] = fp8_e4m3_to_float(qv[size_t(c)]) * all[size_t((c / 128) * m + r)];
  return out;
}

RunResult run_swiglu(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t m = e.shape.m, w = e.shape.n;
  cudaStream_t s = timer.stream();
  DevBuf in = bf16_buf(size_t(m * 2 * w), 5, s, -3, 3);
  const bool fwd = e.role == "forward";
  DevBuf q(size_t(m * w)), sc(size_t(((w + 127) / 128) * m) * 4), dy = bf16_buf(fwd ? 0 : size_t(m * w), 6, s),
      din(fwd ? 0 : size_t(m * 2 * w) * 2);
  const Call call = [&](cudaStream_t st) {
    if (fwd) swiglu_quant_fwd(in.as<bf16_t>(), q.as<uint8_t>(), sc.as<float>(), m, w, grid, st);
    else swiglu_bwd(in.as<bf16_t>(), dy.as<bf16_t>(), din.as<bf16_t>(), m, w, grid, st);
  };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    const int64_t r = m / 3;
    const auto iv = to_f(in.fetch<uint16_t>(size_t(r * 2 * w), size_t(2 * w)));
    auto silu = [](double g) { return g / (1 + std::exp(-g)); };
    if (fwd) {
      const auto got = dequant_row(q, sc, m, w, r);
      for (int64_t c = 0; c < w; ++c)
        expect_close("swiglu+quantise", size_t(c), got[size_t(c)], silu(iv[size_t(c)]) * iv[size_t(w + c)], kFp8Rel,
                     1e-2);
    } else {
      const auto gv = to_f(dy.fetch<uint16_t>(size_t(r * w), size_t(w)));
      const auto dv = to_f(din.fetch<uint16_t>(size_t(r * 2 * w), size_t(2 * w)));
      for (int64_t c = 0; c < w; ++c) {
        const double g = iv[size_t(c)], u = iv[size_t(w + c)], d = gv[size_t(c)], sg = 1 / (1 + std::exp(-g));
        expect_close("swiglu backward", size_t(c), dv[size_t(c)], d * u * sg * (1 + g * (1 - sg)), 2 * kBf16Rel, 1e-2);
        expect_close("swiglu backward", size_t(w + c), dv[size_t(w + c)], d * g * sg, 2 * kBf16Rel, 1e-2);
      }
    }
  }
  return timed(timer, call);
}

RunResult run_quantize(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t m = e.shape.m, n = e.shape.n;
  const bool transpose = e.kernel == "transpose_quantize";
  cudaStream_t s = timer.stream();
  DevBuf x = bf16_buf(size_t(m * n), 7, s, -4, 4), q(size_t(m * n));
  DevBuf sc(size_t(transpose ? ((m + 127) / 128) * n : ((n + 127) / 128) * m) * 4);
  const Call call = [&](cudaStream_t st) {
    if (transpose) transpose_quant(x.as<bf16_t>(), q.as<uint8_t>(), sc.as<float>(), m, n, grid, st);
    else quant_1x128(x.as<bf16_t>(), q.as<uint8_t>(), sc.as<float>(), m, n, grid, st);
  };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    if (!transpose) {
      const int64_t r = m / 2;
      const auto want = to_f(x.fetch<uint16_t>(size_t(r * n), size_t(n)));
      const auto got = dequant_row(q, sc, m, n, r);
      for (int64_t c = 0; c < n; ++c) expect_close("quantise 1x128", size_t(c), got[size_t(c)], want[size_t(c)], kFp8Rel, 1e-2);
    } else {
      const int64_t col = n / 2;  // row `col` of xᵀ: column `col` of x, scales over 128-row blocks of x
      const auto got = dequant_row(q, sc, n, m, col);
      for (int64_t r = 0; r < m; r += std::max<int64_t>(1, m / 512)) {
        const double want = bf16_to_float(x.fetch<uint16_t>(size_t(r * n + col), 1)[0]);
        expect_close("transpose-quantise", size_t(r), got[size_t(r)], want, kFp8Rel, 1e-2);
      }
    }
  }
  return timed(timer, call);
}

RunResult run_elementwise(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t n = e.shape.m * e.shape.n;
  cudaStream_t s = timer.stream();
  DevBuf a = bf16_buf(size_t(n), 8, s), b = bf16_buf(size_t(n), 9, s), y(size_t(n) * 2);
  const Call call = [&](cudaStream_t st) { add_bf16(a.as<bf16_t>(), b.as<bf16_t>(), y.as<bf16_t>(), n, grid, st); };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    for (int64_t i : {int64_t(0), n / 2, n - 1})
      expect_close("residual add", size_t(i), bf16_to_float(y.fetch<uint16_t>(size_t(i), 1)[0]),
                   double(bf16_to_float(a.fetch<uint16_t>(size_t(i), 1)[0])) + bf16_to_float(b.fetch<uint16_t>(size_t(i), 1)[0]),
                   kBf16Rel, 1e-3);
  }
  return timed(timer, call);
}

std::vector<int> random_ints(size_t n, int hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> v(n);
  for (auto& x : v) x = int(rng() % uint64_t(hi));
  return v;
}

RunResult run_embedding(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  // The table's row count does not change what one micro-batch touches (one row per token); 32768 rows stand in.
  const int64_t m = e.shape.m, h = e.shape.n, rows = 32768;
  cudaStream_t s = timer.stream();
  const auto ids_h = random_ints(size_t(m), int(rows), 21);
  DevBuf ids = upload(ids_h), table = bf16_buf(size_t(rows * h), 10, s), y(size_t(m * h) * 2), dt(size_t(rows * h) * 4);
  const bool fwd = e.role == "forward";
  if (!fwd) fill_bf16(y.get(), size_t(m * h), 31, -1, 1, s);  // y holds the output gradient in the backward
  const Call call = [&](cudaStream_t st) {
    if (fwd) embedding_fwd(ids.as<int>(), table.as<bf16_t>(), y.as<bf16_t>(), m, h, grid, st);
    else embedding_bwd(ids.as<int>(), y.as<bf16_t>(), dt.as<float>(), m, h, grid, st);
  };
  if (ctx.check) {
    CS_CUDA(cudaMemsetAsync(dt.get(), 0, dt.bytes(), s));
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    const int id = ids_h[size_t(m / 2)];
    if (fwd) {
      const auto got = y.fetch<uint16_t>(size_t((m / 2) * h), size_t(h));
      const auto want = table.fetch<uint16_t>(size_t(int64_t(id) * h), size_t(h));
      if (got != want) throw CheckFailed("embedding lookup returned the wrong row");
    } else {
      // Row `id` of the table gradient is the sum of the output gradients of every token with that id.
      std::vector<double> want(static_cast<size_t>(h), 0.0);
      for (int64_t r = 0; r < m; ++r)
        if (ids_h[size_t(r)] == id) {
          const auto g = to_f(y.fetch<uint16_t>(size_t(r * h), size_t(h)));
          for (int64_t c = 0; c < h; ++c) want[size_t(c)] += g[size_t(c)];
        }
      const auto got = dt.fetch<float>(size_t(int64_t(id) * h), size_t(h));
      for (int64_t c = 0; c < h; ++c) expect_close("embedding scatter-add", size_t(c), got[size_t(c)], want[size_t(c)], 1e-5, 1e-5);
    }
  }
  return timed(timer, call);
}

RunResult run_loss(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t m = e.shape.m, v = e.shape.n;
  cudaStream_t s = timer.stream();
  const auto lab_h = random_ints(size_t(m), int(v), 22);
  DevBuf z = bf16_buf(size_t(m * v), 11, s, -8, 8), lab = upload(lab_h), loss(size_t(m) * 4), dz(size_t(m * v) * 2);
  const bool fwd = e.role == "forward";
  const Call call = [&](cudaStream_t st) {
    if (fwd) xent_fwd(z.as<bf16_t>(), lab.as<int>(), loss.as<float>(), m, v, grid, st);
    else xent_bwd(z.as<bf16_t>(), lab.as<int>(), dz.as<bf16_t>(), m, v, grid, st);
  };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    const int64_t r = m - 1;
    const auto zr = to_f(z.fetch<uint16_t>(size_t(r * v), size_t(v)));
    const double mx = *std::max_element(zr.begin(), zr.end());
    double sum = 0;
    for (float x : zr) sum += std::exp(x - mx);
    const int lab_r = lab_h[size_t(r)];
    if (fwd) {
      expect_close("cross-entropy", size_t(r), loss.fetch<float>(size_t(r), 1)[0], mx + std::log(sum) - zr[size_t(lab_r)],
                   1e-4, 1e-3);
    } else {
      const auto g = to_f(dz.fetch<uint16_t>(size_t(r * v), size_t(v)));
      for (int64_t c = 0; c < v; c += std::max<int64_t>(1, v / 997))
        expect_close("cross-entropy backward", size_t(c), g[size_t(c)],
                     std::exp(zr[size_t(c)] - mx) / sum - (c == lab_r ? 1 : 0), kBf16Rel, 1e-6);
    }
  }
  return timed(timer, call);
}

// Host reference of the node-limited top-k choice for one token (same tie rule: lower index first).
std::vector<int> router_reference(const std::vector<float>& logit, int groups, int topk_groups, int k) {
  // Single precision throughout, as on the GPU, so that near-ties order the same way.
  const int e = int(logit.size()), gs = e / groups;
  std::vector<float> s(static_cast<size_t>(e));
  for (int j = 0; j < e; ++j) s[size_t(j)] = 1.0f / (1.0f + std::exp(-logit[size_t(j)]));
  std::vector<std::pair<float, int>> gsc;
  for (int g = 0; g < groups; ++g) {
    std::vector<float> v(s.begin() + g * gs, s.begin() + (g + 1) * gs);
    std::sort(v.rbegin(), v.rend());
    gsc.push_back({-(v[0] + (gs > 1 ? v[1] : 0.0f)), g});
  }
  std::sort(gsc.begin(), gsc.end());
  std::vector<std::pair<float, int>> cand;
  for (int r = 0; r < topk_groups; ++r)
    for (int j = gsc[size_t(r)].second * gs; j < (gsc[size_t(r)].second + 1) * gs; ++j) cand.push_back({-s[size_t(j)], j});
  std::sort(cand.begin(), cand.end());
  std::vector<int> out;
  for (int r = 0; r < k; ++r) out.push_back(cand[size_t(r)].second);
  return out;
}

RunResult run_router(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t m = e.shape.m;
  const int ex = int(e.shape.n), k = ctx.top_k;
  if (k <= 0) return RunResult{false, "router_topk: the shape list has no routing (top_k 0)", {}};
  cudaStream_t s = timer.stream();
  DevBuf logits(size_t(m * ex) * 4), idx(size_t(m * k) * 4), w(size_t(m * k) * 4), dw(size_t(m * k) * 4),
      dl(size_t(m * ex) * 4);
  fill_f32(logits.as<float>(), size_t(m * ex), 12, -4, 4, s);
  fill_f32(dw.as<float>(), size_t(m * k), 13, -1, 1, s);
  auto fwd = [&](cudaStream_t st) {
    router_topk_fwd(logits.as<float>(), idx.as<int>(), w.as<float>(), m, ex, ctx.expert_groups, ctx.topk_groups, k,
                    grid, st);
  };
  fwd(s);  // the backward needs the forward's choice
  CS_CUDA(cudaStreamSynchronize(s));
  if (ctx.check) {
    for (int64_t t : {int64_t(0), m / 2, m - 1}) {
      const auto want = router_reference(logits.fetch<float>(size_t(t * ex), size_t(ex)), ctx.expert_groups,
                                         ctx.topk_groups, k);
      const auto got = idx.fetch<int>(size_t(t * k), size_t(k));
      if (got != want) throw CheckFailed(fmt::format("router_topk: token {} chose other experts than the reference", t));
    }
  }
  if (e.role == "forward") return timed(timer, fwd);
  const Call bwd = [&](cudaStream_t st) {
    router_topk_bwd(logits.as<float>(), idx.as<int>(), w.as<float>(), dw.as<float>(), dl.as<float>(), m, ex, k, grid, st);
  };
  if (ctx.check) {
    bwd(s);
    CS_CUDA(cudaStreamSynchronize(s));
    // w_j = s_j / S  ⇒  ∂L/∂logit_j = (dw_j − Σ_i w_i dw_i) / S · s_j (1 − s_j) for the chosen experts, 0 elsewhere.
    const int64_t t = m / 2;
    const auto lg = logits.fetch<float>(size_t(t * ex), size_t(ex));
    const auto id = idx.fetch<int>(size_t(t * k), size_t(k));
    const auto wv = w.fetch<float>(size_t(t * k), size_t(k));
    const auto dv = dw.fetch<float>(size_t(t * k), size_t(k));
    const auto got = dl.fetch<float>(size_t(t * ex), size_t(ex));
    std::vector<double> want(static_cast<size_t>(ex), 0.0);
    double S = 0, dot = 0;
    for (int j = 0; j < k; ++j) S += 1 / (1 + std::exp(-double(lg[size_t(id[size_t(j)])]))), dot += double(wv[size_t(j)]) * dv[size_t(j)];
    for (int j = 0; j < k; ++j) {
      const double sj = 1 / (1 + std::exp(-double(lg[size_t(id[size_t(j)])])));
      want[size_t(id[size_t(j)])] = (dv[size_t(j)] - dot) / S * sj * (1 - sj);
    }
    for (int j = 0; j < ex; ++j) expect_close("router backward", size_t(j), got[size_t(j)], want[size_t(j)], 1e-4, 1e-6);
  }
  return timed(timer, bwd);
}

RunResult run_permute(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t rows = e.shape.m;
  const int ex = int(e.shape.n);
  const auto idx_h = random_ints(size_t(rows), ex, 23);
  DevBuf idx = upload(idx_h), counts(size_t(ex) * 4), offsets(size_t(ex) * 4), cursor(size_t(ex) * 4),
      dest(size_t(rows) * 4);
  const Call call = [&](cudaStream_t st) {
    permute_map(idx.as<int>(), rows, ex, counts.as<int>(), offsets.as<int>(), cursor.as<int>(), dest.as<int>(), grid, st);
  };
  if (ctx.check) {
    call(timer.stream());
    CS_CUDA(cudaStreamSynchronize(timer.stream()));
    const auto d = dest.fetch<int>(0, size_t(rows));
    const auto off = offsets.fetch<int>(0, size_t(ex));
    std::vector<int> cnt(size_t(ex), 0);
    for (int x : idx_h) cnt[size_t(x)]++;
    std::vector<char> seen(size_t(rows), 0);
    for (int64_t r = 0; r < rows; ++r) {
      const int x = idx_h[size_t(r)], slot = d[size_t(r)];
      if (slot < off[size_t(x)] || slot >= off[size_t(x)] + cnt[size_t(x)] || seen[size_t(slot)]++)
        throw CheckFailed(fmt::format("permute: pair {} (expert {}) got slot {} outside its expert's range", r, x, slot));
    }
  }
  return timed(timer, call);
}

// Slots of tokens × k pairs: a deterministic shuffle standing in for the permutation.
std::vector<int> shuffled_slots(size_t n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(24));
  return v;
}

RunResult run_gather(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t t = e.shape.m, n = e.shape.n;
  const int k = ctx.top_k;
  if (k <= 0 || n % 128) return RunResult{false, "gather_fp8: needs top_k > 0 and a hidden size divisible by 128", {}};
  cudaStream_t s = timer.stream();
  const auto dest_h = shuffled_slots(size_t(t * k));
  DevBuf x(size_t(t * n)), xs(size_t(t * (n / 128)) * 4), dest = upload(dest_h), y(size_t(t * k * n)),
      ys(size_t(t * k * (n / 128)) * 4);
  fill_fp8(x.get(), size_t(t * n), 25, s);
  fill_f32(xs.as<float>(), size_t(t * (n / 128)), 26, 0.5f, 2, s);
  const Call call = [&](cudaStream_t st) {
    gather_fp8(x.as<uint8_t>(), xs.as<float>(), dest.as<int>(), t, n, k, y.as<uint8_t>(), ys.as<float>(), grid, st);
  };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    const int64_t p = t * k / 2, tok = p / k;
    if (y.fetch<uint8_t>(size_t(dest_h[size_t(p)] * n), size_t(n)) != x.fetch<uint8_t>(size_t(tok * n), size_t(n)))
      throw CheckFailed("gather_fp8: a gathered row differs from its token's row");
  }
  return timed(timer, call);
}

RunResult run_combine(const ShapeEntry& e, int grid, const RunContext& ctx, Timer& timer) {
  const int64_t t = e.shape.m, n = e.shape.n;
  const int k = ctx.top_k;
  if (k <= 0) return RunResult{false, "weighted_combine: the shape list has no routing (top_k 0)", {}};
  cudaStream_t s = timer.stream();
  const auto dest_h = shuffled_slots(size_t(t * k));
  DevBuf y = bf16_buf(size_t(t * k * n), 27, s), dest = upload(dest_h), w(size_t(t * k) * 4), sh = bf16_buf(size_t(t * n), 28, s),
         res = bf16_buf(size_t(t * n), 29, s), out(size_t(t * n) * 2), dy(size_t(t * k * n) * 2), dw(size_t(t * k) * 4);
  fill_f32(w.as<float>(), size_t(t * k), 30, 0, 0.25f, s);
  const bool fwd = e.role == "forward";
  const Call call = [&](cudaStream_t st) {
    if (fwd) weighted_combine_fwd(y.as<bf16_t>(), dest.as<int>(), w.as<float>(), sh.as<bf16_t>(), res.as<bf16_t>(),
                                  out.as<bf16_t>(), t, n, k, grid, st);
    else weighted_combine_bwd(res.as<bf16_t>(), y.as<bf16_t>(), dest.as<int>(), w.as<float>(), dy.as<bf16_t>(),
                              dw.as<float>(), t, n, k, grid, st);
  };
  if (ctx.check) {
    call(s);
    CS_CUDA(cudaStreamSynchronize(s));
    const int64_t tok = t / 2;
    const auto wv = w.fetch<float>(size_t(tok * k), size_t(k));
    const auto base = to_f(res.fetch<uint16_t>(size_t(tok * n), size_t(n)));
    if (fwd) {
      auto want = base;
      const auto shv = to_f(sh.fetch<uint16_t>(size_t(tok * n), size_t(n)));
      std::vector<double> acc(base.begin(), base.end());
      for (int64_t c = 0; c < n; ++c) acc[size_t(c)] += shv[size_t(c)];
      for (int j = 0; j < k; ++j) {
        const auto yr = to_f(y.fetch<uint16_t>(size_t(int64_t(dest_h[size_t(tok * k + j)]) * n), size_t(n)));
        for (int64_t c = 0; c < n; ++c) acc[size_t(c)] += double(wv[size_t(j)]) * yr[size_t(c)];
      }
      const auto got = to_f(out.fetch<uint16_t>(size_t(tok * n), size_t(n)));
      for (int64_t c = 0; c < n; ++c) expect_close("weighted combine", size_t(c), got[size_t(c)], acc[size_t(c)], kBf16Rel, 1e-2);
    } else {
      const auto dwv = dw.fetch<float>(size_t(tok * k), size_t(k));
      for (int j = 0; j < k; ++j) {
        const auto yr = to_f(y.fetch<uint16_t>(size_t(int64_t(dest_h[size_t(tok * k + j)]) * n), size_t(n)));
        double dot = 0, mag = 0;
        for (int64_t c = 0; c < n; ++c) dot += double(base[size_t(c)]) * yr[size_t(c)], mag += std::abs(base[size_t(c)] * yr[size_t(c)]);
        expect_close("weighted combine backward", size_t(j), dwv[size_t(j)], dot, 0, 1e-4 * mag + 1e-4);
      }
    }
  }
  return timed(timer, call);
}

}  // namespace

RunResult run_entry(const ShapeEntry& e, int sms, const RunContext& ctx, Timer& timer) {
  const std::string& k = e.kernel;
  if (k == "gemm_fp8" || k == "gemm_bf16") return run_gemm(e, sms, ctx, timer);
  if (k == "attention")
    return RunResult{false,
                     "attention: not measured (no cuDNN composite graph in the harness yet); the cost model's "
                     "analytic roofline with the profile's attention efficiency applies",
                     {}};
  if (k == "rmsnorm") return run_rmsnorm(e, sms, ctx, timer);
  if (k == "rope") return run_rope(e, sms, ctx, timer);
  if (k == "swiglu") return run_swiglu(e, sms, ctx, timer);
  if (k == "quantize" || k == "transpose_quantize") return run_quantize(e, sms, ctx, timer);
  if (k == "elementwise") return run_elementwise(e, sms, ctx, timer);
  if (k == "embedding") return run_embedding(e, sms, ctx, timer);
  if (k == "loss") return run_loss(e, sms, ctx, timer);
  if (k == "router_topk") return run_router(e, sms, ctx, timer);
  if (k == "permute") return run_permute(e, sms, ctx, timer);
  if (k == "gather_fp8") return run_gather(e, sms, ctx, timer);
  if (k == "weighted_combine") return run_combine(e, sms, ctx, timer);
  return RunResult{false, "no harness implementation for kernel " + k, {}};
}

int measure_memory_saturation(int device_sms, Timer& timer) {
  const int64_t bytes = int64_t(1) << 30;  // 1 GiB: far beyond L2, long enough to time
  DevBuf a(static_cast<size_t>(bytes)), b(static_cast<size_t>(bytes));
  CS_CUDA(cudaMemset(a.get(), 1, size_t(bytes)));
  auto bw = [&](int grid) {
    return double(bytes) / timer.time([&](cudaStream_t s) { copy_bytes(a.get(), b.get(), bytes, grid, s); }).median_ns;
  };
  const double full = bw(device_sms);
  for (int g = 4; g < device_sms; g += 4)
    if (bw(g) >= 0.95 * full) return g;
  return device_sms;
}

}  // namespace cs::kern
