#include "kernels/nccl_bench.hpp"

#include <fmt/format.h>
#include <nccl.h>

#include "calibration/stats.hpp"
#include "kernels/common.hpp"

namespace cs::kern {
namespace {

void check_nccl(ncclResult_t r, const char* what, int line) {
  if (r != ncclSuccess)
    throw std::runtime_error(fmt::format("kernels/nccl_bench.cpp:{}: {} failed: {}", line, what, ncclGetErrorString(r)));
}
#define CS_NCCL(x) check_nccl((x), #x, __LINE__)

struct PerGpu {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  DevBuf send, recv;
};

// Launches `op(gpu)` on every GPU inside one NCCL group; returns the slowest GPU's time in ns.
template <class Op>
double timed_group(std::vector<PerGpu>& g, const Op& op) {
  for (size_t i = 0; i < g.size(); ++i) {
    CS_CUDA(cudaSetDevice(int(i)));
    CS_CUDA(cudaEventRecord(g[i].start, g[i].stream));
  }
  CS_NCCL(ncclGroupStart());
  for (size_t i = 0; i < g.size(); ++i) op(i);
  CS_NCCL(ncclGroupEnd());
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    CS_CUDA(cudaSetDevice(int(i)));
    CS_CUDA(cudaEventRecord(g[i].stop, g[i].stream));
    CS_CUDA(cudaEventSynchronize(g[i].stop));
    float ms = 0;
    CS_CUDA(cudaEventElapsedTime(&ms, g[i].start, g[i].stop));
    worst = std::max(worst, double(ms) * 1e6);
  }
  return worst;
}

}  // namespace

std::string nccl_version() {
  int v = 0;
  ncclGetVersion(&v);
  return fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
}

std::vector<KernelRecord> run_nccl(int reps, int warmup, int device_sms, std::vector<std::string>& notes) {
  int n = 0;
  CS_CUDA(cudaGetDeviceCount(&n));
  std::vector<KernelRecord> out;
  if (n < 2) {
    notes.push_back("NCCL all-to-all / p2p: skipped, fewer than 2 GPUs");
    return out;
  }
  std::vector<PerGpu> g(static_cast<size_t>(n));
  std::vector<ncclComm_t> comms(static_cast<size_t>(n));
  CS_NCCL(ncclCommInitAll(comms.data(), n, nullptr));
  // Bytes each GPU sends: 1 MiB (latency-bound) to 256 MiB (≈ the FP8 dispatch payload of 4096 tokens × 4 nodes ×
  // 7168 × 1.03 bytes, reference/deepseek-v3.md §2, rounded up).
  const std::vector<size_t> sizes = {size_t(1) << 20, size_t(16) << 20, size_t(256) << 20};
  for (int i = 0; i < n; ++i) {
    CS_CUDA(cudaSetDevice(i));
    auto& p = g[size_t(i)];
    p.comm = comms[size_t(i)];
    CS_CUDA(cudaStreamCreateWithFlags(&p.stream, cudaStreamNonBlocking));
    CS_CUDA(cudaEventCreate(&p.start));
    CS_CUDA(cudaEventCreate(&p.stop));
    p.send = DevBuf(sizes.back());
    p.recv = DevBuf(sizes.back());
  }
  for (size_t bytes : sizes) {
    const size_t chunk = bytes / size_t(n);
    // Contents: rank r's chunk for rank j is filled with byte r·16 + j; after the exchange rank r's chunk i must
    // hold i·16 + r.
    for (int r = 0; r < n; ++r) {
      CS_CUDA(cudaSetDevice(r));
      for (int j = 0; j < n; ++j)
        CS_CUDA(cudaMemset(g[size_t(r)].send.as<uint8_t>() + size_t(j) * chunk, (r * 16 + j) & 0xff, chunk));
    }
    auto a2a = [&](size_t i) {
      CS_NCCL(ncclAlltoAll(g[i].send.get(), g[i].recv.get(), chunk, ncclInt8, g[i].comm, g[i].stream));
    };
    timed_group(g, a2a);
    for (int r = 0; r < n; ++r)
      for (int i = 0; i < n; ++i) {
        CS_CUDA(cudaSetDevice(r));
        const uint8_t got = g[size_t(r)].recv.fetch<uint8_t>(size_t(i) * chunk + chunk - 1, 1)[0];
        if (got != uint8_t((i * 16 + r) & 0xff))
          throw CheckFailed(fmt::format("NCCL all-to-all: rank {} chunk {} holds {} instead of {}", r, i, int(got),
                                        (i * 16 + r) & 0xff));
      }
    auto record = [&](const std::string& kernel, auto op) {
      for (int w = 0; w < warmup; ++w) timed_group(g, op);
      std::vector<double> ns;
      for (int k = 0; k < reps; ++k) ns.push_back(timed_group(g, op));
      const TimingStats s = summarize_ns(ns);
      KernelRecord r;
      r.kernel = kernel, r.role = "forward", r.sms = device_sms;
      r.shape.m = r.shape.n = n;
      r.shape.bytes = double(bytes);
      r.median_ns = s.median_ns, r.p10_ns = s.p10_ns, r.p90_ns = s.p90_ns, r.repetitions = s.repetitions;
      r.source = fmt::format("measured: clustersim-kernels, NCCL {}, {} GPUs in one process", nccl_version(), n);
      out.push_back(r);
    };
    record("nccl_alltoall", a2a);
    // Point-to-point: GPU 0 sends `bytes` to GPU 1 (the pipeline-parallel activation send).
    record("nccl_p2p", [&](size_t i) {
      if (i == 0) CS_NCCL(ncclSend(g[0].send.get(), bytes, ncclInt8, 1, g[0].comm, g[0].stream));
      if (i == 1) CS_NCCL(ncclRecv(g[1].recv.get(), bytes, ncclInt8, 0, g[1].comm, g[1].stream));
    });
  }
  for (auto& p : g) {
    ncclCommDestroy(p.comm);
    cudaStreamDestroy(p.stream);
    cudaEventDestroy(p.start);
    cudaEventDestroy(p.stop);
  }
  return out;
}

}  // namespace cs::kern
