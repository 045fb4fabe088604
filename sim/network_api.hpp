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

// ---- event core (sim/event_queue.hpp) ----
// class EventQueue {
//  public:
//   TimeNs now() const;
//   void at(TimeNs t, std::function<void()> fn);   // t >= now(); equal times run in insertion order
//   bool step();                                    // run one event; false when empty
//   void run();                                     // until empty
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

// class Topology {
//  public:
//   explicit Topology(const ClusterSpec&);          // built as a Boost.Graph graph
//   int gpus() const; int nodes() const; int gpus_per_node() const;
//   int node_of(int gpu) const; int local_index(int gpu) const;
//   const LinkInfo& link(LinkId) const; size_t links() const;
//   std::span<const LinkId> route(int src_gpu, int dst_gpu, PathKind, uint64_t flow_hash = 0) const;  // cached
//   void fail_link(LinkId); void fail_switch(...);  // reroute
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

// class Network {
//  public:
//   Network(const Topology&, EventQueue&, NetworkOptions);   // options: mode (flow | coflow), time quantum ns
//   // Starts at q.now(); `done` runs at the flow's finish time (latency of the path included).
//   int64_t start_flow(const FlowRequest&, std::function<void(const FlowDone&)> done);
//   // One activity for a whole set of flows (coflow mode): finishes when its bottleneck link has carried its bytes.
//   int64_t start_coflow(std::vector<FlowRequest>, std::function<void(const FlowDone&)> done);
//   // per-link carried bytes and busy time, for utilisation reports
// };

}  // namespace cs
