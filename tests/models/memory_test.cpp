// Memory per pipeline rank, term by term against hand computations for DeepSeek-V3 under DualPipe PP16 / EP64 /
// DP128 with one 4096-token sequence per micro-batch.
#include <gtest/gtest.h>

#include "models/memory.hpp"
#include "models/params.hpp"
#include "scenarios/scenario.hpp"
#include "sim/schedule/timeline.hpp"

namespace {

struct V3 {
  cs::ModelConfig m = cs::load_model_preset("deepseek-v3");
  cs::Layout l;
  cs::OpsContext c;
  V3() {
    l.pp = 16;
    l.ep = 64;
    l.dp = 128;
    l.global_batch = 15360;
    c.ep = 64;
  }
};

// Bytes one MoE block keeps per token under DeepSeek's recipe, worked out by hand:
//   residual inputs of the two RMSNorms, BF16:            2 × 7168 × 2     = 28672
//   MLA latents (q 1536, kv 512, k_pe 64), BF16:           2112 × 2         =  4224
//   attention output, E5M6 (1.5 B):                        128 × 128 × 1.5  = 24576
//   softmax log-sum-exp, FP32 per head:                    128 × 4          =   512
//   router scores FP32 + top-8 weights and indices:        256 × 4 + 8 × 8  =  1088
//   dispatched expert inputs, FP8 + scales:                8 × 7168 × 1.03125 = 59136
//   SwiGLU inputs (gate, up) of the 8 experts, FP8:        8 × 4096 × 1.03125 = 33792
//   shared expert SwiGLU input, FP8:                       4096 × 1.03125   =  4224
constexpr double kMoeBlockBytesPerToken = 28672 + 4224 + 24576 + 512 + 1088 + 59136 + 33792 + 4224;

TEST(Memory, MiddleRankTermByTerm) {
  V3 v;
  const auto stages = cs::assign_stages(v.m, 16);
  // DualPipe rank 1 holds stages 1 and 14: 4 MoE blocks each (blocks 3–6 and 55–58), all MoE.
  ASSERT_EQ(stages[1].first_block, 3);
  ASSERT_EQ(stages[14].first_block, 55);
  cs::MemoryOptions o;
  o.microbatches_in_flight = 17;
  o.capacity_bytes = 84943110144;
  const auto r = cs::rank_memory(v.m, v.l, {stages[1], stages[14]}, 1, v.c, o);

  const double routed_block = 256.0 * 3 * 7168 * 2048;
  const double block = cs::block_params(v.m, 10);
  const double dense = 8 * (block - routed_block);  // 8 blocks' attention, norms, shared expert, router
  const double experts = 8 * routed_block / 64;     // 4 of 256 experts per block on this GPU
  EXPECT_DOUBLE_EQ(r.params, dense + experts);
  EXPECT_DOUBLE_EQ(r.weights_bytes, 2 * (dense + experts));
  EXPECT_DOUBLE_EQ(r.grads_bytes, 4 * (dense + experts));
  // ZeRO-1: dense weights sharded 128 ways, experts over the 128 / 64 = 2 replicas of each expert
  EXPECT_DOUBLE_EQ(r.master_bytes, 4 * (dense / 128 + experts / 2));
  EXPECT_DOUBLE_EQ(r.moments_bytes, 4 * (dense / 128 + experts / 2));
  // Activations: 4 blocks per stage, averaged over the two stages, × 17 micro-batches in flight (PP + 1)
  EXPECT_DOUBLE_EQ(r.activation_bytes_per_mb, 4 * kMoeBlockBytesPerToken * 4096);
  EXPECT_DOUBLE_EQ(r.activations_bytes, 17 * 4 * kMoeBlockBytesPerToken * 4096);
  // Buffers: p2p 4 × 4096 × 7168 × 2; dispatch/combine 2 × 4096 × 8 × 7168 × (1.03125 + 2)
  EXPECT_DOUBLE_EQ(r.comm_buffer_bytes, 4.0 * 4096 * 7168 * 2 + 2.0 * 4096 * 8 * 7168 * (1.03125 + 2));
  EXPECT_DOUBLE_EQ(r.total_bytes, r.weights_bytes + r.grads_bytes + r.master_bytes + r.moments_bytes +
                                      r.activations_bytes + r.comm_buffer_bytes);
  EXPECT_TRUE(r.fits());
}

TEST(Memory, EdgeRankHoldsEmbeddingHeadAndMtp) {
  V3 v;
  const auto stages = cs::assign_stages(v.m, 16);
  cs::MemoryOptions o;
  o.microbatches_in_flight = 17;
  o.capacity_bytes = 84943110144;
  const auto r0 = cs::rank_memory(v.m, v.l, {stages[0], stages[15]}, 0, v.c, o);
  const auto p = cs::count_params(v.m);
  // stage 0: embedding + 3 dense blocks; stage 15: blocks 59–60 (MoE) + the MTP module (61) + output head
  double dense = p.embedding + p.head;
  double experts = 0;
  for (int b : {0, 1, 2}) dense += cs::block_params(v.m, b);
  for (int b : {59, 60, 61}) {
    dense += cs::block_params(v.m, b) - 256.0 * 3 * 7168 * 2048;
    experts += 256.0 * 3 * 7168 * 2048 / 64;
  }
  EXPECT_DOUBLE_EQ(r0.params, dense + experts);
}

TEST(Memory, TooFewStagesDoNotFit) {
  V3 v;
  v.l.pp = 2;
  v.l.dp = 1024;
  const auto stages = cs::assign_stages(v.m, 2);
  cs::MemoryOptions o;
  o.microbatches_in_flight = 4;
  o.capacity_bytes = 84943110144;
  const auto r = cs::rank_memory(v.m, v.l, {stages[1]}, 1, v.c, o);
  // 31 blocks, each ≈0.41B parameters on this GPU (its 4 experts + attention + shared expert): BF16 weights and FP32
  // gradients alone take > 70 GB
  EXPECT_FALSE(r.fits());
  EXPECT_GT(r.weights_bytes + r.grads_bytes, 70e9);
}

TEST(Memory, InFlightTable) {
  // reference §4: activations per device 1F1B PP (rank 0), DualPipe PP + 1
  EXPECT_EQ(cs::table_activations_in_flight("1f1b", 16, 0, 1, 120), 16);
  EXPECT_EQ(cs::table_activations_in_flight("1f1b", 16, 15, 1, 120), 1);
  EXPECT_EQ(cs::table_activations_in_flight("1f1b", 16, 0, 1, 8), 8);  // capped by the micro-batches
  EXPECT_EQ(cs::table_activations_in_flight("zb1p", 8, 0, 1, 64), 8);
  EXPECT_EQ(cs::table_activations_in_flight("dualpipe", 16, 5, 1, 120), 17);
  // Megatron interleaved, rank 0 of PP 4 with 2 chunks: (4 − 1) × 2 + (2 − 1) × 4 + 1 = 11 chunk activations
  EXPECT_EQ(cs::table_activations_in_flight("interleaved", 4, 0, 2, 16), 11);
  EXPECT_EQ(cs::rank_stages("dualpipe", 16, 3, 1), (std::vector<int>{3, 12}));
  EXPECT_EQ(cs::rank_stages("dualpipev", 8, 3, 1), (std::vector<int>{3, 12}));
  EXPECT_EQ(cs::rank_stages("interleaved", 4, 1, 3), (std::vector<int>{1, 5, 9}));
  EXPECT_EQ(cs::pipeline_stages("dualpipev", 8, 1), 16);
}

TEST(Memory, EmbeddingTableOncePerRankAndWhereMtpNeedsIt) {
  V3 v;
  const auto stages = cs::assign_stages(v.m, 16);
  const auto p = cs::count_params(v.m);
  cs::MemoryOptions o;
  o.microbatches_in_flight = 1;
  const double routed_block = 256.0 * 3 * 7168 * 2048;
  double blocks = 0;
  for (int b : {59, 60, 61}) blocks += cs::block_params(v.m, b) - routed_block + routed_block / 64;
  // 1F1B's last stage alone: its MTP module embeds the next tokens with the shared embedding, so it holds a copy
  // beside the output head.
  const auto last = cs::rank_memory(v.m, v.l, {stages[15]}, 15, v.c, o);
  EXPECT_DOUBLE_EQ(last.params, blocks + p.embedding + p.head);
  // Tied embeddings under DualPipe: rank 0 holds the first and the last stage, and the one table once.
  cs::ModelConfig tied = v.m;
  tied.tie_embeddings = true;
  const auto pt = cs::count_params(tied);
  const auto r0 = cs::rank_memory(tied, v.l, {stages[0], stages[15]}, 0, v.c, o);
  double dense_blocks = 0;
  for (int b : {0, 1, 2}) dense_blocks += cs::block_params(tied, b);
  EXPECT_DOUBLE_EQ(pt.head, 0);
  EXPECT_DOUBLE_EQ(r0.params, dense_blocks + blocks + pt.embedding);
}

TEST(Memory, ExpertOptimizerShardCountsTensorParallelReplicas) {
  // TP 2 × DP 64 per stage with EP 64: an expert-parallel group spans the 128 ranks of a stage, so there are two
  // groups, and each expert's optimizer state is sharded over its 128 / 64 = 2 replicas; dense weights (split by TP)
  // over the 64 data-parallel replicas.
  V3 v;
  v.l.dp = 64;
  v.l.tp = 2;
  v.c.tp = 2;
  const auto stages = cs::assign_stages(v.m, 16);
  cs::MemoryOptions o;
  o.microbatches_in_flight = 17;
  const auto r = cs::rank_memory(v.m, v.l, {stages[1], stages[14]}, 1, v.c, o);
  const double routed_block = 256.0 * 3 * 7168 * 2048;
  const double dense = 8 * (cs::block_params(v.m, 10) - routed_block) / 2;
  const double experts = 8 * routed_block / 64;
  EXPECT_DOUBLE_EQ(r.params, dense + experts);
  EXPECT_DOUBLE_EQ(r.master_bytes, 4 * (dense / 64 + experts / 2));
  EXPECT_DOUBLE_EQ(r.moments_bytes, 4 * (dense / 64 + experts / 2));
}

TEST(Memory, InFlightTableMatchesTheSchedulesPeak) {
  // describe checks memory with the table; run with the peak its schedule reaches. They must agree for the DualPipe
  // family, whose table counts stages: DualPipeV cuts the model into 2 × ranks stages, so a rank holds 2 × ranks + 1.
  EXPECT_EQ(cs::table_activations_in_flight("dualpipev", 4, 0, 1, 8), 9);
  for (const char* kind : {"dualpipe", "dualpipev"})
    for (int ranks : {4, 8, 16})
      for (int n : {2 * ranks, 4 * ranks}) {
        const auto sch = cs::sched::make_schedule({kind, ranks, n});
        const auto t = cs::sched::run_timeline(sch, cs::sched::unit_costs(1, 2, 1, 3));
        for (int r = 0; r < ranks; ++r)
          EXPECT_EQ(cs::table_activations_in_flight(kind, ranks, r, 1, n), t.ranks[size_t(r)].peak_in_flight)
              << kind << " ranks " << ranks << " micro-batches " << n << " rank " << r;
      }
}

}  // namespace
