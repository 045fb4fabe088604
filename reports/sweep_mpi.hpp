// A sweep spread over MPI ranks: rank r runs the points i with i % size == r (of those not already in the journal),
// each on its own thread pool; the other ranks send each result to rank 0 as it completes, and rank 0 alone reads
// the journal, writes rows in plan order and writes the CSV and summary, so the files are the ones a single
// process writes. Every rank reads the sweep and base files itself (a shared file system is assumed).
//
// Header-only on purpose: the cs_reports library does not link MPI; a binary that does (the clustersim CLI, the MPI
// test driver) includes this with CLUSTERSIM_MPI defined.
#pragma once
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "reports/sweep_output.hpp"
#include "reports/sweep_run.hpp"

#ifdef CLUSTERSIM_MPI
#include <mpi.h>
#endif

namespace cs {

// This process's place among the ranks: a single process is rank 0 of 1. MPI starts only when a launcher started the
// process (its environment says so), so a plain run never touches MPI.
class MpiRanks {
 public:
  MpiRanks() {
#ifdef CLUSTERSIM_MPI
    if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK")) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);  // only the main thread calls MPI
      MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
      MPI_Comm_size(MPI_COMM_WORLD, &size_);
      mpi_ = true;
    }
#endif
  }
  ~MpiRanks() {
#ifdef CLUSTERSIM_MPI
    if (mpi_) MPI_Finalize();
#endif
  }
  MpiRanks(const MpiRanks&) = delete;
  MpiRanks& operator=(const MpiRanks&) = delete;
  // True when `ok` holds on every rank (a collective: every rank must call it). Lets all ranks stop together when
  // one of them cannot go on, instead of the others waiting for it forever.
  bool all(bool ok) const {
#ifdef CLUSTERSIM_MPI
    if (mpi_) {
      int mine = ok ? 1 : 0, every = 0;
      MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
      return every == 1;
    }
#endif
    return ok;
  }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool mpi() const { return mpi_; }
  // A rank that stops alone would leave the others waiting for it: stop them all.
  [[noreturn]] void abort(const std::string& what) const {
    fmt::print(stderr, "error (rank {} of {}): {}\n", rank_, size_, what);
#ifdef CLUSTERSIM_MPI
    if (mpi_) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    std::exit(1);
  }

 private:
  int rank_ = 0;
  int size_ = 1;
  bool mpi_ = false;
};

// Runs the sweep on every rank (run_sweep without MPI). Returns the summary on rank 0, null elsewhere; `progress` and
// `warn` are called on rank 0 only.
inline nlohmann::json run_sweep_ranks(const MpiRanks& ranks, const SweepPlan& plan, const Evaluator& eval,
                                      const SweepOptions& opt) {
  if (!ranks.mpi()) return run_sweep(plan, eval, opt);
#ifdef CLUSTERSIM_MPI
  constexpr int kTagResult = 1, kTagDone = 2;
  auto send = [](const std::string& text, int tag) {
    MPI_Send(text.data(), int(text.size()), MPI_CHAR, 0, tag, MPI_COMM_WORLD);
  };
  try {
    std::unique_ptr<SweepJournal> journal;
    std::vector<unsigned long long> todo;
    if (ranks.rank() == 0) {
      journal = std::make_unique<SweepJournal>(opt.out_dir, plan, opt.resume);
      if (opt.warn)
        for (const std::string& w : journal->warnings()) opt.warn(w);
      for (size_t i : pending_points(plan, *journal)) todo.push_back(i);
    }
    unsigned long long n = todo.size();
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    todo.resize(n);
    MPI_Bcast(todo.data(), int(n), MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    std::vector<size_t> mine;
    for (auto i : todo)
      if (int(i % (unsigned long long)ranks.size()) == ranks.rank()) mine.push_back(size_t(i));

    if (ranks.rank() != 0) {
      run_points(plan, mine, eval, opt.jobs, [&](PointResult r) {
        send(nlohmann::json{{"index", r.index}, {"row", to_json(r)}}.dump(), kTagResult);
      });
      send("", kTagDone);
      return nullptr;
    }
    OrderedWriter writer(*journal, std::vector<size_t>(todo.begin(), todo.end()));
    const size_t total = plan.size();
    size_t finished = total - todo.size();
    int running = ranks.size() - 1;
    auto take = [&](PointResult r) {
      writer.push(std::move(r));
      ++finished;
      if (opt.progress) opt.progress(finished, total);
    };
    // Takes one message if one is waiting (or waits for one when `block`); false when there was none.
    auto receive = [&](bool block) {
      MPI_Status st;
      int ready = 1;
      if (block) MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
      else MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &st);
      if (!ready) return false;
      int count = 0;
      MPI_Get_count(&st, MPI_CHAR, &count);
      std::string text(size_t(count), '\0');
      MPI_Recv(text.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (st.MPI_TAG == kTagDone) {
        --running;
      } else {
        const auto j = nlohmann::json::parse(text);
        PointResult r = point_result_from_json(j.at("row"));
        r.index = j.at("index").get<size_t>();
        take(std::move(r));
      }
      return true;
    };
    if (opt.progress) opt.progress(finished, total);
    run_points(plan, mine, eval, opt.jobs, take, [&] {
      while (receive(false)) {
      }
    });
    while (running > 0) receive(true);
    return finish_sweep(opt.out_dir, plan, *journal);
  } catch (const std::exception& e) {
    ranks.abort(e.what());
  }
#endif
  return nullptr;
}

}  // namespace cs
