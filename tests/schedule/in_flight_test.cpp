// The activations in flight that `describe` takes from the schedules' tables (models/memory.hpp) are those the
// schedules' own orders hold, which `run` measures: the two commands must agree on a rank's memory.
#include <gtest/gtest.h>

#include "models/memory.hpp"
#include "sim/schedule/timeline.hpp"

namespace cs::sched {
namespace {

void expect_table_matches_order(const std::string& kind, int pp, int n, int v) {
  const Timeline t = run_timeline(make_schedule({kind, pp, n, v}), unit_costs(1, 2, 1, 3));
  for (int r = 0; r < pp; ++r)
    EXPECT_EQ(table_activations_in_flight(kind, pp, r, v, n), t.ranks[size_t(r)].peak_in_flight)
        << kind << " pp " << pp << " micro-batches " << n << " virtual stages " << v << " rank " << r;
}

TEST(InFlight, TableMatchesTheOrderOfEveryBuiltInSchedule) {
  for (int pp : {1, 2, 3, 4, 8, 16})
    for (int n : {1, 2, 3, pp, pp + 1, 2 * pp, 2 * pp + 1, 2 * pp + 2, 3 * pp, 4 * pp}) {
      expect_table_matches_order("1f1b", pp, n, 1);
      expect_table_matches_order("zb1p", pp, n, 1);
      if (pp % 2 == 0 && n % 2 == 0 && n >= 2 * pp) expect_table_matches_order("dualpipe", pp, n, 1);
      if (n >= 2 * pp) expect_table_matches_order("dualpipev", pp, n, 1);
      if (n % pp == 0)
        for (int v : {2, 3}) expect_table_matches_order("interleaved", pp, n, v);
    }
}

TEST(InFlight, DualPipeVHoldsPpPlusOneStagesOfActivations) {
  // Reference §4: DualPipeV holds PP+1 activations on PP/2 devices, PP counting stages: 2·ranks + 1 on each rank.
  EXPECT_EQ(table_activations_in_flight("dualpipev", 8, 0, 1, 32), 17);
  EXPECT_EQ(table_activations_in_flight("dualpipev", 8, 7, 1, 32), 17);
}

TEST(InFlight, InterleavedWithAsManyMicroBatchesAsRanksRunsEveryForwardFirst) {
  // Megatron's interleaved schedule with N = PP warms up with all N·v forwards on every rank.
  EXPECT_EQ(table_activations_in_flight("interleaved", 4, 3, 2, 4), 8);
}

}  // namespace
}  // namespace cs::sched
