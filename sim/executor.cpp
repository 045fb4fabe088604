#include "sim/executor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "models/memory.hpp"
#include "models/ops.hpp"
#include "models/params.hpp"
#include "sim/chunk_timing.hpp"
#include "sim/collectives.hpp"
#include "sim/schedule/timeline.hpp"
#include "sim/topology.hpp"

namespace cs {
namespace {

// DeepEP's published H800 bandwidths were measured with its default of 20 SMs for dispatch/combine ([EP] README,
// reference §5). With fewer SMs the kernels are assumed proportionally slower (UNCONFIRMED: no published SM sweep).
constexpr int kDeepEpReferenceSms = 20;

EpRoutingSpec routing_spec(const StepSpec& s) {
  EpRoutingSpec r;
  r.kind = routing_kind_from_name(s.routing.kind);
  r.seed = s.routing.seed;
  r.zipf_exponent = s.routing.zipf_exponent;
  r.load_file = s.routing.load_file;
  r.max_nodes = s.routing.max_nodes > 0 ? s.routing.max_nodes : s.model.topk_groups;
  return r;
}

// Everything about one step that does not change between micro-batches of the same class.
struct Ctx {
  const StepSpec& spec;
  const sched::Schedule& sch;
  const CostModel& cost;
  const Topology& topo;
  CollectiveTimer& comm;
  CostTally tally;
  std::vector<StageBlocks> stages;
  OpsContext ops;
  int compute_sms = 0;

  Ctx(const StepSpec& s, const sched::Schedule& sc, const CostModel& c, const Topology& t, CollectiveTimer& timer)
      : spec(s), sch(sc), cost(c), topo(t), comm(timer), ops(ops_context(s.layout)) {
    compute_sms = s.cluster.gpu.sms - (s.model.is_moe() ? s.schedule.comm_sms : 0);
    stages = assign_stages(s.model, sc.stages);
  }

  // The GPUs shifted back by whole periods of the fabric: the same timings, and one cache entry for equal groups.
  std::vector<int> canonical(std::vector<int> gpus) const {
    const int period = topo.translation_period_gpus();
    if (period <= 0 || gpus.empty()) return gpus;
    const auto [lo, hi] = std::minmax_element(gpus.begin(), gpus.end());
    // Inside one period every NIC hangs off the same leaf (per plane or rail): the traffic never reaches a spine, so
    // shifting by whole nodes changes nothing either.
    const int gpn = topo.gpus_per_node();
    const int shift = *lo / period == *hi / period ? (*lo / gpn) * gpn : (*lo / period) * period;
    for (int& g : gpus) g -= shift;
    return gpus;
  }

  int gpu(int rank, int replica) const { return rank * spec.layout.dp + replica; }

  std::vector<int> ep_group(int rank, int group) const {
    std::vector<int> g;
    for (int i = 0; i < spec.layout.ep; ++i) g.push_back(gpu(rank, group * spec.layout.ep + i));
    return g;
  }

  TimeNs compute_time(const Op& op) {
    const OpTime t = cost.time(op, compute_sms);
    tally.add(t);
    return t.ns;
  }

  // Dispatch-direction traffic in FP8 is DeepEP's dispatch; BF16 traffic (combine, and the gradients of backward)
  // is timed as a combine.
  CollectiveSpec ep_spec(const Op& op, int rank, int group, const EpRoutingSpec& routing) const {
    CollectiveSpec c;
    c.kind = op.precision == Precision::fp8 && op.kind == OpKind::dispatch ? CollectiveKind::dispatch
                                                                          : CollectiveKind::combine;
    c.gpus = canonical(ep_group(rank, group));
    c.tokens_per_rank = op.m;
    c.hidden = spec.model.hidden;
    c.experts = spec.model.routed_experts;
    c.topk = spec.model.top_k;
    c.routing = routing;
    return c;
  }

  TimeNs ep_time(const Op& op, int rank, int group, const EpRoutingSpec& routing) {
    const TimeNs t = comm.duration(ep_spec(op, rank, group, routing));
    const int sms = std::max(1, spec.schedule.comm_sms);
    return sms >= kDeepEpReferenceSms ? t : t * kDeepEpReferenceSms / sms;
  }

  CollectiveSpec p2p_spec(int from_rank, int to_rank) const {
    CollectiveSpec c;
    c.kind = CollectiveKind::p2p;
    c.gpus = canonical({gpu(from_rank, 0), gpu(to_rank, 0)});
    c.bytes = ops.tokens() * spec.model.hidden * 2;  // BF16 activations (forward) or their gradients (backward)
    return c;
  }
  TimeNs p2p_time(int from_rank, int to_rank) { return comm.duration(p2p_spec(from_rank, to_rank)); }
};

void add_bytes(LinkKindBytes& to, const LinkKindBytes& from, double times = 1) {
  for (size_t k = 0; k < kLinkKinds; ++k) to[k] += from[k] * times;
}

// Instruction durations of one pipeline class, from per-stage segments for its expert load. A rank's compute runs
// `slowdown[rank]` times slower (its slowest member's, for stragglers); DualPipe places a stage on two ranks (one per
// direction), so segments are kept per (stage, slowdown).
struct PipelineCosts {
  Ctx& ctx;
  int group;
  double load;
  EpRoutingSpec routing;
  std::vector<double> slowdown;  // per rank
  std::map<std::pair<int, double>, ChunkSegments> seg;
  std::map<std::string, ChunkTiming> memo;

  // The stage's operations at this class's expert load.
  LayerOps ops_of(int stage) const {
    OpsContext oc = ctx.ops;
    oc.expert_load = load;
    return stage_ops(ctx.spec.model, ctx.stages[size_t(stage)], oc);
  }

  const ChunkSegments& segments(int stage, double f) {
    auto it = seg.find({stage, f});
    if (it != seg.end()) return it->second;
    const int rank = ctx.sch.rank_of(0, stage);
    const LayerOps ops = ops_of(stage);
    ChunkSegments cs = chunk_segments(
        ops,
        [&](const Op& op) {
          const TimeNs t = ctx.compute_time(op);
          return f == 1 ? t : TimeNs(std::llround(double(t) * f));
        },
        [&](const Op& op) { return ctx.ep_time(op, rank, group, routing); });
    return seg.emplace(std::make_pair(stage, f), std::move(cs)).first->second;
  }

  // Bytes on each link kind of one micro-batch's forward or backward on `stage`, for its whole EP group.
  std::map<std::pair<int, bool>, LinkKindBytes> stage_bytes;
  const LinkKindBytes& bytes(int stage, bool backward) {
    auto it = stage_bytes.find({stage, backward});
    if (it != stage_bytes.end()) return it->second;
    const int rank = ctx.sch.rank_of(0, stage);
    const LayerOps ops = ops_of(stage);
    LinkKindBytes b{};
    for (const auto* list : backward ? std::vector<const std::vector<Op>*>{&ops.backward_input, &ops.backward_weight}
                                     : std::vector<const std::vector<Op>*>{&ops.forward})
      for (const Op& op : *list)
        if (op.kind == OpKind::dispatch || op.kind == OpKind::combine)
          add_bytes(b, ctx.comm.cost(ctx.ep_spec(op, rank, group, routing)).bytes);
    return stage_bytes.emplace(std::make_pair(stage, backward), b).first->second;
  }

  const ChunkTiming& timing(const sched::Instruction& in, int rank) {
    const double f = slowdown[size_t(rank)];
    const std::string key = fmt::format("{}:{}:{}:{}:{}:{}", int(in.op), in.pass.stage, in.pass.split, in.pass2.stage,
                                        in.pass2.split, f);
    auto it = memo.find(key);
    if (it != memo.end()) return it->second;
    ChunkTiming t;
    switch (in.op) {
      case sched::Op::F: t = time_serial(segments(in.pass.stage, f).forward, 0); break;
      case sched::Op::B: t = time_backward(segments(in.pass.stage, f), !in.pass.split); break;
      case sched::Op::W: t = time_serial(segments(in.pass.stage, f).backward_weight, 1); break;
      case sched::Op::FB:
        t = time_overlapped(segments(in.pass.stage, f), segments(in.pass2.stage, f), !in.pass2.split);
        break;
      default: throw std::logic_error("timing of a non-compute instruction");
    }
    return memo.emplace(key, std::move(t)).first->second;
  }
};

// Parameters of rank r: (dense, expert) counts, for ZeRO-1 collectives and the optimizer. Every stage the rank holds
// counts, in either direction: a DualPipe rank keeps stage r and stage PP − 1 − r (2× parameters per device, [DP]
// README), each with its gradients and its ZeRO-1 shard, as models/memory.cpp counts them.
std::pair<double, double> rank_params(const Ctx& ctx, int rank) {
  const ModelConfig& m = ctx.spec.model;
  const ParamCount pc = count_params(m);
  const double routed_block = m.is_moe() ? pc.routed_experts / double(m.layers - m.dense_layers) : 0;
  double dense = 0, experts = 0;
  for (int dir = 0; dir < ctx.sch.dirs; ++dir)
    for (int st = 0; st < ctx.sch.stages; ++st) {
      if (ctx.sch.rank_of(dir, st) != rank) continue;
      const StageBlocks& b = ctx.stages[size_t(st)];
      if (b.embedding) dense += pc.embedding;
      if (b.head) dense += pc.head;
      for (int i = b.first_block; i < b.first_block + b.blocks; ++i) {
        const double routed = m.is_moe_layer(i) ? routed_block : 0;
        dense += block_params(m, i) - routed;
        experts += routed / std::max(1, ctx.spec.layout.ep);
      }
    }
  return {dense, experts};
}

struct TailTimes {
  TimeNs data_parallel = 0;
  TimeNs optimizer = 0;
  LinkKindBytes bytes{};  // of the rank's data-parallel collectives, over all its GPUs
};

TailTimes tail_times(Ctx& ctx, int rank) {
  TailTimes t;
  const Layout& l = ctx.spec.layout;
  const auto [dense, experts] = rank_params(ctx, rank);
  // `copies`: how many such groups the rank has (one per expert index for the expert-parameter rings).
  auto ring = [&](CollectiveKind k, std::vector<int> gpus, double bytes, double copies) {
    if (gpus.size() < 2 || bytes <= 0) return TimeNs(0);
    CollectiveSpec c;
    c.kind = k;
    c.gpus = ctx.canonical(std::move(gpus));
    c.bytes = int64_t(bytes);
    const CollectiveCost& cost = ctx.comm.cost(c);
    add_bytes(t.bytes, cost.bytes, copies);
    return cost.time_ns;
  };
  std::vector<int> dp_group, expert_group;
  for (int d = 0; d < l.dp; ++d) dp_group.push_back(ctx.gpu(rank, d));
  for (int d = 0; d < l.dp; d += std::max(1, l.ep)) expert_group.push_back(ctx.gpu(rank, d));
  // FP32 gradients reduce-scattered, BF16 parameters all-gathered ([TR] §3.3: FP32 gradient accumulation).
  const double expert_rings = std::max(1, l.ep);
  t.data_parallel = ring(CollectiveKind::reduce_scatter, dp_group, dense * 4, 1) +
                    ring(CollectiveKind::all_gather, dp_group, dense * 2, 1) +
                    ring(CollectiveKind::reduce_scatter, expert_group, experts * 4, expert_rings) +
                    ring(CollectiveKind::all_gather, expert_group, experts * 2, expert_rings);
  // AdamW on this GPU's shard: read/write FP32 master (8 B), BF16 moments (8 B), read FP32 gradient (4 B), write
  // the BF16 weight (2 B); ~10 FLOPs per parameter.
  const double shard = dense / std::max(1, l.dp) + experts / std::max(1, l.dp / std::max(1, l.ep));
  Op opt;
  opt.name = "adamw";
  opt.kind = OpKind::elementwise;
  opt.part = Part::attention;
  opt.precision = Precision::fp32;
  opt.m = int64_t(shard);
  opt.n = 1;
  opt.bytes = shard * 22;
  opt.flops = shard * 10;
  if (shard > 0) t.optimizer = ctx.cost.time(opt, ctx.spec.cluster.gpu.sms).ns;
  return t;
}

bool has_backward(const sched::Instruction& in) { return in.op != sched::Op::F; }
bool has_forward(const sched::Instruction& in) { return in.op == sched::Op::F || in.op == sched::Op::FB; }

std::string category(const sched::Instruction& in) {
  switch (in.op) {
    case sched::Op::F: return "F";
    case sched::Op::B: return in.pass.split ? "B" : "B+W";
    case sched::Op::W: return "W";
    case sched::Op::FB: return "F&B";
    default: return "p2p";
  }
}

// The routing draw of EP group `g` (each group routes its own tokens).
EpRoutingSpec group_routing(const EpRoutingSpec& routing, int g) {
  EpRoutingSpec r = routing;
  r.seed = routing.seed + uint64_t(g) * 0x9E3779B97F4A7C15ull;
  return r;
}

// Expert load (max member rows ÷ balanced rows) of each EP group of `rank`, from the routing model.
std::vector<double> group_loads(const Ctx& ctx, const EpRoutingSpec& routing, int groups) {
  std::vector<double> out;
  const ModelConfig& m = ctx.spec.model;
  for (int g = 0; g < groups; ++g) {
    if (!m.is_moe() || routing.kind == RoutingKind::balanced) {
      out.push_back(1.0);
      continue;
    }
    const EpRoutingSpec r = group_routing(routing, g);
    MoeShape shape;
    shape.ranks = ctx.spec.layout.ep;
    shape.ranks_per_node = std::min(ctx.spec.layout.ep, ctx.spec.cluster.node.gpus);
    shape.experts = m.routed_experts;
    shape.topk = m.top_k;
    shape.tokens_per_rank = ctx.ops.tokens();
    const RoutingSample sample = sample_routing(r, shape);
    const int per_rank = m.routed_experts / shape.ranks;
    std::vector<int64_t> rows(size_t(shape.ranks), 0);
    for (int32_t e : sample.routing->experts) rows[size_t(e / per_rank)] += 1;
    const double balanced = double(sample.routing->shape.tokens_per_rank) * m.top_k;
    out.push_back(double(*std::max_element(rows.begin(), rows.end())) / balanced);
  }
  return out;
}

}  // namespace

StepResult simulate_step(const StepSpec& spec, const sched::Schedule& sch, const CostModel& cost,
                         const ExecutorOptions& o) {
  StepSimulator sim(spec.cluster, spec.network);
  return sim.simulate(spec, sch, cost, o);
}

NetworkOptions network_options(const NetworkConfig& n) {
  if (n.mode != "flow" && n.mode != "coflow")
    throw std::invalid_argument(fmt::format("network.mode '{}': allowed flow, coflow", n.mode));
  if (n.backend != "native" && n.backend != "simgrid")
    throw std::invalid_argument(fmt::format("network.backend '{}': allowed native, simgrid", n.backend));
  return NetworkOptions{n.mode == "coflow" ? NetworkMode::coflow : NetworkMode::flow, n.time_quantum_ns,
                        n.backend == "simgrid"};  // SimGrid's CM02 shares in proportion to 1 / route latency
}

StepSimulator::StepSimulator(const ClusterSpec& cluster, const NetworkConfig& network)
    : cluster_(cluster),
      network_(network),
      topo_(cluster_),
      timer_(topo_, network_options(network),
             network.backend == "simgrid" ? NetworkBackend::simgrid : NetworkBackend::native) {}

std::shared_ptr<StepSimulator> TimingCache::simulator(const ClusterSpec& cluster, const NetworkConfig& network) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(sims_.begin(), sims_.end(), [&](const std::shared_ptr<StepSimulator>& s) {
    return s->cluster() == cluster && s->network() == network;
  });
  std::shared_ptr<StepSimulator> sim;
  if (it != sims_.end()) {
    sim = *it;
    sims_.erase(it);
  } else {
    sim = std::make_shared<StepSimulator>(cluster, network);
    if (sims_.size() >= kKept) {
      auto idle = std::find_if(sims_.begin(), sims_.end(), [](const auto& s) { return s.use_count() == 1; });
      if (idle != sims_.end()) sims_.erase(idle);
    }
  }
  sims_.push_back(sim);
  return sim;
}

StepResult StepSimulator::simulate(const StepSpec& spec, const sched::Schedule& sch, const CostModel& cost,
                                   const ExecutorOptions& o) {
  if (spec.cluster.nodes != cluster_.nodes || spec.cluster.name != cluster_.name)
    throw std::invalid_argument("StepSimulator: the step's cluster differs from the simulator's");
  if (spec.network.mode != network_.mode || spec.network.backend != network_.backend ||
      spec.network.time_quantum_ns != network_.time_quantum_ns)
    throw std::invalid_argument("StepSimulator: the step's network options differ from the simulator's");
  const Layout& l = spec.layout;
  if (l.tp != 1) throw std::invalid_argument("tensor_parallel > 1 is not simulated (its collectives are not modelled)");
  if (sch.ranks != l.pp)
    throw std::invalid_argument(fmt::format("the schedule has {} ranks, the layout {} pipeline stages", sch.ranks, l.pp));
  if (spec.model.is_moe() && spec.schedule.comm_sms < 1)
    throw std::invalid_argument("schedule.comm_sms: an MoE model needs at least 1 SM for dispatch/combine");
  if (!o.every_gpu && spec.model.is_moe() && spec.routing.kind != "balanced")
    throw std::invalid_argument(fmt::format(
        "routing.kind {}: imbalanced routing makes replicas differ; simulate every GPU (every_gpu)", spec.routing.kind));
  if (!o.every_gpu && !spec.stragglers.empty())
    throw std::invalid_argument("stragglers make replicas differ; simulate every GPU (every_gpu)");
  for (const Straggler& st : spec.stragglers)
    if (st.gpu < 0 || st.gpu >= l.pp * l.dp || !(st.slowdown >= 1))
      throw std::invalid_argument(fmt::format("straggler GPU {} (slowdown {}): the GPU must be in 0..{} and the "
                                              "slowdown ≥ 1", st.gpu, st.slowdown, l.pp * l.dp - 1));
  Ctx ctx(spec, sch, cost, topo_, timer_);
  const EpRoutingSpec routing = routing_spec(spec);

  // Classes of pipelines: with an MoE model one per EP group of a rank (its data-parallel replicas run in lockstep
  // through the all-to-alls), with a dense model one per replica. Classes with the same expert load, routing draw
  // and stragglers run the same timeline and are simulated once; without stragglers and with balanced routing one
  // pipeline stands for them all.
  const int width = spec.model.is_moe() ? std::max(1, l.ep) : 1;
  const int groups = o.every_gpu ? std::max(1, l.dp / width) : 1;
  const std::vector<double> loads = group_loads(ctx, routing, groups);
  std::vector<double> gpu_slowdown(size_t(l.pp) * size_t(l.dp), 1.0);
  for (const Straggler& st : spec.stragglers) gpu_slowdown[size_t(st.gpu)] = st.slowdown;
  auto class_slowdown = [&](int g) {
    std::vector<double> f(size_t(l.pp), 1.0);
    for (int rank = 0; rank < l.pp; ++rank)
      for (int d = g * width; d < (g + 1) * width && d < l.dp; ++d)
        f[size_t(rank)] = std::max(f[size_t(rank)], gpu_slowdown[size_t(ctx.gpu(rank, d))]);
    return f;
  };
  const bool balanced = !spec.model.is_moe() || routing.kind == RoutingKind::balanced;
  std::set<std::string> simulated_classes;

  StepResult r;
  r.schedule = sch.kind;
  r.pp = l.pp;
  r.micro_batches = l.micro_batches();
  r.representative = !o.every_gpu;
  r.simulated_gpus = o.every_gpu ? l.pp * l.dp : l.pp;

  std::map<std::pair<int, int>, TimeNs> p2p;
  auto transfer = [&](const sched::Pass&, int from, int to) {
    auto it = p2p.find({from, to});
    if (it == p2p.end()) it = p2p.emplace(std::make_pair(from, to), ctx.p2p_time(from, to)).first;
    return it->second;
  };
  std::vector<TailTimes> tails;
  for (int rank = 0; rank < l.pp; ++rank) tails.push_back(tail_times(ctx, rank));

  TimeNs best_end = -1;
  // Bytes per link kind over the step, the whole cluster: EP all-to-alls per class (each covers its `width`
  // replicas), pipeline transfers per replica, data-parallel collectives per rank.
  LinkKindBytes step_bytes{};
  for (const TailTimes& t : tails) add_bytes(step_bytes, t.bytes);
  const double classes_per_simulated = o.every_gpu ? 1.0 : double(std::max(1, l.dp / width));
  std::map<std::string, LinkKindBytes> class_bytes;
  for (int g = 0; g < groups; ++g) {
    const std::vector<double> slowdown = class_slowdown(g);
    // Balanced routing: every class draws the same traffic, so only the stragglers tell classes apart.
    const EpRoutingSpec class_routing = balanced ? routing : group_routing(routing, g);
    const std::string class_key =
        fmt::format("{}|{}|{}", loads[size_t(g)], balanced ? -1 : g, fmt::join(slowdown, ","));
    if (o.merge_equal_classes && !simulated_classes.insert(class_key).second) {
      add_bytes(step_bytes, class_bytes.at(class_key));
      continue;
    }
    PipelineCosts pc{ctx, g, loads[size_t(g)], class_routing, slowdown, {}, {}, {}};
    sched::TimelineCosts costs;
    costs.duration = [&](const sched::Instruction& in, int rank) { return pc.timing(in, rank).duration; };
    costs.transfer = transfer;
    const sched::Timeline tl = sched::run_timeline(sch, costs);
    LinkKindBytes cb{};
    for (int rank = 0; rank < l.pp; ++rank)
      for (const auto& t : tl.ranks[size_t(rank)].ops) {
        const sched::Instruction& in = t.in;
        if (in.op == sched::Op::F) add_bytes(cb, pc.bytes(in.pass.stage, false));
        if (in.op == sched::Op::B) add_bytes(cb, pc.bytes(in.pass.stage, true));
        if (in.op == sched::Op::FB) {
          add_bytes(cb, pc.bytes(in.pass.stage, false));
          add_bytes(cb, pc.bytes(in.pass2.stage, true));
        }
        if (in.op == sched::Op::Recv) add_bytes(cb, ctx.comm.cost(ctx.p2p_spec(in.peer, rank)).bytes, width);
      }
    add_bytes(step_bytes, cb, classes_per_simulated);
    class_bytes[class_key] = cb;
    // Critical rank: the one whose step ends last.
    int crit = 0;
    TimeNs end = -1;
    for (int rank = 0; rank < l.pp; ++rank) {
      const TimeNs e = tl.ranks[size_t(rank)].last_end + tails[size_t(rank)].data_parallel +
                       TimeNs(std::llround(double(tails[size_t(rank)].optimizer) * slowdown[size_t(rank)]));
      if (e > end) {
        end = e;
        crit = rank;
      }
    }
    if (end <= best_end) continue;
    best_end = end;
    r.step_time = end;
    r.pipeline_time = tl.makespan;
    r.ranks.clear();
    r.timeline.clear();
    r.breakdown = {};
    r.exposed = {};
    for (int rank = 0; rank < l.pp; ++rank) {
      const auto& rt = tl.ranks[size_t(rank)];
      r.ranks.push_back(RankSummary{rank, rt.last_end, rt.busy, rt.last_end - rt.busy, rt.peak_in_flight});
    }
    // Decomposition on the critical rank.
    const auto& rt = tl.ranks[size_t(crit)];
    size_t first_bwd = rt.ops.size(), last_fwd = 0;
    for (size_t i = 0; i < rt.ops.size(); ++i) {
      const auto& in = rt.ops[i].in;
      if (!in.is_compute()) continue;
      if (has_backward(in) && first_bwd == rt.ops.size()) first_bwd = i;
      if (has_forward(in)) last_fwd = i;
    }
    for (size_t i = 0; i < rt.ops.size(); ++i) {
      const auto& in = rt.ops[i].in;
      if (!in.is_compute()) continue;
      const TimeNs d = rt.ops[i].end - rt.ops[i].start;
      if (i < first_bwd) r.breakdown.warmup_forward += d;
      else if (i > last_fwd) (in.op == sched::Op::W ? r.breakdown.weight_tail : r.breakdown.warmup_backward) += d;
      else r.breakdown.steady += d;
      const ChunkTiming& ct = pc.timing(in, crit);
      r.exposed.dispatch += ct.exposed_dispatch;
      r.exposed.combine += ct.exposed_combine;
    }
    r.breakdown.bubble = rt.last_end - rt.busy;
    r.breakdown.data_parallel = tails[size_t(crit)].data_parallel;
    r.breakdown.optimizer = TimeNs(std::llround(double(tails[size_t(crit)].optimizer) * slowdown[size_t(crit)]));
    r.exposed.data_parallel = tails[size_t(crit)].data_parallel;
    // Pipeline transfers' exposed cost: how much later the pipeline ends with them than with instant transfers.
    sched::TimelineCosts instant = costs;
    instant.transfer = [](const sched::Pass&, int, int) { return TimeNs(0); };
    r.exposed.pipeline = std::max<TimeNs>(0, tl.makespan - sched::run_timeline(sch, instant).makespan);
    // Instruction durations of the critical rank's first stage (its lowest stage in direction 0), for reports; an
    // F&B counts when its forward is on that stage (DualPipe pairs it with a backward of the rank's other stage).
    int first_stage = sch.stages;
    for (int st = 0; st < sch.stages; ++st)
      if (sch.rank_of(0, st) == crit) first_stage = std::min(first_stage, st);
    for (const auto& t : rt.ops) {
      if (t.in.pass.dir != 0 || t.in.pass.stage != first_stage) continue;
      const TimeNs d = t.end - t.start;
      if (t.in.op == sched::Op::F && !r.f_ns) r.f_ns = d;
      if (t.in.op == sched::Op::W && !r.w_ns) r.w_ns = d;
      if (t.in.op == sched::Op::FB && !r.fb_ns) r.fb_ns = d;
    }
    // B is the full backward (input and weight gradients, the reference's B, of which W is a part), also where the
    // schedule splits that stage's backwards: a split B (B − W) would change the figure's meaning with the
    // schedule and with which rank is critical.
    if (first_stage < sch.stages) {
      const sched::Instruction full_b = sched::instruction(sched::Op::B, {sched::PassKind::B, 0, first_stage, 0});
      r.b_ns = pc.timing(full_b, crit).duration;
    }
    if (!o.timeline) continue;
    for (int rank = 0; rank < l.pp; ++rank) {
      const int id = ctx.gpu(rank, g * width);  // the class's first replica stands for its GPUs
      for (const auto& t : tl.ranks[size_t(rank)].ops) {
        if (t.in.op == sched::Op::Recv) {
          const TimeNs d = transfer(t.in.pass, t.in.peer, rank);
          r.timeline.push_back(TraceSlice{id, rank, "pipeline", sched::to_string(t.in, true), "p2p", t.start - d, t.start});
          continue;
        }
        if (!t.in.is_compute()) continue;
        r.timeline.push_back(TraceSlice{id, rank, "compute", sched::to_string(t.in, true), category(t.in), t.start, t.end});
        for (const Placed& p : pc.timing(t.in, rank).placed) {
          if (p.seg.stream == Stream::comm)
            r.timeline.push_back(TraceSlice{id, rank, "communication", p.seg.label, to_string(p.seg.part),
                                            t.start + p.start, t.start + p.end});
          else if (o.detail)
            r.timeline.push_back(TraceSlice{id, rank, "compute-parts", p.seg.label, to_string(p.seg.part),
                                            t.start + p.start, t.start + p.end});
        }
      }
      const TimeNs e = tl.ranks[size_t(rank)].last_end;
      const TailTimes& tt = tails[size_t(rank)];
      r.timeline.push_back(TraceSlice{id, rank, "data-parallel", "ZeRO-1 reduce-scatter + all-gather", "data-parallel", e,
                                      e + tt.data_parallel});
      const TimeNs opt = TimeNs(std::llround(double(tt.optimizer) * slowdown[size_t(rank)]));
      r.timeline.push_back(
          TraceSlice{id, rank, "compute", "AdamW", "optimizer", e + tt.data_parallel, e + tt.data_parallel + opt});
    }
  }
  // Utilisation per class of links: bytes carried ÷ (summed capacity × step time).
  struct LinkClass {
    const char* name;
    std::vector<LinkKind> kinds;
  };
  const LinkClass link_classes[] = {{"NVLink", {LinkKind::nvlink_up, LinkKind::nvlink_down}},
                                    {"PCIe", {LinkKind::pcie_up, LinkKind::pcie_down}},
                                    {"NIC", {LinkKind::nic_up, LinkKind::nic_down}},
                                    {"leaf→spine", {LinkKind::leaf_up}},
                                    {"spine→leaf", {LinkKind::spine_down}}};
  LinkKindBytes capacity{};  // bytes per ns, summed over the links of each kind
  for (size_t id = 0; id < topo_.links(); ++id) {
    const LinkInfo& li = topo_.link(LinkId(id));
    if (!topo_.failed(LinkId(id))) capacity[size_t(li.kind)] += li.bytes_per_ns;
  }
  for (const LinkClass& c : link_classes) {
    double bytes = 0, cap = 0;
    for (LinkKind k : c.kinds) {
      bytes += step_bytes[size_t(k)];
      cap += capacity[size_t(k)];
    }
    if (cap <= 0) continue;
    r.links.push_back(LinkUse{c.name, r.step_time > 0 ? bytes / (cap * double(r.step_time)) : 0, bytes});
  }
  r.profile = cost.profile().name;
  r.profile_source = describe_tally(cost.profile(), ctx.tally);
  r.ops_measured = ctx.tally.ops[size_t(TimeSource::record)];
  r.ops_modelled = ctx.tally.ops[size_t(TimeSource::interpolated)] + ctx.tally.ops[size_t(TimeSource::roofline)];
  return r;
}

}  // namespace cs
