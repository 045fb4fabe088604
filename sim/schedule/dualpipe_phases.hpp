// The eight phases shared by DualPipe and DualPipeV (dualpipe.cpp), written against the per-rank helpers the reference
// implementation uses (forward chunk, backward chunk, overlapped pair, weight chunk, and the four p2p posts), so that the
// phase code reads like the reference's step(). A rank's two "phases" are its two stages; `place` maps them.
#pragma once
#include <array>
#include <deque>
#include <utility>

#include "sim/schedule/schedule.hpp"

namespace cs::sched::detail {

class RankEmitter {
 public:
  // `place[phase]` = (direction, stage) of the rank's stage for that phase.
  RankEmitter(Schedule& s, int rank, std::array<std::pair<int, int>, 2> place, bool overlap_fb)
      : s_(s), rank_(rank), place_(place), overlap_(overlap_fb) {}

  void recv_forward(int phase);
  void send_forward(int phase);
  void recv_backward(int phase);
  void send_backward(int phase);
  void forward_compute(int phase);
  void backward_compute(int phase, bool split);

  void forward_chunk(int phase, bool recv = true, bool send = true);
  void backward_chunk(int phase, bool split = false, bool recv = true, bool send = true);
  void forward_backward_chunk(int phase0, int phase1, bool recv0 = true);
  void weight_chunk();

 private:
  Pass pass(PassKind k, int phase, int mb) const { return Pass{k, place_[phase].first, place_[phase].second, mb}; }
  void push(Op op, Pass p, int peer = -1) { s_.ops[rank_].push_back(Instruction{op, p, {}, peer}); }
  Schedule& s_;
  int rank_;
  std::array<std::pair<int, int>, 2> place_;
  bool overlap_;
  // Per-phase counters: micro-batches run/sent/received so far, in order, as the reference keeps them.
  std::array<int, 2> f_{}, b_{}, sent_f_{}, sent_b_{}, recv_f_{}, recv_b_{};
  std::deque<Pass> weights_;  // split backwards whose W is pending, oldest first (the reference's FIFO store)
};

// Runs phases 1..8 for one rank. DualPipe passes half_rank = min(r, PP−1−r), half_ranks = PP/2, chunks = N/2 and
// special = the two middle ranks; DualPipeV passes r, PP, N and special = the last rank.
void run_phases(RankEmitter& e, int half_rank, int half_ranks, int chunks, bool special);

}  // namespace cs::sched::detail
