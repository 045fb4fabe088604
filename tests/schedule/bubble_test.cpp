// Idle time per rank against the published bubble formulas (reference/deepseek-v3.md §4), with zero communication and
// constant F, B, W, F&B. Idle = makespan − busy time, every rank starting at 0.
#include <gtest/gtest.h>

#include "sim/schedule/timeline.hpp"

namespace cs::sched {
namespace {

struct Costs {
  TimeNs f, b, w, fb;  // b: full backward; a split B costs b − w
};

TEST(Bubble, OneFOneBMatchesFormula) {
  // (PP−1)(F+B) on every rank; holds for any N ≥ 1 with constant costs.
  for (int pp : {4, 8, 16, 32})
    for (int n : {pp, 2 * pp, 3 * pp + 1})
      for (Costs c : {Costs{1, 2, 0, 0}, Costs{3, 5, 0, 0}}) {
        const Timeline t = run_timeline(one_f_one_b(pp, n), unit_costs(c.f, c.b, c.w, c.fb));
        for (int r = 0; r < pp; ++r) {
          EXPECT_EQ(t.ranks[r].idle, (pp - 1) * (c.f + c.b)) << "pp " << pp << " n " << n << " rank " << r;
          EXPECT_EQ(t.ranks[r].busy, n * (c.f + c.b));
        }
      }
}

TEST(Bubble, Zb1pMatchesFormula) {
  // (PP−1)(F+B−2W) with B the full backward. ZB-H1's conditions: N ≥ PP and W ≤ min(F, B−W) (each deferred W fits
  // in a gap the 1F1B order leaves); with a larger W the formula would go below what any order can reach.
  for (int pp : {4, 8, 16, 32})
    for (int n : {pp, 2 * pp, 3 * pp + 1})
      for (Costs c : {Costs{1, 2, 1, 0}, Costs{2, 4, 1, 0}, Costs{3, 5, 2, 0}, Costs{2, 3, 1, 0}}) {
        const Timeline t = run_timeline(zb1p(pp, n), unit_costs(c.f, c.b, c.w, c.fb));
        for (int r = 0; r < pp; ++r)
          EXPECT_EQ(t.ranks[r].idle, (pp - 1) * (c.f + c.b - 2 * c.w)) << "pp " << pp << " n " << n << " rank " << r;
      }
}

TEST(Bubble, InterleavedMatchesPublishedFormula) {
  // Narayanan et al.: (PP−1)(F+B)/v with F, B the times of a whole stage; a chunk takes F/v and B/v, so with chunk
  // costs f, b the bubble is (PP−1)(f+b). Megatron's condition: N a multiple of PP.
  for (int pp : {4, 8, 16})
    for (int v : {2, 3, 4})
      for (int n : {pp, 2 * pp, 4 * pp}) {
        const TimeNs f = 2, b = 4;  // chunk times: a stage's F = v·f
        const Timeline t = run_timeline(interleaved_1f1b(pp, n, v), unit_costs(f, b, 0, 0));
        const TimeNs stage_f = v * f, stage_b = v * b;
        for (int r = 0; r < pp; ++r)
          EXPECT_EQ(t.ranks[r].idle, (pp - 1) * (stage_f + stage_b) / v) << "pp " << pp << " v " << v << " n " << n;
      }
}

// DualPipe's idle per rank. Let H = PP/2 and h = min(r, PP−1−r) (DualPipeV: H = its rank count, h = r);
// δ = F + B − F&B, what overlapping a pair saves. From the phase table every rank runs N forwards and N backwards
// (a split B plus its W cost B), of them pairs(h) = 2(N/2 − PP + h + 1) + (H − h − 1) overlapped, except that the
// middle ranks (h = H−1) run their first phase-4 pair un-overlapped (the reference's special case): one fewer.
// So busy(h) = N(F+B) − pairs(h)·δ, and since idle = makespan − busy over one common makespan,
//   idle(h) = idle(0) + min(h, H−2)·δ:
// with δ > 0 the idle differs between ranks; ranks nearer the middle run more pairs and idle more, except that the
// middle ranks' un-overlapped pair gives them the same idle as their neighbours (h = H−2).
// The paper's (PP/2−1)(F&B+B−3W) counts the bubble in cells where a forward and an input-gradient backward take the
// same time (F = B−W, as drawn in the README's figure). Under that proportion the middle ranks idle exactly the
// formula, whatever δ, so the other ranks idle formula − (H−2−h)·δ; with δ = 0 every rank idles the formula. When
// W ≤ F < B−W the formula is an upper bound on every rank; when F > B−W it is too low (the warm-up forwards
// lengthen the fill beyond what the formula counts), see DualPipeFormulaTooLowWhenForwardsDominate.
TimeNs busy_dualpipe(int h, int H, int stages, int per_dir, const Costs& c, int passes) {
  const int pairs = 2 * (per_dir - stages + h + 1) + (H - h - 1) - (h == H - 1 ? 1 : 0);
  return passes * (c.f + c.b) - pairs * (c.f + c.b - c.fb);
}

void check_dualpipe(const std::string& kind, int ranks, int n, const Costs& c) {
  const bool v = kind == "dualpipev";
  const int PP = v ? 2 * ranks : ranks;  // the formula's PP counts stages: DualPipeV runs them on PP/2 devices
  const int H = PP / 2;
  const Timeline t = run_timeline(make_schedule({kind, ranks, n}), unit_costs(c.f, c.b, c.w, c.fb));
  const TimeNs formula = (PP / 2 - 1) * (c.fb + c.b - 3 * c.w);
  const TimeNs delta = c.f + c.b - c.fb;
  for (int r = 0; r < ranks; ++r) {
    const int h = v ? r : std::min(r, ranks - 1 - r);
    SCOPED_TRACE(::testing::Message() << kind << " ranks " << ranks << " n " << n << " rank " << r << " costs " << c.f
                                      << "/" << c.b << "/" << c.w << "/" << c.fb);
    // DualPipe: 2 stages × N/2 micro-batches per rank; DualPipeV: 2 stages × N.
    EXPECT_EQ(t.ranks[r].busy, busy_dualpipe(h, H, PP, v ? n : n / 2, c, v ? 2 * n : n));
    EXPECT_EQ(t.ranks[r].idle, t.ranks[0].idle + std::min(h, H - 2) * delta);
    if (c.f == c.b - c.w) {
      EXPECT_EQ(t.ranks[r].idle, formula - (H - 2 - std::min(h, H - 2)) * delta);
    }
    if (c.w <= c.f && c.f <= c.b - c.w) {
      EXPECT_LE(t.ranks[r].idle, formula);
    }
  }
}

const std::vector<Costs> kDualPipeCosts = {
    {1, 2, 1, 3}, {1, 2, 1, 2}, {2, 4, 2, 6}, {2, 4, 2, 4}, {3, 5, 2, 8}, {3, 5, 2, 5},  // F = B − W
    {2, 4, 1, 6}, {2, 4, 1, 5}, {1, 4, 1, 4}, {2, 7, 2, 7},                              // F < B − W
    {3, 4, 2, 7}, {4, 5, 1, 6},                                                          // F > B − W
};

TEST(Bubble, DualPipeAgainstFormula) {
  for (int pp : {4, 8, 16, 32})
    for (int n : {2 * pp, 2 * pp + 2, 3 * pp})
      for (const Costs& c : kDualPipeCosts) check_dualpipe("dualpipe", pp, n, c);
}

TEST(Bubble, DualPipeVAgainstFormula) {
  for (int ranks : {2, 4, 8, 16})
    for (int n : {2 * ranks, 2 * ranks + 1, 3 * ranks})
      for (const Costs& c : kDualPipeCosts) check_dualpipe("dualpipev", ranks, n, c);
}

TEST(Bubble, DualPipeFormulaTooLowWhenForwardsDominate) {
  // F = 4 > B − W = 3: the formula (PP/2−1)(F&B+B−3W) = 3·(8+4−3) = 27 for pp 8, but the middle ranks idle more.
  const Timeline t = run_timeline(dualpipe(8, 24), unit_costs(4, 4, 1, 8));
  EXPECT_GT(t.ranks[3].idle, 27);
}

TEST(Activations, PeakInFlightMatchesTable) {
  for (int pp : {4, 8, 16}) {
    const Timeline a = run_timeline(one_f_one_b(pp, 3 * pp), unit_costs(1, 2, 1, 3));
    EXPECT_EQ(a.ranks[0].peak_in_flight, pp);           // 1F1B: PP at rank 0
    EXPECT_EQ(a.ranks[pp - 1].peak_in_flight, 1);       // the last stage: one at a time
    const Timeline z = run_timeline(zb1p(pp, 3 * pp), unit_costs(1, 2, 1, 3));
    EXPECT_EQ(z.ranks[0].peak_in_flight, pp);           // ZB1P: as 1F1B
    const Timeline d = run_timeline(dualpipe(pp, 3 * pp), unit_costs(1, 2, 1, 3));
    for (int r = 0; r < pp; ++r) EXPECT_EQ(d.ranks[r].peak_in_flight, pp + 1) << "dualpipe rank " << r;
    const Timeline v = run_timeline(dualpipev(pp / 2, 3 * pp), unit_costs(1, 2, 1, 3));
    EXPECT_EQ(v.ranks[0].peak_in_flight, pp + 1);      // DualPipeV on PP/2 devices: PP+1 as well
  }
}

TEST(Bubble, P2pLatencyLengthensTheStep) {
  // One micro-batch through 4 stages: its forward crosses 3 links and its backward 3 more, all on the critical path.
  const Timeline a = run_timeline(one_f_one_b(4, 1), unit_costs(10, 20, 0, 0, 0));
  const Timeline b = run_timeline(one_f_one_b(4, 1), unit_costs(10, 20, 0, 0, 3));
  EXPECT_EQ(a.makespan, 4 * (10 + 20));
  EXPECT_EQ(b.makespan, a.makespan + 2 * 3 * 3);
  // With many micro-batches the latency also stretches the steady state (each F waits for its input), so never less.
  const Timeline c = run_timeline(one_f_one_b(4, 8), unit_costs(10, 20, 0, 0, 3));
  EXPECT_GE(c.makespan, run_timeline(one_f_one_b(4, 8), unit_costs(10, 20, 0, 0, 0)).makespan + 2 * 3 * 3);
}

}  // namespace
}  // namespace cs::sched
