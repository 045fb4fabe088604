// Cross-field checks: each names the field a user should change, at its line in the scenario file.
#include <fmt/format.h>

#include <sstream>

#include "scenarios/scenario.hpp"
#include "sim/collectives.hpp"
#include "sim/schedule/schedule.hpp"

namespace cs {

namespace {

// The node at a dotted path ("training.phases[2].layout.data_parallel"), or the deepest existing ancestor
// (a defaulted field points at its section).
YAML::Node locate(const YAML::Node& root, const std::string& path) {
  YAML::Node found;
  found.reset(root);
  YAML::Node walk;
  walk.reset(root);
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    int index = -1;
    if (auto b = part.find('['); b != std::string::npos) {
      index = std::stoi(part.substr(b + 1));
      part = part.substr(0, b);
    }
    if (!walk.IsMap() || !walk[part]) break;
    walk.reset(walk[part]);
    if (index >= 0) {
      if (!walk.IsSequence() || index >= int(walk.size())) break;
      walk.reset(walk[index]);
    }
    found.reset(walk);
  }
  return found;
}

// Checks one simulated step (a phase): fields named by their path in the scenario; a phase's own override when it
// has one, else the scenario-level field, with the phase named in the message.
struct Checker {
  const Scenario& s;
  const YAML::Node& root;
  int phase = 0;
  std::string field(const std::string& f) const {
    if (phase == 0) return f;
    const std::string own = fmt::format("training.phases[{}].{}", phase, f);
    YAML::Node n = locate(root, own);
    if (n.IsScalar()) return own;
    if (f.rfind("layout.global_batch", 0) == 0) return fmt::format("training.phases[{}].global_batch", phase);
    return f;
  }
  void check(bool ok, const std::string& f, const std::string& what) const {
    if (ok) return;
    const std::string path = field(f);
    YAML::Node n = locate(root, path);
    const std::string prefix = phase == 0 ? "" : fmt::format("in phase \"{}\": ", s.phases[phase].name);
    throw ScenarioError(s.file, yaml_line(n), yaml_column(n), path, prefix + what);
  }
};


void validate_step(const Checker& c, const Layout& l, const ScheduleConfig& sch, int nodes) {
  const Scenario& s = c.s;
  const ModelConfig& m = s.model;
  ClusterSpec cl = s.cluster;
  cl.nodes = nodes;

  // Cluster shape.
  c.check(cl.node.gpus % cl.node.nics == 0, "cluster.nics_per_node",
          fmt::format("must divide gpus_per_node ({}); got {}", cl.node.gpus, cl.node.nics));
  const FabricSpec& f = cl.fabric;
  if (f.kind != FabricKind::fat_tree)
    c.check(f.planes == cl.node.nics, "cluster.fabric.planes",
            fmt::format("a multi-plane or multi-rail fabric has one plane/rail per NIC: must equal nics_per_node ({}), "
                        "got {}",
                        cl.node.nics, f.planes));
  {
    // A two-layer fat tree of k-port switches reaches k²/2 endpoints; a plane/rail holds one NIC of every node.
    const int64_t cap = int64_t(f.switch_ports) * f.switch_ports / 2;
    const int64_t endpoints = f.kind == FabricKind::fat_tree ? int64_t(cl.nodes) * cl.node.nics : cl.nodes;
    c.check(endpoints <= cap, "cluster.nodes",
            fmt::format("{} endpoints per plane exceed a two-layer fat tree of {}-port switches ({} = ports²/2)",
                        endpoints, f.switch_ports, cap));
  }
  if (s.network.backend == "simgrid")
    c.check(cl.gpus() <= kSimGridMaxGpus, "network.backend",
            fmt::format("the simgrid backend is for clusters of at most {} GPUs (this step runs on {}); use native",
                        kSimGridMaxGpus, cl.gpus()));
  c.check(sch.comm_sms < cl.gpu.sms, "schedule.comm_sms",
          fmt::format("must leave SMs for compute: allowed 0 to {} (the GPU has {} SMs), got {}", cl.gpu.sms - 1,
                      cl.gpu.sms, sch.comm_sms));

  // Layout vs cluster and model.
  // The schedule's constraint on pp itself first: with it broken, no product of sizes can be right.
  if (sch.kind == "dualpipe")
    c.check(l.pp % 2 == 0, "layout.pipeline_parallel",
            fmt::format("DualPipe needs an even pipeline_parallel, got {}", l.pp));
  c.check(int64_t(l.pp) * l.dp * l.tp == cl.gpus(), "layout.data_parallel",
          fmt::format("pipeline_parallel × data_parallel × tensor_parallel = {} × {} × {} = {} must equal the cluster's "
                      "GPUs (nodes × gpus_per_node = {} × {} = {})",
                      l.pp, l.dp, l.tp, int64_t(l.pp) * l.dp * l.tp, cl.nodes, cl.node.gpus, cl.gpus()));
  c.check(l.tp <= cl.node.gpus && cl.node.gpus % l.tp == 0, "layout.tensor_parallel",
          fmt::format("tensor parallelism stays inside a node: must divide gpus_per_node ({}), got {}", cl.node.gpus,
                      l.tp));
  c.check(m.heads % l.tp == 0, "layout.tensor_parallel",
          fmt::format("must divide the model's heads ({}), got {}", m.heads, l.tp));
  if (m.is_moe()) {
    c.check(m.routed_experts % l.ep == 0, "layout.expert_parallel",
            fmt::format("the model's {} routed experts must divide evenly over expert_parallel; got {} (allowed: a "
                        "divisor of {})",
                        m.routed_experts, l.ep, m.routed_experts));
    c.check((int64_t(l.dp) * l.tp) % l.ep == 0, "layout.expert_parallel",
            fmt::format("an expert-parallel group spans the data_parallel × tensor_parallel ranks of one stage ({}); "
                        "expert_parallel must divide it, got {}",
                        int64_t(l.dp) * l.tp, l.ep));
    const int ep_nodes = (l.ep + cl.node.gpus - 1) / cl.node.gpus;
    if (s.routing.max_nodes > 0)
      c.check(s.routing.max_nodes <= ep_nodes, "routing.max_nodes",
              fmt::format("node-limited routing asks for up to {} nodes, but an expert-parallel group of {} GPUs spans "
                          "only {} node(s) of {} GPUs; allowed 1 to {} (or 0: no limit)",
                          s.routing.max_nodes, l.ep, ep_nodes, cl.node.gpus, ep_nodes));
  } else {
    c.check(l.ep == 1, "layout.expert_parallel", "a dense model has no experts: expert_parallel must be 1");
  }

  // Batches.
  const int64_t per_step = int64_t(l.dp) * l.micro_batch;
  c.check(l.global_batch % per_step == 0, "layout.global_batch",
          fmt::format("global batch {} must be a multiple of data_parallel × micro_batch = {} × {} = {}",
                      l.global_batch, l.dp, l.micro_batch, per_step));
  if (const auto& ramp = s.phases[c.phase].ramp)
    c.check(ramp->from % per_step == 0, fmt::format("training.phases[{}].batch_ramp.from", c.phase),
            fmt::format("ramp start {} must be a multiple of data_parallel × micro_batch = {}", ramp->from, per_step));

  // Schedule.
  const int64_t n = l.micro_batches();
  const std::string& k = sch.kind;
  if (k == "interleaved") {
    c.check(l.virtual_stages >= 2, "layout.virtual_stages",
            fmt::format("interleaved 1F1B needs virtual_stages ≥ 2, got {}", l.virtual_stages));
    c.check(n % l.pp == 0, "layout.global_batch",
            fmt::format("interleaved 1F1B needs micro-batches per step (global_batch / (data_parallel × micro_batch) "
                        "= {}) to be a multiple of pipeline_parallel ({})",
                        n, l.pp));
  } else {
    c.check(l.virtual_stages == 1, "layout.virtual_stages",
            fmt::format("only the interleaved schedule uses virtual_stages; schedule {} needs 1, got {}", k,
                        l.virtual_stages));
  }
  if (k == "dualpipe") {
    c.check(n >= 2 * l.pp && n % 2 == 0, "layout.global_batch",
            fmt::format("DualPipe needs an even number of micro-batches ≥ 2 × pipeline_parallel = {}; global_batch / "
                        "(data_parallel × micro_batch) = {}",
                        2 * l.pp, n));
  }
  if (k == "dualpipev")
    c.check(n >= 2 * l.pp, "layout.global_batch",
            fmt::format("DualPipeV needs micro-batches ≥ 2 × pipeline_parallel = {}; global_batch / (data_parallel × "
                        "micro_batch) = {}",
                        2 * l.pp, n));
  c.check(n >= 1, "layout.global_batch", "a step needs at least one micro-batch per pipeline");
  {
    const int chunks = sched::chunks_per_rank(k, l.virtual_stages);
    c.check(sched::within_size_limits(k, l.pp, n, l.virtual_stages), "layout.global_batch",
            fmt::format("{} micro-batches per pipeline (global_batch / (data_parallel × micro_batch)) on {} pipeline "
                        "ranks is too large a step to simulate; allowed at most {} micro-batches and pipeline_parallel "
                        "× micro-batches{} ≤ {}",
                        n, l.pp, sched::kMaxMicroBatches, chunks > 1 ? fmt::format(" × {}", chunks) : "",
                        sched::kMaxPasses));
  }
  if (m.is_moe())
    c.check(sch.comm_sms >= 1, "schedule.comm_sms",
            fmt::format("an MoE model needs at least 1 SM for dispatch/combine: allowed 1 to {}, got {}",
                        cl.gpu.sms - 1, sch.comm_sms));
  const int stages = k == "dualpipev" ? 2 * l.pp : (k == "interleaved" ? l.pp * l.virtual_stages : l.pp);
  c.check(m.layers + m.mtp_depth >= stages, "layout.pipeline_parallel",
          fmt::format("{} pipeline stages for a model of {} blocks: each stage needs at least one block", stages,
                      m.layers + m.mtp_depth));
}

}  // namespace

void validate_scenario(const Scenario& s, const YAML::Node& root) {
  for (size_t i = 0; i < s.phases.size(); ++i) {
    const Phase& p = s.phases[i];
    if (!p.simulated()) continue;
    validate_step(Checker{s, root, int(i)}, p.layout, p.schedule, p.nodes);
  }
}

}  // namespace cs
