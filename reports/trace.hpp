// Chrome / Perfetto trace JSON (the "Trace Event Format"): one process per GPU, one thread (track) per stream.
// Opens in ui.perfetto.dev and chrome://tracing.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/step_result.hpp"

namespace cs {

nlohmann::json trace_json(const std::vector<TraceSlice>& slices, const std::string& title);
void write_trace(const std::vector<TraceSlice>& slices, const std::string& title, const std::string& path);

}  // namespace cs
