// Synthetic profiles for the calibration tests: a valid base document that each test edits.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace cs::test {

inline nlohmann::json base_profile() {
  using nlohmann::json;
  return json{
      {"format", "clustersim-profile/1"},
      {"name", "synthetic"},
      {"method", "measured"},
      {"device", {{"name", "test GPU"}, {"sms", 132}}},
      {"memory_saturation_sms", {{"value", 66}, {"source", "synthetic"}}},
      {"efficiencies",
       json::array({{{"op", "default"}, {"bound", "compute"}, {"value", 0.5}, {"source", "synthetic"}},
                    {{"op", "default"}, {"bound", "memory"}, {"value", 0.8}, {"source", "synthetic"}}})},
      {"records", json::array()}};
}

inline nlohmann::json gemm_record(int64_t m, int64_t n, int64_t k, double median_ns, int sms = 132, int64_t count = 1,
                                  const std::string& role = "fprop") {
  return {{"kernel", "gemm_fp8"}, {"role", role}, {"shape", {{"m", m}, {"n", n}, {"k", k}, {"count", count}}},
          {"sms", sms}, {"median_ns", median_ns}, {"source", "synthetic"}};
}

inline nlohmann::json timed(const std::string& kernel, double median_ns, double p10, double p90) {
  return {{"kernel", kernel}, {"role", "forward"}, {"shape", {{"m", 4096}, {"n", 7168}, {"bytes", 1e8}}},
          {"sms", 132}, {"median_ns", median_ns}, {"p10_ns", p10}, {"p90_ns", p90}, {"source", "synthetic"}};
}

}  // namespace cs::test
