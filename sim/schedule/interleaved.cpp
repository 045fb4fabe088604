// Interleaved 1F1B (Narayanan et al., SC'21, §2.2; Megatron-LM's forward_backward_pipelining_with_interleaving): each
// rank holds v model chunks; chunk c of rank r is stage c·PP + r. Micro-batches advance in groups of PP: the k-th
// forward of a rank runs chunk (k / PP) mod v on micro-batch (k / (PP·v))·PP + k mod PP; backwards visit the chunks in
// reverse. Bubble (PP−1)(F+B)/v with F and B the times of a whole (non-interleaved) stage, i.e. (PP−1)(f+b) in chunk
// times.
//
//   phase     | contents | count
//   warm-up   | F        | min((PP−1−r)·2 + (v−1)·PP, N·v)   (all N·v forwards when N = PP)
//   steady    | F B      | N·v − warm-up
//   cool-down | B        | warm-up
#include <fmt/format.h>

#include "sim/schedule/schedule.hpp"

namespace cs::sched {

Schedule interleaved_1f1b(int pp, int n, int v) {
  if (pp < 1 || v < 1 || n < 1)
    throw ScheduleError(fmt::format("interleaved 1F1B needs pp ≥ 1, virtual_stages ≥ 1 and micro-batches ≥ 1, got pp {}, "
                                    "virtual_stages {}, micro-batches {}", pp, v, n));
  if (n % pp != 0)
    throw ScheduleError(fmt::format("interleaved 1F1B runs micro-batches in groups of pp: micro-batches ({}) must be a "
                                    "multiple of pp ({})", n, pp));
  Schedule s = empty_schedule("interleaved", pp, 1, pp * v, n);
  for (int st = 0; st < pp * v; ++st) s.stage_rank[0][st] = st % pp;
  const int total = n * v;
  auto mb_of = [&](int k) { return (k / (pp * v)) * pp + k % pp; };
  auto chunk_of = [&](int k, bool forward) {
    const int c = (k / pp) % v;
    return forward ? c : v - 1 - c;
  };
  for (int r = 0; r < pp; ++r) {
    auto& ops = s.ops[r];
    const int warmup = n == pp ? total : std::min((pp - 1 - r) * 2 + (v - 1) * pp, total);
    int f = 0, b = 0;
    auto fwd = [&] { ops.push_back(instruction(Op::F, {PassKind::F, 0, chunk_of(f, true) * pp + r, mb_of(f)})); ++f; };
    auto bwd = [&] { ops.push_back(instruction(Op::B, {PassKind::B, 0, chunk_of(b, false) * pp + r, mb_of(b)})); ++b; };
    for (int i = 0; i < warmup; ++i) fwd();
    for (int i = 0; i < total - warmup; ++i) {
      fwd();
      bwd();
    }
    while (b < total) bwd();
  }
  add_p2p(s);
  return s;
}

}  // namespace cs::sched
