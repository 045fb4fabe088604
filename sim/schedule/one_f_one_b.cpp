// 1F1B (PipeDream-Flush, Megatron's default): rank r runs PP−1−r warm-up forwards, then alternates one forward and one
// full backward, then drains the remaining backwards. Bubble (PP−1)(F+B) per rank; rank 0 holds PP activations.
//
//   phase     | contents | count
//   warm-up   | F        | min(PP−1−r, N)
//   steady    | F B      | N − warm-up
//   cool-down | B        | warm-up
#include <fmt/format.h>

#include "sim/schedule/schedule.hpp"

namespace cs::sched {

Schedule one_f_one_b(int pp, int n) {
  if (pp < 1 || n < 1) throw ScheduleError(fmt::format("1F1B needs pp ≥ 1 and micro-batches ≥ 1, got pp {} and {}", pp, n));
  Schedule s = empty_schedule("1f1b", pp, 1, pp, n);
  for (int st = 0; st < pp; ++st) s.stage_rank[0][st] = st;
  for (int r = 0; r < pp; ++r) {
    auto& ops = s.ops[r];
    const int warmup = std::min(pp - 1 - r, n);
    int f = 0, b = 0;
    for (int i = 0; i < warmup; ++i) ops.push_back(instruction(Op::F, {PassKind::F, 0, r, f++}));
    for (int i = 0; i < n - warmup; ++i) {
      ops.push_back(instruction(Op::F, {PassKind::F, 0, r, f++}));
      ops.push_back(instruction(Op::B, {PassKind::B, 0, r, b++}));
    }
    for (int i = 0; i < warmup; ++i) ops.push_back(instruction(Op::B, {PassKind::B, 0, r, b++}));
  }
  add_p2p(s);
  return s;
}

}  // namespace cs::sched
