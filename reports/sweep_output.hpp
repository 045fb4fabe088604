// A sweep's output folder:
//   points.jsonl   the journal: one JSON object per finished point ({id, fields, status, reason?, result, inputs}),
//                  appended with a single write() per line and flushed, in plan order. `inputs` holds the digests of
//                  what the point was computed from besides its swept values (reports/sweep_inputs.hpp). On resume,
//                  a trailing partial line (a kill mid-write) is cut off, and the points of complete lines whose
//                  inputs are this run's are not run again. Lines whose inputs differ (the base scenario, a preset
//                  or another file it reads, or the sweep's settings were edited since), or that record none (an
//                  older journal), stay in the file unused, with one warning: their points run again and the new
//                  rows are appended, so points.csv and summary.json are those of a fresh run.
//   points.csv     one row per finished point, in plan order: id, the swept fields, status, reason, then every key
//                  the evaluator reported (sorted). Rewritten whole (to a temporary file, then renamed) so a reader
//                  never sees half a file.
//   summary.json   the sweep, its points in plan order, counts, best point and Pareto front; the HTML report's input:
//     {sweep, sweep_file, base, axes: [{fields: [path], values: [[value per path]]}],
//      counts: {points, ok, infeasible, error, pending},
//      objective: "...", best: {id, fields, total_gpu_hours, days} | null,
//      pareto: [{id, fields, total_gpu_hours, days}] (by GPU-hours),
//      points: [{id, fields, status, reason?, result}]}
// Nothing in these files depends on wall-clock time or thread timing: the same sweep gives the same bytes.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "reports/sweep_plan.hpp"
#include "reports/sweep_run.hpp"

namespace cs {

class SweepJournal {
 public:
  // Opens (creating) dir/points.jsonl. resume = false truncates it; else its complete rows are loaded, except rows
  // whose id is not a point of this plan (a warning each in warnings()) and rows not computed from this run's
  // inputs (one warning for all of them, naming the inputs that changed).
  SweepJournal(const std::string& dir, const SweepPlan& plan, bool resume);
  ~SweepJournal();
  SweepJournal(const SweepJournal&) = delete;
  SweepJournal& operator=(const SweepJournal&) = delete;

  const std::map<size_t, PointResult>& rows() const { return rows_; }  // by plan index
  const std::vector<std::string>& warnings() const { return warnings_; }
  void append(const PointResult& r);  // one line, one write()

 private:
  std::string path_;
  int fd_ = -1;
  std::map<size_t, PointResult> rows_;
  std::vector<std::string> warnings_;
};

// Puts results that complete in any order into the journal in plan order: a result is written once every point
// before it (among those still to run) has been written. Keeps the journal's bytes independent of thread timing.
class OrderedWriter {
 public:
  OrderedWriter(SweepJournal& journal, std::vector<size_t> todo);  // todo: the indices to be run, any order
  void push(PointResult r);
  size_t written() const { return next_; }

 private:
  SweepJournal& journal_;
  std::vector<size_t> todo_;  // sorted
  size_t next_ = 0;
  std::map<size_t, PointResult> waiting_;
};

// Indices of the plan's points in `journal`'s complement: the points still to run.
std::vector<size_t> pending_points(const SweepPlan& plan, const SweepJournal& journal);

nlohmann::json sweep_summary(const SweepPlan& plan, const std::map<size_t, PointResult>& rows);
void write_sweep_csv(const std::string& path, const SweepPlan& plan, const std::map<size_t, PointResult>& rows);
// Writes `text` to path.tmp, then renames it over path.
void write_file_atomically(const std::string& path, const std::string& text);

// Writes points.csv and summary.json from the journal's rows; returns the summary.
nlohmann::json finish_sweep(const std::string& dir, const SweepPlan& plan, const SweepJournal& journal);

}  // namespace cs
