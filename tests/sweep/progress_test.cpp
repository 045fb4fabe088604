// The progress bar: drawn only when enabled (stderr is a terminal), with counts, percentage and an ETA.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "reports/sweep_progress.hpp"

namespace {

std::string drawn(bool enabled) {
  std::FILE* f = std::tmpfile();
  cs::ProgressBar bar(f, enabled);
  bar.update(2, 10);  // two points resumed from an earlier run
  bar.update(10, 10);
  bar.finish();
  std::string text(size_t(std::ftell(f)), '\0');
  std::rewind(f);
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  return text;
}

TEST(ProgressBar, DrawsCountsPercentAndTime) {
  const std::string text = drawn(true);
  EXPECT_NE(text.find("2/10  20.0%  ETA --"), std::string::npos) << text;  // no rate yet: no guess
  EXPECT_NE(text.find("[##############################] 10/10 100.0%  took 0s"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(ProgressBar, SilentWhenDisabled) { EXPECT_EQ(drawn(false), ""); }

}  // namespace
