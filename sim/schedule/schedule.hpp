// Pipeline schedules as per-rank instruction lists.
//
// A schedule says, for every pipeline rank, the order in which it runs its compute passes (F, B, W, or an overlapped
// F&B pair) and where it posts the point-to-point sends and receives those passes imply. It says nothing about time:
// the timeline (timeline.hpp) turns the lists into start/end times given a duration per instruction, and the full
// executor reuses the same lists with cost-model and network times.
//
// Naming: a micro-batch flows through the stages 0 .. stages−1 of its direction. Every schedule but DualPipe has one
// direction; DualPipe has two (direction 0 enters at rank 0, direction 1 at rank PP−1), each with N/2 micro-batches.
// `stage_rank[dir][stage]` says which rank holds a stage, so a rank may hold several stages (interleaved 1F1B: v
// chunks; DualPipe: stage r of direction 0 and stage r of direction 1, which sits at position PP−1−r of the chain;
// DualPipeV: stages r and 2·PP−1−r of one V-shaped chain).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cs::sched {

enum class PassKind : uint8_t { F, B, W };

// One pass of one micro-batch through one stage. `split` (B only): the backward computes the input gradient only and
// a later W pass computes the weight gradient (zero-bubble split); otherwise B is the full backward.
struct Pass {
  PassKind kind = PassKind::F;
  int dir = 0;
  int stage = 0;
  int mb = 0;  // micro-batch index within its direction
  bool split = false;
  bool operator==(const Pass&) const = default;
};

enum class Op : uint8_t {
  F,     // pass: forward
  B,     // pass: backward (full, or input-gradient only when pass.split)
  W,     // pass: weight gradient of an earlier split B
  FB,    // pass = the forward, pass2 = the backward, run overlapped (DualPipe's F&B)
  Send,  // pass = the producing pass whose output leaves for the rank holding the consumer
  Recv,  // pass = the producing pass (on another rank) whose output this rank waits for
};

struct Instruction {
  Op op = Op::F;
  Pass pass;
  Pass pass2;     // FB only: the backward half
  int peer = -1;  // Send/Recv: the other rank
  bool is_compute() const { return op == Op::F || op == Op::B || op == Op::W || op == Op::FB; }
};

inline Instruction instruction(Op o, Pass p, int peer = -1) {
  Instruction in;
  in.op = o;
  in.pass = p;
  in.peer = peer;
  return in;
}

struct Schedule {
  std::string kind;                          // 1f1b, interleaved, zb1p, dualpipe, dualpipev, custom
  int ranks = 0;
  int dirs = 1;
  int stages = 0;                            // per direction
  int micro_batches = 0;                     // per direction
  std::vector<std::vector<int>> stage_rank;  // [dir][stage] → rank
  std::vector<std::vector<Instruction>> ops; // [rank] → instructions in issue order
  int rank_of(int dir, int stage) const { return stage_rank[dir][stage]; }
};

// A micro-batch's index over the whole step (DualPipe's direction 1 follows direction 0).
inline int global_micro_batch(const Schedule& s, const Pass& p) { return p.dir * s.micro_batches + p.mb; }

// [dir][stage] → which of its rank's stages it is, counted in (direction, stage) order: the model chunk on that rank
// (interleaving's chunk c; 1 for DualPipe's reverse direction and DualPipeV's way back).
std::vector<std::vector<int>> local_chunks(const Schedule& s);

// Bad parameters (odd PP for DualPipe, too few micro-batches, …): the message says what is allowed.
class ScheduleError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Size limits: a schedule holds several instructions per (rank, micro-batch, chunk), ~50 bytes each, and the step
// simulation a timeline of them; beyond these a request is refused with a message instead of exhausting memory.
inline constexpr int64_t kMaxMicroBatches = int64_t(1) << 16;  // per step
inline constexpr int64_t kMaxPasses = int64_t(1) << 20;        // ranks × micro-batches × chunks per rank
// Model chunks a rank of a generated schedule holds: interleaving's virtual stages, DualPipe(V)'s two, else one.
inline int chunks_per_rank(const std::string& kind, int virtual_stages) {
  if (kind == "interleaved") return virtual_stages > 1 ? virtual_stages : 1;
  return kind == "dualpipe" || kind == "dualpipev" ? 2 : 1;
}
// Whether a step of this size is within the limits above (micro_batches may exceed int: a scenario's batch).
inline bool within_size_limits(const std::string& kind, int64_t pp, int64_t micro_batches, int virtual_stages) {
  return micro_batches <= kMaxMicroBatches && pp * micro_batches * chunks_per_rank(kind, virtual_stages) <= kMaxPasses;
}

struct ScheduleParams {
  std::string kind;         // 1f1b | interleaved | zb1p | dualpipe | dualpipev
  int pp = 1;
  int micro_batches = 1;    // total per step (DualPipe splits them over its two directions)
  int virtual_stages = 1;   // interleaved only
  bool overlap_fb = true;   // DualPipe(V): F&B pairs overlapped; false runs them as F then B (reference fallback)
};

// The generators, one file each. Throw ScheduleError on parameters the schedule does not support.
Schedule one_f_one_b(int pp, int micro_batches);
Schedule interleaved_1f1b(int pp, int micro_batches, int virtual_stages);
Schedule zb1p(int pp, int micro_batches);
Schedule dualpipe(int pp, int micro_batches, bool overlap_fb = true);
Schedule dualpipev(int pp, int micro_batches, bool overlap_fb = true);
Schedule make_schedule(const ScheduleParams& p);  // dispatch on p.kind

// Consistency: every (dir, stage, micro-batch) has exactly one F and one B on the rank holding the stage, the F
// before the B; a split B has exactly one W after it on the same rank and an unsplit B none; an F&B pair's halves sit
// on that rank; a Send follows its producing pass and goes to the consumer's rank; a Recv's data comes from another
// rank. Returns every problem found; empty when the schedule is consistent.
struct ScheduleProblem {
  int rank = 0;
  int index = -1;  // the instruction in the rank's list, −1 when the problem is something missing
  std::string what;  // names rank and instruction
};
std::vector<ScheduleProblem> check_schedule(const Schedule& s);

// Appends the Send right after each pass whose consumer sits on another rank and the Recv right before each pass whose
// input comes from another rank. The simple schedules use this; DualPipe places its own, as the reference does.
void add_p2p(Schedule& s);

// Short labels: "F3", "B3", "B3i" (input-gradient only), "W3", "F3&B0", "send F3→2", "recv B3←2"; with `with_place`
// the direction and stage are added ("F3 d1 s5").
std::string to_string(const Pass& p, bool with_place = false);
std::string to_string(const Instruction& in, bool with_place = false);

// Helpers for generators: an empty schedule of the given geometry.
Schedule empty_schedule(std::string kind, int ranks, int dirs, int stages, int micro_batches);

}  // namespace cs::sched
