// Per-block operation lists. The forward pass is written out op by op; backward-input and backward-weight are
// derived from it mechanically (a GEMM's dgrad and wgrad, attention's backward, …), so the three passes cannot drift
// apart. Shapes follow the conventions of models/op.hpp: a GEMM computes Y[m,n] = X[m,k]·W[n,k]^T.
#include "models/ops.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace cs {
namespace {

constexpr double kBf16 = 2, kFp32 = 4;
// FP8 with one FP32 scale per 128 elements (DeepSeek's 1×128 tiles): 1 + 4/128 bytes per element.
constexpr double kFp8Scaled = 1.0 + 4.0 / 128.0;

double act_bytes(Precision p) { return p == Precision::fp8 ? kFp8Scaled : kBf16; }

// Builds the forward list of one block; remembers which ops DeepSeek's recomputation re-runs in backward.
struct Builder {
  const ModelConfig& m;
  const OpsContext& c;
  int layer;
  std::vector<Op> fwd;
  std::vector<bool> recomputed;

  Op& add(Op op, bool recompute = false) {
    op.layer = layer;
    op.pass = Pass::forward;
    fwd.push_back(std::move(op));
    recomputed.push_back(recompute && m.deepseek_recompute);
    return fwd.back();
  }

  void gemm(const std::string& name, Part part, int64_t rows, int64_t n, int64_t k, int64_t count, Precision prec,
            bool recompute = false) {
    Op op;
    op.name = name;
    op.kind = OpKind::gemm;
    op.part = part;
    op.precision = prec;
    op.m = rows;
    op.n = n;
    op.k = k;
    op.count = count;
    op.flops = 2.0 * double(rows) * double(n) * double(k) * double(count);
    // Input activations, weights and BF16 output, once each (what a well-tiled GEMM moves through HBM).
    const double w = prec == Precision::fp8 ? 1.0 : kBf16;
    op.bytes = double(count) * (double(rows) * double(k) * act_bytes(prec) + double(n) * double(k) * w +
                                double(rows) * double(n) * kBf16);
    add(op, recompute);
  }

  // A memory-bound op over `elems` elements per token with the given bytes read+written per element.
  void mem(const std::string& name, OpKind kind, Part part, int64_t rows, double elems, double bytes_per_elem,
           double flops_per_elem, bool recompute = false) {
    Op op;
    op.name = name;
    op.kind = kind;
    op.part = part;
    op.precision = Precision::bf16;
    op.m = rows;
    op.n = int64_t(elems);
    op.flops = double(rows) * elems * flops_per_elem;
    op.bytes = double(rows) * elems * bytes_per_elem;
    add(op, recompute);
  }

  void norm(const std::string& name, Part part, int64_t width, bool recompute) {
    // read BF16 input, write BF16 (or FP8 when the next GEMM is FP8, fused quantise) output
    mem(name, OpKind::norm, part, c.tokens(), double(width), kBf16 + act_bytes(m.gemm_precision), 4, recompute);
  }

  void quantize(const std::string& name, Part part, int64_t rows, int64_t width) {
    if (m.gemm_precision != Precision::fp8) return;
    mem(name, OpKind::quantize, part, rows, double(width), kBf16 + kFp8Scaled, 1);
  }

  void comm(const std::string& name, OpKind kind, Part part, double payload_bytes, int64_t copies) {
    Op op;
    op.name = name;
    op.kind = kind;
    op.part = part;
    op.precision = kind == OpKind::dispatch ? m.gemm_precision : Precision::bf16;
    op.m = c.tokens();
    op.n = m.hidden;
    op.count = copies;
    op.bytes = payload_bytes;
    add(op);
  }
};

void attention_part(Builder& b) {
  const ModelConfig& m = b.m;
  const int64_t t = b.c.tokens();
  const int tp = b.c.tp;
  const int64_t heads = m.heads / tp;
  const Precision p = m.gemm_precision;
  b.norm("attn_norm", Part::attention, m.hidden, true);
  if (m.attention == AttentionKind::mla) {
    const int64_t qa = m.q_lora_rank, kva = m.kv_lora_rank + m.qk_rope_head_dim;
    if (qa > 0) {
      b.gemm("mla.q_a+kv_a_proj", Part::attention, t, qa + kva, m.hidden, 1, p);  // fused, replicated under TP
      b.norm("mla.q_a_norm", Part::attention, qa, true);
      b.gemm("mla.q_b_proj", Part::attention, t, heads * m.qk_head_dim(), qa, 1, p, true);
    } else {
      b.gemm("mla.kv_a_proj", Part::attention, t, kva, m.hidden, 1, p);
      b.gemm("mla.q_proj", Part::attention, t, heads * m.qk_head_dim(), m.hidden, 1, p);
    }
    b.norm("mla.kv_a_norm", Part::attention, m.kv_lora_rank, true);
    b.gemm("mla.kv_b_proj", Part::attention, t, heads * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank, 1, p,
           true);
    // RoPE on the decoupled rope parts of q (per head) and k (shared), read and written in BF16.
    b.mem("rope", OpKind::rope, Part::attention, t, double(heads * m.qk_rope_head_dim + m.qk_rope_head_dim), 2 * kBf16,
          6, true);
  } else {
    const int64_t kvh = std::max<int64_t>(1, m.kv_heads / tp);
    b.gemm("attn.qkv_proj", Part::attention, t, (heads + 2 * kvh) * m.head_dim, m.hidden, 1, p);
    b.mem("rope", OpKind::rope, Part::attention, t, double((heads + kvh) * m.head_dim), 2 * kBf16, 6);
  }
  {
    Op op;
    op.name = "attention";
    op.kind = OpKind::attention;
    op.part = Part::attention;
    op.precision = Precision::bf16;
    op.batch = b.c.sequences;
    op.seq = b.c.seq_len;
    op.heads = heads;
    op.d_qk = m.qk_head_dim();
    op.d_v = m.v_dim();
    op.causal = true;
    const double s = double(b.c.seq_len);
    const double pairs = s * (s + 1) / 2;  // causal: query i attends to keys 0..i
    op.flops = double(b.c.sequences) * pairs * double(heads) * 2.0 * double(op.d_qk + op.d_v);
    const int64_t kv_heads = m.attention == AttentionKind::mla ? heads : std::max<int64_t>(1, m.kv_heads / tp);
    op.bytes = double(t) * kBf16 * double(heads * (op.d_qk + op.d_v) + kv_heads * (op.d_qk + op.d_v));
    b.add(op);
  }
  b.quantize("attn_out.quantize", Part::attention, t, heads * m.v_dim());
  b.gemm("attn.o_proj", Part::attention, t, m.hidden, heads * m.v_dim(), 1, p);
  b.mem("attn.residual_add", OpKind::elementwise, Part::attention, t, double(m.hidden), 3 * kBf16, 1);
}

void dense_ffn(Builder& b, int64_t width, const std::string& prefix, Part part, int64_t rows, int64_t count) {
  const Precision p = b.m.gemm_precision;
  b.gemm(prefix + ".gate_up_proj", part, rows, 2 * width, b.m.hidden, count, p);
  // SwiGLU fused with the FP8 quantise of its output; DeepSeek recomputes it from the cached FP8 input.
  b.mem(prefix + ".swiglu", OpKind::swiglu, part, rows * count, double(width),
        2 * act_bytes(p) + act_bytes(p), 4, true);
  b.gemm(prefix + ".down_proj", part, rows, b.m.hidden, width, count, p);
}

void mlp_part(Builder& b) {
  const ModelConfig& m = b.m;
  const int64_t t = b.c.tokens();
  const bool moe = m.is_moe_layer(b.layer);
  // In an MoE block the norm and the router run before dispatch, so they belong to the chunk's attention part.
  b.norm("ffn_norm", moe ? Part::attention : Part::mlp, m.hidden, true);
  if (!moe) {
    dense_ffn(b, m.dense_intermediate / b.c.tp, "ffn", Part::mlp, t, 1);
    b.mem("ffn.residual_add", OpKind::elementwise, Part::mlp, t, double(m.hidden), 3 * kBf16, 1);
    return;
  }
  // Router: gate GEMM in BF16 (TR §3.3), then sigmoid scores, group-limited top-k.
  b.gemm("moe.gate", Part::attention, t, m.routed_experts, m.hidden, 1, Precision::bf16);
  b.mem("moe.router_topk", OpKind::router, Part::attention, t, double(m.routed_experts), kFp32 + kFp32, 8);
  // Dispatch: one copy per (token, target node) under node-limited routing (≤ topk_groups nodes per token).
  const int64_t node_copies = m.topk_groups > 0 ? std::min(m.topk_groups, m.top_k) : m.top_k;
  b.comm("moe.dispatch", OpKind::dispatch, Part::dispatch, double(t) * double(node_copies) * double(m.hidden) *
                                                               act_bytes(m.gemm_precision), node_copies);
  const int64_t local = std::max(1, m.routed_experts / std::max(1, b.c.ep));
  const int64_t rows = int64_t(std::llround(double(balanced_expert_rows(m, b.c)) * b.c.expert_load));
  dense_ffn(b, m.expert_intermediate, "moe.expert", Part::mlp, rows, local);
  if (m.shared_experts > 0)
    dense_ffn(b, m.expert_intermediate * m.shared_experts / b.c.tp, "moe.shared_expert", Part::mlp, t, 1);
  b.comm("moe.combine", OpKind::combine, Part::combine, double(t) * double(node_copies) * double(m.hidden) * kBf16,
         node_copies);
  // Gate-weighted sum of the top-k expert outputs, plus the shared expert and the residual.
  b.mem("moe.weighted_combine", OpKind::elementwise, Part::combine, t, double(m.hidden),
        double(m.top_k + 3) * kBf16, 2.0 * m.top_k);
}

// The backward counterpart(s) of one forward op: (input-gradient ops, weight-gradient ops).
void derive_backward(const ModelConfig& m, const Op& f, std::vector<Op>& bi, std::vector<Op>& bw) {
  Op b = f;
  b.recompute = false;
  switch (f.kind) {
    case OpKind::gemm: {
      if (f.precision == Precision::fp8) {
        // dY quantised 1×128 for dgrad; dY and X transposed and quantised (128×1) for wgrad.
        Op q = f;
        q.kind = OpKind::quantize;
        q.name = f.name + ".dy_quantize";
        q.pass = Pass::backward_input;
        q.n = f.n;
        q.k = 0;
        q.flops = double(f.m) * double(f.n) * double(f.count);
        q.bytes = double(f.m) * double(f.n) * double(f.count) * (kBf16 + 2 * kFp8Scaled);
        bi.push_back(q);
        q.name = f.name + ".x_transpose_quantize";
        q.pass = Pass::backward_weight;
        q.n = f.k;
        q.flops = double(f.m) * double(f.k) * double(f.count);
        q.bytes = double(f.m) * double(f.k) * double(f.count) * (kFp8Scaled + kFp8Scaled);
        bw.push_back(q);
      }
      Op d = f;
      d.name = f.name + ".dgrad";
      d.pass = Pass::backward_input;
      d.n = f.k;
      d.k = f.n;
      d.bytes = double(f.count) *
                (double(f.m) * double(f.n) * act_bytes(f.precision) + double(f.n) * double(f.k) * act_bytes(f.precision) +
                 double(f.m) * double(f.k) * kBf16);
      bi.push_back(d);
      Op w = f;
      w.name = f.name + ".wgrad";
      w.pass = Pass::backward_weight;
      w.m = f.n;
      w.n = f.k;
      w.k = f.m;
      // reads dY^T and X^T, accumulates into the FP32 gradient
      w.bytes = double(f.count) * (double(f.m) * double(f.n + f.k) * act_bytes(f.precision) +
                                   double(f.n) * double(f.k) * kFp32 * 2);
      bw.push_back(w);
      return;
    }
    case OpKind::attention: {
      b.name = f.name + ".backward";
      b.pass = Pass::backward_input;
      const double s = double(f.seq);
      const double pairs = f.causal ? s * (s + 1) / 2 : s * s;
      b.flops = double(f.batch) * pairs * double(f.heads) * 2.0 * double(3 * f.d_qk + 2 * f.d_v);
      b.bytes = 2.5 * f.bytes;  // reads Q, K, V, O, dO; writes dQ, dK, dV
      bi.push_back(b);
      return;
    }
    case OpKind::dispatch:
    case OpKind::combine:
      // The gradient travels the reverse path in BF16: dispatch's backward is a combine and vice versa.
      b.kind = f.kind == OpKind::dispatch ? OpKind::combine : OpKind::dispatch;
      b.name = f.name + ".backward";
      b.pass = Pass::backward_input;
      b.precision = Precision::bf16;
      b.bytes = double(f.m) * double(f.count) * double(m.hidden) * kBf16;
      bi.push_back(b);
      return;
    case OpKind::embedding:
      b.name = f.name + ".backward";
      b.pass = Pass::backward_weight;  // scatter-add into the embedding's gradient
      b.bytes = f.bytes * 2;
      bw.push_back(b);
      return;
    default:
      // Memory-bound ops: the backward reads the saved input and the output gradient, writes the input gradient.
      b.name = f.name + ".backward";
      b.pass = Pass::backward_input;
      b.bytes = f.bytes * 1.5;
      b.flops = f.flops * 2;
      bi.push_back(b);
      return;
  }
}

// Backward passes from the forward list: parts in reverse order; within a part, DeepSeek's recomputed ops re-run
// first (forward order), then each op's backward in reverse order.
void finish(Builder& b, LayerOps& out) {
  out.layer = b.layer;
  out.forward = b.fwd;
  size_t end = b.fwd.size();
  while (end > 0) {
    size_t begin = end - 1;
    while (begin > 0 && b.fwd[begin - 1].part == b.fwd[end - 1].part) --begin;
    for (size_t i = begin; i < end; ++i)
      if (b.recomputed[i]) {
        Op r = b.fwd[i];
        r.name += ".recompute";
        r.pass = Pass::backward_input;
        r.recompute = true;
        out.backward_input.push_back(r);
      }
    std::vector<Op> wgrads;
    for (size_t i = end; i-- > begin;) {
      std::vector<Op> bw;
      derive_backward(b.m, b.fwd[i], out.backward_input, bw);
      wgrads.insert(wgrads.end(), bw.begin(), bw.end());
    }
    out.backward_weight.insert(out.backward_weight.end(), wgrads.begin(), wgrads.end());
    end = begin;
  }
  for (auto& op : out.backward_input) op.layer = b.layer;
  for (auto& op : out.backward_weight) op.layer = b.layer;
}

}  // namespace

OpsContext ops_context(const Layout& l) {
  OpsContext c;
  c.seq_len = l.seq_len;
  c.sequences = l.micro_batch;
  c.ep = l.ep;
  c.tp = l.tp;
  return c;
}

int64_t balanced_expert_rows(const ModelConfig& m, const OpsContext& c) {
  if (!m.is_moe()) return 0;
  const double rows = double(c.tokens()) * m.top_k * std::max(1, c.ep) / double(m.routed_experts);
  return std::max<int64_t>(1, int64_t(std::llround(rows)));
}

LayerOps block_ops(const ModelConfig& m, int layer, const OpsContext& c) {
  if (layer < 0 || layer >= m.layers + m.mtp_depth)
    throw std::out_of_range("block_ops: layer " + std::to_string(layer) + " outside the model's " +
                            std::to_string(m.layers + m.mtp_depth) + " blocks");
  Builder b{m, c, layer, {}, {}};
  if (layer >= m.layers) {
    // MTP module (TR §2.2): RMSNorm of the previous depth's hidden state and of the next token's embedding, then a
    // 2d→d projection, then a Transformer block like the main model's last one.
    b.norm("mtp.hidden_norm", Part::mtp, m.hidden, true);
    b.norm("mtp.embed_norm", Part::mtp, m.hidden, true);
    b.gemm("mtp.proj", Part::mtp, c.tokens(), m.hidden, 2 * m.hidden, 1, Precision::bf16);
  }
  attention_part(b);
  mlp_part(b);
  LayerOps out;
  finish(b, out);
  return out;
}

LayerOps embedding_ops(const ModelConfig& m, const OpsContext& c) {
  Builder b{m, c, -1, {}, {}};
  b.mem("embedding", OpKind::embedding, Part::embedding, c.tokens(), double(m.hidden), 2 * kBf16, 0);
  b.fwd.back().kind = OpKind::embedding;
  LayerOps out;
  finish(b, out);
  return out;
}

LayerOps head_ops(const ModelConfig& m, const OpsContext& c, int layer_index) {
  Builder b{m, c, layer_index, {}, {}};
  b.norm("final_norm", Part::head, m.hidden, false);
  // The output head stays in BF16 (TR §3.3: embedding and output head keep their original precision).
  b.gemm("head.output_proj", Part::head, c.tokens(), m.vocab / c.tp, m.hidden, 1, Precision::bf16);
  b.mem("head.cross_entropy", OpKind::loss, Part::head, c.tokens(), double(m.vocab / c.tp), kBf16 + kFp32, 5);
  LayerOps out;
  finish(b, out);
  return out;
}

std::vector<StageBlocks> assign_stages(const ModelConfig& m, int stages) {
  const int blocks = m.layers + m.mtp_depth;
  if (stages < 1 || stages > blocks)
    throw std::invalid_argument("assign_stages: " + std::to_string(stages) + " stages for " + std::to_string(blocks) +
                                " blocks");
  const int base = blocks / stages, extra = blocks % stages;
  // The `extra` larger stages are the middle ones: stage 0 and the last stage also run embedding and head.
  const int small = stages - extra;
  const int small_front = (small + 1) / 2;
  std::vector<StageBlocks> out(static_cast<size_t>(stages));
  int next = 0;
  for (int s = 0; s < stages; ++s) {
    const bool is_small = s < small_front || s >= stages - (small - small_front);
    out[size_t(s)].first_block = next;
    out[size_t(s)].blocks = base + (is_small ? 0 : 1);
    next += out[size_t(s)].blocks;
  }
  out.front().embedding = true;
  out.back().head = true;
  return out;
}

LayerOps stage_ops(const ModelConfig& m, const StageBlocks& s, const OpsContext& c) {
  LayerOps out;
  out.layer = s.first_block;
  auto append = [](std::vector<Op>& to, const std::vector<Op>& from) { to.insert(to.end(), from.begin(), from.end()); };
  std::vector<LayerOps> parts;
  if (s.embedding) parts.push_back(embedding_ops(m, c));
  for (int i = 0; i < s.blocks; ++i) {
    const int layer = s.first_block + i;
    if (layer == m.layers && s.head) parts.push_back(head_ops(m, c, -1));  // main head before the MTP modules
    parts.push_back(block_ops(m, layer, c));
    if (layer >= m.layers) parts.push_back(head_ops(m, c, layer));        // MTP head (shared weights)
  }
  if (s.head && s.first_block + s.blocks <= m.layers) parts.push_back(head_ops(m, c, -1));
  for (const auto& p : parts) append(out.forward, p.forward);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    append(out.backward_input, it->backward_input);
    append(out.backward_weight, it->backward_weight);
  }
  return out;
}

double total_flops(const std::vector<Op>& ops) {
  double f = 0;
  for (const auto& op : ops) f += op.flops;
  return f;
}

}  // namespace cs
