// A one-line progress bar with an ETA for a terminal; silent when disabled (stderr not a tty, MPI ranks ≠ 0).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdio>

namespace cs {

class ProgressBar {
 public:
  ProgressBar(std::FILE* out, bool enabled) : out_(out), enabled_(enabled) {}
  // done/total points; points already done when the bar started (resumed) do not count towards the rate.
  void update(size_t done, size_t total);
  void finish();  // ends the line

 private:
  std::FILE* out_;
  bool enabled_;
  bool started_ = false;
  size_t first_done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace cs
