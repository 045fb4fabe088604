// Runs a sweep with the synthetic test evaluator, alone or under mpirun, for the sweep tests (resume after a kill,
// identical results across ranks). Usage: sweep_driver SWEEP.yaml OUT_DIR JOBS DELAY_MS
// DELAY_MS slows each point down so a test can kill the run half-way.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "reports/sweep_mpi.hpp"
#include "tests/sweep/synthetic_evaluator.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    fmt::print(stderr, "usage: sweep_driver SWEEP.yaml OUT_DIR JOBS DELAY_MS\n");
    return 2;
  }
  cs::MpiRanks ranks;
  const int delay_ms = std::stoi(argv[4]);
  std::atomic<int> evaluated{0};
  const cs::Evaluator eval = [delay_ms, &evaluated](const cs::Scenario& s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ++evaluated;
    return cs::test::synthetic_figures(s);
  };
  try {
    const cs::SweepPlan plan = cs::load_sweep(argv[1]);
    cs::SweepOptions opt{argv[2], std::stoi(argv[3]), true, {}, {}};
    cs::run_sweep_ranks(ranks, plan, eval, opt);
    // Tells the tests that the work was really spread over the ranks.
    fmt::print(stderr, "rank {} of {} evaluated {} points\n", ranks.rank(), ranks.size(), evaluated.load());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
