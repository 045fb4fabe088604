#include "reports/sweep_output.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "reports/csv.hpp"
#include "reports/pareto.hpp"
#include "reports/sweep_inputs.hpp"

namespace cs {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail_io(const std::string& what, const std::string& path) {
  throw std::runtime_error(fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Nested objects flattened with dots; arrays and scalars kept as leaves.
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  out[prefix] = j;
}

std::string cell_text(const nlohmann::json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

// One warning for the points whose rows are all of other inputs (`stale`: per point, the inputs its last such row
// names as changed, none when it records no inputs); "" when every point with a row has one of this run's inputs.
std::string stale_rows_warning(const std::string& path, const SweepPlan& plan,
                               const std::map<size_t, std::vector<std::string>>& stale,
                               const std::map<size_t, PointResult>& reused) {
  size_t rerun = 0, unrecorded = 0;
  std::set<std::string> changed;
  for (const auto& [index, names] : stale) {
    if (reused.count(index)) continue;  // another row of the point has this run's inputs
    ++rerun;
    if (names.empty()) ++unrecorded;
    changed.insert(names.begin(), names.end());
  }
  if (rerun == 0) return "";
  std::vector<std::string> why;
  if (!changed.empty()) {
    std::vector<std::string> named;
    for (const std::string& n : changed) named.push_back(describe_input(plan, n));
    why.push_back(fmt::format("changed since: {}", fmt::join(named, ", ")));
  }
  if (unrecorded > 0)
    why.push_back(fmt::format("{} written by an older clustersim that did not record inputs", unrecorded));
  return fmt::format("{}: {} earlier result(s) were not computed from this run's inputs ({}) and are not reused: "
                     "their points run again (--fresh discards earlier results)",
                     path, rerun, fmt::join(why, "; "));
}

}  // namespace

SweepJournal::SweepJournal(const std::string& dir, const SweepPlan& plan, bool resume) {
  fs::create_directories(dir);
  path_ = (fs::path(dir) / "points.jsonl").string();
  if (resume && fs::exists(path_)) {
    std::unordered_map<std::string, size_t> by_id;
    const size_t n = plan.size();
    for (size_t i = 0; i < n; ++i) by_id[sweep_point(plan, i).id] = i;
    const std::string text = read_all(path_);
    // A kill can leave the last line half-written: it is cut off here and its point runs again.
    const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (complete < text.size()) {
      warnings_.push_back(fmt::format("{}: dropped an incomplete last line ({} bytes); its point runs again", path_,
                                      text.size() - complete));
      fs::resize_file(path_, complete);
    }
    std::istringstream lines(text.substr(0, complete));
    std::string line;
    int lineno = 0;
    // Rows computed from other inputs than this run's are left in the file and not used. Per point, the changed
    // inputs its last such row names (empty: the row records none), for the one warning about them.
    InputCheck check(plan);
    std::map<size_t, std::vector<std::string>> stale;
    while (std::getline(lines, line)) {
      ++lineno;
      if (line.empty()) continue;
      PointResult r;
      try {
        r = point_result_from_json(nlohmann::json::parse(line));
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{}:{}: not a sweep result row ({}); remove the line or run with --fresh",
                                             path_, lineno, e.what()));
      }
      auto it = by_id.find(r.id);
      if (it == by_id.end()) {
        warnings_.push_back(fmt::format("{}:{}: point {} is not in this sweep's grid; ignored", path_, lineno, r.id));
        continue;
      }
      r.index = it->second;
      if (r.inputs.empty()) {
        stale[r.index] = {};
        continue;
      }
      if (std::vector<std::string> changed = check.changed(r.inputs); !changed.empty()) {
        stale[r.index] = std::move(changed);
        continue;
      }
      // A repeated id (two runs writing at once, or a point run again after its inputs changed and changed back)
      // keeps the last row of this run's inputs.
      rows_[r.index] = std::move(r);
    }
    if (std::string w = stale_rows_warning(path_, plan, stale, rows_); !w.empty()) warnings_.push_back(std::move(w));
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | (resume ? 0 : O_TRUNC) | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_io("cannot open the sweep journal", path_);
}

SweepJournal::~SweepJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void SweepJournal::append(const PointResult& r) {
  const std::string line = to_json(r).dump() + "\n";
  // One write() per row, no user-space buffer: once it returns, the row is in the kernel's page cache and survives a
  // kill of this process; a kill during the call leaves at most a tail the reader drops. (Surviving a power cut
  // would need fdatasync per row, which costs more than a cheap point.)
  const ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != ssize_t(line.size())) fail_io("cannot append to the sweep journal", path_);
  rows_[r.index] = r;
}

OrderedWriter::OrderedWriter(SweepJournal& journal, std::vector<size_t> todo)
    : journal_(journal), todo_(std::move(todo)) {
  std::sort(todo_.begin(), todo_.end());
}

void OrderedWriter::push(PointResult r) {
  waiting_[r.index] = std::move(r);
  while (next_ < todo_.size()) {
    auto it = waiting_.find(todo_[next_]);
    if (it == waiting_.end()) break;
    journal_.append(it->second);
    waiting_.erase(it);
    ++next_;
  }
}

std::vector<size_t> pending_points(const SweepPlan& plan, const SweepJournal& journal) {
  std::vector<size_t> todo;
  const size_t n = plan.size();
  for (size_t i = 0; i < n; ++i)
    if (!journal.rows().count(i)) todo.push_back(i);
  return todo;
}

nlohmann::json sweep_summary(const SweepPlan& plan, const std::map<size_t, PointResult>& rows) {
  using nlohmann::json;
  json s;
  s["sweep"] = plan.name;
  s["sweep_file"] = plan.file;
  s["base"] = plan.base_path;
  s["axes"] = json::array();
  for (const SweepAxis& a : plan.axes) {
    json values = json::array();
    for (const AxisValue& v : a.values) {
      json tuple = json::array();
      for (const FieldValue& f : v.fields) tuple.push_back(yaml_to_json(f.value));
      values.push_back(tuple);
    }
    s["axes"].push_back({{"fields", a.paths}, {"values", values}});
  }
  std::map<std::string, size_t> counts{{"ok", 0}, {"infeasible", 0}, {"error", 0}};
  std::vector<Objectives> objs;
  std::map<size_t, std::string> ids;
  s["points"] = json::array();
  for (const auto& [index, r] : rows) {
    ++counts[r.status];
    s["points"].push_back(to_json(r));
    s["points"].back().erase("inputs");  // the journal keeps them; the report has no use for them
    ids[index] = r.id;
    const json& res = r.result;
    if (r.status == "ok" && res.contains("total_gpu_hours") && res.contains("days") &&
        res["total_gpu_hours"].is_number() && res["days"].is_number())
      objs.push_back({index, res["total_gpu_hours"].get<double>(), res["days"].get<double>()});
  }
  s["counts"] = {{"points", plan.size()}, {"ok", counts["ok"]}, {"infeasible", counts["infeasible"]},
                 {"error", counts["error"]}, {"pending", plan.size() - rows.size()}};
  s["objective"] = "lowest total_gpu_hours, ties by fewer days; Pareto front of total_gpu_hours vs days";
  auto obj_json = [&](const Objectives& o) {
    return json{{"id", ids[o.index]}, {"fields", rows.at(o.index).fields}, {"total_gpu_hours", o.gpu_hours},
                {"days", o.days}};
  };
  s["best"] = nullptr;
  if (auto best = best_point(objs))
    for (const Objectives& o : objs)
      if (o.index == *best) s["best"] = obj_json(o);
  s["pareto"] = json::array();
  for (const Objectives& o : pareto_front(objs)) s["pareto"].push_back(obj_json(o));
  return s;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) fail_io("cannot write", tmp);
  }
  fs::rename(tmp, path);
}

void write_sweep_csv(const std::string& path, const SweepPlan& plan, const std::map<size_t, PointResult>& rows) {
  std::vector<std::string> fields;
  for (const SweepAxis& a : plan.axes)
    for (const std::string& p : a.paths) fields.push_back(p);
  std::vector<std::map<std::string, nlohmann::json>> flat;
  std::set<std::string> keys;
  for (const auto& [index, r] : rows) {
    flat.emplace_back();
    flatten(r.result, "", flat.back());
    flat.back().erase("");  // an empty result object flattens to one nameless null
    for (const auto& [k, v] : flat.back()) keys.insert(k);
  }
  std::vector<std::string> header{"id"};
  header.insert(header.end(), fields.begin(), fields.end());
  header.push_back("status");
  header.push_back("reason");
  // A result key that repeats a column already there (an evaluator echoing a swept field) is told apart by a prefix.
  const std::set<std::string> taken(header.begin(), header.end());
  for (const std::string& k : keys) header.push_back(taken.count(k) ? "result." + k : k);
  std::string text = csv_row(header);
  size_t i = 0;
  for (const auto& [index, r] : rows) {
    std::vector<std::string> cells{r.id};
    for (const std::string& f : fields) cells.push_back(r.fields.contains(f) ? cell_text(r.fields[f]) : "");
    cells.push_back(r.status);
    cells.push_back(r.reason);
    const auto& row = flat[i++];
    for (const std::string& k : keys) {
      auto it = row.find(k);
      cells.push_back(it == row.end() ? "" : cell_text(it->second));
    }
    text += csv_row(cells);
  }
  write_file_atomically(path, text);
}

nlohmann::json finish_sweep(const std::string& dir, const SweepPlan& plan, const SweepJournal& journal) {
  write_sweep_csv((fs::path(dir) / "points.csv").string(), plan, journal.rows());
  nlohmann::json summary = sweep_summary(plan, journal.rows());
  write_file_atomically((fs::path(dir) / "summary.json").string(), summary.dump(2) + "\n");
  return summary;
}

}  // namespace cs
