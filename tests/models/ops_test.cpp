// Per-block op lists: DeepSeek-V3's GEMM shapes (reference §5), attention FLOPs, backward derivation, stages.
#include <gtest/gtest.h>

#include <map>

#include "models/ops.hpp"
#include "models/params.hpp"
#include "scenarios/scenario.hpp"

namespace {

cs::OpsContext ep64() {
  cs::OpsContext c;
  c.seq_len = 4096;
  c.sequences = 1;
  c.ep = 64;
  return c;
}

const cs::Op& find(const std::vector<cs::Op>& ops, const std::string& name) {
  for (const auto& op : ops)
    if (op.name == name) return op;
  throw std::runtime_error("no op " + name);
}

TEST(Ops, DeepSeekV3MoeBlockHasThePublishedGemmShapes) {
  const auto m = cs::load_model_preset("deepseek-v3");
  const auto b = cs::block_ops(m, 10, ep64());
  struct Shape { const char* name; int64_t m, n, k, count; };
  // N×K from reference §5 ("Shapes in V3"); 4 experts × 8192 rows is the balanced EP64 load at 4096 tokens per GPU.
  const Shape want[] = {{"mla.q_a+kv_a_proj", 4096, 2112, 7168, 1}, {"mla.q_b_proj", 4096, 24576, 1536, 1},
                        {"mla.kv_b_proj", 4096, 32768, 512, 1},     {"attn.o_proj", 4096, 7168, 16384, 1},
                        {"moe.expert.gate_up_proj", 8192, 4096, 7168, 4}, {"moe.expert.down_proj", 8192, 7168, 2048, 4},
                        {"moe.shared_expert.gate_up_proj", 4096, 4096, 7168, 1}};
  for (const auto& w : want) {
    const cs::Op& op = find(b.forward, w.name);
    EXPECT_EQ(op.kind, cs::OpKind::gemm) << w.name;
    EXPECT_EQ(op.precision, cs::Precision::fp8) << w.name;
    EXPECT_EQ(op.m, w.m) << w.name;
    EXPECT_EQ(op.n, w.n) << w.name;
    EXPECT_EQ(op.k, w.k) << w.name;
    EXPECT_EQ(op.count, w.count) << w.name;
    EXPECT_DOUBLE_EQ(op.flops, 2.0 * w.m * w.n * w.k * w.count) << w.name;
  }
  // Router gate stays BF16.
  EXPECT_EQ(find(b.forward, "moe.gate").precision, cs::Precision::bf16);
  EXPECT_EQ(find(b.forward, "moe.gate").n, 256);
}

TEST(Ops, CausalAttentionFlopsMatchTheReference) {
  const auto m = cs::load_model_preset("deepseek-v3");
  const auto b = cs::block_ops(m, 0, ep64());
  // reference §5: forward 687 GFLOP, backward 1.79 TFLOP per 4096-token sequence, 128 heads, d_qk 192, d_v 128
  EXPECT_NEAR(find(b.forward, "attention").flops / 1e9, 687.3, 0.1);
  EXPECT_NEAR(find(b.backward_input, "attention.backward").flops / 1e12, 1.787, 0.001);
  EXPECT_TRUE(find(b.forward, "attention").causal);
}

TEST(Ops, EveryGemmHasDgradAndWgradOfEqualFlops) {
  for (const char* name : {"deepseek-v3", "llama-3.1-405b"}) {
    const auto m = cs::load_model_preset(name);
    const auto b = cs::block_ops(m, m.layers - 1, ep64());
    int gemms = 0;
    for (const auto& f : b.forward) {
      if (f.kind != cs::OpKind::gemm) continue;
      ++gemms;
      const cs::Op& d = find(b.backward_input, f.name + ".dgrad");
      const cs::Op& w = find(b.backward_weight, f.name + ".wgrad");
      EXPECT_DOUBLE_EQ(d.flops, f.flops) << f.name;
      EXPECT_DOUBLE_EQ(w.flops, f.flops) << f.name;
      EXPECT_EQ(d.m, f.m);
      EXPECT_EQ(d.n, f.k);
      EXPECT_EQ(d.k, f.n);
      EXPECT_EQ(w.m, f.n);
      EXPECT_EQ(w.n, f.k);
      EXPECT_EQ(w.k, f.m);
      EXPECT_EQ(w.pass, cs::Pass::backward_weight);
    }
    EXPECT_GE(gemms, 3) << name;
  }
}

TEST(Ops, DeepSeekRecomputationReRunsNormsUpProjectionsAndSwiglu) {
  const auto m = cs::load_model_preset("deepseek-v3");
  const auto b = cs::block_ops(m, 10, ep64());
  std::map<std::string, int> recomputed;
  for (const auto& op : b.backward_input)
    if (op.recompute) ++recomputed[op.name];
  for (const char* n : {"attn_norm.recompute", "mla.q_a_norm.recompute", "mla.kv_a_norm.recompute",
                        "mla.q_b_proj.recompute", "mla.kv_b_proj.recompute", "ffn_norm.recompute",
                        "moe.expert.swiglu.recompute"})
    EXPECT_EQ(recomputed[n], 1) << n;
  // Not recomputed: the down-projections, o_proj and the attention core.
  EXPECT_EQ(recomputed.count("attn.o_proj.recompute"), 0u);
  EXPECT_EQ(recomputed.count("attention.recompute"), 0u);
  // A model without DeepSeek's recipe recomputes nothing.
  const auto l = cs::load_model_preset("llama-3.1-405b");
  for (const auto& op : cs::block_ops(l, 0, ep64()).backward_input) EXPECT_FALSE(op.recompute) << op.name;
}

TEST(Ops, DispatchAndCombineCarryFp8ThenBf16OnePerTargetNode) {
  const auto m = cs::load_model_preset("deepseek-v3");
  const auto b = cs::block_ops(m, 10, ep64());
  const cs::Op& d = find(b.forward, "moe.dispatch");
  const cs::Op& c = find(b.forward, "moe.combine");
  // 4096 tokens × 4 target nodes × 7168 × (1 + 4/128) bytes (FP8 + one FP32 scale per 128)
  EXPECT_DOUBLE_EQ(d.bytes, 4096.0 * 4 * 7168 * (1 + 4.0 / 128));
  EXPECT_DOUBLE_EQ(c.bytes, 4096.0 * 4 * 7168 * 2);
  EXPECT_EQ(d.part, cs::Part::dispatch);
  EXPECT_EQ(c.part, cs::Part::combine);
  // Backward: the gradient goes back in BF16 along the reverse path.
  EXPECT_EQ(find(b.backward_input, "moe.combine.backward").kind, cs::OpKind::dispatch);
  EXPECT_EQ(find(b.backward_input, "moe.dispatch.backward").kind, cs::OpKind::combine);
}

TEST(Ops, ChunkPartsComeInDualPipeOrder) {
  // attention → dispatch → mlp → combine forward; the reverse in backward (the order DualPipe's F&B overlap uses)
  const auto m = cs::load_model_preset("deepseek-v3");
  const auto b = cs::block_ops(m, 10, ep64());
  auto order = [](const std::vector<cs::Op>& ops) {
    std::vector<cs::Part> parts;
    for (const auto& op : ops)
      if (parts.empty() || parts.back() != op.part) parts.push_back(op.part);
    return parts;
  };
  using P = cs::Part;
  EXPECT_EQ(order(b.forward), (std::vector<P>{P::attention, P::dispatch, P::mlp, P::combine}));
  EXPECT_EQ(order(b.backward_input), (std::vector<P>{P::combine, P::mlp, P::dispatch, P::attention}));
}

TEST(Stages, SixtyTwoBlocksOverSixteenStages) {
  const auto m = cs::load_model_preset("deepseek-v3");
  const auto st = cs::assign_stages(m, 16);
  ASSERT_EQ(st.size(), 16u);
  int next = 0;
  for (const auto& s : st) {
    EXPECT_EQ(s.first_block, next);
    next += s.blocks;
  }
  EXPECT_EQ(next, 61 + 1);
  // 62 = 14 × 4 + 2 × 3: the two 3-block stages are the first and the last (embedding, head and MTP)
  EXPECT_EQ(st.front().blocks, 3);
  EXPECT_EQ(st.back().blocks, 3);
  EXPECT_TRUE(st.front().embedding);
  EXPECT_TRUE(st.back().head);
  EXPECT_THROW(cs::assign_stages(m, 63), std::invalid_argument);
}

TEST(Stages, ForwardFlopsOfAllStagesAddUpToTheModel) {
  // Over all stages, forward FLOPs per token = 2 × activated parameters without embedding (+ MTP block, projection
  // and its head) + causal attention, with a balanced expert load.
  const auto m = cs::load_model_preset("deepseek-v3");
  cs::OpsContext c = ep64();
  c.ep = 1;  // every expert on one GPU: per-GPU rows = tokens × top_k
  double fwd = 0;
  for (const auto& s : cs::assign_stages(m, 16)) fwd += cs::total_flops(cs::stage_ops(m, s, c).forward);
  const auto p = cs::count_params(m);
  const double attn = 61.0 * 128 * 2 * 320 * 4097 / 2;
  // MTP: its block with top-8 routing, its 2d→d projection and a second pass of the output head
  const double mtp_active = cs::block_params(m, 61) - 256.0 * 3 * 7168 * 2048 + 8.0 * 3 * 7168 * 2048;
  const double mtp = 2 * (mtp_active + p.head) + 128.0 * 2 * 320 * 4097 / 2;
  const double want = 2 * p.activated_no_embedding + attn + mtp;
  // small differences: norm and bias parameters are not GEMM FLOPs, elementwise ops add a few FLOPs
  EXPECT_NEAR(fwd / 4096 / want, 1.0, 0.005);
}

}  // namespace
