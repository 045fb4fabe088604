// Collective communication as sets of flows on the network model.
//   p2p             one flow (pipeline parallelism), over PXN across nodes as NCCL does
//   all-to-all      every rank sends bytes/n to every other rank (nccl-tests' alltoall), optional size jitter
//   all-reduce      ring: NCCL's 2(n−1) steps of bytes/n; tree: NCCL's intra-node chains + two inter-node binary
//                   trees (each half the data), modelled in pipelined steady state (all edges busy at once)
//   reduce-scatter, all-gather: ring, n−1 steps of bytes/n (bytes = nccl-tests' size: the full buffer)
//   dispatch/combine DeepEP's normal kernels: one IB copy per (token, target node) to the same-index GPU there,
//                   NVLink forward to each distinct expert GPU; combine is the reverse path. IB and NVLink stages
//                   run concurrently (DeepEP overlaps them fully), aggregated per (source, relay) and (relay, GPU).
// Rings across nodes use one channel per NIC of a node: channel c enters each node at local GPU c and leaves over
// PXN through the NIC of the next node's entry GPU, so all NICs carry ring traffic (NCCL's multi-ring layout).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sim/ep_routing.hpp"
#include "sim/network.hpp"

namespace cs {

enum class CollectiveKind { p2p, all_to_all, dispatch, combine, all_reduce, reduce_scatter, all_gather };
enum class CollectiveAlgo { ring, tree };

CollectiveKind collective_kind_from_name(const std::string& name);  // throws on unknown names, listing the allowed
const char* collective_kind_name(CollectiveKind k);

struct CollectiveSpec {
  CollectiveKind kind = CollectiveKind::all_to_all;
  std::vector<int> gpus;          // participating GPUs, rank order (p2p: gpus[0] → gpus[1])
  int64_t bytes = 0;              // nccl-tests' size (all-to-all: per rank send buffer; p2p: message)
  CollectiveAlgo algo = CollectiveAlgo::ring;
  PathKind path = PathKind::pxn;  // all-to-all / p2p across nodes
  double jitter = 0;              // all-to-all: pair sizes × U(1 − jitter, 1 + jitter), seeded
  uint64_t seed = 1;
  // dispatch / combine
  int64_t tokens_per_rank = 4096;
  int64_t hidden = 7168;
  int experts = 256;
  int topk = 8;
  EpRoutingSpec routing;
};

// What a collective is made of: rounds of concurrent flows, each round starting when the previous one finished.
struct CollectivePlan {
  std::vector<std::vector<FlowRequest>> rounds;
  // DeepEP accounting (dispatch/combine): per rank, one copy per (token, distinct target node) incl. its own node,
  // and one copy per (token, distinct target GPU) incl. itself; bytes of one token copy.
  std::vector<int64_t> rdma_copies, nvl_copies;
  double bytes_per_copy = 0;
  bool internode = false;
  size_t flows() const;
};

CollectivePlan plan_collective(const Topology& topo, const CollectiveSpec& spec);

struct CollectiveResult {
  TimeNs time_ns = 0;
  size_t flows = 0, rounds = 0;
  std::vector<double> link_bytes;   // bytes carried per link
  double algbw_gbps = 0, busbw_gbps = 0;   // nccl-tests: size / time and size / time × bus factor
  double deepep_gbps = 0;           // DeepEP: bytes over the bottleneck link class per rank ÷ time
  std::string deepep_link;          // "RDMA" or "NVLink"
};

// Runs the plan's rounds on a shared network; `done` runs when the last round finishes.
void start_collective(Network& net, const CollectivePlan& plan, Network::DoneFn done);
// One collective in isolation on its own event queue and network.
CollectiveResult run_collective(const Topology& topo, const CollectiveSpec& spec, NetworkOptions options = {});
// The same timed by SimGrid 3.32 (sim/simgrid_oracle.hpp: CM02 max-min, one forked engine per round; every round
// starts when the previous one has finished). Slow: meant for small clusters.
CollectiveResult run_collective_simgrid(const Topology& topo, const CollectiveSpec& spec);
// The largest group (and scenario) the SimGrid backend accepts: it forks an engine per round, minutes beyond this.
constexpr int kSimGridMaxGpus = 256;
void fill_bandwidths(const CollectiveSpec& spec, const CollectivePlan& plan, CollectiveResult& r);

// Durations of collectives in isolation, cached by shape (kind, GPUs, sizes, routing): what the step executor asks
// for when it needs a communication time without simulating contention with other traffic.
inline constexpr size_t kLinkKinds = size_t(LinkKind::other) + 1;
using LinkKindBytes = std::array<double, kLinkKinds>;  // bytes carried, summed over the links of each LinkKind

struct CollectiveCost {
  TimeNs time_ns = 0;
  LinkKindBytes bytes{};
};

enum class NetworkBackend { native, simgrid };

// Thread-safe: threads sharing a timer (a sweep's points on one cluster) each time what is not cached yet, outside the
// lock; a shape timed by two threads at once is timed twice, to the same result.
class CollectiveTimer {
 public:
  CollectiveTimer(const Topology& topo, NetworkOptions options, NetworkBackend backend = NetworkBackend::native)
      : topo_(topo), opt_(options), backend_(backend) {}
  TimeNs duration(const CollectiveSpec& spec) { return cost(spec).time_ns; }
  const CollectiveCost& cost(const CollectiveSpec& spec);
  size_t cached() const;

 private:
  const Topology& topo_;
  NetworkOptions opt_;
  NetworkBackend backend_;
  mutable std::mutex mu_;
  std::map<std::string, CollectiveCost> cache_;  // entries are never removed: references to them stay valid
};

}  // namespace cs
