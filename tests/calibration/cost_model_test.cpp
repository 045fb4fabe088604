// The cost model on synthetic profiles: exact records, interpolation across shapes, SM scaling, fallbacks.
#include <gtest/gtest.h>

#include "calibration/cost_model.hpp"
#include "tests/calibration/synthetic.hpp"

namespace {
using nlohmann::json;
using cs::test::base_profile;
using cs::test::gemm_record;

cs::GpuSpec gpu() {
  cs::GpuSpec g;
  g.name = "test";
  g.sms = 132;
  g.bf16_tflops = 1000;
  g.fp8_tflops = 2000;
  g.fp32_tflops = 60;
  g.hbm_gbps = 3000;
  return g;
}

cs::Op gemm(int64_t m, int64_t n, int64_t k, int64_t count = 1, cs::Pass pass = cs::Pass::forward) {
  cs::Op op;
  op.name = "test.gemm";
  op.kind = cs::OpKind::gemm;
  op.precision = cs::Precision::fp8;
  op.pass = pass;
  op.m = m, op.n = n, op.k = k, op.count = count;
  op.flops = 2.0 * double(m * n * k * count);
  op.bytes = double(count) * double(m * k + n * k + 2 * m * n);
  return op;
}

cs::CostModel model(const json& doc) { return cs::CostModel(cs::parse_profile(doc.dump(), "syn.json"), gpu()); }

// Two records on one (n, k) curve: 10 µs at m=64, 100 µs at m=4096.
json two_point() {
  json d = base_profile();
  d["records"].push_back(gemm_record(64, 4096, 7168, 10000));
  d["records"].push_back(gemm_record(4096, 4096, 7168, 100000));
  return d;
}

TEST(CostModel, ExactRecordIsMeasured) {
  const auto cm = model(two_point());
  const auto t = cm.time(gemm(64, 4096, 7168), 132);
  EXPECT_EQ(t.ns, 10000);
  EXPECT_EQ(t.source, cs::TimeSource::record);
  EXPECT_EQ(cm.time(gemm(4096, 4096, 7168), 132).ns, 100000);
}

TEST(CostModel, AffineInRowsBetweenRecords) {
  const auto cm = model(two_point());
  const auto t = cm.time(gemm(2080, 4096, 7168), 132);  // halfway between 64 and 4096
  EXPECT_EQ(t.ns, 55000);
  EXPECT_EQ(t.source, cs::TimeSource::interpolated);
}

TEST(CostModel, ExtrapolationBelowAndConstantThroughputAbove) {
  const auto cm = model(two_point());
  // Below m=64 the line through the two records (22.32 ns per row) is extended: 10000 − 48·90000/4032.
  EXPECT_EQ(cm.time(gemm(16, 4096, 7168), 132).ns, 8929);
  EXPECT_EQ(cm.time(gemm(8192, 4096, 7168), 132).ns, 200000);
}

TEST(CostModel, ExtrapolationBelowIsClampedToTheSmallestRecordsThroughput) {
  // A grouped curve known only at large m (2 × 4096 and 2 × 8192 rows, constant throughput): 1000 rows per group
  // keep that throughput rather than costing as much as 4096 rows.
  json d = cs::test::base_profile();
  d["records"].push_back(gemm_record(4096, 4096, 7168, 2 * 100000.0, 132, 2));
  d["records"].push_back(gemm_record(8192, 4096, 7168, 2 * 200000.0, 132, 2));
  EXPECT_EQ(model(d).time(gemm(1024, 4096, 7168, 2), 132).ns, 2 * 25000);
  // A single record: time stays (no slope to extend).
  json one = cs::test::base_profile();
  one["records"].push_back(gemm_record(4096, 4096, 7168, 100000.0));
  EXPECT_EQ(model(one).time(gemm(1024, 4096, 7168), 132).ns, 100000);
}

TEST(CostModel, OtherWeightShapeScalesByFlopsOfNearestCurve) {
  json d = two_point();
  d["records"].push_back(gemm_record(4096, 7168, 2048, 30000));  // a second, far-away curve
  const auto cm = model(d);
  // (4096, 8192) is nearest to (4096, 7168): same throughput at the same rows → time × 8192/7168.
  const auto t = cm.time(gemm(4096, 4096, 8192), 132);
  EXPECT_NEAR(double(t.ns), 100000.0 * 8192 / 7168, 1);
  EXPECT_EQ(t.source, cs::TimeSource::interpolated);
  // (7168, 2304) is nearest to (7168, 2048).
  EXPECT_NEAR(double(cm.time(gemm(4096, 7168, 2304), 132).ns), 30000.0 * 2304 / 2048, 1);
}

TEST(CostModel, ComputeBoundScalesInverselyWithSms) {
  const auto cm = model(two_point());
  const auto t = cm.time(gemm(4096, 4096, 7168), 112);
  EXPECT_NEAR(double(t.ns), 100000.0 * 132 / 112, 1);
  EXPECT_EQ(t.source, cs::TimeSource::record);  // same record, scaled to the SMs available
}

TEST(CostModel, RecordAtTheRequestedSmsWins) {
  json d = two_point();
  d["records"].push_back(gemm_record(4096, 4096, 7168, 115000, 112));  // SM_COUNT_TARGET=112 run
  const auto cm = model(d);
  EXPECT_EQ(cm.time(gemm(4096, 4096, 7168), 112).ns, 115000);
  EXPECT_EQ(cm.time(gemm(4096, 4096, 7168), 132).ns, 100000);
  // 120 SMs: nearest recorded SM count is 112; scaled from it.
  EXPECT_NEAR(double(cm.time(gemm(4096, 4096, 7168), 120).ns), 115000.0 * 112 / 120, 1);
}

TEST(CostModel, GroupedQueriesPreferGroupedRecords) {
  json d = two_point();
  d["records"].push_back(gemm_record(8192, 4096, 7168, 4 * 150000, 132, 4));  // 4 groups × 8192 rows
  const auto cm = model(d);
  const auto exact = cm.time(gemm(8192, 4096, 7168, 4), 132);
  EXPECT_EQ(exact.ns, 600000);
  EXPECT_EQ(exact.source, cs::TimeSource::record);
  // 2 groups of 8192: per-group time × 2.
  EXPECT_EQ(cm.time(gemm(8192, 4096, 7168, 2), 132).ns, 300000);
  // A lone GEMM uses the ungrouped curve.
  EXPECT_EQ(cm.time(gemm(4096, 4096, 7168, 1), 132).ns, 100000);
}

TEST(CostModel, GroupedWithoutGroupedRecordsLoopsPerGroup) {
  const auto cm = model(two_point());
  EXPECT_EQ(cm.time(gemm(4096, 4096, 7168, 4), 132).ns, 400000);
}

TEST(CostModel, DgradFallsBackToFpropUntilItHasItsOwnRecords) {
  json d = two_point();
  const auto t = model(d).time(gemm(64, 4096, 7168, 1, cs::Pass::backward_input), 132);
  EXPECT_EQ(t.ns, 10000);
  EXPECT_EQ(t.source, cs::TimeSource::interpolated);  // borrowed from fprop: not a measurement of dgrad
  d["records"].push_back(gemm_record(64, 4096, 7168, 12000, 132, 1, "dgrad"));
  const auto own = model(d).time(gemm(64, 4096, 7168, 1, cs::Pass::backward_input), 132);
  EXPECT_EQ(own.ns, 12000);
  EXPECT_EQ(own.source, cs::TimeSource::record);
}

cs::Op norm(double bytes) {
  cs::Op op;
  op.name = "attn_norm";
  op.kind = cs::OpKind::norm;
  op.m = 4096, op.n = 7168;
  op.bytes = bytes;
  op.flops = 4.0 * 4096 * 7168;
  return op;
}

TEST(CostModel, RooflineWithoutRecords) {
  const auto cm = model(base_profile());
  const auto t = cm.time(norm(1e8), 132);
  EXPECT_EQ(t.source, cs::TimeSource::roofline);
  EXPECT_NEAR(double(t.ns), 1e8 / (3000 * 0.8), 1);  // memory-bound: bytes / (HBM × 0.8)
  // Compute-bound roofline: FP8 GEMM at 2000 TFLOPS × 0.5.
  const cs::Op g = gemm(4096, 4096, 4096);
  EXPECT_NEAR(double(cm.time(g, 132).ns), g.flops / (2000e3 * 0.5), 1);
}

TEST(CostModel, MoreSpecificEfficiencyWins) {
  json d = base_profile();
  d["efficiencies"].push_back({{"op", "norm"}, {"bound", "memory"}, {"value", 0.4}, {"source", "s"}});
  EXPECT_NEAR(double(model(d).time(norm(1e8), 132).ns), 1e8 / (3000 * 0.4), 1);
}

TEST(CostModel, MemoryBoundSaturatesBandwidthWithFewerSms) {
  // Saturation at 66 SMs (synthetic profile): 112 SMs cost nothing extra, 33 SMs double the time.
  const auto cm = model(base_profile());
  const double full = double(cm.time(norm(1e8), 132).ns);
  EXPECT_NEAR(double(cm.time(norm(1e8), 112).ns), full, 1);
  EXPECT_NEAR(double(cm.time(norm(1e8), 33).ns), 2 * full, 1);
}

TEST(CostModel, MemoryRecordsInterpolateInBytes) {
  json d = base_profile();
  json a = cs::test::timed("rmsnorm", 10000, 10000, 10000);
  json b = a;
  b["shape"]["m"] = 8192;
  b["shape"]["bytes"] = 3e8;
  b["median_ns"] = b["p10_ns"] = b["p90_ns"] = 100000;
  d["records"].push_back(a);
  d["records"].push_back(b);
  const auto cm = model(d);
  const auto t = cm.time(norm(2e8), 132);
  EXPECT_EQ(t.ns, 55000);
  EXPECT_EQ(t.source, cs::TimeSource::interpolated);
  cs::Op exact = norm(1e8);
  exact.m = 4096, exact.n = 7168;
  EXPECT_EQ(cm.time(exact, 132).source, cs::TimeSource::record);
}

TEST(CostModel, RejectsCommunicationAndBadSms) {
  const auto cm = model(base_profile());
  cs::Op d;
  d.name = "moe.dispatch";
  d.kind = cs::OpKind::dispatch;
  EXPECT_THROW(cm.time(d, 112), std::invalid_argument);
  EXPECT_THROW(cm.time(norm(1e8), 0), std::invalid_argument);
  EXPECT_THROW(cm.time(norm(1e8), 133), std::invalid_argument);
}

TEST(CostModel, KernelKeysFollowTheOp) {
  auto g = gemm(1, 1, 1, 1, cs::Pass::backward_weight);
  EXPECT_EQ(cs::kernel_key(g).kernel, "gemm_fp8");
  EXPECT_EQ(cs::kernel_key(g).role, "wgrad");
  g.recompute = true;  // a recomputed forward GEMM in the backward pass runs as fprop
  g.pass = cs::Pass::backward_input;
  EXPECT_EQ(cs::kernel_key(g).role, "fprop");
  cs::Op q;
  q.kind = cs::OpKind::quantize;
  q.name = "mla.q_b_proj.x_transpose_quantize";
  EXPECT_EQ(cs::kernel_key(q).kernel, "transpose_quantize");
  q.name = "attn_out.quantize";
  EXPECT_EQ(cs::kernel_key(q).kernel, "quantize");
}

TEST(CostModel, MemoryBoundInstancesAreOneKernelOverAllRows) {
  cs::Op q;
  q.kind = cs::OpKind::quantize;
  q.name = "moe.expert.down_proj.dy_quantize";
  q.m = 8192, q.n = 7168, q.count = 4;  // dY of 4 local experts
  EXPECT_EQ(cs::kernel_shape(q).m, 4 * 8192);
}

TEST(CostModel, TallyCountsSources) {
  const auto cm = model(two_point());
  cs::CostTally tally;
  tally.add(cm.time(gemm(64, 4096, 7168), 132));
  tally.add(cm.time(gemm(100, 4096, 7168), 132));
  tally.add(cm.time(norm(1e6), 132));
  EXPECT_EQ(tally.ops[size_t(cs::TimeSource::record)], 1);
  EXPECT_EQ(tally.ops[size_t(cs::TimeSource::interpolated)], 1);
  EXPECT_EQ(tally.ops[size_t(cs::TimeSource::roofline)], 1);
  EXPECT_EQ(tally.total_ops(), 3);
  EXPECT_NE(cs::describe_tally(cm.profile(), tally).find("1 ops from records, 1 interpolated, 1 roofline"),
            std::string::npos);
}

}  // namespace
