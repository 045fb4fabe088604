// DualPipe (DeepSeek-V3 TR §3.2.1; github deepseek-ai/DualPipe, dualpipe/dualpipe.py). PP even, N even and N ≥ 2·PP.
// Micro-batches enter from both ends: N/2 in direction 0 (rank 0 → PP−1), N/2 in direction 1 (rank PP−1 → 0). Rank r
// holds stage r of direction 0 and stage r of direction 1 (position PP−1−r of that chain, as seen from rank 0). For
// the first half of the ranks phase 0 is direction 0; for the second half phase 0 is direction 1. With
// h = min(r, PP−1−r) and H = PP/2:
//
//   phase | contents                                  | count
//   1     | F0                                        | (H − h − 1)·2
//   2     | F0 F1                                     | h + 1
//   3     | B1 W1 F1  (B split: zero bubble)          | H − h − 1
//   4     | F0&B1 F1&B0                               | N/2 − PP + h + 1
//   5     | B1 F1&B0                                  | H − h − 1
//   6     | B1 B0  (second half of them split)        | h + 1
//   7     | W B0   (B split)                          | H − h − 1
//   8     | W                                         | h + 1
//
// Special cases kept from the reference: in phase 2 the middle ranks send each F0 at once and hold back the last F1's
// send, the other ranks send F0 only after the following F1; in phase 4 the middle ranks run their first pair as F0
// then B1, not overlapped, sending the held-back F1 between them (the reference's note: less bubble). In phase 6 the
// backward starts deferring W from the middle of the phase on (which of B1/B0 first depends on h's parity).
#include <fmt/format.h>

#include "sim/schedule/dualpipe_phases.hpp"

namespace cs::sched {
namespace detail {

void RankEmitter::recv_forward(int phase) {
  const auto [d, st] = place_[phase];
  if (st == 0 || s_.rank_of(d, st - 1) == rank_) return;  // first stage, or the input is produced on this rank
  push(Op::Recv, Pass{PassKind::F, d, st - 1, recv_f_[phase]++}, s_.rank_of(d, st - 1));
}
void RankEmitter::send_forward(int phase) {
  const auto [d, st] = place_[phase];
  if (st == s_.stages - 1 || s_.rank_of(d, st + 1) == rank_) return;
  push(Op::Send, pass(PassKind::F, phase, sent_f_[phase]++), s_.rank_of(d, st + 1));
}
void RankEmitter::recv_backward(int phase) {
  const auto [d, st] = place_[phase];
  if (st == s_.stages - 1 || s_.rank_of(d, st + 1) == rank_) return;
  push(Op::Recv, Pass{PassKind::B, d, st + 1, recv_b_[phase]++}, s_.rank_of(d, st + 1));
}
void RankEmitter::send_backward(int phase) {
  const auto [d, st] = place_[phase];
  if (st == 0 || s_.rank_of(d, st - 1) == rank_) return;
  push(Op::Send, pass(PassKind::B, phase, sent_b_[phase]++), s_.rank_of(d, st - 1));
}
void RankEmitter::forward_compute(int phase) { push(Op::F, pass(PassKind::F, phase, f_[phase]++)); }
void RankEmitter::backward_compute(int phase, bool split) {
  Pass p = pass(PassKind::B, phase, b_[phase]++);
  p.split = split;
  push(Op::B, p);
  if (split) weights_.push_back(Pass{PassKind::W, p.dir, p.stage, p.mb});
}

void RankEmitter::forward_chunk(int phase, bool recv, bool send) {
  if (recv) recv_forward(phase);
  forward_compute(phase);
  if (send) send_forward(phase);
}
void RankEmitter::backward_chunk(int phase, bool split, bool recv, bool send) {
  if (recv) recv_backward(phase);
  backward_compute(phase, split);
  if (send) send_backward(phase);
}
void RankEmitter::forward_backward_chunk(int phase0, int phase1, bool recv0) {
  if (recv0) recv_forward(phase0);
  recv_backward(phase1);
  if (overlap_) {
    s_.ops[rank_].push_back(Instruction{Op::FB, pass(PassKind::F, phase0, f_[phase0]++),
                                        pass(PassKind::B, phase1, b_[phase1]++), -1});
  } else {  // the reference's fallback when the module has no overlapped forward-backward
    forward_compute(phase0);
    backward_compute(phase1, false);
  }
  send_forward(phase0);
  send_backward(phase1);
}
void RankEmitter::weight_chunk() {
  if (weights_.empty()) throw std::logic_error("DualPipe phases: W with no split backward pending");
  push(Op::W, weights_.front());
  weights_.pop_front();
}

void run_phases(RankEmitter& e, int h, int H, int chunks, bool special) {
  for (int i = 0; i < (H - h - 1) * 2; ++i) e.forward_chunk(0);  // 1: F0

  e.recv_forward(0);  // 2: F0 F1
  for (int i = 0; i < h + 1; ++i) {
    e.forward_chunk(0, /*recv=*/false, /*send=*/special);
    e.recv_forward(0);
    e.forward_chunk(1, /*recv=*/true, /*send=*/!special || i < h);
    if (!special) e.send_forward(0);
  }

  for (int i = 0; i < H - h - 1; ++i) {  // 3: B1 W1 F1
    e.backward_chunk(1, /*split=*/true);
    e.recv_forward(1);
    e.weight_chunk();
    e.forward_chunk(1, /*recv=*/false);
  }

  for (int i = 0; i < chunks - 2 * H + h + 1; ++i) {  // 4: F0&B1 F1&B0
    if (i == 0 && special) {
      e.forward_chunk(0, /*recv=*/false, /*send=*/false);
      e.send_forward(1);
      e.backward_chunk(1, /*split=*/false, /*recv=*/true, /*send=*/false);
      e.send_forward(0);
      e.send_backward(1);
    } else {
      e.forward_backward_chunk(0, 1, /*recv0=*/i > 0);
    }
    e.forward_backward_chunk(1, 0);
  }

  for (int i = 0; i < H - h - 1; ++i) {  // 5: B1 F1&B0
    e.backward_chunk(1);
    e.forward_backward_chunk(1, 0);
  }

  bool split = false;  // 6: B1 B0, W deferred from the middle on
  for (int i = 0; i < h + 1; ++i) {
    if (i == (h + 1) / 2 && h % 2 == 1) split = true;
    e.backward_chunk(1, split);
    if (i == (h + 1) / 2 && h % 2 == 0) split = true;
    e.backward_chunk(0, split);
  }

  for (int i = 0; i < H - h - 1; ++i) {  // 7: W B0
    e.weight_chunk();
    e.backward_chunk(0, /*split=*/true);
  }

  for (int i = 0; i < h + 1; ++i) e.weight_chunk();  // 8: W
}

}  // namespace detail

Schedule dualpipe(int pp, int n, bool overlap_fb) {
  if (pp < 2 || pp % 2 != 0)
    throw ScheduleError(fmt::format("DualPipe needs an even pp ≥ 2 (each rank pairs stage r with stage pp−1−r), got {}", pp));
  if (n < 2 * pp || n % 2 != 0)
    throw ScheduleError(fmt::format("DualPipe needs an even number of micro-batches ≥ 2·pp = {} (half enter from each "
                                    "end), got {}", 2 * pp, n));
  Schedule s = empty_schedule("dualpipe", pp, 2, pp, n / 2);
  for (int st = 0; st < pp; ++st) {
    s.stage_rank[0][st] = st;
    s.stage_rank[1][st] = pp - 1 - st;
  }
  for (int r = 0; r < pp; ++r) {
    const bool second_half = r >= pp / 2;
    // Phase 0 is the direction entering on this rank's side; its stage in either chain is the rank's distance from
    // that chain's first rank.
    std::array<std::pair<int, int>, 2> place;
    for (int phase = 0; phase < 2; ++phase) {
      const int d = phase ^ int(second_half);
      place[phase] = {d, d == 0 ? r : pp - 1 - r};
    }
    detail::RankEmitter e(s, r, place, overlap_fb);
    const bool middle = r == pp / 2 - 1 || r == pp / 2;
    detail::run_phases(e, std::min(r, pp - 1 - r), pp / 2, n / 2, middle);
  }
  return s;
}

}  // namespace cs::sched
