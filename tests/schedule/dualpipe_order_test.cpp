// DualPipe's instruction order against the reference's phase structure (deepseek-ai/DualPipe dualpipe/dualpipe.py,
// reference/deepseek-v3.md §4), and a small case (pp 4, 8 micro-batches) checked against a timeline worked out by hand.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "sim/schedule/timeline.hpp"

namespace cs::sched {
namespace {

// The compute sequence of one rank written as the reference's phase table: tokens "F<phase>", "B<phase>" (full),
// "b<phase>" (split), "W", "P<f-phase><b-phase>" (overlapped pair). Then micro-batch ids follow by counting per phase,
// W popping the oldest split backward, as the reference's chunk counters and FIFO weight store do.
std::vector<std::string> phase_tokens(int r, int pp, int n) {
  const int H = pp / 2, h = std::min(r, pp - 1 - r);
  const bool middle = h == H - 1;
  std::vector<std::string> t;
  auto rep = [&](int k, std::initializer_list<const char*> xs) {
    for (int i = 0; i < k; ++i)
      for (const char* x : xs) t.push_back(x);
  };
  rep((H - h - 1) * 2, {"F0"});                                  // 1: nF0
  rep(h + 1, {"F0", "F1"});                                      // 2: nF0F1
  rep(H - h - 1, {"b1", "W", "F1"});                             // 3: nB1W1F1
  for (int i = 0; i < n / 2 - pp + h + 1; ++i) {                 // 4: nF0B1F1B0
    if (i == 0 && middle) rep(1, {"F0", "B1"});                  //    middle ranks: first pair not overlapped
    else rep(1, {"P01"});
    rep(1, {"P10"});
  }
  rep(H - h - 1, {"B1", "P10"});                                 // 5: nB1F1B0
  for (int i = 0; i < h + 1; ++i) {                              // 6: nB1B0, W deferred from the middle on
    const bool from_here = i >= (h + 1) / 2;
    // odd h: this iteration's B1 already splits; even h: only its B0 does (the reference flips the flag between them)
    t.push_back(from_here && (i > (h + 1) / 2 || h % 2 == 1) ? "b1" : "B1");
    t.push_back(from_here ? "b0" : "B0");
  }
  rep(H - h - 1, {"W", "b0"});                                   // 7: nWB0
  rep(h + 1, {"W"});                                             // 8: nW
  return t;
}

struct Expected {
  Op op;
  Pass a, b;
};

std::vector<Expected> expected_ops(int r, int pp, int n) {
  const int second = r >= pp / 2;
  auto place = [&](int phase) {
    const int d = phase ^ second;
    return std::pair{d, d == 0 ? r : pp - 1 - r};
  };
  int f[2] = {0, 0}, b[2] = {0, 0};
  std::deque<Pass> w;
  auto fwd = [&](int ph) {
    auto [d, s] = place(ph);
    return Pass{PassKind::F, d, s, f[ph]++};
  };
  auto bwd = [&](int ph, bool split) {
    auto [d, s] = place(ph);
    Pass p{PassKind::B, d, s, b[ph]++, split};
    if (split) w.push_back(Pass{PassKind::W, d, s, p.mb});
    return p;
  };
  std::vector<Expected> out;
  for (const std::string& t : phase_tokens(r, pp, n)) {
    const int ph = t.size() > 1 ? t[1] - '0' : 0;
    if (t[0] == 'F') out.push_back({Op::F, fwd(ph), {}});
    if (t[0] == 'B' || t[0] == 'b') out.push_back({Op::B, bwd(ph, t[0] == 'b'), {}});
    if (t[0] == 'W') {
      out.push_back({Op::W, w.front(), {}});
      w.pop_front();
    }
    if (t[0] == 'P') {
      const Pass fp = fwd(t[1] - '0');
      out.push_back({Op::FB, fp, bwd(t[2] - '0', false)});
    }
  }
  return out;
}

TEST(DualPipeOrder, Pp8N20MatchesReferencePhases) {
  const int pp = 8, n = 20;
  const Schedule s = dualpipe(pp, n);
  EXPECT_TRUE(check_schedule(s).empty());
  for (int r = 0; r < pp; ++r) {
    std::vector<Instruction> got;
    for (const auto& in : s.ops[r])
      if (in.is_compute()) got.push_back(in);
    const auto want = expected_ops(r, pp, n);
    ASSERT_EQ(got.size(), want.size()) << "rank " << r;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].op, want[i].op) << "rank " << r << " op " << i << ": " << to_string(got[i], true);
      EXPECT_EQ(got[i].pass, want[i].a) << "rank " << r << " op " << i << ": " << to_string(got[i], true);
      if (want[i].op == Op::FB) {
        EXPECT_EQ(got[i].pass2, want[i].b) << "rank " << r << " op " << i;
      }
    }
  }
}

TEST(DualPipeOrder, Pp8N20PhaseCountsFromTheTable) {
  // Independent of the token expansion: counts per rank straight from the table. Every rank runs N/2 forwards of each
  // of its two stages; pairs = 2·(N/2 − PP + h + 1) + (H − h − 1), one fewer on the middle ranks; W = split backwards
  // = (H − h − 1) in phase 3 + (H − h − 1) in phase 7 + the deferred half of phase 6.
  const int pp = 8, n = 20, H = 4;
  const Schedule s = dualpipe(pp, n);
  for (int r = 0; r < pp; ++r) {
    const int h = std::min(r, pp - 1 - r);
    int fwd = 0, bwd = 0, pairs = 0, w = 0;
    for (const auto& in : s.ops[r]) {
      fwd += in.op == Op::F || in.op == Op::FB;
      bwd += in.op == Op::B || in.op == Op::FB;
      pairs += in.op == Op::FB;
      w += in.op == Op::W;
    }
    EXPECT_EQ(fwd, n) << r;
    EXPECT_EQ(bwd, n) << r;
    EXPECT_EQ(pairs, 2 * (n / 2 - pp + h + 1) + (H - h - 1) - (h == H - 1 ? 1 : 0)) << r;
    // phase 6 splits the backwards from iteration (h+1)/2 on: 2·(h+1−(h+1)/2) of them, minus one B1 when h is even
    const int phase6 = 2 * (h + 1 - (h + 1) / 2) - (h % 2 == 0 ? 1 : 0);
    EXPECT_EQ(w, 2 * (H - h - 1) + phase6) << r;
  }
}

TEST(DualPipeOrder, SendsFollowTheReference) {
  // Phase 2: a middle rank sends each F0 at once; the others send F0 only after the next F1. A middle rank holds back
  // its last phase-2 F1 send until after the first F0 of phase 4.
  const Schedule s = dualpipe(8, 20);
  auto index_of = [&](int r, Op op, Pass p) {
    for (size_t i = 0; i < s.ops[r].size(); ++i)
      if (s.ops[r][i].op == op && s.ops[r][i].pass == p) return int(i);
    return -1;
  };
  // rank 1 (h = 1, not middle): its first phase-2 F0 is micro-batch 4 of direction 0 (after 4 phase-1 forwards)
  const int f0 = index_of(1, Op::F, {PassKind::F, 0, 1, 4});
  const int f1 = index_of(1, Op::F, {PassKind::F, 1, 6, 0});
  const int send_f0 = index_of(1, Op::Send, {PassKind::F, 0, 1, 4});
  ASSERT_GE(f0, 0);
  EXPECT_LT(f0, f1);
  EXPECT_GT(send_f0, f1);
  // rank 3 (middle, h = 3): F0 of phase 2 is direction 0 stage 3; its send directly follows it
  const int m0 = index_of(3, Op::F, {PassKind::F, 0, 3, 0});
  EXPECT_EQ(s.ops[3][m0 + 1].op, Op::Send);
  EXPECT_EQ(s.ops[3][m0 + 1].pass, (Pass{PassKind::F, 0, 3, 0}));
  // its last phase-2 F1 (direction 1 stage 4, micro-batch 3) leaves after the phase-4 F0 (micro-batch 4)
  const int last_f1 = index_of(3, Op::F, {PassKind::F, 1, 4, 3});
  const int first_f0_p4 = index_of(3, Op::F, {PassKind::F, 0, 3, 4});
  const int send_last_f1 = index_of(3, Op::Send, {PassKind::F, 1, 4, 3});
  EXPECT_LT(last_f1, first_f0_p4);
  EXPECT_GT(send_last_f1, first_f0_p4);
  // and the phase-4 pair after it is un-overlapped: F0 then a full B1
  EXPECT_EQ(s.ops[3][size_t(send_last_f1) + 2].op, Op::B);  // after the receive of B1's input gradient
}

// One compute instruction of the hand-worked timeline: kind, forward (dir, mb), backward (dir, mb, split), times.
struct HandOp {
  char kind;  // 'F', 'B' (full), 'b' (split), 'W', 'P' (F&B pair)
  int fd, fm;  // F or W (dir, mb); for 'B'/'b' the backward
  int bd, bm;  // the pair's backward
  TimeNs start, end;
};

// The mirror rank (PP−1−r) runs the same ops with the directions swapped (the reference is symmetric).
std::vector<HandOp> mirrored(std::vector<HandOp> ops) {
  for (HandOp& o : ops) {
    o.fd = 1 - o.fd;
    o.bd = 1 - o.bd;
  }
  return ops;
}

TEST(DualPipeTimeline, Pp4N8ByHand) {
  // PP 4, N 8 (4 per direction), F=1, B=2 (split B 1), W=1, F&B=3, no communication time. Worked by hand from the
  // reference's order, with its rules: a compute waits for every receive posted before it; sends queued after a compute
  // leave when the rank is free; non-middle ranks send each phase-2 F0 only after the following F1; the middle ranks
  // (1, 2) hold back their last phase-2 F1 until after the first phase-4 F0, and send that F0 and the un-overlapped
  // B1 only after the B1. Consequences visible below: rank 0's W d1m0 (phase 3) waits until 6 for the receive of
  // F d1m1's input, posted before it, which rank 1 sends only at 6 (held back); rank 0 idles [5,6) and [16,17),
  // rank 1 idles [0,1) and [21,22): 2 units each, the formula's (PP/2−1)(F&B+B−3W) = 1·(3+2−3).
  const std::vector<HandOp> r0 = {
      {'F', 0, 0, 0, 0, 0, 1},   {'F', 0, 1, 0, 0, 1, 2},   {'F', 0, 2, 0, 0, 2, 3},    // phase 1–2: F0 F0 | F0 F1
      {'F', 1, 0, 0, 0, 3, 4},                                                            //   F d1m0 waits for rank 1
      {'b', 1, 0, 0, 0, 4, 5},   {'W', 1, 0, 0, 0, 6, 7},   {'F', 1, 1, 0, 0, 7, 8},    // phase 3: B1 W1 F1
      {'P', 0, 3, 1, 1, 8, 11},  {'P', 1, 2, 0, 0, 11, 14},                               // phase 4: F0&B1 F1&B0
      {'B', 1, 2, 0, 0, 14, 16}, {'P', 1, 3, 0, 1, 17, 20},                               // phase 5: B1 F1&B0
      {'B', 1, 3, 0, 0, 20, 22}, {'b', 0, 2, 0, 0, 22, 23},                               // phase 6: B1 B0 (B0 split)
      {'W', 0, 2, 0, 0, 23, 24}, {'b', 0, 3, 0, 0, 24, 25},                               // phase 7: W B0
      {'W', 0, 3, 0, 0, 25, 26},                                                          // phase 8: W
  };
  const std::vector<HandOp> r1 = {
      {'F', 0, 0, 0, 0, 1, 2},   {'F', 1, 0, 0, 0, 2, 3},   {'F', 0, 1, 0, 0, 3, 4},    // phase 2: (F0 F1) × 2
      {'F', 1, 1, 0, 0, 4, 5},
      {'F', 0, 2, 0, 0, 5, 6},   {'B', 1, 0, 0, 0, 6, 8},                               // phase 4, first pair split
      {'P', 1, 2, 0, 0, 8, 11},  {'P', 0, 3, 1, 1, 11, 14}, {'P', 1, 3, 0, 1, 14, 17},  //   then F1&B0 F0&B1 F1&B0
      {'B', 1, 2, 0, 0, 17, 19}, {'B', 0, 2, 0, 0, 19, 21},                               // phase 6: B1 B0 full,
      {'b', 1, 3, 0, 0, 22, 23}, {'b', 0, 3, 0, 0, 23, 24},                               //   then both split (h odd)
      {'W', 1, 3, 0, 0, 24, 25}, {'W', 0, 3, 0, 0, 25, 26},                               // phase 8: W W
  };
  const std::vector<std::vector<HandOp>> want = {r0, r1, mirrored(r1), mirrored(r0)};

  const Schedule s = dualpipe(4, 8);
  const Timeline t = run_timeline(s, unit_costs(1, 2, 1, 3));
  EXPECT_EQ(t.makespan, 26);
  for (int r = 0; r < 4; ++r) {
    std::vector<TimedInstruction> compute;
    for (const auto& op : t.ranks[r].ops)
      if (op.in.is_compute()) compute.push_back(op);
    ASSERT_EQ(compute.size(), want[r].size()) << "rank " << r;
    for (size_t i = 0; i < compute.size(); ++i) {
      const HandOp& w = want[r][i];
      const TimedInstruction& got = compute[i];
      SCOPED_TRACE(::testing::Message() << "rank " << r << " op " << i << " " << to_string(got.in, true));
      const Op op = w.kind == 'F' ? Op::F : w.kind == 'W' ? Op::W : w.kind == 'P' ? Op::FB : Op::B;
      EXPECT_EQ(got.in.op, op);
      EXPECT_EQ(got.in.pass.dir, w.fd);
      EXPECT_EQ(got.in.pass.mb, w.fm);
      if (op == Op::B) {
        EXPECT_EQ(got.in.pass.split, w.kind == 'b');
      }
      if (op == Op::FB) {
        EXPECT_EQ(got.in.pass2.dir, w.bd);
        EXPECT_EQ(got.in.pass2.mb, w.bm);
        EXPECT_FALSE(got.in.pass2.split);
      }
      EXPECT_EQ(got.start, w.start);
      EXPECT_EQ(got.end, w.end);
    }
    EXPECT_EQ(t.ranks[r].busy, 24);
    EXPECT_EQ(t.ranks[r].idle, 2);
  }
}

}  // namespace
}  // namespace cs::sched
