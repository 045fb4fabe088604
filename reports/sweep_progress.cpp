#include "reports/sweep_progress.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace cs {

namespace {
std::string duration_text(double seconds) {
  const long long s = std::llround(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
}
}  // namespace

void ProgressBar::update(size_t done, size_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!started_) {
    started_ = true;
    first_done_ = done;
    start_ = now;
  } else if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;  // redraw at most 10 times a second
  }
  last_draw_ = now;
  constexpr int kWidth = 30;
  const double frac = total ? double(done) / double(total) : 1.0;
  const int filled = int(frac * kWidth);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const size_t run_here = done - first_done_;
  std::string eta = "ETA --";
  if (run_here > 0) eta = "ETA " + duration_text(elapsed / double(run_here) * double(total - done));
  if (done == total) eta = "took " + duration_text(elapsed);
  fmt::print(out_, "\r[{}{}] {}/{} {:5.1f}%  {}   ", std::string(filled, '#'), std::string(kWidth - filled, '.'), done,
             total, 100 * frac, eta);
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (enabled_ && started_) fmt::print(out_, "\n");
}

}  // namespace cs
