#include "reports/trace.hpp"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

namespace cs {
namespace {

// Tracks in a fixed order so every GPU shows compute above its communication.
int stream_tid(const std::string& stream) {
  static const char* order[] = {"compute", "communication", "pipeline", "data-parallel"};
  for (int i = 0; i < 4; ++i)
    if (stream == order[i]) return i + 1;
  return 5;
}

}  // namespace

nlohmann::json trace_json(const std::vector<TraceSlice>& slices, const std::string& title) {
  nlohmann::json events = nlohmann::json::array();
  std::map<int, int> gpus;  // GPU → pipeline rank
  std::set<std::pair<int, std::string>> tracks;
  for (const TraceSlice& s : slices) {
    gpus.emplace(s.gpu, s.rank);
    tracks.insert({s.gpu, s.stream});
  }
  for (const auto& [g, rank] : gpus) {
    events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", g}, {"tid", 0},
                      {"args", {{"name", fmt::format("GPU {} (pipeline rank {})", g, rank)}}}});
    events.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", g}, {"tid", 0},
                      {"args", {{"sort_index", g}}}});
  }
  for (const auto& [g, stream] : tracks) {
    events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", g}, {"tid", stream_tid(stream)},
                      {"args", {{"name", stream}}}});
    events.push_back({{"ph", "M"}, {"name", "thread_sort_index"}, {"pid", g}, {"tid", stream_tid(stream)},
                      {"args", {{"sort_index", stream_tid(stream)}}}});
  }
  for (const TraceSlice& s : slices) {
    // Timestamps are microseconds; nanosecond precision survives as the fraction.
    events.push_back({{"ph", "X"},
                      {"name", s.name},
                      {"cat", s.category},
                      {"pid", s.gpu},
                      {"tid", stream_tid(s.stream)},
                      {"ts", double(s.start) / 1000.0},
                      {"dur", double(s.end - s.start) / 1000.0}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"}, {"otherData", {{"title", title}}}};
}

void write_trace(const std::vector<TraceSlice>& slices, const std::string& title, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error(fmt::format("cannot write the trace to {}", path));
  out << trace_json(slices, title).dump() << "\n";
  if (!out) throw std::runtime_error(fmt::format("writing the trace to {} failed", path));
}

}  // namespace cs
