// Choosing among sweep points: the best point (fewest GPU-hours, ties by fewer days) and the Pareto front of total
// GPU-hours against days (points no other point beats on both, or matches on one and beats on the other).
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

namespace cs {

struct Objectives {
  size_t index = 0;      // the caller's key (plan index); also the final tie-break, so results are deterministic
  double gpu_hours = 0;
  double days = 0;
};

// The index of the best point, or nothing for an empty list.
std::optional<size_t> best_point(const std::vector<Objectives>& points);

// The front, ordered by GPU-hours (ascending, so days descend). Points with equal objectives are all kept.
std::vector<Objectives> pareto_front(std::vector<Objectives> points);

}  // namespace cs
