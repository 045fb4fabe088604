// Parallelism layout in Megatron's terms. Filled from a scenario's `layout:` section.
#pragma once
#include <cstdint>

namespace cs {

struct Layout {
  int pp = 1;               // pipeline_parallel
  int ep = 1;               // expert_parallel (spans data-parallel ranks of one stage, as in DeepSeek-V3)
  int dp = 1;               // data_parallel
  int tp = 1;               // tensor_parallel
  int virtual_stages = 1;   // interleaved 1F1B: model chunks per rank
  int micro_batch = 1;      // sequences per micro-batch
  int64_t global_batch = 1; // sequences per optimizer step
  int64_t seq_len = 4096;

  int gpus() const { return pp * dp * tp; }
  int64_t micro_batches() const { return global_batch / (int64_t(dp) * micro_batch); }  // per pipeline, per step
  int64_t tokens_per_micro_batch() const { return int64_t(micro_batch) * seq_len; }
};

}  // namespace cs
