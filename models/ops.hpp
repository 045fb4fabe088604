// The architecture turned into operations: per block (layer) and per pass, for one micro-batch on one GPU.
// Shapes are what one GPU computes: attention/dense parts for its own micro-batch, routed-expert GEMMs for the
// tokens the expert-parallel group sends to its local experts.
#pragma once
#include <cstdint>
#include <vector>

#include "models/layout.hpp"
#include "models/model_config.hpp"
#include "models/op.hpp"

namespace cs {

// What one micro-batch on one GPU looks like to the model layer.
struct OpsContext {
  int64_t seq_len = 4096;     // tokens per sequence
  int64_t sequences = 1;      // sequences per micro-batch
  int ep = 1;                 // expert-parallel group size (routed experts are split evenly over it)
  int tp = 1;                 // tensor-parallel size (heads and FFN columns split over it)
  // Rows each local expert computes, relative to a perfectly balanced load (1.0). The routing model sets it for
  // imbalanced runs; the balanced load is tokens × top_k × ep / routed_experts rows per expert.
  double expert_load = 1.0;
  int64_t tokens() const { return seq_len * sequences; }
};

// The context of one micro-batch of a layout: its sequence length and size, EP and TP degrees (balanced load).
OpsContext ops_context(const Layout& l);

// Rows one local routed expert computes under a balanced load (rounded to whole rows).
int64_t balanced_expert_rows(const ModelConfig& m, const OpsContext& c);

// Block `layer` of the main model (0 ≤ layer < m.layers) or, for m.layers ≤ layer < m.layers + m.mtp_depth, the MTP
// module (norms, the 2d→d projection and its Transformer block; its head is head_ops).
LayerOps block_ops(const ModelConfig& m, int layer, const OpsContext& c);
// Token embedding (forward lookup, backward scatter-add of the gradient).
LayerOps embedding_ops(const ModelConfig& m, const OpsContext& c);
// Final RMSNorm, output head GEMM and softmax cross-entropy; used for the main model and each MTP module.
LayerOps head_ops(const ModelConfig& m, const OpsContext& c, int layer_index);

// What one pipeline stage holds. Blocks are [first_block, first_block + blocks); indices ≥ m.layers are MTP modules.
struct StageBlocks {
  int first_block = 0;
  int blocks = 0;
  bool embedding = false;   // the token embedding (stage 0)
  bool head = false;        // output head + loss (and one MTP head per MTP module held) (last stage)
};
// Splits the main model's blocks and the MTP modules over `stages` pipeline stages: as even as possible, the first
// and last stage (which also hold embedding and head) taking the smaller share when the split is uneven.
std::vector<StageBlocks> assign_stages(const ModelConfig& m, int stages);

// All ops of one stage for one micro-batch, in execution order (forward; backward in reverse block order).
LayerOps stage_ops(const ModelConfig& m, const StageBlocks& s, const OpsContext& c);

// Sum of flops over a list of ops.
double total_flops(const std::vector<Op>& ops);

}  // namespace cs
