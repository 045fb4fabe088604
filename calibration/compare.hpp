// Kernel-timing regression check: two profiles of the same kernels (e.g. last release's and this commit's), record by
// record. A kernel is slower when its median grew by more than the threshold plus the noise band the two runs show
// (half the wider p10–p90 spread, relative to the median); faster symmetrically; "noisy" when the change exceeds the
// threshold but not the noise band; "same" otherwise.
#pragma once
#include <string>
#include <vector>

#include "calibration/profile.hpp"

namespace cs {

enum class Verdict { same, faster, slower, noisy, missing, added };
const char* to_string(Verdict v);

struct CompareRow {
  std::string label;       // record_label of the record
  double old_ns = 0, new_ns = 0;
  double flops = 0;        // GEMM and attention records: the table shows TFLOPS too
  double change = 0;       // new/old − 1
  double noise = 0;        // relative half-width of the wider p10–p90 band
  Verdict verdict = Verdict::same;
};

struct CompareResult {
  std::vector<CompareRow> rows;  // in the old profile's record order, then records only the new one has
  int slower = 0, faster = 0, noisy = 0, missing = 0, added = 0;
  bool failed(bool allow_missing) const { return slower > 0 || (!allow_missing && missing > 0); }
};

// threshold: relative slow-down allowed beyond the noise band (0.05 = 5 %).
CompareResult compare_profiles(const Profile& old_p, const Profile& new_p, double threshold);

// The table `clustersim calibrate compare` prints.
std::string format_compare(const CompareResult& r, double threshold);

}  // namespace cs
