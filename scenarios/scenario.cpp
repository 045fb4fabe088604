#include "scenarios/scenario.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "calibration/profile.hpp"
#include "scenarios/sections.hpp"
#include "sim/network.hpp"

namespace cs {

namespace {

const std::vector<std::string> kScheduleKinds = {"1f1b", "interleaved", "zb1p", "dualpipe", "dualpipev", "custom"};

// The scenario's layout (complete) or a phase's overrides of it (base given).
Layout read_layout(YamlSection s, const Layout* base) {
  Layout l = base ? *base : Layout{};
  auto get = [&](const char* key, int64_t cur, int64_t lo, int64_t hi, bool required) {
    return (!base && required) ? s.integer(key, lo, hi) : s.integer_or(key, cur, lo, hi);
  };
  l.pp = int(get("pipeline_parallel", l.pp, 1, 4096, true));
  l.ep = int(get("expert_parallel", l.ep, 1, 1 << 20, false));
  l.dp = int(get("data_parallel", l.dp, 1, 1 << 20, true));
  l.tp = int(get("tensor_parallel", l.tp, 1, 1024, false));
  l.virtual_stages = int(get("virtual_stages", l.virtual_stages, 1, 1024, false));
  l.micro_batch = int(get("micro_batch", l.micro_batch, 1, 1 << 20, true));
  if (!base) l.global_batch = s.integer("global_batch", 1, int64_t(1) << 40);
  s.finish();
  return l;
}

ScheduleConfig read_schedule(YamlSection s, const std::string& scenario_file, const ScheduleConfig* base,
                             std::vector<ScenarioInput>* inputs) {
  ScheduleConfig c = base ? *base : ScheduleConfig{};
  c.kind = base ? s.choice_or("kind", c.kind, kScheduleKinds) : s.choice("kind", kScheduleKinds);
  c.comm_sms = int(s.integer_or("comm_sms", c.comm_sms, 0, 100000));
  c.overlap_fb = s.boolean_or("overlap_fb", c.overlap_fb);
  // A setting the schedule does not read is a mistake, not something to ignore (as `schedule --no-overlap`).
  if (s.has("overlap_fb") && c.kind != "dualpipe" && c.kind != "dualpipev")
    s.fail("overlap_fb", fmt::format("only DualPipe and DualPipeV overlap F&B pairs; schedule {} runs none (allowed "
                                     "with kind dualpipe or dualpipev)",
                                     c.kind));
  if (c.kind == "custom" && (!base || s.has("file"))) {
    const ScenarioInput in{"schedule", s.text("file")};
    if (inputs) inputs->push_back(in);
    c.file = input_path(in, scenario_file);
    if (!std::filesystem::exists(c.file)) s.fail("file", fmt::format("no such schedule file: {}", c.file));
  } else if (s.has("file")) {
    s.fail("file", "only a custom schedule (kind: custom) takes a file");
  } else {
    s.raw("file");
  }
  s.finish();
  return c;
}

RoutingConfig read_routing(YamlSection& root, const std::string& scenario_file, std::vector<ScenarioInput>* inputs) {
  RoutingConfig r;
  if (!root.has("routing")) {
    root.raw("routing");
    return r;
  }
  YamlSection s = root.section("routing");
  r.kind = s.choice_or("kind", r.kind, {"balanced", "random", "zipf", "file"});
  r.zipf_exponent = s.number_or("zipf_exponent", 0, 0, 10);
  if (r.kind == "zipf" && !s.has("zipf_exponent")) s.fail("zipf_exponent", "required with kind: zipf (a number in [0, 10])");
  if (r.kind != "zipf" && s.has("zipf_exponent")) s.fail("zipf_exponent", "only kind: zipf takes a zipf_exponent");
  if (r.kind == "file") {
    const ScenarioInput in{"load", s.text("load_file")};
    if (inputs) inputs->push_back(in);
    r.load_file = input_path(in, scenario_file);
    if (!std::filesystem::exists(r.load_file)) s.fail("load_file", fmt::format("no such load file: {}", r.load_file));
  } else {
    if (s.has("load_file")) s.fail("load_file", "only kind: file takes a load_file");
    s.raw("load_file");
  }
  r.max_nodes = int(s.integer_or("max_nodes", 0, 0, 1 << 20));
  r.seed = uint64_t(s.integer_or("seed", 1, 0, std::numeric_limits<int64_t>::max()));
  s.finish();
  return r;
}

NetworkConfig read_network(YamlSection& root) {
  NetworkConfig n;
  if (!root.has("network")) {
    root.raw("network");
    return n;
  }
  YamlSection s = root.section("network");
  n.mode = s.choice_or("mode", n.mode, {"flow", "coflow"});
  n.backend = s.choice_or("backend", n.backend, {"native", "simgrid"});
  n.time_quantum_ns = s.integer_or("time_quantum_ns", 0, 0, kMaxTimeQuantumNs);
  s.finish();
  return n;
}

std::vector<Straggler> read_stragglers(YamlSection& root, const ClusterSpec& cluster) {
  std::vector<Straggler> out;
  if (!root.has("stragglers")) {
    root.raw("stragglers");
    return out;
  }
  YAML::Node list = root.raw("stragglers");
  if (!list.IsSequence())
    root.fail("stragglers", "expected a list of {gpu: <id>, slowdown: <factor ≥ 1>} entries");
  const int gpus = cluster.nodes * cluster.node.gpus;
  for (size_t i = 0; i < list.size(); ++i) {
    YamlSection e(list[i], root.file(), fmt::format("stragglers[{}]", i));
    Straggler st;
    st.gpu = int(e.integer("gpu", 0, gpus - 1));
    st.slowdown = e.number("slowdown", 1, 100);
    for (const Straggler& other : out)
      if (other.gpu == st.gpu) e.fail("gpu", fmt::format("GPU {} is listed twice; give each GPU one slowdown", st.gpu));
    e.finish();
    out.push_back(st);
  }
  return out;
}

Phase read_phase(YamlSection s, const Scenario& sc, std::vector<ScenarioInput>* inputs) {
  Phase p;
  p.name = s.text("name");
  if (s.has("gpu_hours")) {
    p.given_gpu_hours = s.number("gpu_hours", 0, 1e12);
    // A phase with no GPU-hours would read as a simulated one (Phase::simulated) and be checked as a step it is not.
    if (p.given_gpu_hours <= 0) s.fail("gpu_hours", "a phase given as gpu_hours needs a number in (0, 1e12], got 0");
    p.given_source = s.text("source");
    for (const char* k : {"seq_len", "global_batch", "tokens", "steps", "batch_ramp", "layout", "schedule", "nodes"})
      if (s.has(k)) s.fail(k, "a phase given as gpu_hours takes only name, gpu_hours and source");
    s.finish();
    return p;
  }
  s.raw("source");
  p.seq_len = s.integer_or("seq_len", sc.layout.seq_len, 1, int64_t(1) << 24);
  p.global_batch = s.integer_or("global_batch", sc.layout.global_batch, 1, int64_t(1) << 40);
  const bool has_tokens = s.has("tokens"), has_steps = s.has("steps");
  if (has_tokens == has_steps) s.fail_here("a phase needs exactly one of tokens, steps or gpu_hours");
  if (has_tokens) p.tokens = s.number("tokens", 1, 1e18);
  else s.raw("tokens");
  if (has_steps) p.steps = s.integer("steps", 1, int64_t(1) << 40);
  else s.raw("steps");
  if (s.has("batch_ramp")) {
    if (!has_tokens) s.fail("batch_ramp", "a batch ramp needs the phase given in tokens");
    YamlSection r = s.section("batch_ramp");
    BatchRamp br;
    br.from = r.integer("from", 1, p.global_batch);
    br.over_tokens = r.number("over_tokens", 1, p.tokens);
    // The projection walks the ramp a step at a time: at most over_tokens / (from × seq_len) steps (DeepSeek-V3's:
    // 37K). Beyond kMaxRampSteps the walk would take minutes to hours.
    const double ramp_steps = br.over_tokens / (double(br.from) * double(p.seq_len));
    if (ramp_steps > double(kMaxRampSteps))
      r.fail("over_tokens", fmt::format("a ramp over {:g} tokens from {} sequences of {} tokens takes up to {:.3g} "
                                        "steps; at most {} are allowed (raise from, or shorten the ramp)",
                                        br.over_tokens, br.from, p.seq_len, ramp_steps, kMaxRampSteps));
    br.shape = r.choice_or("shape", "linear", {"linear", "step"});
    r.finish();
    p.ramp = br;
  } else {
    s.raw("batch_ramp");
  }
  p.layout = s.has("layout") ? read_layout(s.section("layout"), &sc.layout) : sc.layout;
  if (!s.has("layout")) s.raw("layout");
  p.layout.seq_len = p.seq_len;
  p.layout.global_batch = p.global_batch;
  p.schedule = s.has("schedule") ? read_schedule(s.section("schedule"), sc.file, &sc.schedule, inputs) : sc.schedule;
  if (!s.has("schedule")) s.raw("schedule");
  p.nodes = int(s.integer_or("nodes", sc.cluster.nodes, 1, 1 << 20));
  s.finish();
  return p;
}

std::vector<Phase> read_training(YamlSection& root, Scenario& sc, std::vector<ScenarioInput>* inputs) {
  YamlSection s = root.section("training");
  Layout& layout = sc.layout;
  layout.seq_len = s.integer("seq_len", 1, int64_t(1) << 24);
  YAML::Node list = s.raw("phases");
  if (!list || !list.IsSequence() || list.size() == 0) s.fail("phases", "expected a non-empty list of phases");
  std::vector<Phase> phases;
  for (size_t i = 0; i < list.size(); ++i) {
    YamlSection ps(list[i], s.file(), fmt::format("{}.phases[{}]", s.path(), i));
    phases.push_back(read_phase(ps, sc, inputs));
    // Reports and comparisons key a phase's figures by its name.
    for (size_t k = 0; k + 1 < phases.size(); ++k)
      if (phases[k].name == phases.back().name)
        ps.fail("name", fmt::format("phase name \"{}\" is already used by phases[{}]; give each phase its own name",
                                    phases.back().name, k));
  }
  s.finish();
  const Phase& p0 = phases[0];
  if (!p0.simulated() || p0.global_batch != layout.global_batch || p0.seq_len != layout.seq_len ||
      list[0]["layout"] || list[0]["schedule"] || list[0]["nodes"])
    s.fail("phases", fmt::format("the first phase is the scenario's own step: it must be simulated (no gpu_hours), use "
                                 "layout.global_batch ({}) and training.seq_len ({}), and override no layout, schedule "
                                 "or nodes",
                                 layout.global_batch, layout.seq_len));
  return phases;
}

}  // namespace

namespace {
// The calibration profile must exist now, not when the step is simulated: a wrong name is a mistake in this file.
void check_profile(const YamlSection& root, const std::string& profile) {
  const std::string dir = default_profile_dir(), path = resolve_profile(profile, dir);
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return;
  std::vector<std::string> shipped;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") shipped.push_back(e.path().stem().string());
  std::sort(shipped.begin(), shipped.end());
  root.fail("calibration_profile",
            fmt::format("no profile file {} (allowed: a profile name from {}: {}; or the path of a profile JSON file)",
                        path, dir, shipped.empty() ? "none found" : fmt::format("{}", fmt::join(shipped, ", "))));
}
}  // namespace

Scenario load_scenario(const YAML::Node& root_node, const std::string& file, std::vector<ScenarioInput>* inputs) {
  YamlSection root(root_node, file, "");
  Scenario sc;
  sc.file = file;
  sc.name = root.text("name");
  sc.description = root.text_or("description", "");
  sc.model = read_model(root, inputs);
  sc.cluster = read_cluster(root, inputs);
  sc.layout = read_layout(root.section("layout"), nullptr);
  sc.schedule = read_schedule(root.section("schedule"), file, nullptr, inputs);
  sc.routing = read_routing(root, file, inputs);
  sc.network = read_network(root);
  sc.stragglers = read_stragglers(root, sc.cluster);
  sc.phases = read_training(root, sc, inputs);
  sc.price_per_gpu_hour = root.number("price_per_gpu_hour", 0, 1e6);
  sc.profile = root.text_or("calibration_profile", sc.profile);
  check_profile(root, sc.profile);
  sc.seed = uint64_t(root.integer_or("seed", 1, 0, std::numeric_limits<int64_t>::max()));
  root.finish();
  validate_scenario(sc, root_node);
  return sc;
}

Scenario load_scenario(const std::string& path) { return load_scenario(load_yaml_file(path), path); }

}  // namespace cs
