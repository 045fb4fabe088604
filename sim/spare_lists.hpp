#pragma once
// Emptied std::vectors kept for their capacity, handed out by the capacity a use needs.
//
// The network's many short-lived lists (activation batches, component members, solve results and the groups they
// become) are reused instead of freed. A plain stack hands a use whatever list was freed last, which is mostly too
// short or far too long for it: the short ones grow (new memory, copied), and over rounds every list creeps up to
// the longest use (measured on the 129,024-flow uniform round: each round from the 2nd to the 12th touched 0.5 to
// 2 MB of new memory, 3,300 page faults in all, and ran 2-3 ms slower than the 13th). Kept by capacity class
// (powers of two), a use asking for n gets a list that already holds n when one is spare, so the lists of one round
// serve the same uses the next round.
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <vector>

namespace cs {

template <class T>
class SpareLists {
 public:
  // An empty list with capacity for at least `need`: the most recently given one of the smallest class that surely
  // holds it (or a list of the class below that happens to), else a new one.
  std::vector<T> take(size_t need) {
    if (need == 0) need = 1;
    const size_t below = std::bit_width(need) - 1;  // class holding capacities [2^below, 2^(below+1))
    if (!by_class_[below].empty() && by_class_[below].back().capacity() >= need) return pop(below);
    for (size_t c = below + 1; c < kClasses; ++c)
      if (!by_class_[c].empty()) return pop(c);
    // New storage, its capacity a power of two. (Not a shorter spare grown: the use it was kept for would come short
    // next time.) With power-of-two capacities, the uses of one round get lists without new storage the next, in
    // whatever order they come, as long as as many of each length are in use at once.
    std::vector<T> v;
    v.reserve(std::bit_ceil(need));
    return v;
  }

  // Keeps `v`'s storage (emptied) for a later take; a list without storage is dropped.
  void give(std::vector<T>&& v) {
    v.clear();
    if (v.capacity() == 0) return;
    by_class_[std::bit_width(v.capacity()) - 1].push_back(std::move(v));
    ++count_;
  }

  // Makes room in `v` for `more` elements beyond its length, by moving its contents into a spare list (at least
  // twice its length, and kMinGrowth) and giving its old storage back, so a growing list reuses what earlier ones
  // left.
  void reserve_more(std::vector<T>& v, size_t more) {
    const size_t need = v.size() + more;
    if (need <= v.capacity()) return;
    std::vector<T> bigger = take(std::max({need, 2 * v.size(), kMinGrowth}));
    bigger.insert(bigger.end(), v.begin(), v.end());
    v.swap(bigger);
    give(std::move(bigger));
  }

  size_t size() const { return count_; }

 private:
  static constexpr size_t kClasses = 48;
  static constexpr size_t kMinGrowth = 16;
  std::vector<T> pop(size_t c) {
    std::vector<T> v = std::move(by_class_[c].back());
    by_class_[c].pop_back();
    --count_;
    return v;
  }
  std::array<std::vector<std::vector<T>>, kClasses> by_class_;
  size_t count_ = 0;
};

}  // namespace cs
