#include "reports/pareto.hpp"

#include <algorithm>
#include <tuple>

namespace cs {

namespace {
bool better(const Objectives& a, const Objectives& b) {
  return std::tie(a.gpu_hours, a.days, a.index) < std::tie(b.gpu_hours, b.days, b.index);
}
}  // namespace

std::optional<size_t> best_point(const std::vector<Objectives>& points) {
  if (points.empty()) return std::nullopt;
  return std::min_element(points.begin(), points.end(), better)->index;
}

std::vector<Objectives> pareto_front(std::vector<Objectives> points) {
  std::sort(points.begin(), points.end(), better);
  // Walking in order of GPU-hours, a point is on the front when it needs fewer days than every point before it
  // (those have fewer or equal GPU-hours); an exact duplicate of the last front point is kept with it.
  std::vector<Objectives> front;
  for (const Objectives& p : points) {
    if (front.empty() || p.days < front.back().days ||
        (p.days == front.back().days && p.gpu_hours == front.back().gpu_hours))
      front.push_back(p);
  }
  return front;
}

}  // namespace cs
