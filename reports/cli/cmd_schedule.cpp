// clustersim schedule [SCENARIO] [--kind K] [--pp N --microbatches M]: a pipeline schedule as a text chart, one row per
// rank with time flowing right (as in the figure of DeepSeek's DualPipe README), and the bubble per rank. Durations
// are units (F=1, B=2, W=1, F&B=F+B by default) until a cost model is plugged in.
#include <fmt/color.h>
#include <fmt/format.h>

#include <memory>
#include <numeric>
#include <stdexcept>

#include "reports/cli/commands.hpp"
#include "scenarios/scenario.hpp"
#include "sim/schedule/custom_file.hpp"
#include "sim/schedule/timeline.hpp"

namespace cs::cli {

namespace {

constexpr int64_t kMaxChartColumns = 1 << 20;  // characters per chart row

struct ScheduleOptions {
  std::string scenario;
  std::string kind;
  std::string file;
  int pp = 0;
  int micro_batches = 0;
  int virtual_stages = 0;
  int64_t f = 1, b = 2, w = 1, fb = 0, p2p = 0;
  int unit_chars = 0;  // 0: the fewest that fit every label
  bool color = false;
  bool list = false;
  bool no_overlap = false;
  bool no_chart = false;
};

sched::Schedule build(const ScheduleOptions& o) {
  sched::ScheduleParams p;
  std::string file = o.file;
  int model_blocks = 0;  // with a scenario: the most stages a custom file may cut its model into
  if (!o.scenario.empty()) {
    const Scenario s = load_scenario(o.scenario);
    model_blocks = s.model.layers + s.model.mtp_depth;
    const Layout& l = s.phases.front().layout;
    p.kind = s.schedule.kind;
    p.pp = l.pp;
    p.micro_batches = int(l.micro_batches());
    p.virtual_stages = l.virtual_stages;
    p.overlap_fb = s.schedule.overlap_fb;
    if (file.empty()) file = s.schedule.file;
  }
  if (!o.kind.empty()) p.kind = o.kind;
  if (o.pp > 0) p.pp = o.pp;
  if (o.micro_batches > 0) p.micro_batches = o.micro_batches;
  if (o.virtual_stages > 0) p.virtual_stages = o.virtual_stages;
  if (o.no_overlap) p.overlap_fb = false;
  if (p.kind.empty()) p.kind = file.empty() ? "" : "custom";
  // An option the schedule does not read is a mistake in the command, not something to ignore.
  if (o.virtual_stages > 0 && p.kind != "interleaved")
    throw CLI::ValidationError("--vstages",
                               fmt::format("only the interleaved schedule has virtual stages, not {}", p.kind));
  if (!o.file.empty() && p.kind != "custom")
    throw CLI::ValidationError("--file", fmt::format("only a custom schedule is read from a file, not {}", p.kind));
  if (o.no_overlap && p.kind != "dualpipe" && p.kind != "dualpipev")
    throw CLI::ValidationError("--no-overlap",
                               fmt::format("only DualPipe and DualPipeV overlap F&B pairs, not {}", p.kind));
  if (p.kind == "custom") {
    if (file.empty()) throw std::runtime_error("a custom schedule needs --file (or a scenario with schedule.file)");
    return sched::load_custom_schedule(file, o.pp > 0 || !o.scenario.empty() ? p.pp : 0,
                                       o.micro_batches > 0 || !o.scenario.empty() ? p.micro_batches : 0, model_blocks);
  }
  if (p.kind.empty() || p.pp <= 0 || p.micro_batches <= 0)
    throw std::runtime_error("give a scenario, or --kind, --pp and --microbatches");
  if (p.kind == "interleaved" && p.virtual_stages < 2 && o.virtual_stages == 0) p.virtual_stages = 2;
  return sched::make_schedule(p);
}

// A cell's text: the micro-batch id, with one prime per local chunk (the README's figure uses colours instead).
std::string label(const sched::Instruction& in, const std::vector<std::vector<int>>& chunk) {
  auto one = [&](const sched::Pass& p) {
    const char k = p.kind == sched::PassKind::F ? 'F' : p.kind == sched::PassKind::B ? 'B' : 'W';
    return fmt::format("{}{}{}", k, p.mb, std::string(size_t(chunk[p.dir][p.stage]), '\''));
  };
  if (in.op == sched::Op::FB) return one(in.pass) + "&" + one(in.pass2);
  return one(in.pass);
}

fmt::text_style style(const sched::Instruction& in, const std::vector<std::vector<int>>& chunk) {
  const bool rev = chunk[in.pass.dir][in.pass.stage] % 2 == 1;
  switch (in.op) {
    case sched::Op::F: return fmt::bg(rev ? fmt::terminal_color::bright_blue : fmt::terminal_color::blue);
    case sched::Op::B: return fmt::bg(rev ? fmt::terminal_color::bright_green : fmt::terminal_color::green);
    case sched::Op::W: return fmt::bg(fmt::terminal_color::yellow) | fmt::fg(fmt::terminal_color::black);
    default: return fmt::bg(fmt::terminal_color::magenta);
  }
}

void print_chart(const sched::Schedule& s, const sched::Timeline& t, const ScheduleOptions& o) {
  // One column group per time unit: the gcd of all compute starts and durations keeps every cell aligned.
  TimeNs unit = 0;
  for (const auto& r : t.ranks)
    for (const auto& op : r.ops)
      if (op.in.is_compute()) unit = std::gcd(unit, std::gcd(op.start, op.end - op.start));
  if (unit <= 0) unit = 1;
  const auto chunk = sched::local_chunks(s);
  int64_t cw = o.unit_chars;
  if (cw <= 0) {
    cw = 2;
    for (const auto& r : t.ranks)
      for (const auto& op : r.ops)
        if (op.in.is_compute() && op.end > op.start) {
          const int64_t units = (op.end - op.start) / unit;
          const int64_t need = int64_t(label(op.in, chunk).size()) + 1;  // the label and a separator
          cw = std::max(cw, (need + units - 1) / units);
        }
  }
  // Durations with no common unit (say F = 2^32, B = 2) would make rows of billions of characters.
  const int64_t columns = t.makespan / unit;
  const bool chart = !o.no_chart && columns <= kMaxChartColumns / cw;
  fmt::print("{} schedule, {} ranks, {} micro-batches{}; F={} B={} W={} F&B={} p2p={}; one column = {} time unit{}\n",
             s.kind, s.ranks, s.micro_batches * s.dirs, s.dirs == 2 ? " (half from each end; ' = reverse direction)" : s.stages > s.ranks ? " (' = the rank's next chunk)" : "",
             o.f, o.b, o.w, o.fb > 0 ? o.fb : o.f + o.b, o.p2p, unit, unit == 1 ? "" : "s");
  if (!o.no_chart && !chart)
    fmt::print("(chart left out: {} time units of {} characters each, more than {} characters per row; durations "
               "with a larger common divisor give a shorter chart)\n",
               columns, cw, kMaxChartColumns);
  for (int r = 0; r < s.ranks && chart; ++r) {
    std::string row;
    TimeNs now = 0;
    for (const auto& op : t.ranks[r].ops) {
      if (!op.in.is_compute() || op.end == op.start) continue;  // a zero-length pass (--w 0) takes no cell
      if (op.start > now) row += std::string(size_t((op.start - now) / unit * cw), '.');
      const size_t span = size_t((op.end - op.start) / unit * cw);
      std::string text = label(op.in, chunk);
      if (text.size() + 1 > span) text = text.substr(0, span > 0 ? span - 1 : 0);
      text += std::string(span - text.size() - (o.color ? 0 : 1), ' ');
      if (o.color) {
        row += fmt::format(style(op.in, chunk), "{}", text);
      } else {
        row += text + "|";
      }
      now = op.end;
    }
    if (t.makespan > now) row += std::string(size_t((t.makespan - now) / unit * cw), '.');
    fmt::print("rank {:>3} {}\n", r, row);
  }
  fmt::print("\nmakespan {}\n", t.makespan);
  for (int r = 0; r < s.ranks; ++r) {
    const auto& rt = t.ranks[r];
    fmt::print("rank {:>3}: busy {} idle {} ({:.1f}%), activations in flight peak {}\n", r, rt.busy, rt.idle,
               t.makespan > 0 ? 100.0 * double(rt.idle) / double(t.makespan) : 0.0, rt.peak_in_flight);
  }
}

void print_lists(const sched::Schedule& s, const sched::Timeline& t) {
  for (int r = 0; r < s.ranks; ++r) {
    fmt::print("rank {}:\n", r);
    for (const auto& op : t.ranks[r].ops)
      fmt::print("  {:>6} {:>6}  {}\n", op.start, op.end, sched::to_string(op.in, true));
  }
}

}  // namespace

void add_schedule(CLI::App& app) {
  auto* cmd = app.add_subcommand("schedule", "a pipeline schedule as a chart (one row per rank) with the bubble per rank");
  auto opts = std::make_shared<ScheduleOptions>();  // owned by the callback: no state outlives the app
  ScheduleOptions& o = *opts;
  cmd->add_option("scenario", o.scenario, "scenario YAML file (its layout and schedule are the defaults)");
  cmd->add_option("--kind", o.kind, "schedule")
      ->check(CLI::IsMember({"1f1b", "interleaved", "zb1p", "dualpipe", "dualpipev", "custom"}));
  cmd->add_option("--file", o.file, "custom schedule file (kind custom)");
  cmd->add_option("--pp", o.pp, "pipeline ranks")->check(CLI::Range(1, 4096));
  cmd->add_option("--microbatches", o.micro_batches, "micro-batches per step")
      ->check(CLI::Range(int64_t(1), sched::kMaxMicroBatches));
  cmd->add_option("--vstages", o.virtual_stages, "interleaved: model chunks per rank (default 2)")->check(CLI::Range(1, 64));
  cmd->add_option("--f", o.f, "duration of a forward chunk (default 1)")->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--b", o.b, "duration of a full backward chunk (default 2)")->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--w", o.w, "duration of the weight-gradient part of B (default 1; a split B takes B − W)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd->add_option("--fb", o.fb, "duration of an overlapped F&B pair (default F + B)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--p2p", o.p2p, "pipeline send latency (default 0)")->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd->add_option("--unit-chars", o.unit_chars, "characters per time unit in the chart (default: the fewest that fit every label)")
      ->check(CLI::Range(1, 16));
  cmd->add_flag("--color", o.color, "colour the cells (F blue, B green, W yellow, F&B magenta)");
  cmd->add_flag("--list", o.list, "also print each rank's instruction list with sends/receives and times");
  cmd->add_flag("--no-overlap", o.no_overlap, "DualPipe: run F&B pairs as F then B");
  cmd->add_flag("--no-chart", o.no_chart, "only the makespan and the bubble per rank (long schedules)");
  cmd->callback([opts] {
    const ScheduleOptions& o = *opts;
    if (o.w >= o.b) throw std::runtime_error(fmt::format("--w ({}) must be below --b ({}): W is part of B", o.w, o.b));
    const sched::Schedule s = build(o);
    const sched::Timeline t = sched::run_timeline(s, sched::unit_costs(o.f, o.b, o.w, o.fb > 0 ? o.fb : o.f + o.b, o.p2p));
    print_chart(s, t, o);
    if (o.list) print_lists(s, t);
  });
}

}  // namespace cs::cli
