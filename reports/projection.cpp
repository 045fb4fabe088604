#include "reports/projection.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace cs {

int64_t ramp_batch(const Phase& p, double tokens_done) {
  if (!p.ramp || tokens_done >= p.ramp->over_tokens) return p.global_batch;
  const int64_t quantum = int64_t(p.layout.dp) * p.layout.micro_batch;
  if (p.ramp->shape == "step") return p.ramp->from;
  const double frac = tokens_done / p.ramp->over_tokens;
  const double b = double(p.ramp->from) + double(p.global_batch - p.ramp->from) * frac;
  const int64_t rounded = int64_t(std::floor(b / double(quantum))) * quantum;
  return std::clamp(rounded, p.ramp->from, p.global_batch);
}

Projection project_training(const Scenario& s, const StepTimeFn& step_time) {
  Projection out;
  for (const Phase& p : s.phases) {
    PhaseProjection pp;
    pp.name = p.name;
    pp.simulated = p.simulated();
    if (!p.simulated()) {
      pp.source = p.given_source;
      pp.gpu_hours = p.given_gpu_hours;
      pp.gpus = s.cluster.gpus();
      pp.wall_s = p.given_gpu_hours * 3600.0 / pp.gpus;  // assumed to run on the whole cluster
    } else {
      pp.gpus = p.nodes * s.cluster.node.gpus;
      pp.seq_len = p.seq_len;
      pp.global_batch = p.global_batch;
      const int64_t per_mb = int64_t(p.layout.dp) * p.layout.micro_batch;
      std::map<int64_t, double> memo;  // micro-batches → step seconds
      auto step_s = [&](int64_t batch) {
        const int64_t n = batch / per_mb;
        auto it = memo.find(n);
        if (it == memo.end()) it = memo.emplace(n, step_time(p, n)).first;
        return it->second;
      };
      pp.step_time_s = step_s(p.global_batch);
      const double tokens_per_full_step = double(p.global_batch) * double(p.seq_len);
      if (p.steps > 0) {
        pp.steps = p.steps;
        pp.tokens = tokens_per_full_step * double(p.steps);
        pp.wall_s = pp.step_time_s * double(p.steps);
      } else {
        double done = 0;
        // Ramp steps one by one (DeepSeek-V3: 15,155; at most kMaxRampSteps, checked at load), then the rest at the
        // full batch in closed form.
        while (p.ramp && done < p.ramp->over_tokens && done < p.tokens) {
          const int64_t b = ramp_batch(p, done);
          if (b >= p.global_batch) break;
          done += double(b) * double(p.seq_len);
          pp.wall_s += step_s(b);
          ++pp.ramp_steps;
        }
        const double rest = std::max(0.0, p.tokens - done);
        const int64_t full = int64_t(std::ceil(rest / tokens_per_full_step));
        pp.steps = pp.ramp_steps + full;
        pp.tokens = done + double(full) * tokens_per_full_step;
        pp.wall_s += double(full) * pp.step_time_s;
      }
      pp.gpu_hours = pp.wall_s * pp.gpus / 3600.0;
    }
    pp.cost_usd = pp.gpu_hours * s.price_per_gpu_hour;
    out.total_gpu_hours += pp.gpu_hours;
    out.total_cost_usd += pp.cost_usd;
    out.days += pp.wall_s / 86400.0;
    out.phases.push_back(pp);
  }
  const PhaseProjection& first = out.phases.front();
  if (first.tokens > 0) out.gpu_hours_per_trillion_tokens = first.gpu_hours / (first.tokens / 1e12);
  return out;
}

}  // namespace cs
