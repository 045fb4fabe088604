// Shared pieces of the CUDA kernel harness: error checks, device buffers, and the timing loop of
// reference/engineering-notes.md (L2 flush before every repetition, warm-up, CUDA events, median and p10/p90).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cs::kern {

void check_cuda(cudaError_t e, const char* what, const char* file, int line);
#define CS_CUDA(x) ::cs::kern::check_cuda((x), #x, __FILE__, __LINE__)

// A device allocation, freed on destruction.
class DevBuf {
 public:
  DevBuf() = default;
  explicit DevBuf(size_t bytes);
  ~DevBuf();
  DevBuf(DevBuf&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr, o.bytes_ = 0; }
  DevBuf& operator=(DevBuf&& o) noexcept;
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }
  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }
  // Copies `n` elements of T starting at element `offset` to the host.
  template <class T>
  std::vector<T> fetch(size_t offset, size_t n) const {
    std::vector<T> h(n);
    CS_CUDA(cudaMemcpy(h.data(), static_cast<const T*>(p_) + offset, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

struct Stats {
  double median_ns = 0, p10_ns = 0, p90_ns = 0;
  int repetitions = 0;
};

// Times a call on one stream. Before every repetition the L2 cache is flushed (a 256 MiB memset, twice the H100/H800
// L2 of 50 MiB with margin) outside the timed interval; CUDA events bracket the call, so every kernel it launches
// (cuBLASLt's split-K reduce, a CUDA graph of per-expert GEMMs) is included.
class Timer {
 public:
  Timer(cudaStream_t stream, int repetitions, int warmup);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Stats time(const std::function<void(cudaStream_t)>& call);
  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_;
  int reps_, warmup_;
  DevBuf flush_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Device, driver, library versions and clocks (NVML through dlopen: there is no nvml.h in the toolkit).
struct DeviceReport {
  std::string name;
  int sms = 0;
  std::string driver;
  std::map<std::string, std::string> libraries;
  std::map<std::string, double> clocks;  // sm_mhz, mem_mhz, temperature_c (NVML); max_sm_mhz (CUDA attribute)
};
// Exits the process with 77 ("skipped") when no CUDA device is present or it is not a Hopper (sm_90) GPU.
void require_gpu_or_skip(const char* program);
DeviceReport device_report();
// Current SM clock and temperature, recorded before and after the timed runs.
std::map<std::string, double> clock_snapshot(const std::string& suffix);

// Deterministic pseudo-random fills (kernels/fill.cu): zeros would run faster than real data.
void fill_fp8(void* p, size_t n, uint64_t seed, cudaStream_t s);               // E4M3, uniform in [-2, 2]
void fill_bf16(void* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s);
void fill_f32(float* p, size_t n, uint64_t seed, float lo, float hi, cudaStream_t s);

// Host decoders for the CPU references.
float fp8_e4m3_to_float(uint8_t v);
float bf16_to_float(uint16_t v);
uint16_t float_to_bf16(float f);

// Thrown when a kernel's result disagrees with its CPU reference: nothing is timed then.
class CheckFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cs::kern
