// The harness's own memory-bound kernels: simple, one 1024-thread block per SM (grid-stride), BF16 in, BF16 or FP8
// (1×128 scaled, E4M3, amax/448) out. They are what an unfused implementation costs; tuned fused kernels can be
// faster, which the comparison against published figures should show.
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "kernels/common.hpp"
#include "kernels/launch.hpp"

namespace cs::kern {
namespace {

constexpr int kThreads = 1024;
constexpr float kFp8Max = 448.0f;  // largest finite E4M3 value

using bf = __nv_bfloat16;
__device__ inline float ld(const bf16_t* p, int64_t i) { return __bfloat162float(reinterpret_cast<const bf*>(p)[i]); }
__device__ inline void st(bf16_t* p, int64_t i, float v) { reinterpret_cast<bf*>(p)[i] = __float2bfloat16(v); }

__device__ float block_sum(float v) {
  __shared__ float part[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  __syncthreads();  // `part` may still be read from the previous call
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = 0;
  for (int w = 0; w < int(blockDim.x >> 5); ++w) t += part[w];
  return t;
}
__device__ float block_max(float v) {
  __shared__ float part[32];
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float t = -INFINITY;
  for (int w = 0; w < int(blockDim.x >> 5); ++w) t = fmaxf(t, part[w]);
  return t;
}
__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  return v;
}

__global__ void k_rmsnorm_fwd(const bf16_t* x, const bf16_t* w, bf16_t* y, int64_t m, int64_t n) {
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x) {
    float ss = 0;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) ss += ld(x, r * n + c) * ld(x, r * n + c);
    const float inv = rsqrtf(block_sum(ss) / float(n) + 1e-6f);
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) st(y, r * n + c, ld(x, r * n + c) * inv * ld(w, c));
  }
}
__global__ void k_rmsnorm_bwd(const bf16_t* x, const bf16_t* w, const bf16_t* dy, bf16_t* dx, int64_t m, int64_t n) {
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x) {
    float ss = 0, gx = 0;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
      const float xv = ld(x, r * n + c);
      ss += xv * xv;
      gx += ld(dy, r * n + c) * ld(w, c) * xv;
    }
    const float inv = rsqrtf(block_sum(ss) / float(n) + 1e-6f);
    const float dot = block_sum(gx) / float(n);
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
      const float xv = ld(x, r * n + c);
      st(dx, r * n + c, inv * ld(dy, r * n + c) * ld(w, c) - xv * inv * inv * inv * dot);
    }
  }
}

__global__ void k_rope(bf16_t* x, int64_t m, int64_t n, int64_t seq, float sign) {
  const int64_t pairs = m * (n / 2);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < pairs; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / (n / 2), p = i % (n / 2);
    const int j = int(p % 32);  // pair index inside a 64-wide head
    const float ang = sign * float(r % seq) * powf(10000.0f, -2.0f * float(j) / 64.0f);
    float sn, cs;
    sincosf(ang, &sn, &cs);
    const int64_t a = r * n + 2 * p;
    const float x0 = ld(x, a), x1 = ld(x, a + 1);
    st(x, a, x0 * cs - x1 * sn);
    st(x, a + 1, x0 * sn + x1 * cs);
  }
}

// One warp per (row, 128-column block): 4 elements per lane.
__global__ void k_swiglu_quant(const bf16_t* in, uint8_t* out, float* scales, int64_t m, int64_t w) {
  const int64_t kb_n = (w + 127) / 128, units = m * kb_n;
  const int lane = threadIdx.x & 31;
  for (int64_t u = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5; u < units;
       u += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    const int64_t r = u / kb_n, kb = u % kb_n;
    float h[4], amax = 0;
    for (int i = 0; i < 4; ++i) {
      const int64_t c = kb * 128 + lane * 4 + i;
      h[i] = 0;
      if (c < w) {
        const float g = ld(in, r * 2 * w + c), v = ld(in, r * 2 * w + w + c);
        h[i] = g / (1.0f + __expf(-g)) * v;
      }
      amax = fmaxf(amax, fabsf(h[i]));
    }
    amax = fmaxf(warp_max(amax), 1e-12f);
    const float sc = amax / kFp8Max;
    for (int i = 0; i < 4; ++i) {
      const int64_t c = kb * 128 + lane * 4 + i;
      if (c < w) reinterpret_cast<__nv_fp8_e4m3*>(out)[r * w + c] = __nv_fp8_e4m3(h[i] / sc);
    }
    if (lane == 0) scales[kb * m + r] = sc;
  }
}

__global__ void k_swiglu_bwd(const bf16_t* in, const bf16_t* dy, bf16_t* din, int64_t m, int64_t w) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m * w; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / w, c = i % w;
    const float g = ld(in, r * 2 * w + c), v = ld(in, r * 2 * w + w + c), d = ld(dy, i);
    const float sig = 1.0f / (1.0f + __expf(-g));
    st(din, r * 2 * w + c, d * v * sig * (1.0f + g * (1.0f - sig)));
    st(din, r * 2 * w + w + c, d * g * sig);
  }
}

__global__ void k_quant(const bf16_t* x, uint8_t* q, float* scales, int64_t m, int64_t n) {
  const int64_t kb_n = (n + 127) / 128, units = m * kb_n;
  const int lane = threadIdx.x & 31;
  for (int64_t u = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) >> 5; u < units;
       u += (int64_t(gridDim.x) * blockDim.x) >> 5) {
    const int64_t r = u / kb_n, kb = u % kb_n;
    float v[4], amax = 0;
    for (int i = 0; i < 4; ++i) {
      const int64_t c = kb * 128 + lane * 4 + i;
      v[i] = c < n ? ld(x, r * n + c) : 0.0f;
      amax = fmaxf(amax, fabsf(v[i]));
    }
    const float sc = fmaxf(warp_max(amax), 1e-12f) / kFp8Max;
    for (int i = 0; i < 4; ++i) {
      const int64_t c = kb * 128 + lane * 4 + i;
      if (c < n) reinterpret_cast<__nv_fp8_e4m3*>(q)[r * n + c] = __nv_fp8_e4m3(v[i] / sc);
    }
    if (lane == 0) scales[kb * m + r] = sc;
  }
}

// A tile of 128 rows × 32 columns: warp w owns column w (4 rows per lane), so the amax over 128 rows is a warp max
// and the transposed row of 128 FP8 bytes is written by one warp.
__global__ void k_transpose_quant(const bf16_t* x, uint8_t* qt, float* scales, int64_t m, int64_t n) {
  const int64_t mb_n = (m + 127) / 128, cb_n = (n + 31) / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t t = blockIdx.x; t < mb_n * cb_n; t += gridDim.x) {
    const int64_t mb = t / cb_n, col = (t % cb_n) * 32 + warp;
    float v[4], amax = 0;
    for (int i = 0; i < 4; ++i) {
      const int64_t r = mb * 128 + lane * 4 + i;
      v[i] = (r < m && col < n) ? ld(x, r * n + col) : 0.0f;
      amax = fmaxf(amax, fabsf(v[i]));
    }
    const float sc = fmaxf(warp_max(amax), 1e-12f) / kFp8Max;
    if (col < n) {
      for (int i = 0; i < 4; ++i) {
        const int64_t r = mb * 128 + lane * 4 + i;
        if (r < m) reinterpret_cast<__nv_fp8_e4m3*>(qt)[col * m + r] = __nv_fp8_e4m3(v[i] / sc);
      }
      if (lane == 0) scales[mb * n + col] = sc;
    }
  }
}

__global__ void k_add(const bf16_t* a, const bf16_t* b, bf16_t* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    st(y, i, ld(a, i) + ld(b, i));
}

__global__ void k_embedding_fwd(const int* ids, const bf16_t* table, bf16_t* y, int64_t m, int64_t h) {
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x)
    for (int64_t c = threadIdx.x; c < h; c += blockDim.x)
      reinterpret_cast<bf*>(y)[r * h + c] = reinterpret_cast<const bf*>(table)[int64_t(ids[r]) * h + c];
}
__global__ void k_embedding_bwd(const int* ids, const bf16_t* dy, float* dt, int64_t m, int64_t h) {
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x)
    for (int64_t c = threadIdx.x; c < h; c += blockDim.x) atomicAdd(&dt[int64_t(ids[r]) * h + c], ld(dy, r * h + c));
}

__global__ void k_xent_fwd(const bf16_t* z, const int* labels, float* loss, int64_t m, int64_t v) {
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x) {
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < v; c += blockDim.x) mx = fmaxf(mx, ld(z, r * v + c));
    mx = block_max(mx);
    float s = 0;
    for (int64_t c = threadIdx.x; c < v; c += blockDim.x) s += __expf(ld(z, r * v + c) - mx);
    s = block_sum(s);
    if (threadIdx.x == 0) loss[r] = mx + logf(s) - ld(z, r * v + labels[r]);
  }
}
__global__ void k_xent_bwd(const bf16_t* z, const int* labels, bf16_t* dz, int64_t m, int64_t v) {
  for (int64_t r = blockIdx.x; r < m; r += gridDim.x) {
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < v; c += blockDim.x) mx = fmaxf(mx, ld(z, r * v + c));
    mx = block_max(mx);
    float s = 0;
    for (int64_t c = threadIdx.x; c < v; c += blockDim.x) s += __expf(ld(z, r * v + c) - mx);
    s = block_sum(s);
    for (int64_t c = threadIdx.x; c < v; c += blockDim.x)
      st(dz, r * v + c, __expf(ld(z, r * v + c) - mx) / s - (c == labels[r] ? 1.0f : 0.0f));
  }
}

__global__ void k_copy(const uint4* src, uint4* dst, int64_t n16) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n16; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

}  // namespace

#define CS_LAUNCH(kernel, grid, s, ...)                 \
  do {                                                  \
    kernel<<<(grid), kThreads, 0, (s)>>>(__VA_ARGS__);  \
    CS_CUDA(cudaGetLastError());                        \
  } while (0)

void rmsnorm_fwd(const bf16_t* x, const bf16_t* w, bf16_t* y, int64_t m, int64_t n, int grid, cudaStream_t s) {
  CS_LAUNCH(k_rmsnorm_fwd, grid, s, x, w, y, m, n);
}
void rmsnorm_bwd(const bf16_t* x, const bf16_t* w, const bf16_t* dy, bf16_t* dx, int64_t m, int64_t n, int grid,
                 cudaStream_t s) {
  CS_LAUNCH(k_rmsnorm_bwd, grid, s, x, w, dy, dx, m, n);
}
void rope(bf16_t* x, int64_t m, int64_t n, int64_t seq, float sign, int grid, cudaStream_t s) {
  CS_LAUNCH(k_rope, grid, s, x, m, n, seq, sign);
}
void swiglu_quant_fwd(const bf16_t* in, uint8_t* out, float* scales, int64_t m, int64_t w, int grid, cudaStream_t s) {
  CS_LAUNCH(k_swiglu_quant, grid, s, in, out, scales, m, w);
}
void swiglu_bwd(const bf16_t* in, const bf16_t* dy, bf16_t* din, int64_t m, int64_t w, int grid, cudaStream_t s) {
  CS_LAUNCH(k_swiglu_bwd, grid, s, in, dy, din, m, w);
}
void quant_1x128(const bf16_t* x, uint8_t* q, float* scales, int64_t m, int64_t n, int grid, cudaStream_t s) {
  CS_LAUNCH(k_quant, grid, s, x, q, scales, m, n);
}
void transpose_quant(const bf16_t* x, uint8_t* qt, float* scales, int64_t m, int64_t n, int grid, cudaStream_t s) {
  CS_LAUNCH(k_transpose_quant, grid, s, x, qt, scales, m, n);
}
void add_bf16(const bf16_t* a, const bf16_t* b, bf16_t* y, int64_t n, int grid, cudaStream_t s) {
  CS_LAUNCH(k_add, grid, s, a, b, y, n);
}
void embedding_fwd(const int* ids, const bf16_t* table, bf16_t* y, int64_t m, int64_t h, int grid, cudaStream_t s) {
  CS_LAUNCH(k_embedding_fwd, grid, s, ids, table, y, m, h);
}
void embedding_bwd(const int* ids, const bf16_t* dy, float* dt, int64_t m, int64_t h, int grid, cudaStream_t s) {
  CS_LAUNCH(k_embedding_bwd, grid, s, ids, dy, dt, m, h);
}
void xent_fwd(const bf16_t* z, const int* labels, float* loss, int64_t m, int64_t v, int grid, cudaStream_t s) {
  CS_LAUNCH(k_xent_fwd, grid, s, z, labels, loss, m, v);
}
void xent_bwd(const bf16_t* z, const int* labels, bf16_t* dz, int64_t m, int64_t v, int grid, cudaStream_t s) {
  CS_LAUNCH(k_xent_bwd, grid, s, z, labels, dz, m, v);
}
void copy_bytes(const void* src, void* dst, int64_t bytes, int grid, cudaStream_t s) {
  CS_LAUNCH(k_copy, grid, s, static_cast<const uint4*>(src), static_cast<uint4*>(dst), bytes / 16);
}

}  // namespace cs::kern
