// clustersim collective SCENARIO --kind K: one collective on the scenario's cluster, in isolation. Prints the time,
// utilisation per link class and bandwidth in nccl-tests' terms (algbw = size / time, busbw = algbw × bus factor)
// and DeepEP's (bytes over the bottleneck link class per rank ÷ time; RDMA counting one copy per (token, distinct
// target node), own node included), so the figures compare with one's own measurements.
#include <fmt/format.h>

#include <map>

#include "reports/cli/commands.hpp"
#include "scenarios/scenario.hpp"
#include "sim/collectives.hpp"
#include "sim/executor.hpp"

namespace cs::cli {

namespace {
struct CollectiveArgs {
  std::string scenario;
  std::string kind = "all-to-all";
  int64_t bytes = int64_t(1) << 28;
  int64_t tokens = 4096;
  int gpus = 0;           // group size (0: the scenario's EP degree for EP kinds, else one node)
  int first_gpu = 0;
  std::string algo = "ring";
  std::string mode;       // flow | coflow (default: the scenario's network.mode)
  int64_t quantum_ns = -1;
  std::string backend;    // native | simgrid (default: the scenario's network.backend)
  int threads = 1;        // network solver threads (the results do not depend on it)
};

void run(const CollectiveArgs& a) {
  const Scenario s = load_scenario(a.scenario);
  const Topology topo(s.cluster);
  CollectiveSpec spec;
  try {
    spec.kind = collective_kind_from_name(a.kind);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError("--kind", e.what());
  }
  const bool ep = spec.kind == CollectiveKind::dispatch || spec.kind == CollectiveKind::combine;
  int n = a.gpus > 0 ? a.gpus : (ep ? std::max(s.layout.ep, 2) : topo.gpus_per_node());
  if (spec.kind == CollectiveKind::p2p) n = 2;
  if (a.first_gpu < 0 || a.first_gpu + n > topo.gpus())
    throw CLI::ValidationError("--gpus/--first-gpu", fmt::format("GPUs {}..{} are not all in the cluster's {} GPUs",
                                                                 a.first_gpu, a.first_gpu + n - 1, topo.gpus()));
  for (int g = a.first_gpu; g < a.first_gpu + n; ++g) spec.gpus.push_back(g);
  if (spec.kind == CollectiveKind::p2p && a.gpus == 0) spec.gpus[1] = std::min(topo.gpus() - 1, a.first_gpu + topo.gpus_per_node());
  spec.bytes = a.bytes;
  spec.algo = a.algo == "tree" ? CollectiveAlgo::tree : CollectiveAlgo::ring;
  spec.tokens_per_rank = a.tokens;
  spec.hidden = s.model.hidden;
  spec.experts = s.model.routed_experts;
  spec.topk = s.model.top_k;
  spec.routing.kind = routing_kind_from_name(s.routing.kind);
  spec.routing.seed = s.routing.seed;
  spec.routing.zipf_exponent = s.routing.zipf_exponent;
  spec.routing.load_file = s.routing.load_file;
  spec.routing.max_nodes = s.routing.max_nodes > 0 ? s.routing.max_nodes : s.model.topk_groups;
  if (ep && !s.model.is_moe()) throw CLI::ValidationError("--kind", fmt::format("{} needs a MoE model; {} has no routed experts", a.kind, s.model.name));
  NetworkConfig net = s.network;  // the scenario's, with the command's overrides
  if (!a.mode.empty()) net.mode = a.mode;
  if (a.quantum_ns >= 0) net.time_quantum_ns = a.quantum_ns;
  if (!a.backend.empty()) net.backend = a.backend;
  NetworkOptions opt = network_options(net);
  opt.solver_threads = a.threads;
  const std::string& mode = net.mode;
  const std::string& backend = net.backend;
  if (backend == "simgrid" && a.threads > 1)
    throw CLI::ValidationError("--threads", "the simgrid backend runs on one thread; --threads is for the native one");
  if (backend == "simgrid" && n > kSimGridMaxGpus)
    throw CLI::ValidationError("--backend", fmt::format("simgrid times groups of at most {} GPUs; this one has {} (use --backend native)",
                                                        kSimGridMaxGpus, n));
  const CollectiveResult r = backend == "simgrid" ? run_collective_simgrid(topo, spec) : run_collective(topo, spec, opt);
  const std::string network =
      backend == "simgrid" ? std::string("network SimGrid 3.32 (CM02, per flow)")
                           : fmt::format("network mode {}{}", mode,
                                         opt.time_quantum_ns > 0 ? fmt::format(", quantum {} ns", opt.time_quantum_ns) : "");
  const std::string which = spec.kind == CollectiveKind::p2p
                                ? fmt::format("{} → {}", spec.gpus.front(), spec.gpus.back())  // not a range of GPUs
                                : fmt::format("{}..{}", spec.gpus.front(), spec.gpus.back());
  fmt::print("{} on {} GPUs ({}) of {} ({} nodes × {} GPUs, {}), {}\n", a.kind, n, which,
             s.cluster.name.empty() ? "the inline cluster" : s.cluster.name, topo.nodes(), topo.gpus_per_node(), s.file, network);
  if (ep)
    fmt::print("  {} tokens per rank, hidden {}, top-{} of {} experts, routing {} (seed {}, ≤ {} nodes per token)\n",
               a.tokens, spec.hidden, spec.topk, spec.experts, s.routing.kind, spec.routing.seed, spec.routing.max_nodes);
  else
    fmt::print("  size {} bytes{}\n", a.bytes, spec.kind == CollectiveKind::all_reduce ? fmt::format(", {} algorithm", a.algo) : "");
  fmt::print("  time         {:.3f} us  ({} flows in {} rounds)\n", double(r.time_ns) / 1e3, r.flows, r.rounds);
  if (ep) {
    fmt::print("  DeepEP bw    {:.1f} GB/s {} (bytes over the bottleneck link class per rank / time)\n", r.deepep_gbps, r.deepep_link);
  } else {
    fmt::print("  algbw        {:.2f} GB/s   busbw {:.2f} GB/s (nccl-tests definitions)\n", r.algbw_gbps, r.busbw_gbps);
  }
  // The same idea for every kind: the most utilised link's bytes over the time (what its port counter would show).
  double busiest_bytes = 0, busiest_util = 0;
  LinkId busiest = 0;
  for (size_t l = 0; l < topo.links(); ++l) {
    const double util = r.link_bytes[l] / topo.link(LinkId(l)).bytes_per_ns;
    if (util > busiest_util) busiest_util = util, busiest_bytes = r.link_bytes[l], busiest = LinkId(l);
  }
  fmt::print("  bottleneck   {:.2f} GB/s on {} ({:.0f} bytes, capacity {:.1f} GB/s)\n",
             busiest_bytes / double(std::max<TimeNs>(r.time_ns, 1)), topo.link(busiest).name, busiest_bytes,
             topo.link(busiest).bytes_per_ns);
  // Utilisation per link class: bytes carried ÷ (capacity × time), mean over the links of the class that carried
  // traffic, and the busiest link.
  struct ClassUse {
    double bytes = 0, sum_util = 0, max_util = 0;
    int used = 0;
    std::string busiest;
  };
  std::map<LinkKind, ClassUse> classes;
  const double t = double(std::max<TimeNs>(r.time_ns, 1));
  for (size_t l = 0; l < topo.links(); ++l) {
    if (r.link_bytes[l] <= 0) continue;
    const LinkInfo& info = topo.link(LinkId(l));
    ClassUse& c = classes[info.kind];
    const double u = r.link_bytes[l] / (info.bytes_per_ns * t);
    c.bytes += r.link_bytes[l];
    c.sum_util += u;
    c.used++;
    if (u > c.max_util) c.max_util = u, c.busiest = info.name;
  }
  fmt::print("  {:<12} {:>6} {:>14} {:>9} {:>9}  {}\n", "link class", "links", "bytes", "mean util", "max util", "busiest link");
  for (auto& [kind, c] : classes)
    fmt::print("  {:<12} {:>6} {:>14.0f} {:>8.1f}% {:>8.1f}%  {}\n", link_kind_name(kind), c.used, c.bytes,
               100 * c.sum_util / c.used, 100 * c.max_util, c.busiest);
}
}  // namespace

void add_collective(CLI::App& app) {
  auto* cmd = app.add_subcommand("collective", "time one collective on a scenario's cluster (nccl-tests and DeepEP bandwidths)");
  static CollectiveArgs args;
  cmd->add_option("scenario", args.scenario, "scenario YAML file")->required();
  cmd->add_option("--kind", args.kind, "all-to-all | dispatch | combine | all-reduce | reduce-scatter | all-gather | p2p")
      ->check(CLI::IsMember({"all-to-all", "dispatch", "combine", "all-reduce", "reduce-scatter", "all-gather", "p2p"}));
  cmd->add_option("--bytes", args.bytes, "nccl-tests size in bytes (all-to-all: per rank send buffer; p2p: message)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tokens", args.tokens, "dispatch/combine: tokens per GPU")->check(CLI::PositiveNumber);
  cmd->add_option("--gpus", args.gpus, "group size (default: the EP degree for dispatch/combine, else one node)")->check(CLI::PositiveNumber);
  cmd->add_option("--first-gpu", args.first_gpu, "first GPU of the group (the group is consecutive GPUs)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--algo", args.algo, "all-reduce algorithm")->check(CLI::IsMember({"ring", "tree"}));
  cmd->add_option("--mode", args.mode, "network mode (default: the scenario's network.mode)")->check(CLI::IsMember({"flow", "coflow"}));
  cmd->add_option("--quantum-ns", args.quantum_ns, "time quantum in ns (default: the scenario's)")
      ->check(CLI::Range(int64_t(0), kMaxTimeQuantumNs));
  cmd->add_option("--backend", args.backend, "native | simgrid (default: the scenario's network.backend; simgrid: ≤ 256 GPUs)")
      ->check(CLI::IsMember({"native", "simgrid"}));
  cmd->add_option("--threads", args.threads,
                  "network solver threads: a large collective (thousands of flows) is set up and re-solved on this "
                  "many cores; the results are the same for any count (default 1)")
      ->check(CLI::Range(1, 256));
  cmd->callback([cmd] {
    // An option the kind does not read is a mistake in the command, not something to ignore.
    const bool ep = args.kind == "dispatch" || args.kind == "combine";
    auto refuse = [&](const char* opt, const std::string& why) {
      if (cmd->count(opt) > 0) throw CLI::ValidationError(opt, fmt::format("{}: {}", args.kind, why));
    };
    if (ep) refuse("--bytes", "the size comes from --tokens and the model's hidden size");
    if (!ep) refuse("--tokens", "only dispatch and combine take tokens; give --bytes");
    if (args.kind != "all-reduce") refuse("--algo", "only all-reduce chooses ring or tree");
    if (args.kind == "p2p" && args.gpus != 2) refuse("--gpus", "a p2p transfer runs between 2 GPUs");
    run(args);
  });
}

}  // namespace cs::cli
