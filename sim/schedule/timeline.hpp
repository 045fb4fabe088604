// The pipeline executor core: runs the instruction lists of all ranks against their cross-rank dependencies and gives
// every instruction a start and end time.
//
// Semantics (those of the reference implementations, with sends buffered):
//   - A rank runs its compute instructions one at a time, in list order.
//   - F of stage s needs the output of F of stage s−1 (same direction, same micro-batch); B of stage s needs its own F
//     and the output of B of stage s+1; W needs its split B; an F&B pair needs the inputs of both halves.
//   - Output crossing to another rank arrives `transfer(...)` ns after it leaves. It leaves when the producing rank
//     reaches its Send (the end of the last compute instruction listed before the Send: the reference queues sends and
//     launches them at the next communication commit), or at the producer's end when the lists carry no Send for it.
//     Output staying on the rank is available at the producer's end.
//   - A Recv makes every later compute instruction of its rank wait for that data (the reference waits for all
//     posted receives before each compute, including W).
//   - Sends never block the sender: the rendezvous of a real p2p library is not modelled.
// Ties: a rank's instruction starts at the max of its inputs, so the result does not depend on the order in which
// ranks are visited; the visiting order is fixed anyway (ascending rank).
//
// Two ways in. run_timeline() drives everything from two callbacks (a duration per compute instruction, a latency per
// transfer): charts, bubble formulas, quick what-ifs. PipelineState is the dependency logic alone, for a driver that
// owns time itself — the full executor, where a compute's end depends on its SM share and on the all-to-all it hides
// (F&B), and a transfer's arrival on network flows: it polls a rank for its next compute and the earliest start the
// dependencies allow, reports start and finish, takes the transfers that left, and reports their arrival.
#pragma once
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/schedule/schedule.hpp"
#include "sim/time.hpp"

namespace cs::sched {

struct TimelineCosts {
  // Duration of a compute instruction (F, B, W or FB) on `rank`.
  std::function<TimeNs(const Instruction& in, int rank)> duration;
  // Latency of moving `data`'s output from rank `from` to rank `to` (0 when absent).
  std::function<TimeNs(const Pass& data, int from, int to)> transfer;
};

// Unit costs for charts and the bubble formulas: F, full B, W and an overlapped F&B pair. A split B costs B − W; a
// pair whose backward is split costs fb − W.
TimelineCosts unit_costs(TimeNs f, TimeNs b, TimeNs w, TimeNs fb, TimeNs p2p = 0);

struct TimedInstruction {
  Instruction in;
  TimeNs start = 0;  // compute: when it starts running; Send: when the data leaves; Recv: when the data arrives
  TimeNs end = 0;
};

struct RankTimeline {
  std::vector<TimedInstruction> ops;  // same order as the schedule's list
  TimeNs busy = 0;                    // sum of compute durations
  TimeNs idle = 0;                    // makespan − busy: the rank's bubble over the whole step
  TimeNs first_start = 0, last_end = 0;
  int peak_in_flight = 0;             // max micro-batch stages whose F has started and whose B has not ended
};

struct Timeline {
  std::vector<RankTimeline> ranks;
  TimeNs makespan = 0;
};

// A rank blocked forever: which instruction it waits at and for what.
class ScheduleDeadlock : public std::runtime_error {
 public:
  struct Wait {
    int rank;
    size_t index;           // position in the rank's list
    std::string waits_for;  // e.g. "B0 d0 s2 on rank 2 (which waits at op #5)"
  };
  ScheduleDeadlock(std::string what, std::vector<Wait> waits) : std::runtime_error(what), waits_(std::move(waits)) {}
  const std::vector<Wait>& waits() const { return waits_; }

 private:
  std::vector<Wait> waits_;
};

// Output of one pass leaving its rank for the rank that consumes it.
struct Transfer {
  Pass data;  // the producing pass
  int from = 0, to = 0;
  TimeNs leave = 0;
};

class PipelineState {
 public:
  explicit PipelineState(const Schedule& s);  // `s` must outlive the state
  ~PipelineState();
  PipelineState(PipelineState&&) noexcept;
  PipelineState& operator=(PipelineState&&) noexcept;

  struct Poll {
    bool done = false;   // the rank has run its whole list
    bool ready = false;  // the next compute may start (all its inputs and the rank's posted receives are known)
    size_t index = 0;    // that compute in the rank's list
    TimeNs earliest = 0; // when ready: the earliest start (rank free, receives arrived, inputs available)
  };
  // Moves `rank` past the sends and receives before its next compute (sends leave at the rank's free time and go to
  // the outbox) and says whether that compute can start. Never blocks; poll again after arrivals or finishes.
  Poll poll(int rank);
  void start(int rank, TimeNs t);   // the polled compute starts at t ≥ earliest
  void finish(int rank, TimeNs t);  // and ends at t; the rank is free again (poll it to release the sends after it)
  // Transfers that left since the last call, in the order they left (ties: by rank, then list order).
  std::vector<Transfer> take_transfers();
  void arrived(const Pass& data, TimeNs t);  // `data`'s output reached its consumer's rank at t

  bool finished() const;
  // Throws ScheduleDeadlock describing each unfinished rank (call when no driver event is left).
  [[noreturn]] void throw_deadlock() const;
  // Per-rank results so far (start/end of every instruction run, busy, peak activations); idle is set by result().
  Timeline result() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the schedule with fixed costs. The schedule should pass check_schedule() first: a missing producer shows up as
// a deadlock. Throws ScheduleDeadlock naming each blocked rank and what it waits for.
Timeline run_timeline(const Schedule& s, const TimelineCosts& costs);

}  // namespace cs::sched
