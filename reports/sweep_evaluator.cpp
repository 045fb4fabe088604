#include "reports/sweep_evaluator.hpp"

namespace cs {

nlohmann::json scenario_figures(const Scenario& s) {
  const Layout& l = s.layout;
  double tokens = 0;  // tokens of the simulated phases, as the training plan gives them
  for (const Phase& p : s.phases)
    if (p.simulated()) tokens += p.tokens > 0 ? p.tokens : double(p.steps) * double(p.global_batch) * double(p.seq_len);
  return {
      {"gpus", l.gpus()},
      {"nodes", s.cluster.nodes},
      {"micro_batches", l.micro_batches()},
      {"tokens_per_step", l.global_batch * l.seq_len},
      {"training_tokens", tokens},
      {"price_per_gpu_hour", s.price_per_gpu_hour},
  };
}

}  // namespace cs
