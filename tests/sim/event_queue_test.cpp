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

}  // namespace cs
