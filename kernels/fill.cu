// Deterministic pseudo-random fills on the device (a hash of the element index and a seed).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "kernels/common.hpp"

namespace cs::kern {
namespace {

__device__ float uniform(uint64_t i, uint64_t seed) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
}

__global__ void k_fill_fp8(__nv_fp8_e4m3* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = __nv_fp8_e4m3(4.0f * uniform(i, seed) - 2.0f);
}
__global__ void k_fill_bf16(__nv_bfloat16* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = __float2bfloat16(lo + (hi - lo) * uniform(i, seed));
}
__global__ void k_fill_f32(float* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = lo + (hi - lo) * uniform(i, seed);
}

}  // namespace

void fill_fp8(void* p, size_t n, uint64_t seed, cudaStream_t s) {
  k_fill_fp8<<<1024, 256, 0, s>>>(static_cast<__nv_fp8_e4m3*>(p), n, seed);
  CS_CUDA(cudaGetLastError());
}
void fill_bf16(void* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  k_fill_bf16<<<1024, 256, 0, s>>>(static_cast<__nv_bfloat16*>(p), n, seed, lo, hi);
  CS_CUDA(cudaGetLastError());
}
void fill_f32(float* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  k_fill_f32<<<1024, 256, 0, s>>>(p, n, seed, lo, hi);
  CS_CUDA(cudaGetLastError());
}

}  // namespace cs::kern
