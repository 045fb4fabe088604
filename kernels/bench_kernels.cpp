// Google Benchmark view of the kernel timings: representative DeepSeek-V3 shapes at all SMs and at the 112 left when
// 20 run dispatch/combine. Manual time of one iteration = the median CUDA-event time of 20 calls, each after an L2
// flush (operands are allocated once per iteration, outside the timed calls). Exits 77 without a GPU.
//   bench_kernels --benchmark_repetitions=10 --benchmark_out=k.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <algorithm>

#include "kernels/common.hpp"
#include "kernels/runners.hpp"

namespace {

using namespace cs;

ShapeEntry gemm(const char* role, int64_t m, int64_t n, int64_t k, int64_t count) {
  ShapeEntry e;
  e.kernel = "gemm_fp8", e.role = role;
  e.shape.m = m, e.shape.n = n, e.shape.k = k, e.shape.count = count;
  return e;
}

void run(benchmark::State& st, ShapeEntry e, int sms_cut) {
  cudaDeviceProp prop{};
  CS_CUDA(cudaGetDeviceProperties(&prop, 0));
  const int sms = prop.multiProcessorCount - sms_cut;
  cudaStream_t s;
  CS_CUDA(cudaStreamCreate(&s));
  {
    kern::Timer timer(s, 20, 2);
    kern::RunContext ctx;
    ctx.device_sms = prop.multiProcessorCount;
    ctx.check = false;  // checked by `clustersim-kernels --self-test`
    for (auto _ : st) {
      const kern::RunResult r = kern::run_entry(e, sms, ctx, timer);
      if (!r.ran) {
        st.SkipWithError(r.note.c_str());
        break;
      }
      st.SetIterationTime(r.stats.median_ns * 1e-9);
    }
  }
  cudaStreamDestroy(s);
}

void register_all() {
  // reference/deepseek-v3.md §5: the V3 shapes (N×K) at 4096 tokens; the experts as 4 groups × 8192 rows (EP64).
  const struct {
    const char* name;
    ShapeEntry e;
  } cases[] = {
      {"fp8_fprop/q_a+kv_a/4096x2112x7168", gemm("fprop", 4096, 2112, 7168, 1)},
      {"fp8_fprop/q_b/4096x24576x1536", gemm("fprop", 4096, 24576, 1536, 1)},
      {"fp8_fprop/kv_b/4096x32768x512", gemm("fprop", 4096, 32768, 512, 1)},
      {"fp8_fprop/o_proj/4096x7168x16384", gemm("fprop", 4096, 7168, 16384, 1)},
      {"fp8_fprop/expert_up/4x8192x4096x7168", gemm("fprop", 8192, 4096, 7168, 4)},
      {"fp8_fprop/expert_down/4x8192x7168x2048", gemm("fprop", 8192, 7168, 2048, 4)},
      {"fp8_wgrad/expert_up/4x4096x7168x8192", gemm("wgrad", 4096, 7168, 8192, 4)},
  };
  for (const auto& c : cases)
    for (int cut : {0, 20}) {
      benchmark::RegisterBenchmark((std::string(c.name) + (cut ? "/112sm" : "/allsm")).c_str(), run, c.e, cut)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->ComputeStatistics("p10", [](const std::vector<double>& v) {
            auto s = v;
            std::sort(s.begin(), s.end());
            return s[s.size() / 10];
          })
          ->ComputeStatistics("p90", [](const std::vector<double>& v) {
            auto s = v;
            std::sort(s.begin(), s.end());
            return s[(s.size() * 9) / 10 - (s.size() % 10 == 0 && s.size() >= 10 ? 1 : 0)];
          });
    }
}

}  // namespace

int main(int argc, char** argv) {
  cs::kern::require_gpu_or_skip("bench_kernels");
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
