// Launchers of the harness's own CUDA kernels (memory-bound and expert-parallel local kernels). Host-compiler
// friendly: BF16 is passed as uint16_t, FP8 E4M3 as uint8_t. `grid` is the number of 1024-thread blocks; launching
// one block per SM for `grid` SMs is how these kernels are limited to fewer SMs (the block scheduler places blocks
// breadth-first, one per SM, when there are no more blocks than SMs).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace cs::kern {

using bf16_t = uint16_t;

// Memory-bound kernels (kernels/memory_kernels.cu).
void rmsnorm_fwd(const bf16_t* x, const bf16_t* w, bf16_t* y, int64_t m, int64_t n, int grid, cudaStream_t s);
void rmsnorm_bwd(const bf16_t* x, const bf16_t* w, const bf16_t* dy, bf16_t* dx, int64_t m, int64_t n, int grid,
                 cudaStream_t s);
// Rotates pairs of each 64-wide head of a row in place; position = row % seq; sign −1 undoes it (backward).
void rope(bf16_t* x, int64_t m, int64_t n, int64_t seq, float sign, int grid, cudaStream_t s);
// in: m × 2w (gate | up); out: FP8 m × w with 1×128 scales s[kb·m + row].
void swiglu_quant_fwd(const bf16_t* in, uint8_t* out, float* scales, int64_t m, int64_t w, int grid, cudaStream_t s);
void swiglu_bwd(const bf16_t* in, const bf16_t* dy, bf16_t* din, int64_t m, int64_t w, int grid, cudaStream_t s);
// x: m × n → FP8 m × n, scales s[kb·m + row] (cuBLASLt VEC128 layout for an operand stored [m][K=n]).
void quant_1x128(const bf16_t* x, uint8_t* q, float* scales, int64_t m, int64_t n, int grid, cudaStream_t s);
// x: m × n → FP8 xᵀ (n × m), scales over 128-row blocks s[mb·n + col] (VEC128 for an operand stored [n][K=m]).
void transpose_quant(const bf16_t* x, uint8_t* qt, float* scales, int64_t m, int64_t n, int grid, cudaStream_t s);
void add_bf16(const bf16_t* a, const bf16_t* b, bf16_t* y, int64_t n, int grid, cudaStream_t s);
void embedding_fwd(const int* ids, const bf16_t* table, bf16_t* y, int64_t m, int64_t hidden, int grid, cudaStream_t s);
void embedding_bwd(const int* ids, const bf16_t* dy, float* dtable, int64_t m, int64_t hidden, int grid, cudaStream_t s);
void xent_fwd(const bf16_t* logits, const int* labels, float* loss, int64_t m, int64_t v, int grid, cudaStream_t s);
void xent_bwd(const bf16_t* logits, const int* labels, bf16_t* dlogits, int64_t m, int64_t v, int grid, cudaStream_t s);
// A plain copy, for the SM sweep that measures how many SMs saturate HBM.
void copy_bytes(const void* src, void* dst, int64_t bytes, int grid, cudaStream_t s);

// Expert-parallel local kernels (kernels/ep_kernels.cu).
// Sigmoid scores of m × e gate logits; the `topk_groups` groups (of e/groups experts) with the largest sum of their
// top-2 scores are allowed; the top `k` allowed experts are chosen; weights are their scores normalised to sum 1.
void router_topk_fwd(const float* logits, int* idx, float* weights, int64_t m, int e, int groups, int topk_groups,
                     int k, int grid, cudaStream_t s);
void router_topk_bwd(const float* logits, const int* idx, const float* weights, const float* dweights, float* dlogits,
                     int64_t m, int e, int k, int grid, cudaStream_t s);
// Expert-contiguous slots for `rows` (token, choice) pairs: counts and offsets per expert, dest[r] = slot of pair r.
// `counts` and `cursor` (e ints each) are scratch; offsets are written.
void permute_map(const int* idx, int64_t rows, int e, int* counts, int* offsets, int* cursor, int* dest, int grid,
                 cudaStream_t s);
// Copies each token's FP8 row (n bytes) and its n/128 scales to the slots of its k choices.
void gather_fp8(const uint8_t* x, const float* xs, const int* dest, int64_t tokens, int64_t n, int k, uint8_t* y,
                float* ys, int grid, cudaStream_t s);
// out[t] = resid[t] + shared[t] + Σ_j w[t,j] · y[dest[t,j]]
void weighted_combine_fwd(const bf16_t* y, const int* dest, const float* w, const bf16_t* shared, const bf16_t* resid,
                          bf16_t* out, int64_t tokens, int64_t n, int k, int grid, cudaStream_t s);
// dy[dest[t,j]] = w[t,j] · dout[t];  dw[t,j] = ⟨dout[t], y[dest[t,j]]⟩
void weighted_combine_bwd(const bf16_t* dout, const bf16_t* y, const int* dest, const float* w, bf16_t* dy, float* dw,
                          int64_t tokens, int64_t n, int k, int grid, cudaStream_t s);

}  // namespace cs::kern
