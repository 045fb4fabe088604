// Parameter counts and training FLOPs per token, from the architecture alone.
#pragma once
#include <cstdint>

#include "models/model_config.hpp"

namespace cs {

struct ParamCount {
  double embedding = 0;        // input token embedding
  double head = 0;             // output head (0 extra when tied)
  double attention = 0;        // all main-model blocks' attention (incl. its norms)
  double dense_ffn = 0;        // dense blocks' FFNs
  double routed_experts = 0;   // all routed experts of all MoE blocks
  double shared_experts = 0;
  double router = 0;           // gate weights (+ bias)
  double norms = 0;            // block norms and the final norm
  double mtp_unique = 0;       // MTP modules: their block, projection and norms (embedding and head shared)
  double total = 0;            // main model (embedding, blocks, head): the "671B" convention
  double activated = 0;        // per token: total − routed experts not chosen (top_k of routed_experts active)
  double activated_no_embedding = 0;
};
ParamCount count_params(const ModelConfig& m);
// Parameters of one block (main model or MTP module index ≥ layers); routed experts counted in full.
double block_params(const ModelConfig& m, int layer);

// Training FLOPs per token at `seq_len` under ISCA'25 Table 2's convention: 6 × activated parameters without the
// input embedding (the output head included) + attention's score/value FLOPs (forward + 2× backward). `causal`:
// attention counts only the causal half (S+1)/2 keys per query, else all S.
double training_flops_per_token(const ModelConfig& m, int64_t seq_len, bool causal = true);

}  // namespace cs
