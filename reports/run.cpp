#include "reports/run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "calibration/profile.hpp"
#include "models/memory.hpp"
#include "models/params.hpp"
#include "sim/ep_routing.hpp"
#include "sim/schedule/custom_file.hpp"

namespace cs {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double seconds(TimeNs t) { return double(t) * 1e-9; }

const Phase& first_simulated(const Scenario& s) {
  for (const Phase& p : s.phases)
    if (p.simulated()) return p;
  throw std::runtime_error(s.file + ": the scenario has no simulated phase");
}

nlohmann::json memory_json(const Scenario& s, const Phase& ph, const sched::Schedule& sch, const StepResult& r,
                           bool& fits) {
  const Layout& l = ph.layout;
  const auto stages = assign_stages(s.model, sch.stages);
  const OpsContext c = ops_context(l);
  nlohmann::json out = nlohmann::json::array();
  fits = true;
  for (int rank = 0; rank < l.pp; ++rank) {
    std::vector<StageBlocks> held;
    std::set<int> idx;
    for (int d = 0; d < sch.dirs; ++d)
      for (int st = 0; st < sch.stages; ++st)
        if (sch.rank_of(d, st) == rank && idx.insert(st).second) held.push_back(stages[size_t(st)]);
    MemoryOptions o;
    o.stages_per_rank = int(held.size());
    o.microbatches_in_flight = r.ranks[size_t(rank)].peak_activations;
    o.capacity_bytes = s.cluster.gpu.memory_bytes;
    const MemoryBreakdown b = rank_memory(s.model, l, held, rank, c, o);
    fits = fits && b.fits();
    out.push_back({{"rank", rank},
                   {"stages", std::vector<int>(idx.begin(), idx.end())},
                   {"weights_gib", b.weights_bytes / kGiB},
                   {"grads_gib", b.grads_bytes / kGiB},
                   {"optimizer_gib", (b.master_bytes + b.moments_bytes) / kGiB},
                   {"activations_gib", b.activations_bytes / kGiB},
                   {"microbatches_in_flight", o.microbatches_in_flight},
                   {"buffers_gib", b.comm_buffer_bytes / kGiB},
                   {"total_gib", b.total_bytes / kGiB},
                   {"capacity_gib", double(b.capacity_bytes) / kGiB},
                   {"fits", b.fits()}});
  }
  return out;
}

}  // namespace

StepSpec step_spec(const Scenario& s, const Phase& phase, int64_t micro_batches) {
  StepSpec spec;
  spec.model = s.model;
  spec.cluster = s.cluster;
  spec.cluster.nodes = phase.nodes;
  spec.layout = phase.layout;
  spec.layout.global_batch = micro_batches * phase.layout.dp * phase.layout.micro_batch;
  spec.schedule = phase.schedule;
  spec.routing = s.routing;
  spec.network = s.network;
  for (const Straggler& st : s.stragglers)
    if (st.gpu < spec.cluster.nodes * spec.cluster.node.gpus) spec.stragglers.push_back(st);
  spec.seed = s.seed;
  return spec;
}

sched::Schedule phase_schedule(const Phase& phase, int64_t micro_batches, int model_blocks) {
  if (phase.schedule.kind == "custom")
    return sched::load_custom_schedule(phase.schedule.file, phase.layout.pp, int(micro_batches), model_blocks);
  sched::ScheduleParams p;
  p.kind = phase.schedule.kind;
  p.pp = phase.layout.pp;
  p.micro_batches = int(micro_batches);
  p.virtual_stages = phase.layout.virtual_stages;
  p.overlap_fb = phase.schedule.overlap_fb;
  return sched::make_schedule(p);
}

CostModel scenario_cost_model(const Scenario& s) {
  return CostModel(load_profile(resolve_profile(s.profile, default_profile_dir())), s.cluster.gpu);
}

RunOutput run_scenario(const Scenario& s, const RunOptions& o) {
  // A layout `describe` can count but the step simulator cannot run, said before anything runs and naming the field.
  for (size_t i = 0; i < s.phases.size(); ++i)
    if (s.phases[i].simulated() && s.phases[i].layout.tp != 1)
      throw ScenarioError(s.file, 0, 0,
                          i == 0 ? "layout.tensor_parallel" : fmt::format("training.phases[{}].layout.tensor_parallel", i),
                          fmt::format("{} is not simulated (tensor-parallel collectives are not modelled; allowed: 1). "
                                      "`clustersim describe` counts this layout's parameters, FLOPs and memory",
                                      s.phases[i].layout.tp));
  const CostModel cost = scenario_cost_model(s);
  ExecutorOptions eo;
  eo.every_gpu = o.every_gpu || (s.model.is_moe() && s.routing.kind != "balanced") || !s.stragglers.empty();
  eo.detail = o.detail;
  RunOutput out;
  const Phase& first = first_simulated(s);
  const int blocks = s.model.layers + s.model.mtp_depth;  // a stage runs at least one
  std::vector<std::string> notes;

  // One simulator per cluster the phases run on (they may run on fewer nodes), shared with other runs when asked.
  const std::shared_ptr<TimingCache> timings = o.timings ? o.timings : std::make_shared<TimingCache>();
  auto simulate = [&](const Phase& ph, int64_t n, bool timeline) {
    ExecutorOptions e = eo;
    e.timeline = timeline;
    const StepSpec spec = step_spec(s, ph, n);
    return timings->simulator(spec.cluster, spec.network)->simulate(spec, phase_schedule(ph, n, blocks), cost, e);
  };
  const int64_t full_n = first.layout.micro_batches();
  out.step = simulate(first, full_n, o.timeline);

  // Step time per (phase, micro-batch count). A phase's own batch is simulated exactly. The batch ramp asks for many
  // smaller counts: those are interpolated piecewise-linearly between exact simulations at a few counts the schedule
  // runs (the smallest, the full one and kRampGrid in between; step time is close to affine in micro-batches), and
  // extrapolated along the first segment below the smallest count the schedule runs (DualPipe needs ≥ 2 × PP).
  constexpr int kRampGrid = 4;
  std::map<std::pair<std::string, int64_t>, double> exact;
  std::map<std::string, StepResult> full_steps;  // later phases' steps at their full batch, for their memory check
  auto exact_s = [&](const Phase& ph, int64_t n) {
    auto key = std::make_pair(ph.name, n);
    if (auto it = exact.find(key); it != exact.end()) return it->second;
    double t = 0;
    if (&ph == &first && n == full_n) {
      t = seconds(out.step.step_time);
    } else {
      StepResult r = simulate(ph, n, false);
      t = seconds(r.step_time);
      if (n == ph.layout.micro_batches()) full_steps.emplace(ph.name, std::move(r));
    }
    exact.emplace(key, t);
    return t;
  };
  auto runs = [&](const Phase& ph, int64_t n) {
    // A custom file orders exactly its own micro-batches (the phase's full count): smaller steps of a batch ramp are
    // extrapolated from it, as below the smallest count a generated schedule runs.
    if (ph.schedule.kind == "custom") return n == ph.layout.micro_batches();
    try {
      (void)phase_schedule(ph, n, blocks);
      return true;
    } catch (const sched::ScheduleError&) {
      return false;
    }
  };
  std::map<std::string, std::vector<int64_t>> grids;
  auto grid = [&](const Phase& ph) -> const std::vector<int64_t>& {
    auto it = grids.find(ph.name);
    if (it != grids.end()) return it->second;
    const int64_t top = ph.layout.micro_batches();
    const int64_t low_batch = ph.ramp ? ph.ramp->from / (int64_t(ph.layout.dp) * ph.layout.micro_batch) : top;
    std::vector<int64_t> g;
    int64_t lo = std::max<int64_t>(1, low_batch);
    while (lo < top && !runs(ph, lo)) ++lo;
    for (int i = 0; i <= kRampGrid + 1; ++i) {
      int64_t n = lo + (top - lo) * i / (kRampGrid + 1);
      while (n < top && !runs(ph, n)) ++n;
      if (g.empty() || n > g.back()) g.push_back(n);
    }
    return grids.emplace(ph.name, g).first->second;
  };
  int64_t approximated = 0;
  StepTimeFn step_s = [&](const Phase& ph, int64_t n) -> double {
    if (n == ph.layout.micro_batches()) return exact_s(ph, n);
    const std::vector<int64_t>& g = grid(ph);
    if (std::find(g.begin(), g.end(), n) != g.end()) return exact_s(ph, n);
    ++approximated;
    if (g.size() < 2) return exact_s(ph, g.front()) * double(n) / double(g.front());
    size_t k = 1;
    while (k + 1 < g.size() && g[k] < n) ++k;
    const double ta = exact_s(ph, g[k - 1]), tb = exact_s(ph, g[k]);
    return ta + double(n - g[k - 1]) * (tb - ta) / double(g[k] - g[k - 1]);
  };
  out.projection = project_training(s, step_s);
  if (approximated > 0) {
    std::string pts;
    for (const auto& [name, g] : grids)
      for (int64_t n : g) pts += fmt::format("{}{}", pts.empty() ? "" : ", ", n);
    notes.push_back(fmt::format("{} batch-ramp step size(s) interpolated in micro-batches between exact simulations at "
                                "{} micro-batches (extrapolated below the smallest count the schedule runs)",
                                approximated, pts));
  }

  if (s.model.is_moe() && s.routing.kind != "balanced") {
    std::vector<std::string> long_phases;
    for (const Phase& ph : s.phases)
      if (ph.simulated() && int64_t(ph.layout.micro_batch) * ph.layout.seq_len > kRoutingSampleTokens)
        long_phases.push_back(ph.name);
    if (!long_phases.empty())
      notes.push_back(fmt::format("{} routing of {}: drawn for the first {} tokens per GPU of each micro-batch and "
                                  "scaled (sim/ep_routing.hpp, sample_routing)",
                                  s.routing.kind, fmt::join(long_phases, ", "), kRoutingSampleTokens));
  }

  // Figures.
  const StepResult& r = out.step;
  const Layout& l = first.layout;
  const int gpus = first.nodes * s.cluster.node.gpus;
  const double step = seconds(r.step_time);
  const double tokens = double(l.global_batch) * double(l.seq_len);
  const double tps_gpu = tokens / step / gpus;
  const double peak = s.cluster.gpu.bf16_tflops * 1e12;
  nlohmann::json j;
  j["scenario"] = s.name;
  j["file"] = s.file;
  j["phase"] = first.name;
  j["gpus"] = gpus;
  j["schedule"] = r.schedule;
  j["micro_batches"] = r.micro_batches;
  j["simulated_gpus"] = r.simulated_gpus;
  j["representative"] = r.representative;
  j["step_time_s"] = step;
  j["tokens_per_step"] = tokens;
  j["tokens_per_s"] = tokens / step;
  j["tokens_per_s_per_gpu"] = tps_gpu;
  j["mfu"] = tps_gpu * training_flops_per_token(s.model, l.seq_len, true) / peak;
  j["mfu_non_causal"] = tps_gpu * training_flops_per_token(s.model, l.seq_len, false) / peak;
  j["mfu_convention"] = fmt::format(
      "model FLOPs per token (6 × activated parameters without embedding + attention; ISCA'25 Table 2's convention, "
      "MTP not counted) × tokens/s/GPU ÷ BF16 dense peak {} TFLOPS; `mfu` counts causal attention ((S+1)/2 keys per "
      "query), `mfu_non_causal` all S keys",
      s.cluster.gpu.bf16_tflops);
  j["bubble_s"] = seconds(r.breakdown.bubble);
  j["breakdown_s"] = {{"warmup_forward", seconds(r.breakdown.warmup_forward)},
                      {"steady", seconds(r.breakdown.steady)},
                      {"warmup_backward", seconds(r.breakdown.warmup_backward)},
                      {"weight_tail", seconds(r.breakdown.weight_tail)},
                      {"bubble", seconds(r.breakdown.bubble)},
                      {"data_parallel", seconds(r.breakdown.data_parallel)},
                      {"optimizer", seconds(r.breakdown.optimizer)}};
  j["exposed_comm_s"] = {{"dispatch", seconds(r.exposed.dispatch)},
                         {"combine", seconds(r.exposed.combine)},
                         {"pipeline", seconds(r.exposed.pipeline)},
                         {"data_parallel", seconds(r.exposed.data_parallel)}};
  nlohmann::json links = nlohmann::json::array();
  for (const LinkUse& u : r.links)
    links.push_back({{"class", u.link_class}, {"utilisation", u.utilisation}, {"bytes", u.bytes}});
  j["link_utilisation"] = links;
  j["instruction_ms"] = {{"F", r.f_ns * 1e-6}, {"B", r.b_ns * 1e-6}, {"W", r.w_ns * 1e-6}, {"F&B", r.fb_ns * 1e-6}};
  bool fits = true;
  j["memory"] = memory_json(s, first, phase_schedule(first, full_n, blocks), r, fits);
  nlohmann::json peak_mem = nlohmann::json::array();
  for (const auto& m : j["memory"]) peak_mem.push_back(m["total_gib"]);
  j["peak_memory_gib"] = peak_mem;
  j["fits"] = fits;
  const Profile& prof = cost.profile();
  j["calibration"] = {{"profile", prof.name},
                      {"file", prof.file},
                      {"method", prof.method},
                      {"provenance", r.profile_source},
                      {"op_timings_from_records", r.ops_measured},
                      {"op_timings_modelled", r.ops_modelled}};
  nlohmann::json phases = nlohmann::json::array();
  for (const PhaseProjection& p : out.projection.phases) {
    nlohmann::json row = {{"name", p.name},           {"simulated", p.simulated}, {"source", p.source},
                          {"gpus", p.gpus},           {"seq_len", p.seq_len},     {"global_batch", p.global_batch},
                          {"steps", p.steps},         {"ramp_steps", p.ramp_steps}, {"tokens", p.tokens},
                          {"step_time_s", p.step_time_s}, {"days", p.wall_s / 86400}, {"gpu_hours", p.gpu_hours},
                          {"cost_usd", p.cost_usd}};
    // Every simulated phase's own layout is checked against memory, not only the first: a phase that cannot run as
    // laid out still gets its projection, flagged here and in a note.
    const auto ph = std::find_if(s.phases.begin(), s.phases.end(), [&](const Phase& x) { return x.name == p.name; });
    if (p.simulated && ph != s.phases.end()) {
      bool phase_fits = fits;
      nlohmann::json mem = j["memory"];
      if (&*ph != &first) {
        const int64_t n = ph->layout.micro_batches();
        (void)exact_s(*ph, n);  // simulated already unless the phase takes no full-batch step
        mem = memory_json(s, *ph, phase_schedule(*ph, n, blocks), full_steps.at(ph->name), phase_fits);
      }
      double need = 0;
      for (const auto& m : mem) need = std::max(need, m["total_gib"].get<double>());
      row["peak_memory_gib"] = need;
      row["fits"] = phase_fits;
      if (!phase_fits && &*ph != &first)
        notes.push_back(fmt::format("phase {} does not fit in memory as laid out: {:.1f} GiB needed on its fullest "
                                    "GPU, {:.1f} GiB available; its GPU-hours project a layout that cannot run",
                                    p.name, need, mem[0]["capacity_gib"].get<double>()));
    }
    phases.push_back(std::move(row));
  }
  j["phases"] = phases;
  j["gpu_hours_per_trillion_tokens"] = out.projection.gpu_hours_per_trillion_tokens;
  j["total_gpu_hours"] = out.projection.total_gpu_hours;
  j["total_cost_usd"] = out.projection.total_cost_usd;
  j["days"] = out.projection.days;
  j["price_per_gpu_hour"] = s.price_per_gpu_hour;
  j["notes"] = notes;
  out.json = j;
  return out;
}

std::string run_text(const nlohmann::json& j) {
  std::string o;
  auto line = [&o](const std::string& s) { o += s + "\n"; };
  auto d = [&j](const char* k) { return j[k].get<double>(); };
  line(fmt::format("scenario  {} ({}), phase {}", j["scenario"].get<std::string>(), j["file"].get<std::string>(),
                   j["phase"].get<std::string>()));
  line(fmt::format("step      {:.3f} s on {} GPUs ({}, {} micro-batches per pipeline; {} GPUs simulated{})",
                   d("step_time_s"), j["gpus"].get<int>(), j["schedule"].get<std::string>(),
                   j["micro_batches"].get<int64_t>(), j["simulated_gpus"].get<int>(),
                   j["representative"].get<bool>() ? ", one pipeline stands for every replica" : ""));
  const auto& in = j["instruction_ms"];
  line(fmt::format("          F {:.2f} ms · B {:.2f} ms · W {:.2f} ms · F&B {:.2f} ms (the critical rank's first stage; "
                   "B: the full backward, W its weight-gradient part; F&B: its forward with the backward it overlaps)",
                   in["F"].get<double>(), in["B"].get<double>(), in["W"].get<double>(), in["F&B"].get<double>()));
  std::vector<std::string> bd, ex, lk;
  for (const auto& [k, v] : j["breakdown_s"].items()) bd.push_back(fmt::format("{} {:.3f}", k, v.get<double>()));
  line(fmt::format("breakdown {} (s)", fmt::join(bd, " · ")));
  for (const auto& [k, v] : j["exposed_comm_s"].items()) ex.push_back(fmt::format("{} {:.3f}", k, v.get<double>()));
  line(fmt::format("exposed communication {} (s)", fmt::join(ex, " · ")));
  for (const auto& u : j["link_utilisation"])
    lk.push_back(fmt::format("{} {:.1f} %", u["class"].get<std::string>(), 100 * u["utilisation"].get<double>()));
  if (!lk.empty()) line(fmt::format("links     average utilisation over the step: {}", fmt::join(lk, " · ")));
  line(fmt::format("throughput {:.0f} tokens/s/GPU · MFU {:.1f} % (causal) / {:.1f} % (non-causal), BF16 peak",
                   d("tokens_per_s_per_gpu"), 100 * d("mfu"), 100 * d("mfu_non_causal")));
  double peak = 0;
  for (const auto& m : j["memory"]) peak = std::max(peak, m["total_gib"].get<double>());
  line(fmt::format("memory    peak {:.1f} GiB of {:.1f} GiB per GPU: {}", peak,
                   j["memory"][0]["capacity_gib"].get<double>(), j["fits"].get<bool>() ? "fits" : "DOES NOT FIT"));
  line(fmt::format("calibration {}", j["calibration"]["provenance"].get<std::string>()));
  line("");
  line(fmt::format("{:<24} {:>6} {:>8} {:>8} {:>9} {:>10} {:>9} {:>12} {:>14}", "phase", "GPUs", "seq", "batch",
                   "steps", "step (s)", "days", "GPU-hours", "cost (USD)"));
  for (const auto& p : j["phases"]) {
    if (p["simulated"].get<bool>())
      line(fmt::format("{:<24} {:>6} {:>8} {:>8} {:>9} {:>10.3f} {:>9.2f} {:>12.0f} {:>14.0f}{}",
                       p["name"].get<std::string>(), p["gpus"].get<int>(), p["seq_len"].get<int64_t>(),
                       p["global_batch"].get<int64_t>(), p["steps"].get<int64_t>(), p["step_time_s"].get<double>(),
                       p["days"].get<double>(), p["gpu_hours"].get<double>(), p["cost_usd"].get<double>(),
                       p.value("fits", true) ? "" : fmt::format("  DOES NOT FIT ({:.1f} GiB)", p["peak_memory_gib"].get<double>())));
    else
      line(fmt::format("{:<24} {:>6} {:>8} {:>8} {:>9} {:>10} {:>9.2f} {:>12.0f} {:>14.0f}  given: {}",
                       p["name"].get<std::string>(), p["gpus"].get<int>(), "-", "-", "-", "-", p["days"].get<double>(),
                       p["gpu_hours"].get<double>(), p["cost_usd"].get<double>(), p["source"].get<std::string>()));
  }
  line(fmt::format("{:<24} {:>6} {:>8} {:>8} {:>9} {:>10} {:>9.2f} {:>12.0f} {:>14.0f}", "total", "", "", "", "", "",
                   d("days"), d("total_gpu_hours"), d("total_cost_usd")));
  line(fmt::format("GPU-hours per trillion tokens ({}): {:.0f}", j["phases"][0]["name"].get<std::string>(),
                   d("gpu_hours_per_trillion_tokens")));
  for (const auto& n : j["notes"]) line("note: " + n.get<std::string>());
  return o;
}

nlohmann::json run_report_input(const RunOutput& out) {
  const nlohmann::json& j = out.json;
  nlohmann::json r;
  r["title"] = fmt::format("clustersim run: {}", j["scenario"].get<std::string>());
  r["subtitle"] = fmt::format("{} GPUs · {} · step {:.3f} s", j["gpus"].get<int>(), j["schedule"].get<std::string>(),
                              j["step_time_s"].get<double>());
  nlohmann::json figures;
  for (const char* k : {"step_time_s", "tokens_per_s_per_gpu", "mfu", "mfu_non_causal", "bubble_s",
                        "gpu_hours_per_trillion_tokens", "total_gpu_hours", "total_cost_usd", "days"})
    figures[k] = j[k];
  figures["calibration"] = j["calibration"]["provenance"];
  r["figures"] = figures;
  r["breakdown"] = j["breakdown_s"];
  nlohmann::json tl = nlohmann::json::array();
  for (const TraceSlice& s : out.step.timeline)
    if (s.stream == "compute" || s.stream == "communication")
      tl.push_back({{"rank", s.rank}, {"gpu", s.gpu}, {"stream", s.stream}, {"name", s.name}, {"kind", s.category},
                    {"start_ns", s.start}, {"end_ns", s.end}});
  r["timeline"] = tl;
  nlohmann::json mem = nlohmann::json::array();
  for (const auto& m : j["memory"]) {
    for (const char* k : {"weights_gib", "grads_gib", "optimizer_gib", "activations_gib", "buffers_gib"})
      mem.push_back({{"rank", m["rank"]}, {"stages", m["stages"]}, {"bytes", m[k].get<double>() * kGiB}, {"category", k},
                     {"capacity", m["capacity_gib"].get<double>() * kGiB}});
  }
  r["memory"] = mem;
  r["links"] = j["link_utilisation"];
  return r;
}

nlohmann::json run_figures(const Scenario& s, const std::shared_ptr<TimingCache>& timings) {
  RunOptions o;
  o.timeline = false;
  o.timings = timings;
  const nlohmann::json j = run_scenario(s, o).json;
  nlohmann::json f;
  for (const char* k : {"gpus", "schedule", "micro_batches", "step_time_s", "tokens_per_s_per_gpu", "mfu",
                        "mfu_non_causal", "bubble_s", "breakdown_s", "exposed_comm_s", "peak_memory_gib", "fits",
                        "gpu_hours_per_trillion_tokens", "total_gpu_hours", "total_cost_usd", "days"})
    f[k] = j[k];
  f["calibration"] = j["calibration"]["profile"];
  // `fits` is the first phase's, which the step simulates and a sweep judges feasibility on; later simulated phases
  // (context extension) are checked too, and said here so a sweep's "ok" is not read as "every phase can run".
  std::string not_fitting;
  for (const auto& p : j["phases"])
    if (!p.value("fits", true)) not_fitting += (not_fitting.empty() ? "" : ", ") + p["name"].get<std::string>();
  f["all_phases_fit"] = not_fitting.empty();
  f["phases_not_fitting"] = not_fitting;
  if (!j["fits"].get<bool>()) {
    double peak = 0;
    for (const auto& m : j["memory"]) peak = std::max(peak, m["total_gib"].get<double>());
    f["reason"] = fmt::format("does not fit in memory: {:.1f} GiB needed on the fullest GPU, {:.1f} GiB available", peak,
                              j["memory"][0]["capacity_gib"].get<double>());
  }
  return f;
}

std::function<nlohmann::json(const Scenario&)> shared_run_figures() {
  auto timings = std::make_shared<TimingCache>();
  return [timings](const Scenario& s) { return run_figures(s, timings); };
}

}  // namespace cs
