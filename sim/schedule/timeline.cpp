#include "sim/schedule/timeline.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cs::sched {

TimelineCosts unit_costs(TimeNs f, TimeNs b, TimeNs w, TimeNs fb, TimeNs p2p) {
  TimelineCosts c;
  c.duration = [=](const Instruction& in, int) -> TimeNs {
    switch (in.op) {
      case Op::F: return f;
      case Op::B: return in.pass.split ? b - w : b;
      case Op::W: return w;
      case Op::FB: return in.pass2.split ? fb - w : fb;
      default: return 0;
    }
  };
  c.transfer = [=](const Pass&, int, int) { return p2p; };
  return c;
}

namespace {

constexpr TimeNs kUnknown = -1;

// Dense per-pass tables: index = ((kind · dirs + dir) · stages + stage) · micro_batches + mb.
struct PassTable {
  const Schedule& s;
  size_t of(const Pass& p) const {
    return ((size_t(p.kind) * s.dirs + p.dir) * s.stages + p.stage) * s.micro_batches + p.mb;
  }
  size_t size() const { return size_t(3) * s.dirs * s.stages * s.micro_batches; }
};

struct RankState {
  size_t pos = 0;
  TimeNs free = 0;                // end of the last compute instruction
  TimeNs recv_wait = 0;           // latest arrival among the resolved receives
  std::vector<size_t> open_recv;  // posted receives whose data has not left yet
  int in_flight = 0;
  bool started = false;
};

class Runner {
 public:
  Runner(const Schedule& s, const TimelineCosts& c) : s_(s), c_(c), t_{s}, end_(t_.size(), kUnknown),
        leave_(t_.size(), kUnknown), has_send_(t_.size(), false), st_(s.ranks) {
    out_.ranks.resize(s.ranks);
    for (int r = 0; r < s.ranks; ++r) {
      out_.ranks[r].ops.reserve(s.ops[r].size());
      for (const Instruction& in : s.ops[r]) {
        out_.ranks[r].ops.push_back(TimedInstruction{in, kUnknown, kUnknown});
        if (in.op == Op::Send && valid(in.pass)) has_send_[t_.of(in.pass)] = true;
      }
    }
  }

  Timeline run() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (int r = 0; r < s_.ranks; ++r) progress |= advance(r);
    }
    report_deadlock();
    for (auto& rt : out_.ranks) out_.makespan = std::max(out_.makespan, rt.last_end);
    for (auto& rt : out_.ranks) rt.idle = out_.makespan - rt.busy;
    return std::move(out_);
  }

 private:
  bool valid(const Pass& p) const {
    return p.dir >= 0 && p.dir < s_.dirs && p.stage >= 0 && p.stage < s_.stages && p.mb >= 0 &&
           p.mb < s_.micro_batches;
  }

  // When `data`'s output is usable on rank `r`, or kUnknown while it is not.
  TimeNs arrival(const Pass& data, int r) const {
    const size_t i = t_.of(data);
    const int from = s_.rank_of(data.dir, data.stage);
    if (from == r) return end_[i];
    const TimeNs left = has_send_[i] ? leave_[i] : end_[i];
    if (left == kUnknown) return kUnknown;
    return left + (c_.transfer ? c_.transfer(data, from, r) : 0);
  }

  // The inputs a compute pass needs; appends them to `deps`.
  void inputs(const Pass& p, std::vector<Pass>& deps) const {
    if (p.kind == PassKind::F && p.stage > 0) deps.push_back({PassKind::F, p.dir, p.stage - 1, p.mb});
    if (p.kind == PassKind::B) {
      deps.push_back({PassKind::F, p.dir, p.stage, p.mb});
      if (p.stage + 1 < s_.stages) deps.push_back({PassKind::B, p.dir, p.stage + 1, p.mb});
    }
    if (p.kind == PassKind::W) deps.push_back({PassKind::B, p.dir, p.stage, p.mb});
  }

  bool advance(int r) {
    RankState& st = st_[r];
    RankTimeline& rt = out_.ranks[r];
    bool moved = false;
    while (st.pos < rt.ops.size()) {
      TimedInstruction& ti = rt.ops[st.pos];
      const Instruction& in = ti.in;
      if (in.op == Op::Recv) {  // posting never blocks; the next compute waits for it
        st.open_recv.push_back(st.pos++);
        moved = true;
        continue;
      }
      if (in.op == Op::Send) {
        if (!valid(in.pass) || end_[t_.of(in.pass)] == kUnknown) return moved;  // producer not run yet
        ti.start = ti.end = leave_[t_.of(in.pass)] = st.free;
        ++st.pos;
        moved = true;
        continue;
      }
      // Compute: every posted receive must have arrived, and every input must be known.
      for (size_t k : st.open_recv) {
        TimedInstruction& rv = rt.ops[k];
        if (rv.end != kUnknown) continue;
        if (!valid(rv.in.pass)) return moved;
        const TimeNs a = arrival(rv.in.pass, r);
        if (a == kUnknown) return moved;
        rv.start = rv.end = a;
        st.recv_wait = std::max(st.recv_wait, a);
      }
      st.open_recv.clear();
      deps_.clear();
      inputs(in.pass, deps_);
      if (in.op == Op::FB) inputs(in.pass2, deps_);
      TimeNs start = std::max(st.free, st.recv_wait);
      for (const Pass& d : deps_) {
        if (!valid(d)) return moved;
        const TimeNs a = arrival(d, r);
        if (a == kUnknown) return moved;
        start = std::max(start, a);
      }
      const TimeNs dur = c_.duration(in, r);
      ti.start = start;
      ti.end = start + dur;
      rt.busy += dur;
      if (!st.started) rt.first_start = start;
      st.started = true;
      rt.last_end = std::max(rt.last_end, ti.end);
      st.free = ti.end;
      // Activations: an F holds its micro-batch's activations from its start until the matching B ends.
      auto begin_pass = [&](const Pass& p) {
        if (p.kind == PassKind::F) rt.peak_in_flight = std::max(rt.peak_in_flight, ++st.in_flight);
      };
      auto end_pass = [&](const Pass& p) {
        if (p.kind == PassKind::B) --st.in_flight;
        end_[t_.of(p)] = ti.end;
      };
      begin_pass(in.pass);
      if (in.op == Op::FB) begin_pass(in.pass2);
      end_pass(in.pass);
      if (in.op == Op::FB) end_pass(in.pass2);
      ++st.pos;
      moved = true;
    }
    return moved;
  }

  std::string blocked_at(int r) const {
    const auto& ops = out_.ranks[r].ops;
    return st_[r].pos < ops.size() ? fmt::format("op #{} {}", st_[r].pos, to_string(ops[st_[r].pos].in, true))
                                   : "its end";
  }

  std::string waiting_for(const Pass& d, int r) const {
    const int from = s_.rank_of(d.dir, d.stage);
    std::string what = fmt::format("{} on rank {}", to_string(d, true), from);
    if (from != r && end_[t_.of(d)] != kUnknown) what += " to be sent";
    if (from != r) what += fmt::format(" (rank {} is stuck at {})", from, blocked_at(from));
    return what;
  }

  void report_deadlock() const {
    std::vector<ScheduleDeadlock::Wait> waits;
    for (int r = 0; r < s_.ranks; ++r) {
      const auto& ops = out_.ranks[r].ops;
      const RankState& st = st_[r];
      if (st.pos >= ops.size()) continue;
      const Instruction& in = ops[st.pos].in;
      std::vector<Pass> missing;
      for (size_t k : st.open_recv)
        if (ops[k].end == kUnknown && (!valid(ops[k].in.pass) || arrival(ops[k].in.pass, r) == kUnknown))
          missing.push_back(ops[k].in.pass);
      std::vector<Pass> deps;
      if (in.op == Op::Send) {
        deps.push_back(in.pass);
      } else if (in.is_compute()) {
        inputs(in.pass, deps);
        if (in.op == Op::FB) inputs(in.pass2, deps);
      }
      for (const Pass& d : deps)
        if ((!valid(d) || (in.op == Op::Send ? end_[t_.of(d)] : arrival(d, r)) == kUnknown) &&
            std::find(missing.begin(), missing.end(), d) == missing.end())
          missing.push_back(d);
      std::string what;
      for (const Pass& d : missing)
        what += (what.empty() ? "" : "; ") + (valid(d) ? waiting_for(d, r) : to_string(d, true) + " (not in the schedule)");
      waits.push_back({r, st.pos, what});
    }
    if (waits.empty()) return;
    std::string msg = "the schedule deadlocks:";
    for (const auto& w : waits)
      msg += fmt::format("\n  rank {} waits at {} for {}", w.rank, blocked_at(w.rank), w.waits_for);
    throw ScheduleDeadlock(msg, std::move(waits));
  }

  const Schedule& s_;
  const TimelineCosts& c_;
  PassTable t_;
  std::vector<TimeNs> end_;    // when each pass ended
  std::vector<TimeNs> leave_;  // when each pass's output left its rank (explicit Send)
  std::vector<bool> has_send_;
  std::vector<RankState> st_;
  std::vector<Pass> deps_;
  Timeline out_;
};

}  // namespace

Timeline run_timeline(const Schedule& s, const TimelineCosts& costs) {
  if (!costs.duration) throw std::invalid_argument("run_timeline: no duration callback");
  return Runner(s, costs).run();
}

}  // namespace cs::sched
