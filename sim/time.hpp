#pragma once
#include <cstdint>

namespace cs {
using TimeNs = int64_t;  // simulated time, integer nanoseconds
}
