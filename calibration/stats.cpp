#include "calibration/stats.hpp"

#include <algorithm>
#include <cmath>

namespace cs {

TimingStats summarize_ns(std::vector<double> ns) {
  if (ns.empty()) return {};
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double q) {
    return ns[std::min(ns.size() - 1, size_t(std::floor(q * double(ns.size() - 1) + 0.5)))];
  };
  return TimingStats{pct(0.5), pct(0.1), pct(0.9), int(ns.size())};
}

}  // namespace cs
