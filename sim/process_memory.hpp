#pragma once
// Process-wide malloc policy for programs that build and drop networks repeatedly (the command line, benchmarks).
//
// glibc adjusts its mmap and trim thresholds as large blocks come and go, so whether a dropped network's memory is
// kept for the next one or returned to the system (and faulted in again, page by page) depended on which allocation
// happened to lie at the top of the heap. Measured with bench_network's first round on a new network (three networks
// in a row): one build returned 48 MB three times and ran 75-87 ms, the build before none and ran 47-49 ms; with the
// thresholds fixed both ran 28-34 ms. A first touch of a page costs ~11 µs on the 2-core build machine (a virtual
// machine), so the heap's layout outweighed the code. Fixed thresholds keep freed memory for reuse up to the trim
// threshold and take only blocks of 32 MiB or more straight from the system.
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cs {

inline void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest glibc allows; fixing it also fixes the trim threshold
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

}  // namespace cs
