// F, B, W and the overlapped F&B pair on the compute and communication streams, against timelines worked by hand.
#include <gtest/gtest.h>

#include "models/ops.hpp"
#include "scenarios/scenario.hpp"
#include "sim/chunk_timing.hpp"

namespace {

cs::Segment seg(cs::Stream s, cs::TimeNs d, int layer, cs::Part p, bool w = false) {
  cs::Segment x;
  x.stream = s;
  x.duration = d;
  x.layer = layer;
  x.part = p;
  x.weight_grad = w;
  return x;
}
constexpr auto C = cs::Stream::compute;
constexpr auto M = cs::Stream::comm;
using P = cs::Part;

TEST(ChunkTiming, LoneChunkRunsItsCommunicationExposed) {
  const std::vector<cs::Segment> f = {seg(C, 10, 0, P::attention), seg(M, 5, 0, P::dispatch), seg(C, 10, 0, P::mlp),
                                      seg(M, 5, 0, P::combine)};
  const auto t = cs::time_serial(f);
  EXPECT_EQ(t.duration, 30);
  EXPECT_EQ(t.compute_busy, 20);
  EXPECT_EQ(t.comm_busy, 10);
  EXPECT_EQ(t.comm_exposed, 10);
}

TEST(ChunkTiming, OverlappedPairHidesEachOthersAllToAll) {
  cs::ChunkSegments f, b;
  f.forward = {seg(C, 10, 0, P::attention), seg(M, 5, 0, P::dispatch), seg(C, 10, 0, P::mlp), seg(M, 5, 0, P::combine)};
  b.backward_input = {seg(M, 5, 1, P::combine), seg(C, 20, 1, P::mlp), seg(M, 5, 1, P::dispatch),
                      seg(C, 20, 1, P::attention)};
  // By hand: t=0 F.attn [0,10) ‖ B.combine [0,5); t=10 B.mlp [10,30) ‖ F.dispatch [10,15);
  // t=30 F.mlp [30,40) ‖ B.dispatch [30,35); t=40 B.attn [40,60) ‖ F.combine [40,45). All communication hidden.
  const auto t = cs::time_overlapped(f, b, false);
  EXPECT_EQ(t.duration, 60);
  EXPECT_EQ(t.compute_busy, 60);
  EXPECT_EQ(t.comm_busy, 20);
  EXPECT_EQ(t.comm_exposed, 0);
  ASSERT_EQ(t.placed.size(), 8u);
  EXPECT_EQ(t.placed[0].start, 0);
  // the forward's MLP starts at 30, after the backward's MLP took the compute stream at 10
  for (const auto& p : t.placed)
    if (p.chain == 0 && p.seg.part == P::mlp) {
      EXPECT_EQ(p.start, 30);
    }
}

TEST(ChunkTiming, WeightGradientsFillTheGapsOfABackward) {
  cs::ChunkSegments b;
  b.backward_input = {seg(M, 5, 1, P::combine), seg(C, 10, 1, P::mlp), seg(M, 5, 1, P::dispatch),
                      seg(C, 10, 1, P::attention)};
  b.backward_weight = {seg(C, 4, 1, P::mlp, true), seg(C, 4, 1, P::attention, true)};
  // By hand: combine [0,5), mlp [5,15), dispatch [15,20) ‖ W.mlp [15,19), attention [20,30), W.attention [30,34)
  const auto with_w = cs::time_backward(b, true);
  EXPECT_EQ(with_w.duration, 34);
  EXPECT_EQ(with_w.comm_exposed, 5 + 1);  // combine fully, and 1 ns of dispatch after W.mlp ends
  const auto without = cs::time_backward(b, false);
  EXPECT_EQ(without.duration, 30);
}

TEST(ChunkTiming, SegmentsOfARealStageKeepEveryOp) {
  // A DeepSeek-V3 stage of 4 MoE blocks: durations = 1 ns per op, so a segment's duration counts its ops.
  const auto m = cs::load_model_preset("deepseek-v3");
  cs::OpsContext c;
  c.ep = 64;
  cs::StageBlocks st{3, 4, false, false};
  const auto ops = cs::stage_ops(m, st, c);
  const auto one = [](const cs::Op&) { return cs::TimeNs(1); };
  const auto s = cs::chunk_segments(ops, one, one);
  cs::TimeNs fsum = 0;
  int comm = 0;
  for (const auto& x : s.forward) {
    fsum += x.duration;
    comm += x.stream == M;
  }
  EXPECT_EQ(fsum, cs::TimeNs(ops.forward.size()));
  EXPECT_EQ(comm, 8);  // a dispatch and a combine per block
  // 5 segments per block: attention, dispatch, MLP, combine (communication), then the gate-weighted sum (compute)
  ASSERT_EQ(s.forward.size(), 20u);
  EXPECT_EQ(s.forward[0].part, P::attention);
  EXPECT_EQ(s.forward[1].part, P::dispatch);
  EXPECT_EQ(s.forward[3].part, P::combine);
  EXPECT_EQ(s.forward[3].stream, M);
  EXPECT_EQ(s.forward[4].part, P::combine);
  EXPECT_EQ(s.forward[4].stream, C);
  // the overlapped pair of two such chunks is no longer than the two run one after the other
  const auto pair = cs::time_overlapped(s, s, true);
  const auto f = cs::time_serial(s.forward);
  const auto bw = cs::time_backward(s, true);
  EXPECT_LE(pair.duration, f.duration + bw.duration);
  EXPECT_GE(pair.duration, pair.compute_busy);
}

}  // namespace
