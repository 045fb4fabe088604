// Expert-parallel local kernels: DeepSeek-V3's node-limited top-k routing (sigmoid scores, groups ranked by the sum of
// their top-2 scores, reference/deepseek-v3.md §1), the expert-contiguous permutation, the FP8 gather and the
// gate-weighted combine.
#include <cuda_bf16.h>

#include "kernels/common.hpp"
#include "kernels/launch.hpp"

namespace cs::kern {
namespace {

constexpr int kThreads = 1024;
constexpr int kRouterThreads = 256;  // 8 tokens (one per warp) per block; scores of each in shared memory
using bf = __nv_bfloat16;
__device__ inline float ld(const bf16_t* p, int64_t i) { return __bfloat162float(reinterpret_cast<const bf*>(p)[i]); }
__device__ inline void st(bf16_t* p, int64_t i, float v) { reinterpret_cast<bf*>(p)[i] = __float2bfloat16(v); }

// Warp arg-max; ties go to the lower index so that the choice is deterministic.
__device__ void warp_argmax(float& v, int& i) {
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffff, v, o);
    const int oi = __shfl_xor_sync(0xffffffff, i, o);
    if (ov > v || (ov == v && oi < i)) v = ov, i = oi;
  }
}

__global__ void k_router_fwd(const float* logits, int* idx, float* weights, int64_t m, int e, int groups,
                             int topk_groups, int k) {
  extern __shared__ float smem[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  float* s = smem + warp * e;
  const int gsize = e / groups;
  for (int64_t t = int64_t(blockIdx.x) * warps + warp; t < m; t += int64_t(gridDim.x) * warps) {
    // expf, not __expf: the choice of experts must not depend on a fast approximation (the CPU reference uses expf)
    for (int j = lane; j < e; j += 32) s[j] = 1.0f / (1.0f + expf(-logits[t * e + j]));
    __syncwarp();
    // Group score = sum of the group's two best scores; lane g scores group g (groups ≤ 32).
    float gs = -INFINITY;
    if (lane < groups) {
      float a = -INFINITY, b = -INFINITY;
      for (int j = lane * gsize; j < (lane + 1) * gsize; ++j) {
        const float v = s[j];
        if (v > a) b = a, a = v;
        else if (v > b) b = v;
      }
      gs = a + b;
    }
    unsigned allowed = 0;
    for (int r = 0; r < topk_groups; ++r) {
      float v = (allowed >> lane) & 1 ? -INFINITY : gs;
      int i = lane;
      warp_argmax(v, i);
      allowed |= 1u << i;
    }
    float sum = 0, mine = 0;
    int mine_idx = -1;
    for (int r = 0; r < k; ++r) {
      float v = -INFINITY;
      int i = e;
      for (int j = lane; j < e; j += 32)
        if (((allowed >> (j / gsize)) & 1) && s[j] > v) v = s[j], i = j;
      warp_argmax(v, i);
      sum += v;
      if (lane == r) mine = v, mine_idx = i;
      __syncwarp();
      if (lane == 0) s[i] = -INFINITY;
      __syncwarp();
    }
    if (lane < k) {
      idx[t * k + lane] = mine_idx;
      weights[t * k + lane] = mine / sum;
    }
    __syncwarp();
  }
}

__global__ void k_router_bwd(const float* logits, const int* idx, const float* w, const float* dw, float* dl,
                             int64_t m, int e, int k) {
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int64_t t = int64_t(blockIdx.x) * warps + (threadIdx.x >> 5); t < m; t += int64_t(gridDim.x) * warps) {
    for (int j = lane; j < e; j += 32) dl[t * e + j] = 0;
    __syncwarp();
    // w_j = s_j / S  ⇒  ∂L/∂s_j = (dw_j − Σ_i w_i dw_i) / S;  ∂s/∂logit = s (1 − s)
    float s = 0, wdw = 0;
    int j = -1;
    if (lane < k) {
      j = idx[t * k + lane];
      s = 1.0f / (1.0f + __expf(-logits[t * e + j]));
      wdw = w[t * k + lane] * dw[t * k + lane];
    }
    float S = s, dot = wdw;
    for (int o = 16; o > 0; o >>= 1) {
      S += __shfl_xor_sync(0xffffffff, S, o);
      dot += __shfl_xor_sync(0xffffffff, dot, o);
    }
    if (lane < k) dl[t * e + j] = (dw[t * k + lane] - dot) / S * s * (1.0f - s);
  }
}

__global__ void k_histogram(const int* idx, int64_t rows, int* counts) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x)
    atomicAdd(&counts[idx[r]], 1);
}
// Exclusive scan of the per-expert counts (e ≤ 1024) in one block.
__global__ void k_scan(const int* counts, int* offsets, int* cursor, int e) {
  __shared__ int buf[1024];
  const int i = threadIdx.x;
  buf[i] = i < e ? counts[i] : 0;
  __syncthreads();
  for (int o = 1; o < 1024; o <<= 1) {
    const int v = i >= o ? buf[i - o] : 0;
    __syncthreads();
    buf[i] += v;
    __syncthreads();
  }
  if (i < e) offsets[i] = cursor[i] = buf[i] - counts[i];
}
__global__ void k_scatter(const int* idx, int64_t rows, int* cursor, int* dest) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x)
    dest[r] = atomicAdd(&cursor[idx[r]], 1);
}

// One warp per (token, choice): 16-byte copies of the FP8 row, then its scales.
__global__ void k_gather(const uint8_t* x, const float* xs, const int* dest, int64_t tokens, int64_t n, int k,
                         uint8_t* y, float* ys) {
  const int lane = threadIdx.x & 31;
  const int64_t n16 = n / 16, nb = n / 128;
  for (int64_t p = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5; p < tokens * k;
       p += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    const int64_t t = p / k, d = dest[p];
    const uint4* src = reinterpret_cast<const uint4*>(x + t * n);
    uint4* dst = reinterpret_cast<uint4*>(y + d * n);
    for (int64_t i = lane; i < n16; i += 32) dst[i] = src[i];
    for (int64_t i = lane; i < nb; i += 32) ys[d * nb + i] = xs[t * nb + i];
  }
}

__global__ void k_combine_fwd(const bf16_t* y, const int* dest, const float* w, const bf16_t* shared,
                              const bf16_t* resid, bf16_t* out, int64_t tokens, int64_t n, int k) {
  for (int64_t t = blockIdx.x; t < tokens; t += gridDim.x)
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
      float acc = ld(resid, t * n + c) + ld(shared, t * n + c);
      for (int j = 0; j < k; ++j) acc += w[t * k + j] * ld(y, int64_t(dest[t * k + j]) * n + c);
      st(out, t * n + c, acc);
    }
}

__global__ void k_combine_bwd(const bf16_t* dout, const bf16_t* y, const int* dest, const float* w, bf16_t* dy,
                              float* dw, int64_t tokens, int64_t n, int k) {
  __shared__ float part[32];
  for (int64_t t = blockIdx.x; t < tokens; t += gridDim.x)
    for (int j = 0; j < k; ++j) {
      const int64_t d = dest[t * k + j];
      float dot = 0;
      for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
        const float g = ld(dout, t * n + c);
        st(dy, d * n + c, w[t * k + j] * g);
        dot += g * ld(y, d * n + c);
      }
      for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffff, dot, o);
      __syncthreads();
      if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = dot;
      __syncthreads();
      if (threadIdx.x == 0) {
        float s = 0;
        for (int i = 0; i < int(blockDim.x >> 5); ++i) s += part[i];
        dw[t * k + j] = s;
      }
    }
}

}  // namespace

void router_topk_fwd(const float* logits, int* idx, float* weights, int64_t m, int e, int groups, int topk_groups,
                     int k, int grid, cudaStream_t s) {
  if (e > 1024 || groups < 1 || groups > 32 || e % groups != 0 || k > 32 || topk_groups > groups)
    throw std::invalid_argument("router_topk: needs experts ≤ 1024 divisible by groups ≤ 32, top-k ≤ 32");
  k_router_fwd<<<grid, kRouterThreads, size_t(kRouterThreads / 32) * e * sizeof(float), s>>>(
      logits, idx, weights, m, e, groups, topk_groups, k);
  CS_CUDA(cudaGetLastError());
}
void router_topk_bwd(const float* logits, const int* idx, const float* weights, const float* dweights, float* dlogits,
                     int64_t m, int e, int k, int grid, cudaStream_t s) {
  k_router_bwd<<<grid, kRouterThreads, 0, s>>>(logits, idx, weights, dweights, dlogits, m, e, k);
  CS_CUDA(cudaGetLastError());
}
void permute_map(const int* idx, int64_t rows, int e, int* counts, int* offsets, int* cursor, int* dest, int grid,
                 cudaStream_t s) {
  if (e > 1024) throw std::invalid_argument("permute_map: at most 1024 experts");
  CS_CUDA(cudaMemsetAsync(counts, 0, size_t(e) * sizeof(int), s));
  k_histogram<<<grid, kThreads, 0, s>>>(idx, rows, counts);
  k_scan<<<1, 1024, 0, s>>>(counts, offsets, cursor, e);
  k_scatter<<<grid, kThreads, 0, s>>>(idx, rows, cursor, dest);
  CS_CUDA(cudaGetLastError());
}
void gather_fp8(const uint8_t* x, const float* xs, const int* dest, int64_t tokens, int64_t n, int k, uint8_t* y,
                float* ys, int grid, cudaStream_t s) {
  if (n % 128 != 0) throw std::invalid_argument("gather_fp8: row width must be a multiple of 128");
  k_gather<<<grid, kThreads, 0, s>>>(x, xs, dest, tokens, n, k, y, ys);
  CS_CUDA(cudaGetLastError());
}
void weighted_combine_fwd(const bf16_t* y, const int* dest, const float* w, const bf16_t* shared, const bf16_t* resid,
                          bf16_t* out, int64_t tokens, int64_t n, int k, int grid, cudaStream_t s) {
  k_combine_fwd<<<grid, kThreads, 0, s>>>(y, dest, w, shared, resid, out, tokens, n, k);
  CS_CUDA(cudaGetLastError());
}
void weighted_combine_bwd(const bf16_t* dout, const bf16_t* y, const int* dest, const float* w, bf16_t* dy, float* dw,
                          int64_t tokens, int64_t n, int k, int grid, cudaStream_t s) {
  k_combine_bwd<<<grid, kThreads, 0, s>>>(dout, y, dest, w, dy, dw, tokens, n, k);
  CS_CUDA(cudaGetLastError());
}

}  // namespace cs::kern
