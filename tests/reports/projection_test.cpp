// Training-run projection against hand computations, with step times given (not simulated).
#include <gtest/gtest.h>

#include "reports/projection.hpp"

namespace {

cs::Scenario tiny() {
  cs::Scenario s;
  s.cluster.nodes = 2;
  s.cluster.node.gpus = 8;
  s.price_per_gpu_hour = 2.0;
  cs::Phase p;
  p.name = "pre";
  p.seq_len = 1;
  p.global_batch = 4;
  p.tokens = 100;
  p.nodes = 2;
  p.layout.dp = 1;
  p.layout.micro_batch = 1;
  p.ramp = cs::BatchRamp{2, 10, "linear"};
  s.phases.push_back(p);
  return s;
}

TEST(Projection, RampStepsByHand) {
  cs::Scenario s = tiny();
  // batch after t tokens: floor(2 + 2·t/10): t = 0 → 2, 2 → 2, 4 → 2, 6 → 3, 9 → 3, then 12 ≥ 10: full batch 4
  EXPECT_EQ(cs::ramp_batch(s.phases[0], 0), 2);
  EXPECT_EQ(cs::ramp_batch(s.phases[0], 6), 3);
  EXPECT_EQ(cs::ramp_batch(s.phases[0], 10), 4);
  // step time = micro-batches seconds, so the wall time is the tokens' sum here
  const auto pr = cs::project_training(s, [](const cs::Phase&, int64_t n) { return double(n); });
  const auto& p = pr.phases[0];
  EXPECT_EQ(p.ramp_steps, 5);                 // 2 + 2 + 2 + 3 + 3 = 12 tokens
  EXPECT_EQ(p.steps, 5 + 22);                 // (100 − 12) / 4 = 22 full steps
  EXPECT_DOUBLE_EQ(p.tokens, 12 + 22 * 4);
  EXPECT_DOUBLE_EQ(p.wall_s, 12 + 22 * 4.0);
  EXPECT_DOUBLE_EQ(p.gpu_hours, (12 + 88.0) * 16 / 3600);
  EXPECT_DOUBLE_EQ(p.cost_usd, p.gpu_hours * 2);
  EXPECT_DOUBLE_EQ(pr.gpu_hours_per_trillion_tokens, p.gpu_hours / (100 / 1e12));
}

TEST(Projection, PhasesAddUpAndGivenPhasesCountAsPublished) {
  cs::Scenario s = tiny();
  s.phases[0].ramp.reset();
  cs::Phase ext = s.phases[0];
  ext.name = "ext";
  ext.steps = 10;
  ext.tokens = 0;
  ext.nodes = 1;
  ext.global_batch = 8;
  s.phases.push_back(ext);
  cs::Phase post;
  post.name = "post";
  post.given_gpu_hours = 32;
  post.given_source = "published";
  s.phases.push_back(post);
  const auto pr = cs::project_training(s, [](const cs::Phase& p, int64_t n) { return p.name == "ext" ? 36.0 : n * 9.0; });
  ASSERT_EQ(pr.phases.size(), 3u);
  EXPECT_EQ(pr.phases[0].steps, 25);
  EXPECT_DOUBLE_EQ(pr.phases[0].wall_s, 25 * 36.0);
  EXPECT_DOUBLE_EQ(pr.phases[1].wall_s, 360.0);
  EXPECT_DOUBLE_EQ(pr.phases[1].gpu_hours, 360.0 * 8 / 3600);  // one node
  EXPECT_DOUBLE_EQ(pr.phases[2].gpu_hours, 32);
  EXPECT_DOUBLE_EQ(pr.phases[2].wall_s, 32 * 3600.0 / 16);   // on the whole cluster
  EXPECT_DOUBLE_EQ(pr.total_gpu_hours, pr.phases[0].gpu_hours + pr.phases[1].gpu_hours + 32);
  EXPECT_DOUBLE_EQ(pr.total_cost_usd, 2 * pr.total_gpu_hours);
  EXPECT_DOUBLE_EQ(pr.days, (900 + 360 + 7200) / 86400.0);
}

}  // namespace
