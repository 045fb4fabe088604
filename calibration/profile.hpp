// A calibration profile: kernel timings (measured on a GPU by clustersim-kernels, or taken from published kernel
// benchmarks) plus the roofline efficiencies used for ops no record covers. Loaded from JSON
// (calibration/profiles/*.json; format documented in calibration/README.md) and validated on load.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace cs {

// Bad profile: names the file, the record (or section) and the field, and says what is allowed.
// "file:line: field: what" (no line where there is no text to point into: a file that cannot be opened).
class ProfileError : public std::runtime_error {
 public:
  ProfileError(std::string file, std::string field, const std::string& what, int line = 0);
  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }  // e.g. "records[12].shape.m"
  int line() const { return line_; }                   // 1-based; 0 when not known
  const std::string& detail() const { return detail_; }
  ProfileError at_line(int line) const { return ProfileError(file_, field_, detail_, line); }

 private:
  std::string file_;
  std::string field_;
  std::string detail_;
  int line_;
};

// The shape a kernel ran at. GEMM: m×n×k, `count` groups (experts) of m rows each. Attention: batch, seq, heads,
// head dims, causal. Memory-bound kernels: m rows × n elements per row and the HBM bytes they move.
struct KernelShape {
  int64_t m = 0, n = 0, k = 0, count = 1;
  int64_t batch = 0, seq = 0, heads = 0, d_qk = 0, d_v = 0;
  bool causal = false;
  double bytes = 0;
  bool operator==(const KernelShape&) const = default;
};

struct KernelRecord {
  std::string kernel;      // gemm_fp8, gemm_bf16, attention, rmsnorm, ... (see kernel_names())
  std::string role;        // fprop | dgrad | wgrad (GEMMs); forward | backward (others)
  KernelShape shape;
  int sms = 0;             // SMs the kernel was allowed to use
  double median_ns = 0;
  double p10_ns = 0;       // noise band; equal to the median where the source gives one figure
  double p90_ns = 0;
  int repetitions = 0;     // 0 = published figure
  std::string source;      // citation or "measured"
};

// Fraction of a datasheet peak an op class reaches; used when no record covers an op.
struct Efficiency {
  std::string op;          // an OpKind name (gemm, attention, norm, ...) or "default"
  std::string precision;   // fp8 | bf16 | fp32, or "" for any
  std::string bound;       // compute | memory
  double value = 0;        // (0, 1]
  std::string source;
};

struct SourcedValue {
  double value = 0;
  std::string source;
};

struct DeviceInfo {
  std::string name;
  int sms = 0;
  std::string driver;
  std::map<std::string, std::string> libraries;  // e.g. cublasLt → 13.1.0
  std::map<std::string, double> clocks;           // e.g. sm_mhz_before, sm_mhz_after, temperature_c_after
};

struct Profile {
  std::string file;        // where it was loaded from (messages)
  std::string name;
  std::string description;
  std::string method;      // measured | published
  std::string timing;      // how the records were timed (free text)
  DeviceInfo device;
  std::map<std::string, std::string> sources;  // citation key → full reference
  // SMs a memory-bound kernel needs to saturate HBM bandwidth; fewer SMs scale its bandwidth down linearly.
  SourcedValue memory_saturation_sms;
  std::vector<Efficiency> efficiencies;
  std::vector<KernelRecord> records;
};

const std::vector<std::string>& kernel_names();
// Roles a kernel's records may have.
std::vector<std::string> kernel_roles(const std::string& kernel);
// Compute-bound kernels scale with SMs; the others are memory-bound.
bool kernel_is_compute_bound(const std::string& kernel);

// FLOPs of a GEMM or attention record's shape (0 for memory-bound kernels).
double record_flops(const std::string& kernel, const std::string& role, const KernelShape& s);

// Where the fields of a JSON text are: the line of each key, and of each array element's first character, by field
// path ("records[3]", "records[3].shape.m"; "" is the top-level value).
class JsonLines {
 public:
  void add(const std::string& field, int line) { lines_.emplace(field, line); }
  // The field's line, else that of the nearest field holding it (a missing key: the object it is missing from); 0
  // when none is known.
  int line_of(std::string field) const;

 private:
  std::unordered_map<std::string, int> lines_;
};

// JSON text → document. A syntax error or an object that gives one key twice (nlohmann would keep the last value
// without a word) throws ProfileError naming `file`, the line and, for the key, its field path. `lines`, when given,
// is filled with every field's line.
nlohmann::json parse_json_text(const std::string& json_text, const std::string& file, JsonLines* lines = nullptr);

// Runs `read` (which reads a document parse_json_text made) and gives a ProfileError it throws without a line the
// line of its field.
template <class F>
auto with_lines(const JsonLines& lines, F&& read) {
  try {
    return read();
  } catch (const ProfileError& e) {
    if (e.line() > 0) throw;
    throw e.at_line(lines.line_of(e.field()));
  }
}

// Text → Profile; throws ProfileError naming `file`, the record index and the field.
Profile parse_profile(const std::string& json_text, const std::string& file);
Profile load_profile(const std::string& path);
// A profile name (e.g. "h800-published") is looked up in `profile_dir`; anything with a '/' or ending in .json is a
// path.
std::string resolve_profile(const std::string& name_or_path, const std::string& profile_dir);
// Folder of the shipped profiles: $CLUSTERSIM_PROFILES if set, else the source tree's calibration/profiles.
std::string default_profile_dir();

std::string profile_to_json(const Profile& p);  // pretty-printed, deterministic key order
void save_profile(const Profile& p, const std::string& path);

// One-line identity of a record: kernel/role m×n×k×count @sms (for tables and messages).
std::string record_label(const KernelRecord& r);

}  // namespace cs
