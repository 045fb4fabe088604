// Runs the clustersim binary (CLUSTERSIM_BINARY) as a user would: its exit status and what it printed.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cs::testing {

struct CliResult {
  int rc = -1;      // exit status; -1 when it could not start or did not exit normally
  std::string out;  // standard output, and standard error unless dropped
};

inline CliResult run_cli(const std::string& args, bool with_stderr = true) {
  const std::string cmd = std::string(CLUSTERSIM_BINARY) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  CliResult r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace cs::testing
