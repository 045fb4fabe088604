// Memory per GPU. What is kept for backward follows DeepSeek-V3's recipe ([TR] §3.2.3, §3.3.4) when the model asks for
// it: RMSNorm outputs and MLA up-projections recomputed, SwiGLU recomputed from its cached FP8 input, activations
// cached in FP8 with 1×128 scales, the input of the linear after attention in E5M6 (12 bits).
#include "models/memory.hpp"

#include <algorithm>

#include "models/params.hpp"

namespace cs {
namespace {

constexpr double kBf16 = 2, kFp32 = 4;
constexpr double kFp8Scaled = 1.0 + 4.0 / 128.0;
constexpr double kE5M6 = 1.5;  // 12-bit format, packed

// Bytes one block keeps per token of a micro-batch until its backward has run.
double block_activation_bytes_per_token(const ModelConfig& m, int layer, const OpsContext& c) {
  const bool fp8 = m.gemm_precision == Precision::fp8;
  const bool re = m.deepseek_recompute;
  const double act = fp8 ? kFp8Scaled : kBf16;
  const double h = double(m.hidden);
  const double heads = double(m.heads) / c.tp;
  double b = 2 * h * kBf16;  // residual-stream inputs of the two norms (norms are recomputed from these, or not)
  if (!re) b += 2 * h * act;  // the norms' outputs, when not recomputed
  if (layer >= m.layers) b += 2 * h * kBf16;  // MTP: the embedding input of its projection
  if (m.attention == AttentionKind::mla) {
    const double latents = m.q_lora_rank + m.kv_lora_rank + m.qk_rope_head_dim;
    b += latents * kBf16;  // inputs of the latent norms and up-projections
    if (!re) b += heads * (m.qk_head_dim() + m.qk_nope_head_dim + m.v_head_dim) * kBf16;  // Q, K, V
  } else {
    const double kvh = std::max(1.0, double(m.kv_heads) / c.tp);
    b += (heads + 2 * kvh) * m.head_dim * kBf16;  // Q, K, V
  }
  b += heads * m.v_dim() * (fp8 ? kE5M6 : kBf16) + heads * kFp32;  // attention output (o_proj input) + softmax LSE
  if (m.is_moe_layer(layer)) {
    const double ep_rows = double(m.top_k) * c.expert_load;  // rows this GPU's experts compute per token of its own
    b += double(m.routed_experts) * kFp32 + m.top_k * (kFp32 + 4);  // router scores, top-k weights and indices
    b += ep_rows * h * act;                                          // dispatched expert inputs
    b += ep_rows * 2.0 * double(m.expert_intermediate) * act;       // SwiGLU inputs
    if (!re) b += ep_rows * double(m.expert_intermediate) * act;    // SwiGLU outputs
    const double shared = double(m.shared_experts) * double(m.expert_intermediate) / c.tp;
    b += 2 * shared * act + (re ? 0 : shared * act);
    // The gate weights scale the SwiGLU output inside the expert, so the weight's gradient needs no saved expert
    // output (a modelling choice; saving the BF16 expert outputs would add top_k × hidden × 2 bytes).
  } else {
    const double w = double(m.dense_intermediate) / c.tp;
    b += 2 * w * act + (re ? 0 : w * act);
  }
  return b;
}

double head_activation_bytes_per_token(const ModelConfig& m, const OpsContext& c) {
  // head input and BF16 logits for the cross-entropy's backward
  return double(m.hidden) * kBf16 + double(m.vocab) / c.tp * kBf16;
}

}  // namespace

int pipeline_stages(const std::string& schedule, int pp, int virtual_stages) {
  if (schedule == "dualpipev") return 2 * pp;
  if (schedule == "interleaved") return pp * std::max(1, virtual_stages);
  return pp;
}

std::vector<int> rank_stages(const std::string& schedule, int pp, int rank, int virtual_stages) {
  if (schedule == "dualpipe") return {rank, pp - 1 - rank};
  if (schedule == "dualpipev") return {rank, 2 * pp - 1 - rank};
  if (schedule == "interleaved") {
    std::vector<int> s;
    for (int i = 0; i < std::max(1, virtual_stages); ++i) s.push_back(rank + i * pp);
    return s;
  }
  return {rank};
}

int table_activations_in_flight(const std::string& schedule, int pp, int rank, int virtual_stages,
                                int64_t micro_batches) {
  int64_t n = pp - rank;  // 1F1B and ZB1P: rank r holds PP − r micro-batches after its warm-up
  int64_t cap = micro_batches;
  if (schedule == "dualpipe") {
    n = pp + 1;
    cap = 2 * micro_batches;  // each micro-batch passes the rank's two stages
  } else if (schedule == "dualpipev") {
    // The table's PP+1 counts stages, and DualPipeV runs 2·PP stages on its PP ranks.
    n = 2 * int64_t(pp) + 1;
    cap = 2 * micro_batches;
  } else if (schedule == "interleaved") {
    const int v = std::max(1, virtual_stages);
    // Megatron-LM's warm-up chunks + the steady one; with N = PP the warm-up is every forward.
    n = micro_batches == pp ? micro_batches * v : int64_t(pp - rank - 1) * 2 + int64_t(v - 1) * pp + 1;
    cap = micro_batches * v;
  }
  return int(std::min(n, cap));
}

MemoryBreakdown rank_memory(const ModelConfig& m, const Layout& l, const std::vector<StageBlocks>& stages, int rank,
                            const OpsContext& c, const MemoryOptions& o) {
  MemoryBreakdown r;
  r.rank = rank;
  r.capacity_bytes = o.capacity_bytes;
  const ParamCount pc = count_params(m);
  const double routed_per_layer = m.is_moe() ? pc.routed_experts / double(m.layers - m.dense_layers) : 0;
  const int ep = std::max(1, l.ep);
  double dense_params = 0, expert_params = 0, act_per_mb = 0;
  // The embedding and head tables, once per rank however many of its stages use them. The first stage embeds the
  // input; MTP modules embed the next tokens with the main model's embedding ([TR] §2.2: shared), so a rank holding
  // one needs the table too (DualPipe puts both on rank 0; a 1F1B last stage keeps its own copy); the last stage
  // holds the head, which is the embedding itself when they are tied.
  bool embedding_table = false, head_table = false;
  for (const StageBlocks& s : stages) {
    if (s.embedding || s.first_block + s.blocks > m.layers) embedding_table = true;
    if (s.head) (m.tie_embeddings ? embedding_table : head_table) = true;
  }
  if (embedding_table) dense_params += pc.embedding / l.tp;
  if (head_table) dense_params += pc.head / l.tp;
  for (const StageBlocks& s : stages) {
    double act_tokens = 0;
    if (s.head) act_tokens += head_activation_bytes_per_token(m, c) * (1 + m.mtp_depth);
    for (int b = s.first_block; b < s.first_block + s.blocks; ++b) {
      const double all = block_params(m, b);
      const double routed = m.is_moe_layer(b) ? routed_per_layer : 0;
      dense_params += (all - routed) / l.tp;
      expert_params += routed / ep;
      act_tokens += block_activation_bytes_per_token(m, b, c);
    }
    act_per_mb += act_tokens * double(c.tokens());
  }
  // A rank holding several stages keeps micro-batches of each in flight: the average stage stands for them.
  act_per_mb /= double(std::max<size_t>(1, stages.size()));

  r.params = dense_params + expert_params;
  r.weights_bytes = r.params * kBf16;
  r.grads_bytes = r.params * kFp32;  // FP32 gradient accumulation ([TR] §3.3)
  // ZeRO-1: master weights (FP32) and AdamW moments (BF16, [TR] §3.3.3) sharded over the replicas of each weight:
  // dense weights over data parallel, experts over the ranks holding the same experts. An expert-parallel group spans
  // the data_parallel × tensor_parallel ranks of a stage (experts are not split by TP), so each expert has
  // dp · tp / ep replicas.
  const double dense_shard = std::max(1, l.dp);
  const double expert_shard = double(std::max<int64_t>(1, int64_t(l.dp) * std::max(1, l.tp) / ep));
  const double sharded = dense_params / dense_shard + expert_params / expert_shard;
  r.master_bytes = sharded * kFp32;
  r.moments_bytes = sharded * 2 * kBf16;
  r.activation_bytes_per_mb = act_per_mb;
  r.activations_bytes = act_per_mb * o.microbatches_in_flight;
  if (o.comm_buffer_bytes > 0) {
    r.comm_buffer_bytes = double(o.comm_buffer_bytes);
  } else {
    // Pipeline send/receive buffers (both directions) and, for MoE, double-buffered dispatch receive (FP8) and
    // combine send (BF16) buffers so that two micro-batches' all-to-alls can be in flight (DualPipe's F&B overlap).
    const double t = double(c.tokens()), h = double(m.hidden);
    double buf = 4 * t * h * kBf16;
    if (m.is_moe())
      buf += 2 * t * m.top_k * h * ((m.gemm_precision == Precision::fp8 ? kFp8Scaled : kBf16) + kBf16);
    r.comm_buffer_bytes = buf;
  }
  r.total_bytes = r.weights_bytes + r.grads_bytes + r.master_bytes + r.moments_bytes + r.activations_bytes +
                  r.comm_buffer_bytes;
  return r;
}

}  // namespace cs
