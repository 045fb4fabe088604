#include "reports/sweep_run.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <optional>
#include <mutex>
#include <thread>

#include "reports/sweep_inputs.hpp"
#include "reports/sweep_output.hpp"
#include "scenarios/yaml_reader.hpp"

namespace cs {

nlohmann::json to_json(const PointResult& r) {
  nlohmann::json j{{"id", r.id}, {"fields", r.fields}, {"status", r.status}};
  if (!r.reason.empty()) j["reason"] = r.reason;
  j["result"] = r.result;
  if (!r.inputs.empty()) j["inputs"] = r.inputs;
  return j;
}

PointResult point_result_from_json(const nlohmann::json& j) {
  PointResult r;
  r.id = j.at("id").get<std::string>();
  r.fields = j.at("fields");
  r.status = j.at("status").get<std::string>();
  if (r.status != "ok" && r.status != "infeasible" && r.status != "error")
    throw std::runtime_error("status must be ok, infeasible or error, got " + r.status);
  r.reason = j.value("reason", "");
  r.result = j.at("result");
  r.inputs = j.value("inputs", nlohmann::json::object());
  if (!r.inputs.is_object()) throw std::runtime_error("inputs must be an object of digests");
  return r;
}

PointResult evaluate_point(const SweepPlan& plan, size_t index, const Evaluator& eval) {
  const SweepPoint point = sweep_point(plan, index);
  PointResult r;
  r.index = index;
  r.id = point.id;
  r.fields = point_fields_json(point);
  std::optional<Scenario> scenario;
  std::vector<ScenarioInput> files;  // filled as the loader goes, so a rejected point names what it was judged on
  try {
    scenario = load_scenario(apply_point(plan, point), plan.base_path, &files);
  } catch (const ScenarioError& e) {
    r.status = "infeasible";
    r.reason = e.what();
    r.inputs = point_inputs(plan, files, "");
    return r;
  }
  r.inputs = point_inputs(plan, files, scenario->profile);
  try {
    r.result = eval(*scenario);
    if (!r.result.is_object()) throw std::runtime_error("the evaluator must return a JSON object");
  } catch (const std::exception& e) {
    r.status = "error";
    r.reason = fmt::format("evaluation failed: {}", e.what());
    r.result = nlohmann::json::object();
    return r;
  }
  const auto fits = r.result.find("fits");
  if (fits != r.result.end() && fits->is_boolean() && !fits->get<bool>()) {
    r.status = "infeasible";
    r.reason = r.result.value("reason", std::string("does not fit in memory"));
  } else {
    r.status = "ok";
  }
  return r;
}

void run_points(const SweepPlan& plan, const std::vector<size_t>& indices, const Evaluator& eval, int jobs,
                const std::function<void(PointResult)>& on_done, const std::function<void()>& idle) {
  if (jobs <= 0) jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  jobs = int(std::min<size_t>(size_t(jobs), std::max<size_t>(indices.size(), 1)));
  std::atomic<size_t> next{0};
  std::mutex m;
  std::condition_variable cv;
  std::deque<PointResult> done;
  std::vector<std::jthread> workers;
  for (int w = 0; w < jobs; ++w)
    workers.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < indices.size();) {
        PointResult r = evaluate_point(plan, indices[k], eval);
        {
          std::lock_guard lock(m);
          done.push_back(std::move(r));
        }
        cv.notify_one();
      }
    });
  // The calling thread owns all output (journal, progress, MPI): workers only evaluate.
  for (size_t handled = 0; handled < indices.size();) {
    std::deque<PointResult> batch;
    {
      std::unique_lock lock(m);
      cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return !done.empty(); });
      batch.swap(done);
    }
    try {
      for (PointResult& r : batch) {
        on_done(std::move(r));
        ++handled;
      }
      if (idle) idle();
    } catch (...) {
      next.store(indices.size());  // stop handing out points; workers finish the one they hold and exit
      throw;
    }
  }
}

nlohmann::json run_sweep(const SweepPlan& plan, const Evaluator& eval, const SweepOptions& opt) {
  SweepJournal journal(opt.out_dir, plan, opt.resume);
  if (opt.warn)
    for (const std::string& w : journal.warnings()) opt.warn(w);
  const std::vector<size_t> todo = pending_points(plan, journal);
  OrderedWriter writer(journal, todo);
  const size_t total = plan.size();
  size_t finished = total - todo.size();
  if (opt.progress) opt.progress(finished, total);
  const std::string csv = (std::filesystem::path(opt.out_dir) / "points.csv").string();
  auto last_csv = std::chrono::steady_clock::now();
  run_points(plan, todo, eval, opt.jobs, [&](PointResult r) {
    writer.push(std::move(r));
    ++finished;
    if (opt.progress) opt.progress(finished, total);
    // The CSV follows the journal while the sweep runs, rewritten at most once a second (it is rewritten whole).
    if (auto now = std::chrono::steady_clock::now(); now - last_csv > std::chrono::seconds(1)) {
      write_sweep_csv(csv, plan, journal.rows());
      last_csv = now;
    }
  });
  return finish_sweep(opt.out_dir, plan, journal);
}

}  // namespace cs
