// `calibrate compare` verdicts on synthetic profiles: faster, slower, within noise, missing and new kernels.
#include <gtest/gtest.h>

#include "calibration/compare.hpp"
#include "tests/calibration/synthetic.hpp"

namespace {
using nlohmann::json;

cs::Profile with(const std::vector<json>& recs) {
  json d = cs::test::base_profile();
  for (const auto& r : recs) d["records"].push_back(r);
  return cs::parse_profile(d.dump(), "p.json");
}

cs::Verdict verdict(json old_r, json new_r, double threshold = 0.05) {
  const auto r = cs::compare_profiles(with({old_r}), with({new_r}), threshold);
  EXPECT_EQ(r.rows.size(), 1u);
  return r.rows.at(0).verdict;
}

TEST(Compare, TightRunsSlowerBeyondThreshold) {
  // ±1 % noise, +10 % median: slower.
  EXPECT_EQ(verdict(cs::test::timed("rmsnorm", 1000, 990, 1010), cs::test::timed("rmsnorm", 1100, 1089, 1111)),
            cs::Verdict::slower);
}

TEST(Compare, TightRunsFaster) {
  EXPECT_EQ(verdict(cs::test::timed("rmsnorm", 1000, 990, 1010), cs::test::timed("rmsnorm", 900, 891, 909)),
            cs::Verdict::faster);
}

TEST(Compare, SmallChangeIsSame) {
  EXPECT_EQ(verdict(cs::test::timed("rmsnorm", 1000, 990, 1010), cs::test::timed("rmsnorm", 1030, 1020, 1040)),
            cs::Verdict::same);
}

TEST(Compare, NoisyRunsDoNotFail) {
  // +10 % median but the new run's p10–p90 spans ±15 %: above the threshold, inside the noise band.
  EXPECT_EQ(verdict(cs::test::timed("rmsnorm", 1000, 990, 1010), cs::test::timed("rmsnorm", 1100, 935, 1265)),
            cs::Verdict::noisy);
  // The same slow-down beyond threshold + noise fails: +25 % against ±15 %.
  EXPECT_EQ(verdict(cs::test::timed("rmsnorm", 1000, 990, 1010), cs::test::timed("rmsnorm", 1250, 1062, 1437)),
            cs::Verdict::slower);
}

TEST(Compare, ThresholdIsAnOption) {
  const json a = cs::test::timed("rmsnorm", 1000, 1000, 1000), b = cs::test::timed("rmsnorm", 1080, 1080, 1080);
  EXPECT_EQ(verdict(a, b, 0.05), cs::Verdict::slower);
  EXPECT_EQ(verdict(a, b, 0.10), cs::Verdict::same);
}

TEST(Compare, MissingAndNewRecordsAndFailure) {
  const json a = cs::test::timed("rmsnorm", 1000, 990, 1010);
  const json b = cs::test::timed("rope", 500, 495, 505);
  const json c = cs::test::timed("swiglu", 700, 690, 710);
  auto r = cs::compare_profiles(with({a, b}), with({a, c}), 0.05);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].verdict, cs::Verdict::same);
  EXPECT_EQ(r.rows[1].verdict, cs::Verdict::missing);
  EXPECT_EQ(r.rows[2].verdict, cs::Verdict::added);
  EXPECT_TRUE(r.failed(false));
  EXPECT_FALSE(r.failed(true));
  const std::string table = cs::format_compare(r, 0.05);
  EXPECT_NE(table.find("MISSING"), std::string::npos) << table;
  EXPECT_NE(table.find("rope/forward"), std::string::npos) << table;
  // One record is in both profiles: the summary counts that one as compared, not the three rows.
  EXPECT_NE(table.find("1 missing, 1 new, 1 compared"), std::string::npos) << table;
}

TEST(Compare, SameProfilePasses) {
  const auto p = with({cs::test::timed("rmsnorm", 1000, 990, 1010), cs::test::gemm_record(64, 4096, 7168, 9000)});
  const auto r = cs::compare_profiles(p, p, 0.05);
  EXPECT_FALSE(r.failed(false));
  EXPECT_EQ(r.slower + r.faster + r.noisy + r.missing + r.added, 0);
}

}  // namespace

namespace {

TEST(Compare, TableShowsTflopsForGemms) {
  // 2·64·4096·7168 FLOP in 13094.4 ns = 287 TFLOPS (the DeepGEMM row M=64 N=4096 K=7168).
  const auto p = with({cs::test::gemm_record(64, 4096, 7168, 13094.4)});
  const std::string table = cs::format_compare(cs::compare_profiles(p, p, 0.05), 0.05);
  EXPECT_NE(table.find(" 287 "), std::string::npos) << table;
  EXPECT_NE(table.find("TF/s"), std::string::npos) << table;
}

}  // namespace
