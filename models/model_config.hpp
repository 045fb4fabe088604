// Architecture of a Transformer language model, dense or MoE, with MHA/GQA or MLA attention.
// Filled from a preset in scenarios/models/*.yaml (or inline fields of a scenario); field names match the YAML keys.
#pragma once
#include <cstdint>
#include <string>

namespace cs {

enum class AttentionKind { gqa, mla };
enum class Precision { fp8, bf16, fp32 };

struct ModelConfig {
  std::string name;
  int layers = 0;            // Transformer blocks of the main model
  int dense_layers = 0;      // the first `dense_layers` blocks have a dense FFN; the rest are MoE (dense model: == layers)
  int64_t hidden = 0;
  int64_t vocab = 0;
  int heads = 0;
  bool tie_embeddings = false;

  AttentionKind attention = AttentionKind::gqa;
  // GQA / MHA
  int kv_heads = 0;
  int head_dim = 0;
  // MLA (DeepSeek-V2/V3); q_lora_rank 0 = queries not compressed
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;

  int64_t dense_intermediate = 0;   // FFN width of dense blocks (SwiGLU: gate and up each this wide)

  // MoE
  int routed_experts = 0;
  int shared_experts = 0;
  int64_t expert_intermediate = 0;
  int top_k = 0;
  int expert_groups = 0;     // routing groups (DeepSeek: one per node under EP64)
  int topk_groups = 0;       // a token goes to at most this many groups (node-limited routing)

  int mtp_depth = 0;         // multi-token-prediction blocks (DeepSeek-V3: 1)

  Precision gemm_precision = Precision::bf16;  // linear layers' GEMMs (DeepSeek-V3: fp8 with 1x128/128x128 scaling)
  // DeepSeek's recomputation: RMSNorm and MLA up-projections recomputed in backward, SwiGLU output recomputed.
  bool deepseek_recompute = false;

  bool is_moe() const { return routed_experts > 0; }
  bool is_moe_layer(int layer) const { return is_moe() && layer >= dense_layers; }
  int qk_head_dim() const { return attention == AttentionKind::mla ? qk_nope_head_dim + qk_rope_head_dim : head_dim; }
  int v_dim() const { return attention == AttentionKind::mla ? v_head_dim : head_dim; }
};

}  // namespace cs
