// The fluid network model: every active flow gets a rate by max-min fair sharing of link capacities (progressive
// filling), rates are constant between events, and an event (flows starting after their route latency, flows
// finishing) re-solves only the component it touches (activities connected through shared links), and of that only
// what runs at or above the lowest leaving rate. A coflow is one activity for a
// whole set of flows: it uses each link in proportion to the bytes its flows put there and finishes when its
// bottleneck link has carried its bytes (SimGrid's parallel-task model); it is the fast mode for collectives whose
// only interesting output is the finish time.
//
// Semantics match SimGrid's CM02 model with cross-traffic and the TCP window bound off: a flow first waits its
// route's latency, then shares bandwidth until its bytes are carried. Times are integer ns, finish times are
// rounded up to the next ns.
#pragma once
#include <array>
#include <cstdint>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "sim/event_queue.hpp"
#include "sim/spare_lists.hpp"
#include "sim/topology.hpp"

namespace cs {

enum class NetworkMode { flow, coflow };

inline constexpr TimeNs kMaxTimeQuantumNs = 1000000000;  // 1 s: far beyond any useful quantum, far from overflow

struct NetworkOptions {
  NetworkMode mode = NetworkMode::flow;  // how start_flows() runs a set of flows (start_flow is always per flow)
  // Completions within this many ns of the earliest one are retired in the same re-solve (each at its own predicted
  // finish time); 0 = exact. The bandwidth they would have used until then goes to others a little early.
  TimeNs time_quantum_ns = 0;  // 0 to kMaxTimeQuantumNs
  // Sharing among flows: false = plain max-min (equal shares at a bottleneck: InfiniBand's credit-based flow control
  // with congestion control off, reference §3); true = shares ∝ 1 / route latency, SimGrid CM02's model of TCP's
  // RTT unfairness, used to check this solver against SimGrid on flows of unequal latencies.
  bool latency_weighted = false;
  // Threads that re-solve the components one event touches (each component is solved by one thread; groups and
  // completions are made afterwards in the order a single thread makes them, so results do not depend on it), scan a
  // wakeup's due groups and set up large start_flows sets. Between runs a worker polls for up to 1 ms before it
  // sleeps: meant for idle cores (on a loaded machine more threads than one can be slower).
  int solver_threads = 1;
};

class Network {
 public:
  using DoneFn = std::function<void(const FlowDone&)>;

  Network(const Topology& topo, EventQueue& queue, NetworkOptions options = {});
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

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
  uint64_t parallel_solve_runs() const { return parallel_runs_; }  // events whose solves ran on several threads
  size_t active() const { return active_; }

 private:
  struct Use {
    LinkId link;
    double weight;
  };
  // The solver's per-activity state, 64 bytes: a solve's scan of its component and a retirement touch only this.
  // Routes of up to kInline links with one weight (every flow of the fabrics modelled here) are stored inline; longer
  // routes and coflows (per-link weights) keep their uses in the activity and are always re-solved.
  static constexpr int kInline = 8;
  static constexpr uint8_t kOutOfLine = 0xFF;
  struct Hot {
    uint32_t gen = 0;          // bumped when the slot is reused, so stale component memberships are recognised
    uint32_t join = 0;         // the start_flows set it belongs to, or kNoJoin
    double rate = 0;           // bytes per ns
    double w0 = 0;             // weight of the first use
    bool live = false;
    bool in_comp = false;      // sharing bandwidth (member of a component), not waiting out its latency
    uint8_t n = 0;             // inline links (all of weight w0: may keep its rate in a re-solve), or kOutOfLine
    bool instant = false;      // nothing to share (no link or no bytes): done when its latency is over
    LinkId link[kInline];
    uint32_t rec = UINT32_MAX;  // its record in recs_, or kNoRec
  };
  static_assert(sizeof(Hot) == 64, "one cache line per activity in the solver's scans");
  static_assert(kInline <= Route::kMaxHops && Route::kMaxClosedFormHops <= kInline,
                "a closed-form route's links fit inline");
  // What a solve and a wakeup read besides Hot, 32 bytes.
  struct Warm {
    double remaining = 0;      // bytes (a coflow: bytes on its bottleneck link)
    TimeNs last = 0;           // time `remaining` was last brought up to date
    TimeNs finish = 0;
    uint32_t group = 0, group_gen = 0;  // the solve group that last set `finish`
  };
  // What only some activities need, kept apart so a member of a start_flows set with a short route has none: its
  // id and start and callback (start_flow, start_coflow), or its uses (Hot::n == kOutOfLine).
  struct Activity {
    int64_t id = 0;
    TimeNs start = 0;
    TimeNs not_before = 0;  // a coflow: its callback no earlier than its slowest flow could finish alone
    std::vector<Use> uses;
    DoneFn done;
  };
  static constexpr uint32_t kNoRec = UINT32_MAX;
  Activity& record(uint32_t slot);  // the slot's record, made on first use
  static constexpr uint32_t kNoJoin = UINT32_MAX;
  // A set started by start_flows: `done` runs once, at the last finish.
  struct Join {
    size_t left = 0;
    TimeNs start = 0, finish = 0;
    DoneFn done;
  };
  // The pending activation batch a set's last flow went to: consecutive flows often start sharing at the same time,
  // and then the batch is looked up once for them.
  struct BatchCursor {
    size_t batch = SIZE_MAX;
    TimeNs at = -1;
  };
  uint32_t start_flow_slot(const FlowRequest& req, BatchCursor& cursor);  // start_flow without the callback: the slot
  template <bool kDelta>
  TimeNs init_flow(uint32_t slot, const FlowRequest& req, double* bytes, std::vector<LinkId>* touched);
  // Sets of at least this many flows are set up on the solver threads, in chunks of kStartChunk.
  static constexpr size_t kParallelStart = 2048, kStartChunk = 256;
  void start_flows_parallel(std::span<const FlowRequest> flows, DoneFn done);
  void start_chunks(size_t thread);
  void finish_join_member(uint32_t join, TimeNs finish);
  void set_uses(uint32_t s, std::span<const Use> uses);
  template <class F>
  void for_uses(uint32_t s, F&& f) const {
    const Hot& h = hot_[s];
    if (h.n != kOutOfLine) {
      for (int i = 0; i < h.n; ++i) f(h.link[i], h.w0);
    } else {
      for (const Use& u : recs_[h.rec].uses) f(u.link, u.weight);
    }
  }
  LinkId first_link(const Hot& h) const { return h.n != kOutOfLine ? h.link[0] : recs_[h.rec].uses[0].link; }
  LinkId first_link(uint32_t s) const { return first_link(hot_[s]); }
  struct Member {
    uint32_t slot, gen;
  };

  // Components: sets of links joined by the routes of the activities sharing bandwidth, each with the list of its
  // activities, so a solve reads its activities from one list instead of discovering them link by link. Activities
  // joining merge components (the smaller into the larger); leaving does not split them, so a component can hold
  // parts no longer connected: re-solving those gives them the rates they had (max-min is unique), only costing
  // time, and a component is rebuilt from its live activities once more have left it than remain.
  struct Comp {
    std::vector<Member> acts;   // joined since the component was built; stale entries are dropped by solves
    std::vector<LinkId> links;  // the links labelled with this component
    uint32_t live = 0;          // activities in it now
    uint32_t departed = 0;      // activities that left since it was built
    uint64_t stamp = 0;         // event scratch: touched by the current event, with the lowest leaving rate `keep`
    double keep = 0;
    // What a departure needs to know whether anything could change: the highest rate of a live activity (an upper
    // bound once some left), how many live ones run exactly at it, and how many a re-solve would always take (rate
    // 0 or not single-weight inline). A departure at or above every remaining rate re-solves nothing.
    double max_rate = 0;
    uint32_t at_max = 0, always = 0;
  };
  static constexpr uint32_t kNoComp = UINT32_MAX;
  uint32_t join_comp(uint32_t slot);  // the activity starts sharing: into the component of its links (merging them)
  uint32_t merge_comps(uint32_t a, uint32_t b);
  uint32_t new_comp();
  void dissolve_comp(uint32_t c);  // nothing left in it: its links belong to no component
  void release_comp(uint32_t c);   // emptied (dissolved or merged away): back to the free list
  void rebuild_comp(uint32_t c, std::vector<uint32_t>& out);  // `out`: the components its live activities form
  // A solve's local problem: its links (global id, capacity left, weight sum, unfrozen count, heap key and position)
  // and activities (frozen, rate, uses as local link + weight in CSR, per-link member lists in CSR). The arrays only
  // grow (sized for the largest solve so far); one per solver thread.
  struct Scratch {
    std::vector<LinkId> l_id;
    std::vector<double> l_rem, l_wsum, l_key;
    std::vector<int32_t> l_unf, l_pos, l_heap;
    std::vector<uint32_t> l_moff, l_fill, l_mem;
    std::vector<int32_t> l_batch;
    std::vector<uint32_t> a_off;
    std::vector<int32_t> a_link;
    std::vector<double> a_w, a_rate;
    std::vector<uint8_t> a_frozen;
    std::vector<uint32_t> a_list;  // activities not yet frozen (filling by passes)
    std::vector<uint8_t> l_sat;    // links saturated at the current level (filling by passes)
    std::vector<double> link_delta;     // per link: bytes of the flows this thread set up (start_flows_parallel)
    std::vector<LinkId> link_touched;   // the links whose link_delta is not 0
    size_t bad_flow = SIZE_MAX;         // the first flow of negative size this thread met
    // The indexed min-heap of local links on (fair share, link id); shares are refreshed lazily (see solve).
    bool less(int32_t a, int32_t b) const;
    void place(size_t i, int32_t l);
    void sift_up(size_t i);
    void sift_down(size_t i);
    void remove(int32_t l);
    void heapify();  // l_heap holds the links in any order: make it a heap and set their positions
  };
  // One component to re-solve. Single-weight activities with rate < keep keep their rates: when activities leave,
  // every activity bottlenecked below the lowest leaving rate is unaffected (progressive filling runs identically up
  // to that level, since the leavers' links all saturate at or above it). The solve fills `act` (the activities it
  // gave rates to) and `first` (their earliest finish); commit_solve arms their group.
  // The solve also moves its activities into the task's group (made before the solves run, as solves may run on
  // several threads) and counts, run by run, how many leave each group they were in; commit_solve applies the
  // counts in that order, so groups are freed in the order one slot at a time frees them.
  struct SolveTask {
    struct Leave {
      uint32_t group, gen, count;
    };
    uint32_t comp;
    double keep;
    uint32_t epoch;
    std::vector<uint32_t> act;
    TimeNs first;
    uint32_t group, group_gen;
    std::vector<Leave> left;
  };
  void add_solve(uint32_t c, double keep);
  void run_solves();  // the tasks added since the last run, on the solver threads, then committed in order
  void solve(SolveTask& t, Scratch& sc);
  void commit_solve(SolveTask& t);
  void solver_loop(size_t thread);
  using Job = void (Network::*)(size_t thread);
  // Solves and group scans go to the solver threads only from this many activities: below, waking a thread costs
  // more than it saves.
  static constexpr size_t kParallelWork = 4096;
  void run_parallel(Job job);  // the job on every solver thread (the caller's too) until all have returned
  void solve_tasks(size_t thread);  // takes tasks until none is left
  // The activities one solve gave rates to, with one heap entry at their earliest finish: a solve pushes one entry,
  // not one per activity; a wakeup scans the group (as the solve did), retires what is due and re-arms the rest.
  struct Group {
    uint32_t gen = 0;
    uint32_t owned = 0;  // live activities whose warm group is this one: at 0 the group is freed unscanned
    uint64_t wake = 0;   // the wakeup that last scanned it
    std::vector<uint32_t> slots;
  };
  struct Completion {
    TimeNs t;
    uint64_t order;  // tie-break: groups in creation order
    uint32_t group, gen;
  };
  void arm_group(uint32_t g);  // scans the group for what it still owns and its earliest finish
  void push_completion(uint32_t g, TimeNs first);
  uint32_t new_group(std::vector<uint32_t> slots);
  void free_group(uint32_t g);
  void leave_group(uint32_t slot);  // the activity no longer belongs to its group (re-solved or retired)

  uint32_t new_slot();
  void take_slots(std::vector<uint32_t>& out);  // as many new slots as `out` holds, in the order new_slot gives them
  void free_slot(uint32_t s);
  void schedule_activation(uint32_t slot, TimeNs at, BatchCursor& cursor);
  void schedule_activations(std::span<const uint32_t> slots, TimeNs at, BatchCursor& cursor);
  // The pending batch that activates at `at`, made (and its event) when new, to be given `first` slots.
  size_t activation_batch(TimeNs at, size_t first);
  void activate_batch(TimeNs at);
  void schedule_wakeup();
  void wakeup(uint64_t token);

  const Topology& topo_;
  EventQueue& q_;
  NetworkOptions opt_;
  std::vector<Activity> recs_;
  std::vector<uint32_t> free_recs_;
  std::vector<Hot> hot_;
  std::vector<Warm> warm_;
  // Free slots as a bitmap, reused lowest first, so a set's activities lie together in the slot tables (retirement
  // frees them in finish order; reusing the most recently freed scattered a later round's activities and its solves
  // missed the cache: +30 % per round). free_lo_: no free slot lies in a word below it.
  std::vector<uint64_t> free_bits_;
  size_t free_count_ = 0, free_lo_ = 0;
  std::vector<Join> joins_;
  std::vector<uint32_t> free_joins_;
  std::vector<double> link_bytes_;
  std::vector<Comp> comps_;
  std::vector<uint32_t> free_comps_;
  std::vector<uint32_t> link_comp_;  // per link: its component, or kNoComp
  uint64_t comp_stamp_ = 0;
  std::vector<double> cap_;  // per link: capacity, bytes per ns
  std::vector<uint8_t> shadowed_;  // per link: left out of sharing (Topology::shadowed, when the network was made)
  // Per link scratch: a coflow's bytes while it is built (load_); for a solve, the link's local index (valid where
  // `mark` is the solve's epoch) and the capacity its kept activities use (valid where `fixed_mark` is).
  struct LinkScratch {
    uint32_t mark = 0, fixed_mark = 0;
    int32_t local = -1;
    double fixed = 0;
  };
  std::vector<double> load_;
  std::vector<LinkScratch> link_scratch_;
  uint32_t epoch_ = 0;
  std::vector<uint64_t> dirty_mark_;
  uint64_t dirty_stamp_ = 0;
  std::vector<LinkId> touched_scratch_;
  std::vector<Scratch> scratch_;  // per solver thread
  std::vector<SolveTask> tasks_;
  size_t n_tasks_ = 0;
  // Solver threads beyond the caller's: woken per run_solves with many activities, they take tasks by `next_task_`.
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_cv_;
  std::atomic<uint64_t> run_gen_{0};  // changed under mu_; read by spinning workers without it
  static constexpr int kSpinUs = 1000;  // how long a worker waits for the next run before it sleeps
  bool stop_ = false;     // guarded by mu_
  std::atomic<size_t> next_task_{0};
  Job job_ = nullptr;  // written before a run is opened, read by the workers that find it open
  // The set start_flows_parallel works on: its flows, their slots and activation times, and per chunk its slots
  // grouped by activation time (the times in the order they first come, flows in set order within a time), so the
  // calling thread schedules a chunk's activations a batch at a time instead of one flow at a time (reading one flow
  // at a time what another thread wrote cost a third of setting up the set).
  std::span<const FlowRequest> start_set_;
  std::vector<uint32_t> start_slots_;
  std::vector<TimeNs> start_at_;
  static constexpr uint32_t kChunkTimes = 4, kChunkUngrouped = UINT32_MAX;
  struct ChunkTimes {
    uint32_t n = 0;  // distinct activation times, or kChunkUngrouped (more than kChunkTimes: one flow at a time)
    std::array<std::pair<TimeNs, uint32_t>, kChunkTimes> times;  // (time, flows)
  };
  std::vector<ChunkTimes> start_times_;
  std::vector<uint32_t> start_grouped_;  // per chunk, its slots grouped by time
  uint32_t start_join_ = 0;
  // A run's tasks are taken only while it is open: the caller closes it once it has run out of tasks and waits only
  // for the workers inside it, not for one that has yet to be scheduled (with another process busy on one core, a
  // run waited for the worker to pass through it after the caller had done every task). Joining counts in first and
  // then checks the run is open; the caller closes it and then reads the count (both sequentially consistent), so a
  // worker either is waited for or finds it closed.
  std::atomic<bool> run_open_{false};
  std::atomic<size_t> in_run_{0};  // workers inside a run (or about to find it closed)
  // Event scratch, kept between events so a round allocates nothing once warm.
  struct Finished {
    uint32_t slot, join, rec;
    TimeNs t;
  };
  // A due group's scan (scan_groups): what it retired, in its order, what left each component (in the order the
  // component was first met), and what the group still holds.
  struct alignas(64) GroupScan {  // a cache line of its own: scans on different threads write their own
    struct Left {
      uint32_t comp, left, always, at_max;
      double keep;  // the lowest rate that left
    };
    uint32_t group = 0, gen = 0, kept = 0;
    TimeNs first = 0;
    std::vector<Finished> finished;
    std::vector<Left> comps;
  };
  void scan_groups(size_t thread);  // takes due groups by index until none is left
  std::vector<GroupScan> scans_;    // the current wakeup's due groups (the first n_scans_), kept for their capacity
  size_t n_scans_ = 0;
  TimeNs scan_horizon_ = 0;
  // A group a wakeup scanned: what it still held after the scan and their earliest finish, so it is re-armed
  // without a second scan unless a re-solve took some of them.
  struct Rearm {
    uint32_t group, gen, kept;
    TimeNs first;
  };
  std::vector<Rearm> rearm_scratch_;
  uint64_t wakes_ = 0;
  std::vector<uint32_t> instant_scratch_, comps_scratch_, rebuilt_scratch_;
  std::vector<Member> members_scratch_;
  // Emptied lists, kept for their capacity (spare_lists.hpp): slot lists of groups and solves, and apart from them of
  // activation batches (a few, and far longer: pooled together, a batch mostly got a group's short list and grew it
  // every round, and the pool's lists crept up to a batch's length: 57 MB more memory from round 60 to 200 of a
  // 129,024-flow round); components' member lists.
  SpareLists<uint32_t> spare_vectors_, spare_batches_;
  SpareLists<Member> spare_members_;
  std::vector<Completion> completions_;  // min-heap on (t, order)
  std::vector<Group> groups_;
  std::vector<uint32_t> free_groups_;
  uint64_t next_order_ = 0;
  std::vector<std::pair<TimeNs, std::vector<uint32_t>>> pending_;  // activations by time (few distinct times)
  int64_t next_id_ = 0;
  uint64_t wake_token_ = 0;
  TimeNs wake_at_ = -1;
  uint64_t solves_ = 0, solved_activities_ = 0, parallel_runs_ = 0;
  size_t active_ = 0;
};

}  // namespace cs
