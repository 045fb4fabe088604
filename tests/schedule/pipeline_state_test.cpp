// PipelineState driven by an event loop that owns time, as the full executor will (compute ends and transfer arrivals
// become known only when they happen): it must reach exactly the times run_timeline computes from the same costs.
#include <gtest/gtest.h>

#include <queue>
#include <tuple>

#include "sim/schedule/timeline.hpp"

namespace cs::sched {
namespace {

Timeline event_driven(const Schedule& s, const TimelineCosts& c) {
  PipelineState st(s);
  // (time, sequence, kind, rank, transfer index): kind 0 = a compute ends, 1 = a transfer arrives.
  using Event = std::tuple<TimeNs, long, int, int, size_t>;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::vector<Transfer> flying;
  long seq = 0;
  std::vector<TimeNs> busy_until(s.ranks, -1);
  auto launch = [&] {
    for (const Transfer& t : st.take_transfers()) {
      flying.push_back(t);
      events.emplace(t.leave + c.transfer(t.data, t.from, t.to), seq++, 1, t.to, flying.size() - 1);
    }
  };
  auto try_start = [&](int r, TimeNs now) {
    if (busy_until[r] >= 0) return;
    const PipelineState::Poll p = st.poll(r);
    launch();
    if (!p.ready) return;
    EXPECT_LE(p.earliest, now);  // everything it waited for has happened by now
    st.start(r, now);
    busy_until[r] = now + c.duration(s.ops[r][p.index], r);
    events.emplace(busy_until[r], seq++, 0, r, 0);
  };
  for (int r = 0; r < s.ranks; ++r) try_start(r, 0);
  while (!events.empty()) {
    const auto [t, n, kind, r, i] = events.top();
    events.pop();
    if (kind == 0) {
      st.finish(r, t);
      busy_until[r] = -1;
      launch();
    } else {
      st.arrived(flying[i].data, t);
    }
    for (int q = 0; q < s.ranks; ++q) try_start(q, t);
  }
  EXPECT_TRUE(st.finished());
  return st.result();
}

TEST(PipelineState, EventDrivenDriverMatchesRunTimeline) {
  const TimelineCosts c = unit_costs(10, 20, 8, 24, 3);
  for (const Schedule& s : {one_f_one_b(4, 8), zb1p(4, 8), interleaved_1f1b(4, 8, 2), dualpipe(4, 8), dualpipe(8, 20),
                            dualpipev(4, 10)}) {
    SCOPED_TRACE(s.kind);
    const Timeline a = run_timeline(s, c), b = event_driven(s, c);
    ASSERT_EQ(a.makespan, b.makespan);
    for (int r = 0; r < s.ranks; ++r) {
      EXPECT_EQ(a.ranks[r].idle, b.ranks[r].idle);
      EXPECT_EQ(a.ranks[r].peak_in_flight, b.ranks[r].peak_in_flight);
      for (size_t k = 0; k < a.ranks[r].ops.size(); ++k) {
        EXPECT_EQ(a.ranks[r].ops[k].start, b.ranks[r].ops[k].start) << "rank " << r << " op " << k;
        EXPECT_EQ(a.ranks[r].ops[k].end, b.ranks[r].ops[k].end) << "rank " << r << " op " << k;
      }
    }
  }
}

TEST(PipelineState, RecvHoldsBackLaterComputeIncludingW) {
  // DualPipe phase 3 is B1 W1 F1 with F1's input received before W (the reference waits for posted receives before
  // any compute): with a slow link the W cannot start before that input arrives, although W needs only its own B.
  const Schedule s = dualpipe(4, 8);
  const Timeline t = run_timeline(s, unit_costs(1, 2, 1, 3, 5));
  const auto& ops = t.ranks[0].ops;
  for (size_t k = 0; k + 1 < ops.size(); ++k)
    if (ops[k].in.op == Op::Recv && ops[k + 1].in.op == Op::W) {
      EXPECT_GE(ops[k + 1].start, ops[k].end);
      return;
    }
  FAIL() << "no receive posted right before a W on rank 0";
}

TEST(PipelineState, RejectsADriverThatSkipsPoll) {
  const Schedule s = one_f_one_b(2, 2);
  PipelineState st(s);
  EXPECT_THROW(st.finish(0, 1), std::logic_error);  // nothing started
  const auto p = st.poll(1);                          // rank 1 waits for rank 0's forward
  EXPECT_FALSE(p.ready);
  EXPECT_THROW(st.start(1, 0), std::logic_error);    // its receive has not arrived
  const auto q = st.poll(0);
  ASSERT_TRUE(q.ready);
  EXPECT_EQ(q.earliest, 0);
  st.start(0, 0);
  EXPECT_FALSE(st.poll(0).ready);  // busy until finish()
  st.finish(0, 5);
  EXPECT_TRUE(st.take_transfers().empty());  // the Send listed after F0 goes out when the rank is polled again
  st.poll(0);
  const auto sent = st.take_transfers();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].leave, 5);
  EXPECT_EQ(sent[0].to, 1);
  st.arrived(sent[0].data, 7);
  const auto r = st.poll(1);
  ASSERT_TRUE(r.ready);
  EXPECT_EQ(r.earliest, 7);
}

}  // namespace
}  // namespace cs::sched
