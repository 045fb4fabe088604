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

std::vector<Pass> passes_of(const Instruction& in) {
  if (in.op == Op::FB) return {in.pass, in.pass2};
  return {in.pass};
}

}  // namespace

struct PipelineState::Impl {
  struct Rank {
    size_t pos = 0;
    TimeNs free = 0;                // end of the last compute instruction
    TimeNs recv_wait = 0;           // latest arrival among the resolved receives
    std::vector<size_t> open_recv;  // posted receives whose data has not arrived yet
    bool running = false;
    bool started = false;
    int in_flight = 0;
  };

  const Schedule& s;
  std::vector<TimeNs> end;      // per pass: when it ended
  std::vector<TimeNs> arrival;  // per pass: when its output reached the consumer's rank (cross-rank only)
  std::vector<bool> has_send;   // per pass: the lists carry an explicit Send for its output
  std::vector<Rank> ranks;
  std::vector<Transfer> outbox;
  Timeline out;

  explicit Impl(const Schedule& sched)
      : s(sched), end(size(), kUnknown), arrival(size(), kUnknown), has_send(size(), false), ranks(sched.ranks) {
    out.ranks.resize(s.ranks);
    for (int r = 0; r < s.ranks; ++r) {
      out.ranks[r].ops.reserve(s.ops[r].size());
      for (const Instruction& in : s.ops[r]) {
        out.ranks[r].ops.push_back(TimedInstruction{in, kUnknown, kUnknown});
        if (in.op == Op::Send && valid(in.pass)) has_send[index(in.pass)] = true;
      }
    }
  }

  // Dense per-pass tables: index = ((kind · dirs + dir) · stages + stage) · micro_batches + mb.
  size_t size() const { return size_t(3) * s.dirs * s.stages * s.micro_batches; }
  size_t index(const Pass& p) const {
    return ((size_t(p.kind) * s.dirs + p.dir) * s.stages + p.stage) * s.micro_batches + p.mb;
  }
  bool valid(const Pass& p) const {
    return p.dir >= 0 && p.dir < s.dirs && p.stage >= 0 && p.stage < s.stages && p.mb >= 0 && p.mb < s.micro_batches;
  }
  int rank_of(const Pass& p) const { return s.rank_of(p.dir, p.stage); }

  // When `data`'s output is usable on rank `r`, or kUnknown while it is not.
  TimeNs available(const Pass& data, int r) const {
    return rank_of(data) == r ? end[index(data)] : arrival[index(data)];
  }

  // The other passes a compute pass needs.
  void inputs(const Pass& p, std::vector<Pass>& deps) const {
    if (p.kind == PassKind::F && p.stage > 0) deps.push_back({PassKind::F, p.dir, p.stage - 1, p.mb});
    if (p.kind == PassKind::B) {
      deps.push_back({PassKind::F, p.dir, p.stage, p.mb});
      if (p.stage + 1 < s.stages) deps.push_back({PassKind::B, p.dir, p.stage + 1, p.mb});
    }
    if (p.kind == PassKind::W) deps.push_back({PassKind::B, p.dir, p.stage, p.mb});
  }
  std::vector<Pass> inputs_of(const Instruction& in) const {
    std::vector<Pass> deps;
    for (const Pass& p : passes_of(in)) inputs(p, deps);
    return deps;
  }

  // The rank holding the consumer of `p`'s output, or −1.
  int consumer_rank(const Pass& p) const {
    if (p.kind == PassKind::F && p.stage + 1 < s.stages) return s.rank_of(p.dir, p.stage + 1);
    if (p.kind == PassKind::B && p.stage > 0) return s.rank_of(p.dir, p.stage - 1);
    return -1;
  }

  void send(int r, const Pass& p, TimeNs leave) {
    outbox.push_back(Transfer{p, r, consumer_rank(p), leave});
  }

  Poll poll(int r) {
    Rank& st = ranks[r];
    auto& ops = out.ranks[r].ops;
    Poll res;
    if (st.running) return res;  // the driver has not finished the current compute yet
    while (st.pos < ops.size() && !ops[st.pos].in.is_compute()) {
      TimedInstruction& ti = ops[st.pos];
      if (ti.in.op == Op::Send) {
        if (!valid(ti.in.pass) || end[index(ti.in.pass)] == kUnknown) return res;  // producer not run yet
        ti.start = ti.end = st.free;  // queued sends go out at the next commit: when the rank is free
        send(r, ti.in.pass, st.free);
      } else {
        st.open_recv.push_back(st.pos);  // posting never blocks; the next compute waits for it
      }
      ++st.pos;
    }
    if (st.pos >= ops.size()) {
      res.done = true;
      return res;
    }
    res.index = st.pos;
    TimeNs earliest = std::max(st.free, st.recv_wait);
    for (size_t k : st.open_recv) {
      const Pass& d = ops[k].in.pass;
      if (!valid(d) || arrival[index(d)] == kUnknown) return res;
      earliest = std::max(earliest, arrival[index(d)]);
    }
    for (const Pass& d : inputs_of(ops[st.pos].in)) {
      if (!valid(d) || available(d, r) == kUnknown) return res;
      earliest = std::max(earliest, available(d, r));
    }
    res.ready = true;
    res.earliest = earliest;
    return res;
  }

  void start(int r, TimeNs t) {
    Rank& st = ranks[r];
    RankTimeline& rt = out.ranks[r];
    // A driver bug, not a schedule problem: starting what poll() did not report ready.
    if (st.running || st.pos >= rt.ops.size() || !rt.ops[st.pos].in.is_compute())
      throw std::logic_error(fmt::format("PipelineState::start: rank {} has no compute waiting to start", r));
    for (size_t k : st.open_recv)
      if (arrival[index(rt.ops[k].in.pass)] == kUnknown)
        throw std::logic_error(fmt::format("PipelineState::start: rank {} starts before its receives arrived", r));
    for (size_t k : st.open_recv) {  // the receives this compute waited for: record their arrival
      TimedInstruction& rv = rt.ops[k];
      rv.start = rv.end = arrival[index(rv.in.pass)];
      st.recv_wait = std::max(st.recv_wait, rv.end);
    }
    st.open_recv.clear();
    TimedInstruction& ti = rt.ops[st.pos];
    ti.start = t;
    st.running = true;
    if (!st.started) rt.first_start = t;
    st.started = true;
    // Activations: an F holds its micro-batch's activations from its start until the matching B ends.
    for (const Pass& p : passes_of(ti.in))
      if (p.kind == PassKind::F) rt.peak_in_flight = std::max(rt.peak_in_flight, ++st.in_flight);
  }

  void finish(int r, TimeNs t) {
    Rank& st = ranks[r];
    RankTimeline& rt = out.ranks[r];
    if (!st.running) throw std::logic_error(fmt::format("PipelineState::finish: rank {} runs nothing", r));
    TimedInstruction& ti = rt.ops[st.pos];
    ti.end = t;
    rt.busy += t - ti.start;
    rt.last_end = std::max(rt.last_end, t);
    st.free = t;
    st.running = false;
    for (const Pass& p : passes_of(ti.in)) {
      if (p.kind == PassKind::B) --st.in_flight;
      end[index(p)] = t;
      const int to = consumer_rank(p);  // output crossing ranks with no Send listed leaves at once
      if (to >= 0 && to != r && !has_send[index(p)]) send(r, p, t);
    }
    ++st.pos;
  }

  std::string blocked_at(int r) const {
    const auto& ops = out.ranks[r].ops;
    return ranks[r].pos < ops.size() ? fmt::format("op #{} {}", ranks[r].pos, to_string(ops[ranks[r].pos].in, true))
                                     : "its end";
  }

  [[noreturn]] void throw_deadlock() const {
    std::vector<ScheduleDeadlock::Wait> waits;
    for (int r = 0; r < s.ranks; ++r) {
      const auto& ops = out.ranks[r].ops;
      const Rank& st = ranks[r];
      if (st.pos >= ops.size()) continue;
      const Instruction& in = ops[st.pos].in;
      std::vector<Pass> missing;
      auto add = [&](const Pass& d) {
        if (std::find(missing.begin(), missing.end(), d) == missing.end()) missing.push_back(d);
      };
      for (size_t k : st.open_recv)
        if (!valid(ops[k].in.pass) || arrival[index(ops[k].in.pass)] == kUnknown) add(ops[k].in.pass);
      if (in.op == Op::Send) {
        add(in.pass);
      } else {
        for (const Pass& d : inputs_of(in))
          if (!valid(d) || available(d, r) == kUnknown) add(d);
      }
      std::string what;
      for (const Pass& d : missing) {
        if (!what.empty()) what += "; ";
        if (!valid(d)) {
          what += to_string(d, true) + " (not in the schedule)";
          continue;
        }
        const int from = rank_of(d);
        what += fmt::format("{} on rank {}", to_string(d, true), from);
        if (from != r && end[index(d)] != kUnknown) what += " to arrive (it ran; is its Send listed?)";
        if (from != r && end[index(d)] == kUnknown) what += fmt::format(" (rank {} is stuck at {})", from, blocked_at(from));
      }
      waits.push_back({r, st.pos, what});
    }
    std::string msg = "the schedule deadlocks:";
    for (const auto& w : waits) msg += fmt::format("\n  rank {} waits at {} for {}", w.rank, blocked_at(w.rank), w.waits_for);
    throw ScheduleDeadlock(msg, std::move(waits));
  }

  Timeline result() const {
    Timeline t = out;
    for (const auto& rt : t.ranks) t.makespan = std::max(t.makespan, rt.last_end);
    for (auto& rt : t.ranks) rt.idle = t.makespan - rt.busy;
    return t;
  }
};

PipelineState::PipelineState(const Schedule& s) : impl_(std::make_unique<Impl>(s)) {}
PipelineState::~PipelineState() = default;
PipelineState::PipelineState(PipelineState&&) noexcept = default;
PipelineState& PipelineState::operator=(PipelineState&&) noexcept = default;

PipelineState::Poll PipelineState::poll(int rank) { return impl_->poll(rank); }
void PipelineState::start(int rank, TimeNs t) { impl_->start(rank, t); }
void PipelineState::finish(int rank, TimeNs t) { impl_->finish(rank, t); }
std::vector<Transfer> PipelineState::take_transfers() {
  std::vector<Transfer> t;
  t.swap(impl_->outbox);
  return t;
}
void PipelineState::arrived(const Pass& data, TimeNs t) { impl_->arrival[impl_->index(data)] = t; }
bool PipelineState::finished() const {
  for (int r = 0; r < impl_->s.ranks; ++r)
    if (impl_->ranks[r].pos < impl_->out.ranks[r].ops.size()) return false;
  return true;
}
void PipelineState::throw_deadlock() const { impl_->throw_deadlock(); }
Timeline PipelineState::result() const { return impl_->result(); }

Timeline run_timeline(const Schedule& s, const TimelineCosts& costs) {
  if (!costs.duration) throw std::invalid_argument("run_timeline: no duration callback");
  PipelineState state(s);
  // With fixed costs every start is the max of known times, so one sweep after another (ranks in ascending order)
  // reaches the same times whatever order the ranks are visited in.
  bool progress = true;
  while (progress) {
    progress = false;
    for (int r = 0; r < s.ranks; ++r) {
      for (;;) {
        const PipelineState::Poll p = state.poll(r);
        for (const Transfer& t : state.take_transfers()) {
          state.arrived(t.data, t.leave + (costs.transfer ? costs.transfer(t.data, t.from, t.to) : 0));
          progress = true;
        }
        if (!p.ready) break;
        state.start(r, p.earliest);
        state.finish(r, p.earliest + costs.duration(s.ops[r][p.index], r));
        for (const Transfer& t : state.take_transfers())
          state.arrived(t.data, t.leave + (costs.transfer ? costs.transfer(t.data, t.from, t.to) : 0));
        progress = true;
      }
    }
  }
  if (!state.finished()) state.throw_deadlock();
  return state.result();
}

}  // namespace cs::sched
