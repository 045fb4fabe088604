// The fluid network model: every active flow gets a rate by max-min fair sharing of link capacities (progressive
// filling), rates are constant between events, and an event (flows starting after their route latency, flows
// finishing) re-solves only the activities connected to it through shared links. A coflow is one activity for a
// whole set of flows: it uses each link in proportion to the bytes its flows put there and finishes when its
// bottleneck link has carried its bytes (SimGrid's parallel-task model); it is the fast mode for collectives whose
// only interesting output is the finish time.
//
// Semantics match SimGrid's CM02 model with cross-traffic and the TCP window bound off: a flow first waits its
// route's latency, then shares bandwidth until its bytes are carried. Times are integer ns, finish times are
// rounded up to the next ns.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "sim/event_queue.hpp"
#include "sim/topology.hpp"

namespace cs {

enum class NetworkMode { flow, coflow };

struct NetworkOptions {
  NetworkMode mode = NetworkMode::flow;  // how start_flows() runs a set of flows (start_flow is always per flow)
  // Completions within this many ns of the earliest one are retired in the same re-solve (each at its own predicted
  // finish time); 0 = exact. The bandwidth they would have used until then goes to others a little early.
  TimeNs time_quantum_ns = 0;
  // Sharing among flows: false = plain max-min (equal shares at a bottleneck: InfiniBand's credit-based flow control
  // with congestion control off, reference §3); true = shares ∝ 1 / route latency, SimGrid CM02's model of TCP's
  // RTT unfairness, used to check this solver against SimGrid on flows of unequal latencies.
  bool latency_weighted = false;
};

class Network {
 public:
  using DoneFn = std::function<void(const FlowDone&)>;

  Network(const Topology& topo, EventQueue& queue, NetworkOptions options = {});

  // Starts at queue.now(); `done` runs at the finish time (route latency included).
  int64_t start_flow(const FlowRequest& req, DoneFn done);
  // One activity for the set (see the header comment); FlowDone.start/finish cover the whole set.
  int64_t start_coflow(std::span<const FlowRequest> flows, DoneFn done);
  // A set of flows run as the options say (per flow or one coflow); `done` runs once, when the last one finishes.
  void start_flows(std::span<const FlowRequest> flows, DoneFn done);

  const Topology& topology() const { return topo_; }
  TimeNs now() const { return q_.now(); }
  const NetworkOptions& options() const { return opt_; }
  // Bytes each link has carried or is committed to carry (counted when an activity starts).
  const std::vector<double>& link_bytes() const { return link_bytes_; }
  uint64_t solves() const { return solves_; }
  uint64_t solved_activities() const { return solved_activities_; }
  size_t active() const { return active_; }

 private:
  struct Use {
    LinkId link;
    double weight;
  };
  // The solver's per-activity state, 64 bytes: the member scans of a solve and a retirement touch only this. Routes
  // of up to kInline links with one weight (every flow of the fabrics modelled here) are stored inline; longer routes
  // and coflows (per-link weights) keep their uses in the activity and are always re-solved.
  static constexpr int kInline = 8;
  static constexpr uint8_t kOutOfLine = 0xFF;
  struct Hot {
    uint32_t gen = 0;          // bumped when the slot is reused, so stale link memberships are recognised
    uint32_t mark = 0;         // solve epoch
    double rate = 0;           // bytes per ns
    double w0 = 0;             // weight of the first use
    uint32_t join = 0;         // the start_flows set it belongs to, or kNoJoin
    bool live = false;
    bool frozen = false;
    bool fixed = false;        // keeps its rate in the current solve
    uint8_t n = 0;             // inline links (all of weight w0: may keep its rate in a re-solve), or kOutOfLine
    LinkId link[kInline];
  };
  static_assert(sizeof(Hot) == 64, "one cache line per activity in the solver's scans");
  // What a solve and a wakeup read besides Hot, 32 bytes.
  struct Warm {
    double remaining = 0;      // bytes (a coflow: bytes on its bottleneck link)
    TimeNs last = 0;           // time `remaining` was last brought up to date
    TimeNs finish = 0;
    uint32_t group = 0, group_gen = 0;  // the solve group that last set `finish`
  };
  struct Activity {
    int64_t id = 0;
    TimeNs start = 0;
    std::vector<Use> uses;     // only when Hot::n == kOutOfLine
    DoneFn done;
  };
  static constexpr uint32_t kNoJoin = UINT32_MAX;
  // A set started by start_flows: `done` runs once, at the last finish.
  struct Join {
    size_t left = 0;
    TimeNs start = 0, finish = 0;
    DoneFn done;
  };
  uint32_t start_flow_slot(const FlowRequest& req);  // start_flow without the callback: the slot
  void finish_join_member(uint32_t join, TimeNs finish);
  void set_uses(uint32_t s, std::span<const Use> uses);
  template <class F>
  void for_uses(uint32_t s, F&& f) const {
    const Hot& h = hot_[s];
    if (h.n != kOutOfLine) {
      for (int i = 0; i < h.n; ++i) f(h.link[i], h.w0);
    } else {
      for (const Use& u : acts_[s].uses) f(u.link, u.weight);
    }
  }
  struct Member {
    uint32_t slot, gen;
  };
  // The activities one solve gave rates to, with one heap entry at their earliest finish: a solve pushes one entry,
  // not one per activity; a wakeup scans the group (as the solve did), retires what is due and re-arms the rest.
  struct Group {
    uint32_t gen = 0;
    uint32_t owned = 0;  // live activities whose warm group is this one: at 0 the group is freed unscanned
    std::vector<uint32_t> slots;
  };
  struct Completion {
    TimeNs t;
    uint64_t order;  // tie-break: groups in creation order
    uint32_t group, gen;
  };
  void arm_group(uint32_t g);
  uint32_t new_group(std::vector<uint32_t> slots);
  void free_group(uint32_t g);
  void leave_group(uint32_t slot);  // the activity no longer belongs to its group (re-solved or retired)

  uint32_t new_slot();
  void schedule_activation(uint32_t slot, TimeNs at);
  void activate_batch(TimeNs at);
  // Re-solves the activities connected to the seed links. Those with rate < keep_below keep their rates: when
  // activities leave, every activity bottlenecked below the lowest leaving rate is unaffected (progressive filling
  // runs identically up to that level, since the leavers' links all saturate at or above it). Marks the links of
  // the closure covered (cover_stamp_).
  void solve_from(std::span<const LinkId> seeds, double keep_below = 0);
  // One solve per connected component the seeds touch, in seed order, skipping seeds an earlier solve covered.
  // Small solves keep the working set in cache and give each component its own completion group. `keep_below`
  // per seed (empty: 0, a full re-solve): see solve_from.
  void solve_components(std::span<const LinkId> seeds, std::span<const double> keep_below);
  void schedule_wakeup();
  bool heap_less(LinkId a, LinkId b) const;
  void heap_place(size_t i, LinkId l);
  void heap_sift_up(size_t i);
  void heap_sift_down(size_t i);
  void heap_update(LinkId l);
  void heap_remove(LinkId l);
  LinkId heap_pop();
  void wakeup(uint64_t token);

  const Topology& topo_;
  EventQueue& q_;
  NetworkOptions opt_;
  std::vector<Activity> acts_;
  std::vector<Hot> hot_;
  std::vector<Warm> warm_;
  std::vector<LinkId> links_scratch_;
  // Free slots as a bitmap, reused lowest first, so a set's activities lie together in the slot tables (retirement
  // frees them in finish order; reusing the most recently freed scattered a later round's activities and its solves
  // missed the cache: +30 % per round). free_lo_: no free slot lies in a word below it.
  std::vector<uint64_t> free_bits_;
  size_t free_count_ = 0, free_lo_ = 0;
  void free_slot(uint32_t s);
  std::vector<Join> joins_;
  std::vector<uint32_t> free_joins_;
  std::vector<std::vector<Member>> link_members_;
  std::vector<double> link_bytes_;
  // Scratch of the solver, per link.
  std::vector<double> rem_, wsum_, load_;  // load_: a coflow's bytes per link while it is built
  std::vector<int32_t> unfrozen_;
  std::vector<uint32_t> link_mark_;
  std::vector<double> heap_key_;
  std::vector<int32_t> heap_pos_;
  std::vector<LinkId> heap_, batch_scratch_, dirty_scratch_, touched_scratch_;
  std::vector<uint64_t> dirty_mark_;
  uint64_t dirty_stamp_ = 0;
  // Links some solve of the current event has already covered (its closure), so the event's other seeds that lie
  // there need no solve of their own.
  std::vector<uint64_t> cover_mark_;
  uint64_t cover_stamp_ = 0;
  // An event's seeds: each link once, with the lowest keep_below of the leavers on it (seed_keep_, per link).
  std::vector<LinkId> seeds_scratch_;
  std::vector<double> seed_keep_, keep_scratch_;
  // Event scratch, kept between events so a round allocates nothing once warm.
  std::vector<std::pair<uint32_t, TimeNs>> finished_scratch_;
  std::vector<std::pair<uint32_t, uint32_t>> rearm_scratch_;  // (group, gen)
  std::vector<uint32_t> instant_scratch_;
  std::vector<std::vector<uint32_t>> spare_vectors_;  // emptied slot lists of freed groups and activation batches
  std::vector<uint32_t> take_vector();
  void give_vector(std::vector<uint32_t>&& v);
  uint32_t epoch_ = 0;
  std::vector<Completion> completions_;  // min-heap on (t, order)
  std::vector<Group> groups_;
  std::vector<uint32_t> free_groups_;
  uint64_t next_order_ = 0;
  std::vector<std::pair<TimeNs, std::vector<uint32_t>>> pending_;  // activations by time (few distinct times)
  int64_t next_id_ = 0;
  uint64_t wake_token_ = 0;
  TimeNs wake_at_ = -1;
  uint64_t solves_ = 0, solved_activities_ = 0;
  size_t active_ = 0;
};

}  // namespace cs
