// clustersim-kernels: times the kernels of a shape list (written by `clustersim calibrate shapes`) on this machine's
// GPU and writes a calibration profile. Every kernel is checked against a CPU reference before it is timed.
//   clustersim-kernels --shapes S.json --output P.json --base h800-published.json [--repetitions 50]
//   clustersim-kernels --self-test      every kernel on small shapes, checks only
// Exit codes: 0 done, 1 a kernel disagreed with its reference (or failed), 2 bad input, 77 no GPU.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "calibration/profile.hpp"
#include "calibration/shapes.hpp"
#include "kernels/common.hpp"
#include "kernels/gemm.hpp"
#ifdef CLUSTERSIM_NCCL
#include "kernels/nccl_bench.hpp"
#endif
#include "kernels/runners.hpp"

namespace {

using namespace cs;

ShapeEntry entry(const std::string& kernel, const std::string& role, int64_t m, int64_t n, int64_t k = 0,
                 int64_t count = 1) {
  ShapeEntry e;
  e.kernel = kernel, e.role = role;
  e.shape.m = m, e.shape.n = n, e.shape.k = k, e.shape.count = count;
  e.shape.bytes = 1;
  return e;
}

// Small shapes covering every kernel and role, for the GPU self-test.
ShapeList self_test_list(int sms) {
  ShapeList l;
  l.model = "self-test";
  l.sms = {sms, std::max(1, sms - 20)};
  l.top_k = 8, l.expert_groups = 8, l.topk_groups = 4;
  for (const char* r : {"fprop", "dgrad", "wgrad"}) {
    l.entries.push_back(entry("gemm_fp8", r, 256, 512, 1024));
    l.entries.push_back(entry("gemm_fp8", r, 128, 256, 384, 3));
    l.entries.push_back(entry("gemm_bf16", r, 256, 384, 512));
  }
  for (const char* r : {"forward", "backward"}) {
    l.entries.push_back(entry("rmsnorm", r, 64, 7168));
    l.entries.push_back(entry("rope", r, 64, 128 * 64 + 64));
    l.entries.push_back(entry("swiglu", r, 64, 2048));
    l.entries.push_back(entry("quantize", r, 64, 7168));
    l.entries.push_back(entry("transpose_quantize", r, 256, 512));
    l.entries.push_back(entry("elementwise", r, 64, 7168));
    l.entries.push_back(entry("embedding", r, 64, 7168));
    l.entries.push_back(entry("loss", r, 16, 32000));
    l.entries.push_back(entry("router_topk", r, 64, 256));
    l.entries.push_back(entry("weighted_combine", r, 64, 7168));
  }
  l.entries.push_back(entry("permute", "forward", 64 * 8, 256));
  l.entries.push_back(entry("gather_fp8", "forward", 64, 7168));
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"clustersim-kernels: time a shape list's kernels on this GPU and write a calibration profile"};
  std::string shapes_path, out_path, base_path, name = "measured";
  int reps = 50, warmup = 5;
  bool self_test = false, no_check = false;
  app.add_option("--shapes", shapes_path, "shape list JSON (clustersim calibrate shapes)");
  app.add_option("--output", out_path, "profile JSON to write");
  app.add_option("--base", base_path, "profile whose roofline efficiencies (with sources) the new profile keeps");
  app.add_option("--name", name, "profile name");
  app.add_option("--repetitions", reps, "timed repetitions per kernel")->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "untimed runs before timing")->check(CLI::Range(0, 1000));
  app.add_flag("--self-test", self_test, "check every kernel against its CPU reference on small shapes; no profile");
  app.add_flag("--no-check", no_check, "skip the CPU reference checks (not for profiles you will trust)");
  CLI11_PARSE(app, argc, argv);
  if (!self_test && (shapes_path.empty() || out_path.empty() || base_path.empty())) {
    fmt::print(stderr, "clustersim-kernels: --shapes, --output and --base are required (or --self-test)\n");
    return 2;
  }

  kern::require_gpu_or_skip("clustersim-kernels");
  ShapeList list;
  Profile base;
  try {
    if (!self_test) {
      list = load_shape_list(shapes_path);
      base = load_profile(base_path);
    }
  } catch (const ProfileError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
  const kern::DeviceReport dev = kern::device_report();
  if (self_test) list = self_test_list(dev.sms), reps = 3, warmup = 1;

  Profile p;
  p.name = name;
  p.method = "measured";
  p.description = fmt::format("clustersim-kernels on {} for model {}", dev.name, list.model);
  p.timing = fmt::format(
      "CUDA events around each call; 256 MiB L2 flush before every repetition (outside the events); {} warm-up runs, "
      "{} timed; median and nearest-rank p10/p90; clocks not locked. GEMMs: cuBLASLt, SM limit via "
      "CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET; groups as per-group calls in one CUDA graph. Other kernels: the "
      "harness's own, one 1024-thread block per allowed SM.",
      warmup, reps);
  p.device.name = dev.name;
  p.device.sms = dev.sms;
  p.device.driver = dev.driver;
  p.device.libraries = dev.libraries;
  p.device.libraries["cublasLt"] = kern::cublaslt_version();
  p.device.clocks = dev.clocks;
  for (const auto& [k, v] : kern::clock_snapshot("before")) p.device.clocks[k] = v;
  p.sources = base.sources;
  p.efficiencies = base.efficiencies;

  cudaStream_t stream;
  CS_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  int failures = 0, skipped = 0;
  {
    kern::Timer timer(stream, reps, warmup);
    kern::RunContext ctx;
    ctx.device_sms = dev.sms;
    ctx.top_k = list.top_k, ctx.expert_groups = list.expert_groups, ctx.topk_groups = list.topk_groups;
    ctx.check = !no_check;
    for (const auto& e : list.entries)
      for (int sms : list.sms) {
        if (sms > dev.sms) continue;
        KernelRecord r;
        r.kernel = e.kernel, r.role = e.role, r.shape = e.shape, r.sms = sms;
        const std::string label = record_label(r);
        try {
          const kern::RunResult res = kern::run_entry(e, sms, ctx, timer);
          if (!res.ran) {
            ++skipped;
            fmt::print("{:<48} skipped: {}\n", label, res.note);
            break;  // the same reason holds at every SM count
          }
          r.median_ns = res.stats.median_ns, r.p10_ns = res.stats.p10_ns, r.p90_ns = res.stats.p90_ns;
          r.repetitions = res.stats.repetitions;
          r.source = "measured: clustersim-kernels" + (res.note.empty() ? "" : "; " + res.note);
          fmt::print("{:<48} {:>10.2f} µs  (p10 {:.2f}, p90 {:.2f})\n", label, r.median_ns / 1e3, r.p10_ns / 1e3,
                     r.p90_ns / 1e3);
          p.records.push_back(r);
        } catch (const kern::CheckFailed& ex) {
          ++failures;
          fmt::print(stderr, "{:<48} CHECK FAILED: {}\n", label, ex.what());
        } catch (const std::exception& ex) {
          ++failures;
          fmt::print(stderr, "{:<48} FAILED: {}\n", label, ex.what());
          cudaGetLastError();  // clear a sticky launch error so that the next kernel can run
        }
      }
#ifdef CLUSTERSIM_NCCL
    p.device.libraries["nccl"] = kern::nccl_version();
    try {
      std::vector<std::string> notes;
      for (auto& r : kern::run_nccl(reps, warmup, dev.sms, notes)) {
        fmt::print("{:<48} {:>10.2f} µs\n", record_label(r), r.median_ns / 1e3);
        if (!self_test) p.records.push_back(r);
      }
      for (const auto& n : notes) fmt::print("{}\n", n);
    } catch (const std::exception& ex) {
      ++failures;
      fmt::print(stderr, "NCCL: FAILED: {}\n", ex.what());
    }
#else
    fmt::print("NCCL all-to-all / p2p: not built (no NCCL found at configure time)\n");
#endif
    if (!self_test) {
      p.memory_saturation_sms.value = kern::measure_memory_saturation(dev.sms, timer);
      p.memory_saturation_sms.source = "measured: fewest SMs (step 4) at which a 1 GiB device copy reaches 95 % of its "
                                       "all-SM bandwidth (clustersim-kernels)";
    }
  }
  cudaStreamDestroy(stream);
  for (const auto& [k, v] : kern::clock_snapshot("after")) p.device.clocks[k] = v;
  fmt::print("{} records, {} skipped, {} failed\n", p.records.size(), skipped, failures);
  if (self_test) return failures ? 1 : 0;
  save_profile(p, out_path);
  fmt::print("wrote {}\n", out_path);
  return failures ? 1 : 0;
}
