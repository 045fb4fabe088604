// One operation of a training step, as the model layer describes it: what it computes (shape, FLOPs, bytes moved)
// and where it sits (layer, block part, pass). The cost model turns it into a duration; the executor schedules it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.hpp"

namespace cs {

enum class OpKind {
  gemm,        // m x n x k matrix multiply (Y[m,n] = X[m,k] W[n,k]^T), `count` independent instances (e.g. experts)
  attention,   // fused attention core (softmax(QK^T)V), causal or not
  norm,        // RMSNorm
  rope,        // rotary embedding
  router,      // gate scores, top-k selection (the gate GEMM itself is a separate gemm op)
  quantize,    // casts to FP8 with scales (1x128 tiles), incl. transpose-quantise
  swiglu,      // SwiGLU activation (fused with the FP8 quantise of its output when precision is fp8)
  elementwise, // residual adds, scaling, combine weighting, permutation copies
  embedding,   // token embedding lookup (forward) / scatter-add (backward)
  loss,        // softmax cross-entropy over the vocabulary
  dispatch,    // expert-parallel all-to-all dispatch (communication; bytes = payload this GPU sends)
  combine,     // expert-parallel all-to-all combine (communication)
};

enum class Pass { forward, backward_input, backward_weight };

// Which part of a chunk an op belongs to: DualPipe's F&B overlap interleaves these parts of two micro-batches.
enum class Part { attention, dispatch, mlp, combine, embedding, head, mtp };

struct Op {
  std::string name;           // e.g. "mla.q_b_proj", "moe.expert.up_gate"
  OpKind kind = OpKind::elementwise;
  Pass pass = Pass::forward;
  Part part = Part::attention;
  Precision precision = Precision::bf16;
  int layer = -1;             // block index (0-based; MTP blocks follow the main model's); -1 = embedding/head/loss
  int64_t m = 0, n = 0, k = 0;  // gemm shape: m = tokens (rows), n = output features, k = reduction dim
  int64_t count = 1;          // identical instances (experts on this GPU, heads batched into one call, ...)
  // attention shape
  int64_t batch = 0, seq = 0, heads = 0, d_qk = 0, d_v = 0;
  bool causal = false;
  double flops = 0;           // total over all `count` instances, counting a multiply-add as 2 FLOPs
  double bytes = 0;           // HBM bytes read + written (memory-bound ops) or payload bytes (communication)
  bool recompute = false;     // re-executed in backward (DeepSeek's recomputation); flops of recompute are extra
};

// The ops of one block (layer) for one micro-batch on one GPU, in execution order per pass.
struct LayerOps {
  int layer = -1;
  std::vector<Op> forward;
  std::vector<Op> backward_input;
  std::vector<Op> backward_weight;
};

const char* to_string(OpKind k);
const char* to_string(Pass p);
const char* to_string(Part p);
const char* to_string(Precision p);

}  // namespace cs
