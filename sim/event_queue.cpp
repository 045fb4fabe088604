#include "sim/event_queue.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cs {

void EventQueue::at(TimeNs t, Callback fn) {
  if (t < now_) throw std::logic_error(fmt::format("EventQueue::at: time {} ns is before now ({} ns)", t, now_));
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[slot] = std::move(fn);
  } else {
    slot = uint32_t(slots_.size());
    if (slot >> kSlotBits)
      throw std::length_error(fmt::format("EventQueue::at: more than {} events pending", uint64_t(1) << kSlotBits));
    slots_.push_back(std::move(fn));
  }
  if (next_seq_ >= seq_limit_) renumber();
  heap_.push_back(Key{t, next_seq_++ << kSlotBits | slot});
  sift_up(heap_.size() - 1);
}

void EventQueue::renumber() {
  std::sort(heap_.begin(), heap_.end(), [](const Key& a, const Key& b) { return later(b, a); });
  // Sorted ascending is a valid min-heap, and renumbering in that order keeps it one.
  for (size_t i = 0; i < heap_.size(); ++i) heap_[i].ord = uint64_t(i) << kSlotBits | heap_[i].slot();
  next_seq_ = heap_.size();
}

void EventQueue::sift_up(size_t i) {
  Key k = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!later(heap_[parent], k)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = k;
}

void EventQueue::sift_down(size_t i) {
  const size_t n = heap_.size();
  Key k = heap_[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && later(heap_[child], heap_[child + 1])) ++child;
    if (!later(k, heap_[child])) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = k;
}

bool EventQueue::step() {
  if (heap_.empty()) return false;
  const Key top = heap_[0];
  heap_[0] = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
  now_ = top.t;
  Callback fn = std::move(slots_[top.slot()]);
  slots_[top.slot()] = nullptr;
  free_slots_.push_back(top.slot());
  ++processed_;
  fn();  // may schedule more events
  return true;
}

void EventQueue::run() {
  while (step()) {
  }
}

void EventQueue::run_until(TimeNs t) {
  while (!heap_.empty() && heap_[0].t <= t) step();
  if (t > now_) now_ = t;
}

}  // namespace cs
