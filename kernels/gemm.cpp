#include "kernels/gemm.hpp"

#include <cublasLt.h>
#include <fmt/format.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/common.hpp"

namespace cs::kern {
namespace {

void check_lt(cublasStatus_t st, const char* what, int line) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(fmt::format("kernels/gemm.cpp:{}: {} failed: status {}", line, what, int(st)));
}
#define CS_LT(x) check_lt((x), #x, __LINE__)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::string cublaslt_version() {
  const size_t v = cublasLtGetVersion();
  return fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
}

struct Gemm::Impl {
  GemmKind kind;
  GemmShape sh;
  bool fp32_out;
  int64_t a_scale_ld = 0;  // BLK128x128 scale row stride (weights), roundup(ceil(K/128), 4)
  DevBuf w, x, y, w_scale, x_scale, workspace;
  cublasLtHandle_t lt = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulHeuristicResult_t heur{};
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;

  bool fp8() const { return kind != GemmKind::bf16; }
  size_t w_elems() const { return size_t(sh.n * sh.k); }
  size_t x_elems() const { return size_t(sh.m * sh.k); }
  size_t w_scales() const {
    return kind == GemmKind::fp8_fprop ? size_t(ceil_div(sh.n, 128) * a_scale_ld) : size_t(ceil_div(sh.k, 128) * sh.n);
  }
  size_t x_scales() const { return size_t(ceil_div(sh.k, 128) * sh.m); }

  // One group's call: cuBLASLt is column-major, so Yᵀ (n×m, ld n) = W (A: stored k×n, transposed) · Xᵀ (B: k×m).
  void call(int64_t g, cudaStream_t s) {
    const size_t eb = fp8() ? 1 : 2, ob = fp32_out ? 4 : 2;
    const void* a = w.as<uint8_t>() + size_t(g) * w_elems() * eb;
    const void* b = x.as<uint8_t>() + size_t(g) * x_elems() * eb;
    void* d = y.as<uint8_t>() + size_t(g) * size_t(sh.m * sh.n) * ob;
    if (fp8()) {
      const float* as = w_scale.as<float>() + size_t(g) * w_scales();
      const float* bs = x_scale.as<float>() + size_t(g) * x_scales();
      CS_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &as, sizeof as));
      CS_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &bs, sizeof bs));
    }
    const float alpha = 1, beta = 0;
    CS_LT(cublasLtMatmul(lt, desc, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &heur.algo, workspace.get(),
                         workspace.bytes(), s));
  }
};

Gemm::Gemm(GemmKind kind, GemmShape sh, int sms_target, bool fp32_out, cudaStream_t s) : p_(new Impl) {
  auto& I = *p_;
  I.kind = kind, I.sh = sh, I.fp32_out = fp32_out;
  if (kind != GemmKind::bf16 && (sh.k % 16 || sh.n % 16 || sh.m % 16))
    throw std::invalid_argument(fmt::format("FP8 GEMM {}x{}x{}: cuBLASLt needs dimensions divisible by 16", sh.m,
                                            sh.n, sh.k));
  I.a_scale_ld = (ceil_div(sh.k, 128) + 3) / 4 * 4;
  const size_t eb = I.fp8() ? 1 : 2, ob = fp32_out ? 4 : 2, G = size_t(sh.count);
  I.w = DevBuf(G * I.w_elems() * eb);
  I.x = DevBuf(G * I.x_elems() * eb);
  I.y = DevBuf(G * size_t(sh.m * sh.n) * ob);
  if (I.fp8()) {
    fill_fp8(I.w.get(), G * I.w_elems(), 11, s);
    fill_fp8(I.x.get(), G * I.x_elems(), 12, s);
    I.w_scale = DevBuf(G * I.w_scales() * 4);
    I.x_scale = DevBuf(G * I.x_scales() * 4);
    fill_f32(I.w_scale.as<float>(), G * I.w_scales(), 13, 0.5f, 2.0f, s);
    fill_f32(I.x_scale.as<float>(), G * I.x_scales(), 14, 0.5f, 2.0f, s);
  } else {
    fill_bf16(I.w.get(), G * I.w_elems(), 11, -1, 1, s);
    fill_bf16(I.x.get(), G * I.x_elems(), 12, -1, 1, s);
  }
  I.workspace = DevBuf(size_t(32) << 20);
  CS_LT(cublasLtCreate(&I.lt));
  const cudaDataType_t in_t = I.fp8() ? CUDA_R_8F_E4M3 : CUDA_R_16BF, out_t = fp32_out ? CUDA_R_32F : CUDA_R_16BF;
  CS_LT(cublasLtMatmulDescCreate(&I.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t T = CUBLAS_OP_T, N = CUBLAS_OP_N;
  CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_TRANSA, &T, sizeof T));
  CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_TRANSB, &N, sizeof N));
  if (sms_target > 0) {
    const int32_t t = sms_target;
    CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, &t, sizeof t));
  }
  if (I.fp8()) {
    const int32_t a_mode = kind == GemmKind::fp8_fprop ? CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F
                                                       : CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
    const int32_t b_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
    CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &a_mode, sizeof a_mode));
    CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &b_mode, sizeof b_mode));
    const float* as = I.w_scale.as<float>();
    const float* bs = I.x_scale.as<float>();
    CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &as, sizeof as));
    CS_LT(cublasLtMatmulDescSetAttribute(I.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &bs, sizeof bs));
  }
  CS_LT(cublasLtMatrixLayoutCreate(&I.la, in_t, uint64_t(sh.k), uint64_t(sh.n), sh.k));
  CS_LT(cublasLtMatrixLayoutCreate(&I.lb, in_t, uint64_t(sh.k), uint64_t(sh.m), sh.k));
  CS_LT(cublasLtMatrixLayoutCreate(&I.ld, out_t, uint64_t(sh.n), uint64_t(sh.m), sh.n));
  cublasLtMatmulPreference_t pref = nullptr;
  CS_LT(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = I.workspace.bytes();
  CS_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(I.lt, I.desc, I.la, I.lb, I.ld, I.ld, pref, 1, &I.heur,
                                                           &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0)
    throw std::runtime_error(fmt::format("cuBLASLt has no algorithm for {} GEMM {}x{}x{} (status {})",
                                         I.fp8() ? "FP8 block-scaled" : "BF16", sh.m, sh.n, sh.k, int(st)));
  CS_CUDA(cudaStreamSynchronize(s));
  if (sh.count > 1) {
    // Scale pointers are per-call descriptor attributes: they are baked into each captured launch.
    CS_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int64_t g = 0; g < sh.count; ++g) I.call(g, s);
    CS_CUDA(cudaStreamEndCapture(s, &I.graph));
    CS_CUDA(cudaGraphInstantiate(&I.exec, I.graph, 0));
  }
}

Gemm::~Gemm() {
  auto& I = *p_;
  if (I.exec) cudaGraphExecDestroy(I.exec);
  if (I.graph) cudaGraphDestroy(I.graph);
  if (I.la) cublasLtMatrixLayoutDestroy(I.la);
  if (I.lb) cublasLtMatrixLayoutDestroy(I.lb);
  if (I.ld) cublasLtMatrixLayoutDestroy(I.ld);
  if (I.desc) cublasLtMatmulDescDestroy(I.desc);
  if (I.lt) cublasLtDestroy(I.lt);
}

void Gemm::run(cudaStream_t s) {
  if (p_->exec)
    CS_CUDA(cudaGraphLaunch(p_->exec, s));
  else
    p_->call(0, s);
}

std::string Gemm::algo_note() const {
  return fmt::format("cuBLASLt {} first heuristic, waves {:.2f}", cublaslt_version(), p_->heur.wavesCount);
}

void Gemm::check(int samples) {
  auto& I = *p_;
  run(cudaStream_t(0));
  CS_CUDA(cudaDeviceSynchronize());
  std::mt19937_64 rng(7);
  const auto& sh = I.sh;
  double worst = 0;
  std::string where;
  for (int t = 0; t < samples; ++t) {
    const int64_t g = int64_t(rng() % uint64_t(sh.count)), i = int64_t(rng() % uint64_t(sh.m)),
                  j = int64_t(rng() % uint64_t(sh.n));
    double ref = 0, mag = 0;
    if (I.fp8()) {
      const auto xr = I.x.fetch<uint8_t>(size_t(g) * I.x_elems() + size_t(i * sh.k), size_t(sh.k));
      const auto wr = I.w.fetch<uint8_t>(size_t(g) * I.w_elems() + size_t(j * sh.k), size_t(sh.k));
      const auto xs = I.x_scale.fetch<float>(size_t(g) * I.x_scales(), I.x_scales());
      const auto ws = I.w_scale.fetch<float>(size_t(g) * I.w_scales(), I.w_scales());
      for (int64_t kk = 0; kk < sh.k; ++kk) {
        const int64_t kb = kk / 128;
        const double sx = xs[size_t(kb * sh.m + i)];  // VEC128: s[kb·outer + o]
        const double sw = I.kind == GemmKind::fp8_fprop ? ws[size_t((j / 128) * I.a_scale_ld + kb)]  // BLK128x128
                                                        : ws[size_t(kb * sh.n + j)];
        const double term = double(fp8_e4m3_to_float(xr[size_t(kk)])) * sx * fp8_e4m3_to_float(wr[size_t(kk)]) * sw;
        ref += term;
        mag += std::abs(term);
      }
    } else {
      const auto xr = I.x.fetch<uint16_t>(size_t(g) * I.x_elems() + size_t(i * sh.k), size_t(sh.k));
      const auto wr = I.w.fetch<uint16_t>(size_t(g) * I.w_elems() + size_t(j * sh.k), size_t(sh.k));
      for (int64_t kk = 0; kk < sh.k; ++kk) {
        const double term = double(bf16_to_float(xr[size_t(kk)])) * bf16_to_float(wr[size_t(kk)]);
        ref += term;
        mag += std::abs(term);
      }
    }
    const size_t off = size_t(g) * size_t(sh.m * sh.n) + size_t(i * sh.n + j);
    const double got = I.fp32_out ? double(I.y.fetch<float>(off, 1)[0]) : double(bf16_to_float(I.y.fetch<uint16_t>(off, 1)[0]));
    // FP32 accumulation error grows with the magnitude sum; BF16 output rounding is 2^-8 relative.
    const double tol = 1e-3 * mag + (I.fp32_out ? 1e-6 : 1.0 / 256) * std::abs(ref) + 1e-6;
    const double err = std::abs(got - ref) / tol;
    if (err > worst) worst = err, where = fmt::format("group {} element ({}, {}): got {} expected {}", g, i, j, got, ref);
  }
  if (worst > 1)
    throw CheckFailed(fmt::format("GEMM {}x{}x{}x{} disagrees with the CPU reference at {}", sh.m, sh.n, sh.k,
                                  sh.count, where));
}

}  // namespace cs::kern
