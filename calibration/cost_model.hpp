// The cost model: an op of the model layer and the SMs it may use → its duration on one GPU.
//
// Where a duration comes from, in order of preference:
//   record        a profile record of the same kernel, role and shape (SM count scaled if it differs); the
//                 record is a measurement or a published figure, as the profile's `method` says;
//   interpolated  records of the same kernel at other shapes (or, for dgrad/wgrad, the fprop records):
//                 GEMMs piecewise-linear in time over rows m at equal (n, k), else the nearest (n, k) in log space
//                 at the same throughput; other kernels piecewise-linear in time over their FLOPs or bytes;
//   roofline      max(FLOPs / (peak × compute efficiency), bytes / (HBM bandwidth × memory efficiency)), with the
//                 efficiencies (and their sources) the profile lists per op class.
// Between two records time is affine in the work coordinate (a fixed cost plus a per-row / per-byte cost, which is
// what a weight-load-bound small-M GEMM turning compute-bound at large M looks like). Below the smallest record the
// line through the two smallest records is extended, clamped between that record's time (less work is not slower)
// and its throughput (a smaller problem is not more efficient); with one record the time stays. Above the largest
// record the throughput stays that record's.
//
// SM scaling. Compute-bound kernels (GEMM, attention): time × recorded SMs / available SMs — the tensor-core peak is
// per SM (4096 FLOP/clk/SM × SMs, reference/deepseek-v3.md §3); wave quantisation is ignored. Memory-bound kernels:
// bandwidth ∝ min(1, SMs / memory_saturation_sms) (the profile says where that figure comes from).
//
// Communication ops (dispatch, combine) are timed by the network model: time() rejects them.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "calibration/gpu_spec.hpp"
#include "calibration/profile.hpp"
#include "models/op.hpp"

namespace cs {

// Integer nanoseconds, the same alias as sim/time.hpp declares (a repeated alias of one type is legal), so that
// calibration does not depend on sim.
using TimeNs = int64_t;

enum class TimeSource { record, interpolated, roofline };  // record: measured or published, per Profile::method
const char* to_string(TimeSource s);

struct OpTime {
  TimeNs ns = 0;
  TimeSource source = TimeSource::roofline;
};

// Which profile kernel and role an op runs as ("" kernel for communication ops).
struct KernelKey {
  std::string kernel;
  std::string role;
};
KernelKey kernel_key(const Op& op);
// The record shape an op corresponds to (what the harness times for it).
KernelShape kernel_shape(const Op& op);

class CostModel {
 public:
  // Throws std::invalid_argument when the GPU spec lacks the peaks the roofline needs.
  CostModel(Profile profile, GpuSpec gpu);

  // Duration of `op` using `sms` SMs (1 ≤ sms ≤ gpu.sms). Throws std::invalid_argument for communication ops and
  // for sms out of range.
  OpTime time(const Op& op, int sms) const;

  const Profile& profile() const { return profile_; }
  const GpuSpec& gpu() const { return gpu_; }

 private:
  struct Point {
    double x = 0;       // rows per group (GEMM), FLOPs (attention), bytes (memory-bound)
    double ns = 0;      // per group (GEMM) or per call
    int64_t count = 1;
  };
  struct Curve {
    std::string kernel, role;
    int sms = 0;
    bool grouped = false;
    int64_t n = 0, k = 0;              // GEMM weight shape; attention: heads, d_qk+d_v
    std::vector<Point> points;         // sorted by x, equal x merged
    std::vector<KernelShape> shapes;   // exact shapes recorded on this curve (for the record tag)
  };
  static double eval(const Curve& c, double x);
  const Curve* pick(const std::string& kernel, const std::string& role, bool grouped, int sms, int64_t n, int64_t k,
                    bool& exact_key, bool& same_role) const;
  double efficiency(const Op& op, const std::string& bound) const;
  double sm_factor(bool compute, int recorded_sms, int sms) const;
  OpTime roofline(const Op& op, int sms) const;

  Profile profile_;
  GpuSpec gpu_;
  std::map<std::string, std::vector<Curve>> curves_;  // by kernel
};

// Per-run counters of where durations came from; owned by the caller (the cost model itself holds no mutable
// state, so one model can serve several simulations at once).
struct CostTally {
  std::array<int64_t, 3> ops{};       // indexed by TimeSource
  std::array<TimeNs, 3> time_ns{};
  void add(const OpTime& t) {
    ops[size_t(t.source)] += 1;
    time_ns[size_t(t.source)] += t.ns;
  }
  int64_t total_ops() const { return ops[0] + ops[1] + ops[2]; }
};
// "profile h800-published (calibration/profiles/h800-published.json, published): 120 ops from records, 80
// interpolated, 40 roofline"
std::string describe_tally(const Profile& p, const CostTally& t);

}  // namespace cs
