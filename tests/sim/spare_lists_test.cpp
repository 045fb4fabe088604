#include "sim/spare_lists.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>

namespace cs {
namespace {

TEST(SpareLists, TakeGivesAnEmptyListWithRoomForTheNeedAndPowerOfTwoCapacity) {
  SpareLists<uint32_t> pool;
  for (size_t need : {size_t(0), size_t(1), size_t(3), size_t(16), size_t(17), size_t(1000), size_t(4096)}) {
    const std::vector<uint32_t> v = pool.take(need);
    EXPECT_TRUE(v.empty());
    EXPECT_GE(v.capacity(), need);
    EXPECT_TRUE(std::has_single_bit(v.capacity())) << v.capacity();
  }
  EXPECT_EQ(pool.size(), 0u);  // nothing was given back
}

TEST(SpareLists, ATakeGetsTheSmallestSpareThatHoldsItAndLeavesShorterOnesAlone) {
  SpareLists<uint32_t> pool;
  std::vector<uint32_t> small = pool.take(16), large = pool.take(1024), tiny = pool.take(4);
  const uint32_t *small_data = small.data(), *large_data = large.data(), *tiny_data = tiny.data();
  small.assign(10, 7);  // a given list comes back empty
  pool.give(std::move(small));
  pool.give(std::move(large));
  pool.give(std::move(tiny));
  ASSERT_EQ(pool.size(), 3u);
  std::vector<uint32_t> a = pool.take(9);
  EXPECT_EQ(a.data(), small_data);
  EXPECT_TRUE(a.empty());
  std::vector<uint32_t> b = pool.take(100);  // only the 1024 one holds it
  EXPECT_EQ(b.data(), large_data);
  std::vector<uint32_t> c = pool.take(100);  // nothing spare holds it: new storage, the 4 one stays spare
  EXPECT_NE(c.data(), tiny_data);
  EXPECT_GE(c.capacity(), 100u);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.take(3).data(), tiny_data);
}

TEST(SpareLists, ReserveMoreKeepsTheContentsInOrderAndGivesTheOldStorageBack) {
  SpareLists<uint32_t> pool;
  std::vector<uint32_t> v;
  for (uint32_t i = 0; i < 1000; ++i) {
    pool.reserve_more(v, 1);
    const uint32_t* before = v.data();
    v.push_back(i * 3);
    EXPECT_EQ(v.data(), before);  // push_back never had to grow it
  }
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(v[i], i * 3);
  EXPECT_GT(pool.size(), 0u);  // the outgrown lists are spare
  const size_t spare = pool.size();
  pool.reserve_more(v, v.capacity() - v.size());  // fits: nothing moves
  EXPECT_EQ(pool.size(), spare);
}

// Rounds that use as many lists of each length at once, taken and given back in a different order each round: after
// the first round, every list comes from the spares (no new storage), and the spare count stops growing.
TEST(SpareLists, RoundsOfTheSameUsesInAnyOrderNeedNoNewStorageAfterTheFirst) {
  std::mt19937 rng(11);
  std::vector<size_t> needs;
  for (int i = 0; i < 300; ++i) needs.push_back(size_t(1) + rng() % 5000);
  SpareLists<uint64_t> pool;
  std::set<const uint64_t*> seen;
  size_t spare_after_first = 0;
  for (int round = 0; round < 6; ++round) {
    std::shuffle(needs.begin(), needs.end(), rng);
    std::vector<std::vector<uint64_t>> live;
    size_t fresh = 0;
    for (size_t n : needs) {
      live.push_back(pool.take(n));
      ASSERT_GE(live.back().capacity(), n);
      live.back().assign(n, uint64_t(n));
      fresh += seen.insert(live.back().data()).second;
    }
    std::shuffle(live.begin(), live.end(), rng);
    for (auto& v : live) pool.give(std::move(v));
    if (round == 0) {
      EXPECT_EQ(fresh, needs.size());
      spare_after_first = pool.size();
    } else {
      EXPECT_EQ(fresh, 0u) << "round " << round;
      EXPECT_EQ(pool.size(), spare_after_first);
    }
  }
}

}  // namespace
}  // namespace cs
