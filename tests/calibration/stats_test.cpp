// Timing summaries: median and nearest-rank p10/p90, independent of sample order.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "calibration/stats.hpp"

TEST(TimingStats, NearestRankPercentiles) {
  std::vector<double> v(11);
  std::iota(v.begin(), v.end(), 100.0);  // 100 … 110
  std::shuffle(v.begin(), v.end(), std::mt19937(3));
  const cs::TimingStats s = cs::summarize_ns(v);
  EXPECT_EQ(s.median_ns, 105);
  EXPECT_EQ(s.p10_ns, 101);
  EXPECT_EQ(s.p90_ns, 109);
  EXPECT_EQ(s.repetitions, 11);
}

TEST(TimingStats, OneOutlierMovesNeitherMedianNorBand) {
  std::vector<double> v(50, 1000.0);
  v[7] = 50000;  // a clock dip or a context switch
  const cs::TimingStats s = cs::summarize_ns(v);
  EXPECT_EQ(s.median_ns, 1000);
  EXPECT_EQ(s.p90_ns, 1000);
}

TEST(TimingStats, EmptyIsZero) { EXPECT_EQ(cs::summarize_ns({}).repetitions, 0); }
