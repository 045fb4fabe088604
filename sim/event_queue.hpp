// The event core: integer-nanosecond time, a binary heap keyed by (time, insertion sequence) so that events at equal
// times run in the order they were scheduled (deterministic), callbacks kept in a slot pool so the heap moves only
// 24-byte keys.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "sim/time.hpp"

namespace cs {

class EventQueue {
 public:
  using Callback = std::function<void()>;

  TimeNs now() const { return now_; }
  // Runs `fn` at time t (t >= now()); events at equal times run in insertion order.
  void at(TimeNs t, Callback fn);
  void after(TimeNs dt, Callback fn) { at(now_ + dt, std::move(fn)); }
  bool step();                       // runs one event; false when none is left
  void run();                        // until empty
  void run_until(TimeNs t);          // runs every event with time <= t, then sets now() = t
  bool empty() const { return heap_.empty(); }
  size_t pending() const { return heap_.size(); }
  uint64_t events_processed() const { return processed_; }

 private:
  struct Key {
    TimeNs t;
    uint64_t seq;
    uint32_t slot;
  };
  static bool later(const Key& a, const Key& b) { return a.t != b.t ? a.t > b.t : a.seq > b.seq; }
  void sift_up(size_t i);
  void sift_down(size_t i);

  TimeNs now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t processed_ = 0;
  std::vector<Key> heap_;
  std::vector<Callback> slots_;
  std::vector<uint32_t> free_slots_;
};

}  // namespace cs
