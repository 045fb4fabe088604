// Summary statistics of repeated kernel timings: median and the p10/p90 noise band that `calibrate compare` reads.
#pragma once
#include <vector>

namespace cs {

struct TimingStats {
  double median_ns = 0, p10_ns = 0, p90_ns = 0;
  int repetitions = 0;
};

// Nearest-rank percentiles of the samples (order does not matter; deterministic). Empty input → all zero.
TimingStats summarize_ns(std::vector<double> samples);

}  // namespace cs
