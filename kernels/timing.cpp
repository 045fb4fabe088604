#include <algorithm>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <fmt/format.h>

#include "calibration/stats.hpp"
#include "kernels/common.hpp"

namespace cs::kern {

void check_cuda(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess)
    throw std::runtime_error(fmt::format("{}:{}: {} failed: {}", file, line, what, cudaGetErrorString(e)));
}

DevBuf::DevBuf(size_t bytes) : bytes_(bytes) {
  if (bytes) CS_CUDA(cudaMalloc(&p_, bytes));
}
DevBuf::~DevBuf() {
  if (p_) cudaFree(p_);
}
DevBuf& DevBuf::operator=(DevBuf&& o) noexcept {
  if (this != &o) {
    if (p_) cudaFree(p_);
    p_ = o.p_, bytes_ = o.bytes_;
    o.p_ = nullptr, o.bytes_ = 0;
  }
  return *this;
}

Timer::Timer(cudaStream_t stream, int repetitions, int warmup)
    : stream_(stream), reps_(repetitions), warmup_(warmup), flush_(size_t(256) << 20) {
  CS_CUDA(cudaEventCreate(&start_));
  CS_CUDA(cudaEventCreate(&stop_));
}
Timer::~Timer() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}

Stats Timer::time(const std::function<void(cudaStream_t)>& call) {
  for (int i = 0; i < warmup_; ++i) call(stream_);
  CS_CUDA(cudaStreamSynchronize(stream_));
  std::vector<double> ns;
  ns.reserve(size_t(reps_));
  for (int i = 0; i < reps_; ++i) {
    CS_CUDA(cudaMemsetAsync(flush_.get(), i & 0xff, flush_.bytes(), stream_));
    CS_CUDA(cudaEventRecord(start_, stream_));
    call(stream_);
    CS_CUDA(cudaEventRecord(stop_, stream_));
    CS_CUDA(cudaEventSynchronize(stop_));
    float ms = 0;
    CS_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
    ns.push_back(double(ms) * 1e6);
  }
  const TimingStats t = summarize_ns(std::move(ns));
  return Stats{t.median_ns, t.p10_ns, t.p90_ns, t.repetitions};
}

void require_gpu_or_skip(const char* program) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    fmt::print(stderr, "{}: no CUDA device; skipped\n", program);
    std::exit(77);
  }
  // The kernels are compiled for sm_90a only (Hopper's FP8 block scaling in cuBLASLt needs it too).
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  if (major != 9 || minor != 0) {
    fmt::print(stderr, "{}: built for sm_90a, the device is sm_{}{}; skipped\n", program, major, minor);
    std::exit(77);
  }
}

namespace {

// The few NVML entry points used, declared by hand (the toolkit ships no nvml.h); loaded at run time.
struct Nvml {
  void* lib = nullptr;
  int (*init)() = nullptr;
  int (*handle)(unsigned, void**) = nullptr;
  int (*clock)(void*, int, unsigned*) = nullptr;
  int (*temp)(void*, int, unsigned*) = nullptr;
  int (*driver)(char*, unsigned) = nullptr;
  void* dev = nullptr;
  Nvml() {
    lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (!lib) return;
    init = reinterpret_cast<int (*)()>(dlsym(lib, "nvmlInit_v2"));
    handle = reinterpret_cast<int (*)(unsigned, void**)>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
    clock = reinterpret_cast<int (*)(void*, int, unsigned*)>(dlsym(lib, "nvmlDeviceGetClockInfo"));
    temp = reinterpret_cast<int (*)(void*, int, unsigned*)>(dlsym(lib, "nvmlDeviceGetTemperature"));
    driver = reinterpret_cast<int (*)(char*, unsigned)>(dlsym(lib, "nvmlSystemGetDriverVersion"));
    int cur = 0;
    cudaGetDevice(&cur);
    if (!init || !handle || init() != 0 || handle(unsigned(cur), &dev) != 0) dev = nullptr;
  }
  ~Nvml() {
    if (lib) dlclose(lib);
  }
};

}  // namespace

std::map<std::string, double> clock_snapshot(const std::string& suffix) {
  std::map<std::string, double> out;
  Nvml nv;
  if (!nv.dev) return out;
  unsigned v = 0;
  // NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2, NVML_TEMPERATURE_GPU = 0 (nvml.h enums)
  if (nv.clock && nv.clock(nv.dev, 1, &v) == 0) out["sm_mhz_" + suffix] = v;
  if (nv.clock && nv.clock(nv.dev, 2, &v) == 0) out["mem_mhz_" + suffix] = v;
  if (nv.temp && nv.temp(nv.dev, 0, &v) == 0) out["temperature_c_" + suffix] = v;
  return out;
}

DeviceReport device_report() {
  DeviceReport r;
  int dev = 0;
  CS_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  CS_CUDA(cudaGetDeviceProperties(&prop, dev));
  r.name = prop.name;
  r.sms = prop.multiProcessorCount;
  int v = 0;
  // CUDA 13 removed cudaDeviceProp::clockRate: the attribute is the way (kHz).
  if (cudaDeviceGetAttribute(&v, cudaDevAttrClockRate, dev) == cudaSuccess) r.clocks["max_sm_mhz"] = v / 1000.0;
  int drv = 0, rt = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  r.libraries["cuda_driver_api"] = fmt::format("{}.{}", drv / 1000, (drv % 1000) / 10);
  r.libraries["cuda_runtime"] = fmt::format("{}.{}", rt / 1000, (rt % 1000) / 10);
  Nvml nv;
  char buf[96] = {};
  if (nv.driver && nv.driver(buf, sizeof buf) == 0) r.driver = buf;
  return r;
}

float fp8_e4m3_to_float(uint8_t v) {
  const int sign = v >> 7, exp = (v >> 3) & 0xf, man = v & 7;
  if (exp == 0xf && man == 7) return std::nanf("");
  const float mag = exp == 0 ? std::ldexp(float(man) / 8.0f, -6) : std::ldexp(1.0f + float(man) / 8.0f, exp - 7);
  return sign ? -mag : mag;
}

float bf16_to_float(uint16_t v) {
  const uint32_t bits = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even
  return uint16_t(bits >> 16);
}

}  // namespace cs::kern
