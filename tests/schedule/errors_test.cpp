// Parameters a schedule cannot run with, and schedules that are inconsistent or deadlock, give clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/schedule/timeline.hpp"

namespace cs::sched {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ScheduleError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ScheduleErrors, DualPipeOddPp) {
  const std::string e = error_of([] { dualpipe(5, 20); });
  EXPECT_THAT(e, HasSubstr("even pp"));
  EXPECT_THAT(e, HasSubstr("got 5"));
}

TEST(ScheduleErrors, DualPipeTooFewOrOddMicroBatches) {
  const std::string few = error_of([] { dualpipe(8, 14); });
  EXPECT_THAT(few, HasSubstr("≥ 2·pp = 16"));
  EXPECT_THAT(few, HasSubstr("got 14"));
  EXPECT_THAT(error_of([] { dualpipe(8, 17); }), HasSubstr("even number of micro-batches"));
  EXPECT_THAT(error_of([] { dualpipev(4, 7); }), HasSubstr("≥ 2·pp = 8, got 7"));
  EXPECT_EQ(error_of([] { dualpipe(8, 16); }), "(no error)");
}

TEST(ScheduleErrors, InterleavedNeedsGroupsOfPp) {
  EXPECT_THAT(error_of([] { interleaved_1f1b(4, 6, 2); }), HasSubstr("multiple of pp (4)"));
}

TEST(ScheduleErrors, TooLargeASchedule) {
  EXPECT_THAT(error_of([] { make_schedule({"1f1b", 4, int(kMaxMicroBatches) + 1}); }), HasSubstr("too large a schedule"));
  EXPECT_THAT(error_of([] { make_schedule({"dualpipe", 64, 16384}); }),
              HasSubstr("64 pipeline ranks × 16384 micro-batches × 2 chunks per rank: too large a schedule"));
  EXPECT_EQ(error_of([] { make_schedule({"dualpipe", 8, 16}); }), "(no error)");
}

TEST(ScheduleErrors, UnknownKindListsTheAllowedOnes) {
  EXPECT_THAT(error_of([] { make_schedule({"gpipe", 4, 8}); }), HasSubstr("allowed: 1f1b, interleaved, zb1p"));
}

TEST(ScheduleCheck, GeneratedSchedulesAreConsistent) {
  for (int pp : {2, 4, 8, 16})
    for (int n : {2 * pp, 3 * pp}) {
      for (const char* k : {"1f1b", "zb1p", "dualpipe", "dualpipev"}) {
        const auto problems = check_schedule(make_schedule({k, pp, n}));
        EXPECT_TRUE(problems.empty()) << k << " pp " << pp << " n " << n << ": " << problems.front().what;
      }
      EXPECT_TRUE(check_schedule(interleaved_1f1b(pp, n, 2)).empty());
    }
}

TEST(ScheduleCheck, FindsMissingDuplicateAndMisplacedPasses) {
  Schedule s = one_f_one_b(2, 2);
  // Drop rank 1's last backward: B1 on stage 1 is then missing (and rank 0's B1 waits for it).
  auto& r1 = s.ops[1];
  for (size_t i = r1.size(); i-- > 0;)
    if (r1[i].op == Op::B && r1[i].pass.mb == 1) {
      r1.erase(r1.begin() + long(i));
      break;
    }
  auto p = check_schedule(s);
  ASSERT_EQ(p.size(), 2u);
  // its send now has no producer, and the pass itself is missing
  EXPECT_THAT(p[0].what, HasSubstr("send B1 d0 s1→0 comes before the pass producing it"));
  EXPECT_THAT(p[1].what, HasSubstr("B1 d0 s1 is missing"));
  EXPECT_EQ(p[1].rank, 1);
  EXPECT_EQ(p[1].index, -1);
  EXPECT_THROW(run_timeline(s, unit_costs(1, 2, 1, 3)), ScheduleDeadlock);

  Schedule d = one_f_one_b(2, 2);
  d.ops[0].push_back(instruction(Op::F, {PassKind::F, 0, 0, 1}));
  p = check_schedule(d);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_THAT(p.front().what, HasSubstr("appears twice"));

  Schedule w = zb1p(2, 2);
  w.ops[0].insert(w.ops[0].begin(), instruction(Op::W, {PassKind::W, 0, 0, 1}));
  p = check_schedule(w);
  ASSERT_FALSE(p.empty());
  EXPECT_THAT(p.front().what, HasSubstr("before its backward"));
}

TEST(ScheduleDeadlocks, ReportsWhichRanksWaitOnWhat) {
  // Rank 1 runs B0 before F0 would be fine on rank 0's side, but rank 0 starts with B0, which needs rank 1's B0,
  // which needs rank 1's F0, which needs rank 0's F0 — listed after B0 on rank 0: a cycle.
  Schedule s = empty_schedule("custom", 2, 1, 2, 1);
  s.stage_rank[0] = {0, 1};
  s.ops[0] = {instruction(Op::B, {PassKind::B, 0, 0, 0}), instruction(Op::F, {PassKind::F, 0, 0, 0})};
  s.ops[1] = {instruction(Op::F, {PassKind::F, 0, 1, 0}), instruction(Op::B, {PassKind::B, 0, 1, 0})};
  try {
    run_timeline(s, unit_costs(1, 2, 1, 3));
    FAIL() << "no deadlock reported";
  } catch (const ScheduleDeadlock& d) {
    ASSERT_EQ(d.waits().size(), 2u);
    EXPECT_EQ(d.waits()[0].rank, 0);
    EXPECT_EQ(d.waits()[0].index, 0u);
    EXPECT_THAT(d.waits()[0].waits_for, HasSubstr("F0 d0 s0 on rank 0"));
    EXPECT_EQ(d.waits()[1].rank, 1);
    EXPECT_THAT(d.waits()[1].waits_for, HasSubstr("F0 d0 s0 on rank 0"));
    EXPECT_THAT(std::string(d.what()), HasSubstr("rank 1 waits at op #0 F0 d0 s1"));
  }
}

TEST(ScheduleGeometry, ChunksAndGlobalMicroBatches) {
  const Schedule d = dualpipe(4, 8);
  const auto dc = local_chunks(d);
  for (int st = 0; st < 4; ++st) {
    EXPECT_EQ(dc[0][st], 0);  // direction 0 is each rank's first stage
    EXPECT_EQ(dc[1][st], 1);
  }
  EXPECT_EQ(global_micro_batch(d, Pass{PassKind::F, 1, 0, 2}), 6);
  const Schedule v = dualpipev(3, 6);
  const auto vc = local_chunks(v);
  EXPECT_EQ(v.rank_of(0, 5), 0);  // the V: stage 2·PP−1 is back on rank 0
  EXPECT_EQ(vc[0][2], 0);
  EXPECT_EQ(vc[0][3], 1);          // stage PP on the last rank, its way back
  const Schedule i = interleaved_1f1b(2, 2, 3);
  EXPECT_EQ(local_chunks(i)[0][5], 2);  // stage 5 = chunk 2 of rank 1
  EXPECT_EQ(i.rank_of(0, 5), 1);
}

TEST(Timeline, DeterministicAndFastForLargeSchedules) {
  // pp 16, 120 micro-batches: generation and the timeline take well under a second (checked loosely: this is a
  // smoke check, the numbers must not change between runs).
  const Schedule a = dualpipe(16, 120), b = dualpipe(16, 120);
  const Timeline ta = run_timeline(a, unit_costs(10, 20, 10, 25, 1));
  const Timeline tb = run_timeline(b, unit_costs(10, 20, 10, 25, 1));
  ASSERT_EQ(ta.makespan, tb.makespan);
  for (int r = 0; r < 16; ++r)
    for (size_t i = 0; i < ta.ranks[r].ops.size(); ++i) ASSERT_EQ(ta.ranks[r].ops[i].start, tb.ranks[r].ops[i].start);
}

}  // namespace
}  // namespace cs::sched
