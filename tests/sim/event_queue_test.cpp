#include <gtest/gtest.h>

#include <vector>

#include "sim/event_queue.hpp"

namespace cs {

TEST(EventQueue, RunsInTimeOrderAndTiesInInsertionOrder) {
  EventQueue q;
  std::vector<int> order;
  q.at(20, [&] { order.push_back(3); });
  q.at(10, [&] { order.push_back(1); });
  q.at(10, [&] { order.push_back(2); });
  q.at(20, [&] { order.push_back(4); });
  q.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(q.now(), 20);
  EXPECT_EQ(q.events_processed(), 4u);
}

TEST(EventQueue, EventsScheduledFromCallbacksAtTheSameTimeRunAfterEarlierOnes) {
  EventQueue q;
  std::vector<int> order;
  q.at(5, [&] {
    order.push_back(1);
    q.at(5, [&] { order.push_back(3); });
  });
  q.at(5, [&] { order.push_back(2); });
  q.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventQueue, RejectsThePastAndRunsUntil) {
  EventQueue q;
  int ran = 0;
  q.at(100, [&] { ++ran; });
  q.at(300, [&] { ++ran; });
  q.run_until(200);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(q.now(), 200);
  EXPECT_THROW(q.at(150, [] {}), std::logic_error);
  EXPECT_EQ(q.pending(), 1u);
  q.run();
  EXPECT_EQ(ran, 2);
}

TEST(EventQueue, ManyEventsStayOrdered) {
  EventQueue q;
  TimeNs last = -1;
  uint64_t seq_ok = 1;
  for (int i = 0; i < 10000; ++i) q.at((i * 7919) % 1000, [&, i] {
      seq_ok &= q.now() >= last;
      last = q.now();
      (void)i;
    });
  q.run();
  EXPECT_EQ(seq_ok, 1u);
  EXPECT_EQ(q.events_processed(), 10000u);
}

TEST(EventQueue, TiesKeepInsertionOrderAcrossSequenceRestarts) {
  // Sequences restart every 7 insertions here (every 2^36 by default): ties still run in insertion order, also for
  // events scheduled from callbacks while older ones are pending.
  for (const uint64_t limit : {uint64_t(7), uint64_t(1) << 36}) {
    EventQueue q(limit);
    std::vector<int> order;
    int next = 0;
    for (int i = 0; i < 40; ++i) q.at(TimeNs(i % 3) * 10, [&order, i] { order.push_back(i); });
    q.at(10, [&] {
      for (int k = 0; k < 20; ++k) q.at(20, [&order, k] { order.push_back(100 + k); });
      next = 1;
    });
    q.run();
    std::vector<int> expected;
    for (int r = 0; r < 3; ++r)
      for (int i = r; i < 40; i += 3) expected.push_back(i);
    for (int k = 0; k < 20; ++k) expected.push_back(100 + k);  // scheduled at 10 for 20: after the earlier ties at 20
    EXPECT_EQ(order, expected) << "restart every " << limit;
    EXPECT_EQ(next, 1);
  }
}

}  // namespace cs
