// SimGrid 3.32 as the oracle for our network model: the same links (one SimGrid link per directed LinkId, same
// capacity and latency), the same routes, the same flows, under the settings that make SimGrid's fluid model the
// plain max-min bound (network/model:CM02, crosstraffic:0, TCP-gamma:0) and network/optim:Full (the default lazy
// update of 3.32 gave asymmetric, wrong finish times of up to 14 % for identical nodes of a 4-node all-to-all). SimGrid allows one Engine per process and
// does not reset its clock, so every simulation runs in a forked child that sends its results back over a pipe.
// This is the only file that includes SimGrid's headers (they cost ≈2.3 s of compile time per file).
#pragma once
#include <span>
#include <vector>

#include "sim/topology.hpp"

namespace cs {

struct TimedFlow {
  FlowRequest req;
  TimeNs start = 0;
};

// Finish time of each flow in ns (double: SimGrid's clock is in seconds). Every (src, dst) pair must use one route
// (SimGrid's full zone holds one route per pair); throws otherwise or if the child fails.
std::vector<double> simgrid_finish_times_ns(const Topology& topo, std::span<const TimedFlow> flows);

// One parallel task per set (SimGrid's L07 model, ptask_L07): the coflow oracle; returns each set's finish in ns.
// All sets start at 0.
std::vector<double> simgrid_ptask_finish_ns(const Topology& topo, const std::vector<std::vector<FlowRequest>>& sets);

}  // namespace cs
