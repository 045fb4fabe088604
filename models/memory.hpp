// Memory per GPU of one pipeline stage: weights, gradients, optimizer state, activations in flight, buffers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/layout.hpp"
#include "models/model_config.hpp"
#include "models/ops.hpp"

namespace cs {

struct MemoryOptions {
  int stages_per_rank = 1;        // DualPipe: 2 (stage r and PP−1−r); DualPipeV: 2; interleaved: virtual stages
  int microbatches_in_flight = 1; // peak activations held per rank (1F1B: PP; DualPipe: PP+1; …)
  int64_t capacity_bytes = 0;     // the GPU's HBM
  int64_t comm_buffer_bytes = 0;  // dispatch/combine and p2p buffers
};

struct MemoryBreakdown {
  int rank = 0;
  double params = 0;              // parameters this GPU holds (all its stages, its share of experts)
  double weights_bytes = 0;       // BF16 weights
  double grads_bytes = 0;         // FP32 gradients
  double master_bytes = 0;        // FP32 master weights, ZeRO-1 sharded over data parallel
  double moments_bytes = 0;       // AdamW moments in BF16, ZeRO-1 sharded
  double activation_bytes_per_mb = 0;
  double activations_bytes = 0;   // per micro-batch × in flight
  double comm_buffer_bytes = 0;
  double total_bytes = 0;
  int64_t capacity_bytes = 0;
  bool fits() const { return total_bytes <= double(capacity_bytes); }
};

// Which pipeline stages rank `rank` holds under a schedule (dualpipe: r and PP−1−r of PP stages; dualpipev: r and
// 2·PP−1−r of 2·PP stages; interleaved: r + i·PP for each of `virtual_stages` chunks; otherwise r), and how many
// stages the model is cut into.
int pipeline_stages(const std::string& schedule, int pp, int virtual_stages);
std::vector<int> rank_stages(const std::string& schedule, int pp, int rank, int virtual_stages);
// Peak (micro-batch, stage) activations a rank holds, from the schedules' published tables (reference §4: DualPipe
// pp + 1, DualPipeV 2 · pp + 1 for its 2 · pp stages; Megatron's interleaved warm-up for `interleaved`, every forward
// when there are as many micro-batches as ranks), capped by the micro-batches the rank runs. The step simulation
// measures the exact peak; this is what the memory check uses before a simulation.
int table_activations_in_flight(const std::string& schedule, int pp, int rank, int virtual_stages, int64_t micro_batches);

// Memory of pipeline rank `rank` holding the given stages (1 for 1F1B, 2 for DualPipe).
MemoryBreakdown rank_memory(const ModelConfig& m, const Layout& l, const std::vector<StageBlocks>& stages, int rank,
                            const OpsContext& c, const MemoryOptions& o);

}  // namespace cs
