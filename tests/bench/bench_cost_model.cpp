// Cost-model speed: one CostModel::time call per op of a DeepSeek-V3 MoE block (forward and both backward passes),
// on the shipped published profile. The executor calls it for every op of every stage, so it must stay cheap.
#include <benchmark/benchmark.h>

#include "calibration/cost_model.hpp"
#include "models/ops.hpp"
#include "scenarios/scenario.hpp"
#include "tests/bench/bench_main.hpp"

namespace {

void BM_CostModelMoeBlock(benchmark::State& state) {
  const cs::Scenario s = cs::load_scenario(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/deepseek-v3.yaml");
  const cs::CostModel cm(cs::load_profile(std::string(CLUSTERSIM_SOURCE_DIR) +
                                          "/calibration/profiles/h800-published.json"),
                         s.cluster.gpu);
  cs::OpsContext c;
  c.seq_len = s.layout.seq_len;
  c.ep = s.layout.ep;
  const cs::LayerOps b = cs::block_ops(s.model, s.model.dense_layers, c);
  std::vector<cs::Op> ops;
  for (const auto* pass : {&b.forward, &b.backward_input, &b.backward_weight})
    for (const auto& op : *pass)
      if (op.kind != cs::OpKind::dispatch && op.kind != cs::OpKind::combine) ops.push_back(op);
  for (auto _ : state) {
    cs::TimeNs total = 0;
    for (const auto& op : ops) total += cm.time(op, 112).ns;
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(ops.size()));
}
BENCHMARK(BM_CostModelMoeBlock);

}  // namespace

CS_BENCHMARK_MAIN();
