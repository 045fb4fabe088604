// ZB1P: zero-bubble ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, §3.1). The 1F1B order with each
// backward split into B (input gradient) and W (weight gradient); rank r keeps up to r weight passes pending, running
// each W only once more than r are waiting, so the W passes fill the bubbles that 1F1B leaves at the end of the pipe
// while the peak activation count stays 1F1B's. Bubble (PP−1)(F+B−2W) with B the full backward, when W ≤ F and
// W ≤ B−W.
//
//   phase     | contents                  | count
//   warm-up   | F                         | min(PP−1−r, N)
//   steady    | F B, then W while > r wait | N − warm-up
//   cool-down | B, then W while > r wait  | warm-up
//   drain     | W                         | what is left
#include <fmt/format.h>

#include <deque>

#include "sim/schedule/schedule.hpp"

namespace cs::sched {

Schedule zb1p(int pp, int n) {
  if (pp < 1 || n < 1) throw ScheduleError(fmt::format("ZB1P needs pp ≥ 1 and micro-batches ≥ 1, got pp {} and {}", pp, n));
  Schedule s = empty_schedule("zb1p", pp, 1, pp, n);
  for (int st = 0; st < pp; ++st) s.stage_rank[0][st] = st;
  for (int r = 0; r < pp; ++r) {
    auto& ops = s.ops[r];
    std::deque<int> pending;  // micro-batches whose W is deferred, oldest first
    const int warmup = std::min(pp - 1 - r, n);
    int f = 0, b = 0;
    auto backward = [&] {
      ops.push_back(instruction(Op::B, {PassKind::B, 0, r, b, true}));
      pending.push_back(b++);
      while (int(pending.size()) > r) {
        ops.push_back(instruction(Op::W, {PassKind::W, 0, r, pending.front()}));
        pending.pop_front();
      }
    };
    for (int i = 0; i < warmup; ++i) ops.push_back(instruction(Op::F, {PassKind::F, 0, r, f++}));
    for (int i = 0; i < n - warmup; ++i) {
      ops.push_back(instruction(Op::F, {PassKind::F, 0, r, f++}));
      backward();
    }
    for (int i = 0; i < warmup; ++i) backward();
    for (int m : pending) ops.push_back(instruction(Op::W, {PassKind::W, 0, r, m}));
  }
  add_p2p(s);
  return s;
}

}  // namespace cs::sched
