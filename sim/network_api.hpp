// The contract between the network engine (event core, topology, routes, fluid max-min solver, SimGrid oracle) and
// its users (collectives, executor). The engine implements it in sim/event_queue.*, sim/topology.*, sim/network.*;
// collectives and the executor use only what is declared here (plus additions documented in those files).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "sim/cluster_spec.hpp"
#include "sim/time.hpp"

namespace cs {

// ---- event core: sim/event_queue.hpp ----
// class EventQueue {
//   TimeNs now() const;
//   void at(TimeNs t, std::function<void()> fn);   // t >= now(); equal times run in insertion order
//   void after(TimeNs dt, std::function<void()>);
//   bool step(); void run(); void run_until(TimeNs);
//   uint64_t events_processed() const;
// };

// ---- topology (sim/topology.hpp) ----
using LinkId = int32_t;

enum class LinkKind { nvlink_up, nvlink_down, pcie_up, pcie_down, nic_up, nic_down, leaf_up, spine_down, other };

struct LinkInfo {
  LinkKind kind = LinkKind::other;
  double bytes_per_ns = 0;   // effective capacity (line rate × efficiency), bytes per ns == GB/s
  TimeNs latency_ns = 0;
  std::string name;          // "node3.gpu5.nic_up", "plane2.leaf1->spine4", ...
};

// How a GPU-to-GPU transfer travels.
enum class PathKind {
  direct,      // NVLink within a node; across nodes: src GPU → its NIC → fabric → dst NIC → dst GPU
  pxn,         // across nodes via the NIC whose plane/rail the destination GPU uses: hop over NVLink to the
               // same-rail GPU in the source node first (NCCL's PXN)
};

// class Topology (sim/topology.hpp) {
//   explicit Topology(const ClusterSpec&);          // built and validated as a Boost.Graph graph
//   int gpus(), nodes(), gpus_per_node(), node_of(gpu), local_index(gpu), gpu_at(node, local);
//   const LinkInfo& link(LinkId); size_t links();
//   Route route(int src_gpu, int dst_gpu, PathKind, uint64_t flow_hash = 0) const;  // Route::links() is a span
//   void fail_link(LinkId); void fail_switch(const std::string& name);             // later routes avoid them
// };

// ---- network (sim/network.hpp) ----
struct FlowRequest {
  int src_gpu = 0;
  int dst_gpu = 0;
  int64_t bytes = 0;
  PathKind path = PathKind::direct;
  uint64_t hash = 0;          // ECMP-by-hash input (ignored under ECMP by destination)
  int tag = 0;                // caller's label, reported back in statistics (e.g. 0 = pipeline, 1 = EP, 2 = DP)
};

struct FlowDone {
  int64_t id = 0;
  TimeNs start = 0;
  TimeNs finish = 0;
};

// class Network (sim/network.hpp) {
//   Network(const Topology&, EventQueue&, NetworkOptions);  // mode flow|coflow, time_quantum_ns, latency_weighted
//   int64_t start_flow(const FlowRequest&, std::function<void(const FlowDone&)> done);   // done at finish time
//   int64_t start_coflow(std::span<const FlowRequest>, DoneFn done);  // one activity, bottleneck-limited
//   void start_flows(std::span<const FlowRequest>, DoneFn done);      // per flow or one coflow, per the options
//   const std::vector<double>& link_bytes() const;                    // per-link carried bytes
// };
// Collectives (sim/collectives.hpp): plan_collective(topo, CollectiveSpec) → rounds of flows;
// start_collective(net, plan, done) on a shared queue; run_collective(topo, spec, options) in isolation;
// CollectiveTimer(topo, options).duration(spec): isolated durations cached by shape.

}  // namespace cs
