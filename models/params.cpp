#include "models/params.hpp"

#include <stdexcept>

namespace cs {
namespace {

double attention_params(const ModelConfig& m) {
  const double h = double(m.hidden), heads = m.heads;
  if (m.attention == AttentionKind::mla) {
    const double kva = m.kv_lora_rank + m.qk_rope_head_dim;
    double q = 0;
    if (m.q_lora_rank > 0)
      q = h * m.q_lora_rank + m.q_lora_rank /*q_a_norm*/ + double(m.q_lora_rank) * heads * m.qk_head_dim();
    else
      q = h * heads * m.qk_head_dim();
    const double kv = h * kva + m.kv_lora_rank /*kv_a_norm*/ +
                      double(m.kv_lora_rank) * heads * (m.qk_nope_head_dim + m.v_head_dim);
    return q + kv + heads * m.v_head_dim * h;
  }
  return h * heads * m.head_dim + 2 * h * m.kv_heads * m.head_dim + heads * m.head_dim * h;
}

double swiglu_params(const ModelConfig& m, double width) { return 3.0 * double(m.hidden) * width; }

}  // namespace

double block_params(const ModelConfig& m, int layer) {
  if (layer < 0 || layer >= m.layers + m.mtp_depth) throw std::out_of_range("block_params: layer out of range");
  double p = attention_params(m) + 2.0 * double(m.hidden);  // + attention and FFN RMSNorm weights
  if (m.is_moe_layer(layer)) {
    p += m.routed_experts * swiglu_params(m, double(m.expert_intermediate));
    p += m.shared_experts * swiglu_params(m, double(m.expert_intermediate));
    p += double(m.routed_experts) * double(m.hidden) + m.routed_experts;  // gate weight + bias (aux-loss-free balance)
  } else {
    p += swiglu_params(m, double(m.dense_intermediate));
  }
  if (layer >= m.layers) p += 2.0 * m.hidden * m.hidden + 3.0 * m.hidden;  // MTP: 2d→d projection, 2 norms, final norm
  return p;
}

ParamCount count_params(const ModelConfig& m) {
  ParamCount c;
  const double h = double(m.hidden);
  c.embedding = double(m.vocab) * h;
  c.head = m.tie_embeddings ? 0 : double(m.vocab) * h;
  const double routed_one = swiglu_params(m, double(m.expert_intermediate));
  double active_routed = 0;
  for (int l = 0; l < m.layers; ++l) {
    c.attention += attention_params(m);
    c.norms += 2 * h;
    if (m.is_moe_layer(l)) {
      c.routed_experts += m.routed_experts * routed_one;
      c.shared_experts += m.shared_experts * routed_one;
      c.router += double(m.routed_experts) * h + m.routed_experts;
      active_routed += m.top_k * routed_one;
    } else {
      c.dense_ffn += swiglu_params(m, double(m.dense_intermediate));
    }
  }
  c.norms += h;  // final norm
  for (int l = m.layers; l < m.layers + m.mtp_depth; ++l) c.mtp_unique += block_params(m, l);
  c.total = c.embedding + c.head + c.attention + c.dense_ffn + c.routed_experts + c.shared_experts + c.router + c.norms;
  c.activated = c.total - c.routed_experts + active_routed;
  c.activated_no_embedding = c.activated - c.embedding;
  return c;
}

double training_flops_per_token(const ModelConfig& m, int64_t seq_len, bool causal) {
  const ParamCount p = count_params(m);
  const double s = double(seq_len);
  const double keys = causal ? (s + 1) / 2 : s;  // keys each query attends to, on average
  // Forward per layer per token: QK^T and PV, 2 FLOPs per multiply-add, summed over heads.
  const double attn_fwd = keys * m.heads * 2.0 * double(m.qk_head_dim() + m.v_dim());
  return 6.0 * p.activated_no_embedding + 3.0 * attn_fwd * m.layers;
}

}  // namespace cs
