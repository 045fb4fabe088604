#include "reports/describe.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

#include "models/memory.hpp"
#include "models/ops.hpp"
#include "models/params.hpp"
#include "reports/run.hpp"
#include "sim/schedule/timeline.hpp"

namespace cs {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

const Phase& first_simulated(const Scenario& s) {
  for (const Phase& p : s.phases)
    if (p.simulated()) return p;
  throw std::runtime_error(s.file + ": the scenario has no simulated phase");
}

}  // namespace

nlohmann::json describe_scenario(const Scenario& s) {
  const ModelConfig& m = s.model;
  const Phase& ph = first_simulated(s);
  const Layout& l = ph.layout;
  const ParamCount pc = count_params(m);
  nlohmann::json d;
  d["scenario"] = s.name;
  d["file"] = s.file;
  d["model"] = m.name;
  d["params"] = {{"total", pc.total},
                 {"activated", pc.activated},
                 {"activated_no_embedding", pc.activated_no_embedding},
                 {"mtp_unique", pc.mtp_unique},
                 {"embedding", pc.embedding},
                 {"head", pc.head},
                 {"attention", pc.attention},
                 {"dense_ffn", pc.dense_ffn},
                 {"routed_experts", pc.routed_experts},
                 {"shared_experts", pc.shared_experts},
                 {"router", pc.router},
                 {"norms", pc.norms},
                 {"convention",
                  "total = main model (embedding, blocks, output head), MTP modules apart; activated = total with "
                  "top_k of the routed experts, embedding included"}};
  d["flops_per_token"] = {
      {"seq_len", l.seq_len},
      {"causal", training_flops_per_token(m, l.seq_len, true)},
      {"non_causal", training_flops_per_token(m, l.seq_len, false)},
      {"convention", "6 × activated parameters without the input embedding + 3 × forward attention (QK^T and PV); "
                     "causal counts (S+1)/2 keys per query, non-causal S (ISCA'25 Table 2)"}};
  d["phase"] = ph.name;
  d["cluster"] = {{"name", s.cluster.name}, {"gpu", s.cluster.gpu.name}, {"nodes", ph.nodes},
                  {"gpus", ph.nodes * s.cluster.node.gpus}};
  d["layout"] = {{"pipeline_parallel", l.pp},   {"expert_parallel", l.ep}, {"data_parallel", l.dp},
                 {"tensor_parallel", l.tp},     {"micro_batch", l.micro_batch},
                 {"global_batch", l.global_batch}, {"micro_batches_per_step", l.micro_batches()},
                 {"schedule", ph.schedule.kind}};

  // A custom schedule's file places its stages (virtual_stages: chunk c of rank r is stage c·ranks + r) and orders
  // its passes, so its stages per rank and micro-batches in flight come from the file itself, as `run` takes them;
  // the built-in schedules follow their papers' tables.
  std::optional<sched::Schedule> custom;
  std::optional<sched::Timeline> custom_order;
  if (ph.schedule.kind == "custom") {
    custom = phase_schedule(ph, l.micro_batches(), m.layers + m.mtp_depth);
    // Each rank's passes run in the file's order, so unit durations give the same peak as the real ones.
    custom_order = sched::run_timeline(*custom, sched::unit_costs(1, 2, 1, 3));
  }
  auto held_stages = [&](int rank) {
    if (!custom) return rank_stages(ph.schedule.kind, l.pp, rank, l.virtual_stages);
    std::set<int> idx;
    for (int d = 0; d < custom->dirs; ++d)
      for (int st = 0; st < custom->stages; ++st)
        if (custom->rank_of(d, st) == rank) idx.insert(st);
    return std::vector<int>(idx.begin(), idx.end());
  };
  const int n_stages = custom ? custom->stages : pipeline_stages(ph.schedule.kind, l.pp, l.virtual_stages);
  const std::vector<StageBlocks> stages = assign_stages(m, n_stages);
  nlohmann::json st = nlohmann::json::array();
  for (int i = 0; i < n_stages; ++i) {
    const StageBlocks& b = stages[size_t(i)];
    st.push_back({{"stage", i}, {"first_block", b.first_block}, {"blocks", b.blocks}, {"embedding", b.embedding},
                  {"head", b.head}});
  }
  d["stages"] = st;

  const OpsContext c = ops_context(l);
  nlohmann::json mem = nlohmann::json::array();
  bool fits = true;
  double peak = 0;
  for (int r = 0; r < l.pp; ++r) {
    std::vector<StageBlocks> held;
    std::vector<int> idx = held_stages(r);
    for (int st : idx) held.push_back(stages[size_t(st)]);
    MemoryOptions o;
    o.stages_per_rank = int(held.size());
    o.microbatches_in_flight =
        custom_order ? custom_order->ranks[size_t(r)].peak_in_flight
                     : table_activations_in_flight(ph.schedule.kind, l.pp, r, l.virtual_stages, l.micro_batches());
    o.capacity_bytes = s.cluster.gpu.memory_bytes;
    const MemoryBreakdown b = rank_memory(m, l, held, r, c, o);
    fits = fits && b.fits();
    peak = std::max(peak, b.total_bytes);
    std::sort(idx.begin(), idx.end());  // in increasing order, as `run` lists them
    mem.push_back({{"rank", r},
                   {"stages", idx},
                   {"params", b.params},
                   {"weights_bytes", b.weights_bytes},
                   {"grads_bytes", b.grads_bytes},
                   {"master_bytes", b.master_bytes},
                   {"moments_bytes", b.moments_bytes},
                   {"activation_bytes_per_microbatch", b.activation_bytes_per_mb},
                   {"microbatches_in_flight", o.microbatches_in_flight},
                   {"activations_bytes", b.activations_bytes},
                   {"comm_buffer_bytes", b.comm_buffer_bytes},
                   {"total_bytes", b.total_bytes},
                   {"capacity_bytes", b.capacity_bytes},
                   {"fits", b.fits()}});
  }
  d["memory"] = mem;
  d["memory_peak_bytes"] = peak;
  d["fits"] = fits;
  return d;
}

std::string describe_text(const nlohmann::json& d) {
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  const auto& p = d["params"];
  line(fmt::format("scenario   {} ({})", d["scenario"].get<std::string>(), d["file"].get<std::string>()));
  line(fmt::format("model      {}: {:.2f}B parameters, {:.2f}B activated per token ({:.2f}B without embedding); "
                   "MTP adds {:.2f}B",
                   d["model"].get<std::string>(), p["total"].get<double>() / 1e9, p["activated"].get<double>() / 1e9,
                   p["activated_no_embedding"].get<double>() / 1e9, p["mtp_unique"].get<double>() / 1e9));
  const auto& f = d["flops_per_token"];
  line(fmt::format("FLOPs      {:.1f} GFLOP per token at sequence {} (causal; {:.1f} non-causal), training",
                   f["causal"].get<double>() / 1e9, f["seq_len"].get<int64_t>(), f["non_causal"].get<double>() / 1e9));
  const auto& c = d["cluster"];
  const auto& l = d["layout"];
  line(fmt::format("cluster    {} × {} ({} nodes), phase {}", c["gpus"].get<int>(), c["gpu"].get<std::string>(),
                   c["nodes"].get<int>(), d["phase"].get<std::string>()));
  line(fmt::format("layout     PP {} · EP {} · DP {} · TP {} · micro-batch {} · global batch {} ({} micro-batches "
                   "per pipeline) · {}",
                   l["pipeline_parallel"].get<int>(), l["expert_parallel"].get<int>(), l["data_parallel"].get<int>(),
                   l["tensor_parallel"].get<int>(), l["micro_batch"].get<int>(), l["global_batch"].get<int64_t>(),
                   l["micro_batches_per_step"].get<int64_t>(), l["schedule"].get<std::string>()));
  std::string stages;
  for (const auto& s : d["stages"]) stages += fmt::format(" {}", s["blocks"].get<int>());
  line("blocks per stage:" + stages + "  (embedding on the first stage; head and MTP on the last)");
  line("");
  line(fmt::format("{:>4} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>10} {:>8} {:>8} {:>8}  {}", "rank", "stages",
                   "params", "weights", "grads", "master", "moments", "in-fl.", "activ.", "buffers", "total",
                   "capacity", "fits"));
  for (const auto& r : d["memory"]) {
    std::string idx;
    for (const auto& i : r["stages"]) idx += fmt::format("{}{}", idx.empty() ? "" : ",", i.get<int>());
    line(fmt::format("{:>4} {:>7} {:>8.2f}B {:>7.2f}G {:>7.2f}G {:>7.2f}G {:>7.2f}G {:>6} {:>9.2f}G {:>7.2f}G {:>7.2f}G "
                     "{:>7.2f}G  {}",
                     r["rank"].get<int>(), idx, r["params"].get<double>() / 1e9,
                     r["weights_bytes"].get<double>() / kGiB, r["grads_bytes"].get<double>() / kGiB,
                     r["master_bytes"].get<double>() / kGiB, r["moments_bytes"].get<double>() / kGiB,
                     r["microbatches_in_flight"].get<int>(), r["activations_bytes"].get<double>() / kGiB,
                     r["comm_buffer_bytes"].get<double>() / kGiB, r["total_bytes"].get<double>() / kGiB,
                     r["capacity_bytes"].get<double>() / kGiB, r["fits"].get<bool>() ? "yes" : "NO"));
  }
  line(fmt::format("memory (GiB): peak {:.2f} of {:.2f}: {}", d["memory_peak_bytes"].get<double>() / kGiB,
                   d["memory"][0]["capacity_bytes"].get<double>() / kGiB,
                   d["fits"].get<bool>() ? "fits" : "DOES NOT FIT"));
  return out;
}

}  // namespace cs
