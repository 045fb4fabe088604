// clustersim calibrate: kernel shapes for the CUDA harness, profile runs, profile checks and the kernel-timing
// regression comparison.
//   calibrate shapes SCENARIO [-o FILE]        the scenario's kernel shapes (JSON) for clustersim-kernels
//   calibrate run SCENARIO -o PROFILE          runs clustersim-kernels on this machine's GPU → profile JSON
//   calibrate check [PROFILE] [--scenario S]   validates a profile; with a scenario, how many of its ops are
//                                              measured, interpolated or roofline
//   calibrate compare OLD NEW [--threshold %]  per-kernel table; exit 1 when a median is slower beyond noise
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sys/wait.h>

#include "calibration/compare.hpp"
#include "calibration/cost_model.hpp"
#include "calibration/shapes.hpp"
#include "reports/cli/commands.hpp"
#include "scenarios/scenario.hpp"

namespace cs::cli {
namespace {

// Exit codes: 1 = regression found, 2 = bad input, 77 = no GPU (the harness's skip code).
[[noreturn]] void bad_input(const std::exception& e) {
  fmt::print(stderr, "error: {}\n", e.what());
  throw CLI::RuntimeError(2);
}

OpsContext context_of(const Scenario& s) { return ops_context(s.layout); }

int compute_sms(const Scenario& s) { return std::max(1, s.cluster.gpu.sms - s.schedule.comm_sms); }

ShapeList shapes_of(const Scenario& s) {
  return build_shape_list(s.model, context_of(s), s.layout.pp, {s.cluster.gpu.sms, compute_sms(s)});
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

void add_shapes(CLI::App& cal) {
  auto* cmd = cal.add_subcommand("shapes", "write the scenario's kernel shapes (JSON) for clustersim-kernels");
  struct Opts {
    std::string scenario, out;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("scenario", o->scenario, "scenario YAML file")->required();
  cmd->add_option("-o,--output", o->out, "output file (default: standard output)")->check(path_to_write());
  cmd->callback([o] {
    const std::string text = shape_list_to_json(shapes_of(load_scenario(o->scenario)));
    if (o->out.empty()) {
      fmt::print("{}", text);
      return;
    }
    std::ofstream f(o->out);
    if (!f) throw std::runtime_error("cannot write " + o->out);
    f << text;
  });
}

void add_calibrate_run(CLI::App& cal) {
  auto* cmd = cal.add_subcommand("run", "time the scenario's kernels on this machine's GPU and write a profile");
  struct Opts {
    std::string scenario, out, harness, name;
    int repetitions = 50;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("scenario", o->scenario, "scenario YAML file")->required();
  cmd->add_option("-o,--output", o->out, "profile JSON to write")->required()->check(path_to_write());
  cmd->add_option("--harness", o->harness, "clustersim-kernels binary (default: next to clustersim)");
  cmd->add_option("--name", o->name, "profile name (default: the output file's stem)");
  cmd->add_option("--repetitions", o->repetitions, "timed repetitions per kernel")->check(CLI::Range(5, 10000));
  cmd->callback([o] {
    namespace fs = std::filesystem;
    std::string harness = o->harness;
    if (harness.empty()) harness = (fs::read_symlink("/proc/self/exe").parent_path() / "clustersim-kernels").string();
    if (!fs::exists(harness))
      throw std::runtime_error(fmt::format("kernel harness {} not found: build clustersim where nvcc is installed "
                                           "(kernels/ is built only with CUDA), or pass --harness",
                                           harness));
    const Scenario s = load_scenario(o->scenario);
    // The measured profile keeps the scenario profile's roofline efficiencies (with their sources) for the ops
    // the harness does not time (attention, until it has a cuDNN graph).
    const std::string base = resolve_profile(s.profile, default_profile_dir());
    try {
      load_profile(base);
    } catch (const ProfileError& e) {
      bad_input(e);
    }
    const std::string shapes = o->out + ".shapes.json";
    {
      std::ofstream f(shapes);
      if (!f) throw std::runtime_error("cannot write " + shapes);
      f << shape_list_to_json(shapes_of(s));
    }
    const std::string name = o->name.empty() ? fs::path(o->out).stem().string() : o->name;
    // The harness writes next to the output and the output is replaced only by a profile this run wrote and that
    // loads: a run that measures nothing (no GPU, a crash) must not destroy an existing profile, such as a baseline.
    const std::string partial = o->out + ".partial";
    fs::remove(partial);  // so that a profile found afterwards is this run's
    const std::string cmdline =
        fmt::format("{} --shapes {} --output {} --base {} --name {} --repetitions {}", quote(harness), quote(shapes),
                    quote(partial), quote(base), quote(name), o->repetitions);
    const int status = std::system(cmdline.c_str());
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const bool written = (rc == 0 || rc == 1) && fs::exists(partial);
    if (!written) {
      fs::remove(partial);
      if (rc == 77) {
        fmt::print(stderr, "calibrate run: no CUDA GPU on this machine; nothing measured, {} left as it was\n", o->out);
        throw CLI::RuntimeError(77);
      }
      // The shell reports a harness killed by signal N as exit 128 + N.
      const std::string why = rc < 0     ? std::string("killed by a signal")
                              : rc == 0  ? std::string("exit 0 but no profile written")
                              : rc > 128 ? fmt::format("exit {}: killed by signal {}", rc, rc - 128)
                                         : fmt::format("exit {}", rc);
      throw std::runtime_error(fmt::format("kernel harness failed ({}), {} left as it was: {}", why, o->out, cmdline));
    }
    try {
      load_profile(partial);
    } catch (const ProfileError& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      fmt::print(stderr, "calibrate run: the harness wrote a profile that does not load; kept as {}, {} left as it "
                         "was\n", partial, o->out);
      throw CLI::RuntimeError(2);
    }
    fs::rename(partial, o->out);
    if (rc == 1) {
      fmt::print(stderr, "calibrate run: some kernels failed or disagreed with their CPU reference (listed above); {} "
                         "was written without them\n", o->out);
      throw CLI::RuntimeError(1);
    }
    fmt::print("wrote {} (shapes: {})\n", o->out, shapes);
  });
}

void add_check(CLI::App& cal) {
  auto* cmd = cal.add_subcommand("check", "validate a profile; with --scenario, count ops from records, interpolated and roofline");
  struct Opts {
    std::string profile, scenario;
    int block = -1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("profile", o->profile, "profile name or JSON file (default: the scenario's calibration_profile)");
  auto* scenario = cmd->add_option("--scenario", o->scenario, "scenario YAML whose ops to time");
  // Without a scenario there are no blocks to list: refused rather than ignored.
  cmd->add_option("--block", o->block, "with --scenario: list every op of this block with its duration and source")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->needs(scenario);
  cmd->callback([o] {
    if (o->profile.empty() && o->scenario.empty()) throw CLI::ValidationError("give a profile, a --scenario, or both");
    std::optional<Scenario> s;
    if (!o->scenario.empty()) s = load_scenario(o->scenario);
    Profile p;
    try {
      p = load_profile(resolve_profile(o->profile.empty() ? s->profile : o->profile, default_profile_dir()));
    } catch (const ProfileError& e) {
      bad_input(e);
    }
    std::map<std::string, int> per_kernel;
    for (const auto& r : p.records) per_kernel[r.kernel + "/" + r.role] += 1;
    fmt::print("profile {} ({}): {}, device {} ({} SMs), {} records, {} efficiencies\n", p.name, p.file, p.method,
               p.device.name, p.device.sms, p.records.size(), p.efficiencies.size());
    for (const auto& [k, n] : per_kernel) fmt::print("  {:<28} {} records\n", k, n);
    if (!s) return;
    if (p.device.sms != s->cluster.gpu.sms)
      fmt::print("warning: the profile's device has {} SMs, the scenario's GPU ({}) {}: records are scaled by SMs\n",
                 p.device.sms, s->cluster.gpu.name, s->cluster.gpu.sms);
    const CostModel cm(p, s->cluster.gpu);
    CostTally tally;
    const int sms = compute_sms(*s);
    for (const auto& stage : assign_stages(s->model, s->layout.pp)) {
      const LayerOps ops = stage_ops(s->model, stage, context_of(*s));
      for (const auto* pass : {&ops.forward, &ops.backward_input, &ops.backward_weight})
        for (const auto& op : *pass)
          if (op.kind != OpKind::dispatch && op.kind != OpKind::combine) tally.add(cm.time(op, sms));
    }
    fmt::print("{} (one micro-batch on every stage, {} SMs)\n", describe_tally(p, tally), sms);
    for (size_t i = 0; i < 3; ++i)
      fmt::print("  {:<13} {:>6} ops {:>12.3f} ms\n", to_string(TimeSource(i)), tally.ops[i], tally.time_ns[i] / 1e6);
    if (o->block < 0) return;
    if (o->block >= s->model.layers + s->model.mtp_depth)
      throw CLI::ValidationError(fmt::format("--block {}: the model has blocks 0..{}", o->block,
                                             s->model.layers + s->model.mtp_depth - 1));
    const LayerOps b = block_ops(s->model, o->block, context_of(*s));
    fmt::print("block {}:\n", o->block);
    fmt::print("  {:<44} {:<26} {:>10}  {}\n", "op", "kernel", "time (µs)", "source  [kernel shape @SMs]");
    for (const auto* pass : {&b.forward, &b.backward_input, &b.backward_weight})
      for (const auto& op : *pass) {
        const KernelKey key = kernel_key(op);
        if (key.kernel.empty()) {
          fmt::print("  {:<44} {:<26} {:>10}  network model\n", op.name, to_string(op.kind), "-");
          continue;
        }
        KernelRecord r{key.kernel, key.role, kernel_shape(op), sms, 0, 0, 0, 0, ""};
        const OpTime t = cm.time(op, sms);
        fmt::print("  {:<44} {:<26} {:>10.1f}  {}  [{}]\n", op.name, key.kernel + "/" + key.role, t.ns / 1e3,
                   to_string(t.source), record_label(r));
      }
  });
}

void add_calibrate_compare(CLI::App& cal) {
  auto* cmd = cal.add_subcommand("compare", "compare two profiles kernel by kernel; exit 1 on a slow-down");
  struct Opts {
    std::string old_p, new_p;
    double threshold_pct = 5;
    bool allow_missing = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("old", o->old_p, "baseline profile (name or JSON file)")->required();
  cmd->add_option("new", o->new_p, "candidate profile (name or JSON file)")->required();
  cmd->add_option("--threshold", o->threshold_pct, "allowed slow-down beyond the noise band, percent (default 5)")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_flag("--allow-missing", o->allow_missing, "do not fail when the new profile lacks a kernel of the old");
  cmd->callback([o] {
    Profile a, b;
    try {
      a = load_profile(resolve_profile(o->old_p, default_profile_dir()));
      b = load_profile(resolve_profile(o->new_p, default_profile_dir()));
    } catch (const ProfileError& e) {
      bad_input(e);
    }
    const CompareResult r = compare_profiles(a, b, o->threshold_pct / 100);
    fmt::print("{} → {}\n", a.file, b.file);
    // Timings from different machines or drivers differ for reasons other than the code: say so up front.
    if (a.device.name != b.device.name || a.device.driver != b.device.driver)
      fmt::print("note: devices differ: \"{}\" (driver \"{}\") vs \"{}\" (driver \"{}\")\n", a.device.name,
                 a.device.driver, b.device.name, b.device.driver);
    fmt::print("{}", format_compare(r, o->threshold_pct / 100));
    if (r.failed(o->allow_missing)) throw CLI::RuntimeError(1);
  });
}

}  // namespace

void add_calibrate(CLI::App& app) {
  auto* cal = app.add_subcommand("calibrate", "kernel shapes, profile runs and checks, kernel-timing regressions");
  cal->require_subcommand(1);
  add_shapes(*cal);
  add_calibrate_run(*cal);
  add_check(*cal);
  add_calibrate_compare(*cal);
}

}  // namespace cs::cli
