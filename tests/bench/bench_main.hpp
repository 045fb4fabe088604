#pragma once
// BENCHMARK_MAIN with the command line's malloc policy (sim/process_memory.hpp), so the benchmarks time what
// clustersim runs, not where the heap's top happens to lie.
#include <benchmark/benchmark.h>

#include "sim/process_memory.hpp"

#define CS_BENCHMARK_MAIN()                                                \
  int main(int argc, char** argv) {                                        \
    cs::keep_freed_memory();                                               \
    benchmark::Initialize(&argc, argv);                                    \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;      \
    benchmark::RunSpecifiedBenchmarks();                                   \
    benchmark::Shutdown();                                                 \
    return 0;                                                              \
  }                                                                        \
  int main(int, char**)
