// Durations of the pipeline instructions of one stage (F, B, W, and an overlapped F&B pair), from the stage's op
// lists, a compute timer (cost model, SMs left after communication) and a communication timer (network model).
//
// A GPU runs two streams: compute on the SMs left to it, and the expert-parallel all-to-alls (dispatch, combine) on
// the SMs reserved for communication. Within one micro-batch the parts of a chunk depend on each other (attention →
// dispatch → MLP → combine, reversed in backward), so a lone F or B runs its communication exposed. In DeepSeek's
// F&B pair, the forward chunk of one micro-batch and the backward chunk of another are interleaved so that the
// all-to-all of one hides behind the computation of the other; weight-gradient work fills the remaining gaps. The
// pair is timed here by list-scheduling both dependency chains on the two streams.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/op.hpp"
#include "sim/time.hpp"

namespace cs {

enum class Stream { compute, comm };

// A run of consecutive ops of one micro-batch on one stream (one part of one block).
struct Segment {
  Stream stream = Stream::compute;
  Part part = Part::attention;
  int layer = -1;
  bool weight_grad = false;  // W work: may run whenever its input-gradient part is done
  TimeNs duration = 0;
  std::string label;         // e.g. "L10 attention", "L10 dispatch"
};

// Timers the caller supplies: an op's duration on the compute stream, and a communication op's duration.
using OpTimer = std::function<TimeNs(const Op&)>;

struct ChunkSegments {
  std::vector<Segment> forward;         // F
  std::vector<Segment> backward_input;  // B (input gradients, incl. DeepSeek's recomputation)
  std::vector<Segment> backward_weight; // W, each tied to the (layer, part) whose B produced its input
};

// Groups the stage's ops into segments.
ChunkSegments chunk_segments(const LayerOps& stage, const OpTimer& compute, const OpTimer& comm);

// One placed segment: which chunk it belongs to (0 = the forward micro-batch, 1 = the backward one) and when it ran,
// relative to the start of the instruction.
struct Placed {
  int chain = 0;
  Segment seg;
  TimeNs start = 0;
  TimeNs end = 0;
};

struct ChunkTiming {
  TimeNs duration = 0;
  TimeNs compute_busy = 0;
  TimeNs comm_busy = 0;
  TimeNs comm_exposed = 0;  // time when communication runs and the compute stream has nothing to do
  TimeNs exposed_dispatch = 0, exposed_combine = 0;  // the same, split by the part the communication belongs to
  std::vector<Placed> placed;
};

// A lone chain: its segments one after another (a single micro-batch cannot overlap with itself).
ChunkTiming time_serial(const std::vector<Segment>& segs, int chain = 0);
// W after B in one instruction (a full backward): B's chain with W segments filling the compute gaps while B's
// communication runs.
ChunkTiming time_backward(const ChunkSegments& s, bool with_weight_grads);
// F of one micro-batch overlapped with B (optionally with its W) of another, on the two streams.
ChunkTiming time_overlapped(const ChunkSegments& f, const ChunkSegments& b, bool with_weight_grads);

}  // namespace cs
