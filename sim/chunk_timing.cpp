#include "sim/chunk_timing.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <stdexcept>

namespace cs {
namespace {

bool is_comm(const Op& op) { return op.kind == OpKind::dispatch || op.kind == OpKind::combine; }

std::string label_of(int layer, Part part) {
  return layer < 0 ? std::string(to_string(part)) : fmt::format("L{} {}", layer, to_string(part));
}

// Consecutive ops of the same (layer, part, stream) become one segment.
std::vector<Segment> group(const std::vector<Op>& ops, const OpTimer& compute, const OpTimer& comm, bool weight) {
  std::vector<Segment> out;
  for (const Op& op : ops) {
    const Stream st = is_comm(op) ? Stream::comm : Stream::compute;
    const TimeNs d = st == Stream::comm ? comm(op) : compute(op);
    if (!out.empty() && out.back().stream == st && out.back().layer == op.layer && out.back().part == op.part) {
      out.back().duration += d;
      continue;
    }
    Segment s;
    s.stream = st;
    s.part = op.part;
    s.layer = op.layer;
    s.weight_grad = weight;
    s.duration = d;
    s.label = label_of(op.layer, op.part);
    out.push_back(s);
  }
  return out;
}

struct Task {
  Segment seg;
  int chain = 0;
  int dep = -1;       // task that must finish first
  int priority = 0;   // lower runs first when both are ready
  bool started = false;
  TimeNs start = 0, end = 0;
};

void add_chain(std::vector<Task>& tasks, const std::vector<Segment>& segs, int chain, int priority) {
  int prev = -1;
  for (const Segment& s : segs) {
    tasks.push_back(Task{s, chain, prev, priority});
    prev = int(tasks.size()) - 1;
  }
}

// W segments of a backward chain: each waits for the last B segment of its (layer, part), else the chain's end.
void add_weight_grads(std::vector<Task>& tasks, const ChunkSegments& s, int chain, size_t chain_begin, int priority) {
  std::map<std::pair<int, int>, int> last;
  int chain_end = -1;
  for (size_t i = chain_begin; i < tasks.size(); ++i) {
    last[{tasks[i].seg.layer, int(tasks[i].seg.part)}] = int(i);
    chain_end = int(i);
  }
  for (const Segment& w : s.backward_weight) {
    auto it = last.find({w.layer, int(w.part)});
    tasks.push_back(Task{w, chain, it != last.end() ? it->second : chain_end, priority});
  }
}

// List scheduling on the two streams; ties broken by priority, then task order (deterministic).
ChunkTiming schedule(std::vector<Task>& tasks) {
  ChunkTiming t;
  TimeNs now = 0;
  TimeNs free_at[2] = {0, 0};
  size_t done = 0;
  auto ready = [&](const Task& k) { return !k.started && (k.dep < 0 || (tasks[size_t(k.dep)].started &&
                                                                        tasks[size_t(k.dep)].end <= now)); };
  while (done < tasks.size()) {
    bool progress = true;
    while (progress) {
      progress = false;
      for (int r = 0; r < 2; ++r) {
        if (free_at[r] > now) continue;
        int best = -1;
        for (size_t i = 0; i < tasks.size(); ++i) {
          const Task& k = tasks[i];
          if (int(k.seg.stream) != r || !ready(k)) continue;
          if (best < 0 || k.priority < tasks[size_t(best)].priority) best = int(i);
        }
        if (best < 0) continue;
        Task& k = tasks[size_t(best)];
        k.started = true;
        k.start = now;
        k.end = now + k.seg.duration;
        free_at[r] = k.end;
        ++done;
        progress = true;
      }
    }
    if (done == tasks.size()) break;
    TimeNs next = std::numeric_limits<TimeNs>::max();
    for (const Task& k : tasks)
      if (k.started && k.end > now) next = std::min(next, k.end);
    if (next == std::numeric_limits<TimeNs>::max()) throw std::logic_error("chunk schedule: tasks wait on nothing");
    now = next;
  }
  std::vector<std::pair<TimeNs, TimeNs>> compute;
  for (const Task& k : tasks) {
    t.duration = std::max(t.duration, k.end);
    (k.seg.stream == Stream::compute ? t.compute_busy : t.comm_busy) += k.seg.duration;
    if (k.seg.stream == Stream::compute && k.seg.duration > 0) compute.push_back({k.start, k.end});
    t.placed.push_back(Placed{k.chain, k.seg, k.start, k.end});
  }
  std::sort(compute.begin(), compute.end());
  for (const Task& k : tasks) {
    if (k.seg.stream != Stream::comm) continue;
    // the part of [start, end) not covered by any compute interval (compute intervals never overlap each other)
    TimeNs exposed = k.end - k.start;
    for (const auto& [a, b] : compute) exposed -= std::max<TimeNs>(0, std::min(b, k.end) - std::max(a, k.start));
    t.comm_exposed += exposed;
    (k.seg.part == Part::dispatch ? t.exposed_dispatch : t.exposed_combine) += exposed;
  }
  std::stable_sort(t.placed.begin(), t.placed.end(),
                   [](const Placed& a, const Placed& b) { return a.start < b.start; });
  return t;
}

}  // namespace

ChunkSegments chunk_segments(const LayerOps& stage, const OpTimer& compute, const OpTimer& comm) {
  ChunkSegments s;
  s.forward = group(stage.forward, compute, comm, false);
  s.backward_input = group(stage.backward_input, compute, comm, false);
  s.backward_weight = group(stage.backward_weight, compute, comm, true);
  return s;
}

ChunkTiming time_serial(const std::vector<Segment>& segs, int chain) {
  std::vector<Task> tasks;
  add_chain(tasks, segs, chain, 0);
  return schedule(tasks);
}

ChunkTiming time_backward(const ChunkSegments& s, bool with_weight_grads) {
  std::vector<Task> tasks;
  add_chain(tasks, s.backward_input, 1, 0);
  if (with_weight_grads) add_weight_grads(tasks, s, 1, 0, 1);
  return schedule(tasks);
}

ChunkTiming time_overlapped(const ChunkSegments& f, const ChunkSegments& b, bool with_weight_grads) {
  std::vector<Task> tasks;
  // The backward chain goes first on a tie: its combine-backward starts the pair's communication, which the forward
  // chain's attention then hides (DeepSeek's F&B figure starts the same way).
  add_chain(tasks, f.forward, 0, 1);
  const size_t b_begin = tasks.size();
  add_chain(tasks, b.backward_input, 1, 0);
  if (with_weight_grads) add_weight_grads(tasks, b, 1, b_begin, 2);
  return schedule(tasks);
}

}  // namespace cs
