// A GPU's datasheet figures. Filled from a preset in scenarios/gpus/*.yaml; each figure carries its source there.
#pragma once
#include <cstdint>
#include <string>

namespace cs {

struct GpuSpec {
  std::string name;               // "h800"
  int sms = 0;                    // streaming multiprocessors
  double bf16_tflops = 0;         // dense peak
  double fp8_tflops = 0;          // dense peak
  double fp32_tflops = 0;         // non-tensor FP32 peak (CUDA cores)
  double hbm_gbps = 0;            // HBM bandwidth, GB/s (1e9 bytes/s)
  int64_t memory_bytes = 0;       // usable HBM capacity
  double nvlink_gbps = 0;         // NVLink per direction, GB/s
  double nvlink_achievable_gbps = 0;
  double clock_mhz = 0;           // boost clock the peaks assume
  bool operator==(const GpuSpec&) const = default;
};

}  // namespace cs
