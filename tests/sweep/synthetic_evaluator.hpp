// TEST DOUBLE: stands in for the step simulation in the sweep tests. Its figures are a made-up, deterministic
// function of the layout and schedule, shaped only so that a sweep has a real trade-off (more GPUs: fewer days, more
// GPU-hours), some points that "do not fit" and some that the scenario loader rejects. They mean nothing physically.
#pragma once
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "scenarios/scenario.hpp"

namespace cs::test {

inline nlohmann::json synthetic_figures(const Scenario& s) {
  const Layout& l = s.layout;
  const double gpus = l.gpus();
  const double kind = s.schedule.kind == "1f1b" ? 1.25 : s.schedule.kind == "dualpipev" ? 1.05 : 1.0;
  const double step_s = 1e5 / gpus * (1 + 0.01 * s.schedule.comm_sms) * kind + 1e-2 * gpus;
  const double steps = 1000;
  const double gpu_hours = gpus * step_s * steps / 3600;
  const double peak = 56 + 8 * 2048 / gpus + (s.schedule.kind == "dualpipe" ? 15 : 0);
  nlohmann::json stages = nlohmann::json::array();
  for (int i = 0; i < l.pp; ++i) stages.push_back(peak - 0.5 * i);
  return {{"step_time_s", step_s},
          {"tokens_per_s_per_gpu", double(l.global_batch * l.seq_len) / step_s / gpus},
          {"mfu", 0.3 / kind},
          {"bubble_s", 0.1 * step_s},
          {"gpu_hours_per_trillion_tokens", gpu_hours / 1.0},
          {"total_gpu_hours", gpu_hours},
          {"total_cost_usd", gpu_hours * s.price_per_gpu_hour},
          {"days", step_s * steps / 86400},
          {"peak_memory_gib", stages},
          {"fits", peak <= 80},
          {"calibration", {{"profile", s.profile}, {"source", "synthetic test double"}}}};
}

// A base scenario every layout of the test sweeps is valid for (one simulated phase, no batch ramp).
inline const char* kTestBase = R"(name: sweep-test-base
model: deepseek-v3
cluster: h800-2048
layout:
  pipeline_parallel: 16
  expert_parallel: 64
  data_parallel: 128
  tensor_parallel: 1
  micro_batch: 1
  global_batch: 15360
schedule:
  kind: dualpipe
  comm_sms: 20
routing:
  kind: balanced
  max_nodes: 4
training:
  seq_len: 4096
  phases:
    - name: pre-training
      tokens: 1.0e12
price_per_gpu_hour: 2.0
)";

// 2 cluster sizes × 3 schedules × 3 SM splits = 18 points: 6 rejected by the loader (200 of 132 SMs), 2 that do not
// fit (DualPipe on 1024 GPUs), 10 ok.
inline const char* kTestSweep = R"(name: test-sweep
base: base.yaml
grid:
  schedule.kind: [1f1b, dualpipe, dualpipev]
  schedule.comm_sms: [16, 24, 200]
zip:
  - cluster.nodes: [128, 256]
    layout.data_parallel: [64, 128]
)";

// A scratch folder under the system's temporary folder, named after the process, removed on destruction.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& prefix)
      : path(std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()))) {}
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace cs::test
