// DualPipeV, DualPipe "cut in half" (github deepseek-ai/DualPipe, dualpipe/dualpipev.py; Sea AI Lab's V-shape
// schedule). PP ranks hold 2·PP stages of one chain in a V: rank r holds stage r (phase 0, going down) and stage
// 2·PP−1−r (phase 1, coming back). All N micro-batches enter at rank 0 and leave there; the last rank turns them round
// without any transfer. N ≥ 2·PP. It runs DualPipe's eight phases (dualpipe.cpp) with r for the half rank, PP for the
// half rank count and N for the per-direction count; the last rank plays the middle ranks' special part.
//
//   phase | contents              | count
//   1     | F0                    | (PP − r − 1)·2
//   2     | F0 F1                 | r + 1
//   3     | B1 W1 F1              | PP − r − 1
//   4     | F0&B1 F1&B0           | N − 2·PP + r + 1
//   5     | B1 F1&B0              | PP − r − 1
//   6     | B1 B0                 | r + 1
//   7     | W B0                  | PP − r − 1
//   8     | W                     | r + 1
#include <fmt/format.h>

#include "sim/schedule/dualpipe_phases.hpp"

namespace cs::sched {

Schedule dualpipev(int pp, int n, bool overlap_fb) {
  if (pp < 1) throw ScheduleError(fmt::format("DualPipeV needs pp ≥ 1, got {}", pp));
  if (n < 2 * pp)
    throw ScheduleError(fmt::format("DualPipeV needs micro-batches ≥ 2·pp = {}, got {}", 2 * pp, n));
  Schedule s = empty_schedule("dualpipev", pp, 1, 2 * pp, n);
  for (int st = 0; st < 2 * pp; ++st) s.stage_rank[0][st] = st < pp ? st : 2 * pp - 1 - st;
  for (int r = 0; r < pp; ++r) {
    detail::RankEmitter e(s, r, {std::pair{0, r}, std::pair{0, 2 * pp - 1 - r}}, overlap_fb);
    detail::run_phases(e, r, pp, n, r == pp - 1);
  }
  return s;
}

}  // namespace cs::sched
