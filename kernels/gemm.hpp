// GEMMs through cuBLASLt: FP8 E4M3 with DeepSeek's scaling (1×128 activation tiles, 128×128 weight blocks, FP32
// accumulation) and BF16. Y[m,n] = X[m,k]·W[n,k]ᵀ with both operands K-contiguous (cuBLASLt's TN layout: the only one
// block-scaled FP8 supports on Hopper). `count` > 1 runs one cuBLASLt call per group (expert) captured in a CUDA graph
// (cuBLAS 13.1 has no grouped block-scaled GEMM).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>

namespace cs::kern {

enum class GemmKind {
  fp8_fprop,  // X 1×128 (VEC128) · W 128×128 (BLK128x128) → BF16; dgrad is the same call on dY and a transposed W
  fp8_wgrad,  // both operands 1×128 along the token dimension (2D×2D block scaling is unsupported) → FP32
  bf16,       // BF16 in, BF16 out (FP32 out for wgrad)
};

struct GemmShape {
  int64_t m = 0, n = 0, k = 0, count = 1;
};

class Gemm {
 public:
  // Allocates operands (random data), picks cuBLASLt's first heuristic algorithm; sms_target 0 = all SMs, else
  // CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET.
  Gemm(GemmKind kind, GemmShape shape, int sms_target, bool fp32_out, cudaStream_t s);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;
  // Enqueues the whole call (all groups) on `s`.
  void run(cudaStream_t s);
  // Recomputes `samples` output elements on the CPU from the device operands and scales; throws CheckFailed with the
  // worst element when one differs by more than the FP32-accumulation + output-rounding tolerance.
  void check(int samples);
  std::string algo_note() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

std::string cublaslt_version();

}  // namespace cs::kern
