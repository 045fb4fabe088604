#include "calibration/profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace cs {

using nlohmann::json;

ProfileError::ProfileError(std::string file, std::string field, const std::string& what, int line)
    : std::runtime_error(fmt::format("{}{}: {}: {}", file, line > 0 ? fmt::format(":{}", line) : "",
                                     field.empty() ? "(document)" : field, what)),
      file_(std::move(file)),
      field_(std::move(field)),
      detail_(what),
      line_(line) {}

int JsonLines::line_of(std::string field) const {
  for (;;) {
    if (const auto it = lines_.find(field); it != lines_.end()) return it->second;
    if (field.empty()) return 0;
    // The field holding it: "a.b[2]" → "a.b", "a.b" → "a", "a" → "".
    const size_t cut = field.back() == ']' ? field.rfind('[') : field.rfind('.');
    field.resize(cut == std::string::npos ? 0 : cut);
  }
}

const std::vector<std::string>& kernel_names() {
  static const std::vector<std::string> names = {
      "gemm_fp8", "gemm_bf16", "attention", "rmsnorm", "rope", "swiglu", "quantize", "transpose_quantize",
      "router_topk", "permute", "gather_fp8", "weighted_combine", "elementwise", "embedding", "loss",
      // communication between this machine's GPUs (NCCL), for the network model; the cost model never uses them
      "nccl_alltoall", "nccl_p2p"};
  return names;
}

std::vector<std::string> kernel_roles(const std::string& kernel) {
  if (kernel == "gemm_fp8" || kernel == "gemm_bf16") return {"fprop", "dgrad", "wgrad"};
  return {"forward", "backward"};
}

bool kernel_is_compute_bound(const std::string& kernel) {
  return kernel == "gemm_fp8" || kernel == "gemm_bf16" || kernel == "attention";
}

double record_flops(const std::string& kernel, const std::string& role, const KernelShape& s) {
  if (kernel == "gemm_fp8" || kernel == "gemm_bf16")
    return 2.0 * double(s.m) * double(s.n) * double(s.k) * double(s.count);
  if (kernel == "attention") {
    // Same counting as models/ops.cpp and reference/deepseek-v3.md §5: pairs·H·2·(d_qk+d_v) forward,
    // pairs·H·2·(3·d_qk+2·d_v) backward.
    const double S = double(s.seq);
    const double pairs = s.causal ? S * (S + 1) / 2 : S * S;
    const double per = role == "backward" ? double(3 * s.d_qk + 2 * s.d_v) : double(s.d_qk + s.d_v);
    return double(s.batch) * pairs * double(s.heads) * 2.0 * per;
  }
  return 0;
}

namespace {

// A JSON object being read: every key read is remembered; finish() rejects the others, naming what is allowed.
class Obj {
 public:
  Obj(const json& j, std::string file, std::string path) : j_(j), file_(std::move(file)), path_(std::move(path)) {
    if (!j_.is_object()) fail_here(fmt::format("expected an object, got {}", j_.type_name()));
  }
  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const { throw ProfileError(file_, at(key), what); }
  [[noreturn]] void fail_here(const std::string& what) const { throw ProfileError(file_, path_, what); }
  bool has(const std::string& key) {
    allowed_.insert(key);
    return j_.contains(key);
  }
  const json& get(const std::string& key) {
    if (!has(key)) fail(key, "missing (required)");
    return j_.at(key);
  }
  std::string text(const std::string& key, bool nonempty = true) {
    const json& v = get(key);
    if (!v.is_string()) fail(key, fmt::format("expected a string, got {}", v.type_name()));
    auto s = v.get<std::string>();
    if (nonempty && s.empty()) fail(key, "must not be empty");
    return s;
  }
  std::string text_or(const std::string& key, const std::string& fallback) {
    return has(key) ? text(key, false) : fallback;
  }
  std::string choice(const std::string& key, const std::vector<std::string>& allowed) {
    const std::string s = text(key);
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
      fail(key, fmt::format("\"{}\" is not one of: {}", s, fmt::join(allowed, ", ")));
    return s;
  }
  double number(const std::string& key, double lo, double hi) {
    const json& v = get(key);
    if (!v.is_number()) fail(key, fmt::format("expected a number, got {}", v.type_name()));
    const double d = v.get<double>();
    if (!(d >= lo && d <= hi)) fail(key, fmt::format("{} is outside the allowed range [{}, {}]", d, lo, hi));
    return d;
  }
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) {
    const json& v = get(key);
    if (!v.is_number_integer()) fail(key, fmt::format("expected an integer, got {}", v.dump()));
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) fail(key, fmt::format("{} is outside the allowed range [{}, {}]", i, lo, hi));
    return i;
  }
  int64_t integer_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
    return has(key) ? integer(key, lo, hi) : fallback;
  }
  bool boolean_or(const std::string& key, bool fallback) {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_boolean()) fail(key, fmt::format("expected true or false, got {}", v.dump()));
    return v.get<bool>();
  }
  const json& array(const std::string& key) {
    const json& v = get(key);
    if (!v.is_array()) fail(key, fmt::format("expected an array, got {}", v.type_name()));
    return v;
  }
  void finish() const {
    for (const auto& [key, value] : j_.items())
      if (!allowed_.count(key))
        fail(key, fmt::format("unknown field; allowed here: {}", fmt::join(allowed_, ", ")));
  }
  const std::string& file() const { return file_; }

 private:
  const json& j_;
  std::string file_;
  std::string path_;
  std::set<std::string> allowed_;
};

constexpr int64_t kBig = int64_t(1) << 40;

KernelShape read_shape(Obj& rec, const std::string& kernel, const std::string& file, const std::string& path) {
  Obj o(rec.get("shape"), file, path + ".shape");
  KernelShape s;
  if (kernel == "gemm_fp8" || kernel == "gemm_bf16") {
    s.m = o.integer("m", 1, kBig);
    s.n = o.integer("n", 1, kBig);
    s.k = o.integer("k", 1, kBig);
    s.count = o.integer_or("count", 1, 1, 1 << 20);
  } else if (kernel == "attention") {
    s.batch = o.integer("batch", 1, kBig);
    s.seq = o.integer("seq", 1, kBig);
    s.heads = o.integer("heads", 1, 1 << 20);
    s.d_qk = o.integer("d_qk", 1, 1 << 16);
    s.d_v = o.integer("d_v", 1, 1 << 16);
    s.causal = o.boolean_or("causal", false);
  } else {
    s.m = o.integer("m", 1, kBig);
    s.n = o.integer("n", 1, kBig);
    s.k = o.integer_or("k", 0, 0, kBig);
    s.bytes = o.number("bytes", 1, 1e18);
  }
  o.finish();
  return s;
}

KernelRecord read_record(const json& j, const std::string& file, size_t index, int device_sms) {
  const std::string path = fmt::format("records[{}]", index);
  Obj o(j, file, path);
  KernelRecord r;
  r.kernel = o.choice("kernel", kernel_names());
  r.role = o.choice("role", kernel_roles(r.kernel));
  r.shape = read_shape(o, r.kernel, file, path);
  r.sms = int(o.integer("sms", 1, device_sms));
  r.source = o.text("source");
  r.repetitions = int(o.integer_or("repetitions", 0, 0, 1 << 24));
  // Exactly one of: a time (measured), a throughput (published as TFLOPS or GB/s).
  const bool compute = kernel_is_compute_bound(r.kernel);
  const int given = int(o.has("median_ns")) + int(o.has("tflops")) + int(o.has("gbps"));
  if (given != 1)
    o.fail_here(fmt::format("give exactly one of median_ns, {} (found {})", compute ? "tflops" : "gbps", given));
  if (o.has("median_ns")) {
    r.median_ns = o.number("median_ns", 1e-3, 1e15);
  } else if (o.has("tflops")) {
    if (!compute) o.fail("tflops", fmt::format("{} is memory-bound: give gbps or median_ns", r.kernel));
    const double tflops = o.number("tflops", 1e-6, 1e5);
    r.median_ns = record_flops(r.kernel, r.role, r.shape) / (tflops * 1e3);
  } else {
    if (compute) o.fail("gbps", fmt::format("{} is compute-bound: give tflops or median_ns", r.kernel));
    const double gbps = o.number("gbps", 1e-6, 1e6);
    r.median_ns = r.shape.bytes / gbps;  // bytes / (GB/s) = ns
  }
  r.p10_ns = o.has("p10_ns") ? o.number("p10_ns", 0, 1e15) : r.median_ns;
  r.p90_ns = o.has("p90_ns") ? o.number("p90_ns", 0, 1e15) : r.median_ns;
  if (r.p10_ns > r.median_ns * (1 + 1e-12)) o.fail("p10_ns", fmt::format("{} exceeds median_ns {}", r.p10_ns, r.median_ns));
  if (r.p90_ns < r.median_ns * (1 - 1e-12)) o.fail("p90_ns", fmt::format("{} is below median_ns {}", r.p90_ns, r.median_ns));
  o.finish();
  return r;
}

}  // namespace

namespace {
// A char iterator over the text that records how far the parser has read it: nlohmann's parser callback is not told
// where it is, but at each event the parser has just read the token that made it.
struct ReadIterator {
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  const char* p = nullptr;
  const char** furthest = nullptr;
  reference operator*() const { return *p; }
  ReadIterator& operator++() {
    if (++p > *furthest) *furthest = p;
    return *this;
  }
  ReadIterator operator++(int) {
    ReadIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const ReadIterator& o) const { return p == o.p; }
  bool operator!=(const ReadIterator& o) const { return p != o.p; }
};
}  // namespace

json parse_json_text(const std::string& text, const std::string& file, JsonLines* lines) {
  // Where the parser is: one level per open object or array, with the key being read or the element count, so a
  // field is named by its path.
  struct Level {
    bool object;
    size_t index = 0;
    std::string key;
    std::set<std::string> keys;
  };
  std::vector<Level> levels;
  // The path of the levels' current fields, the innermost `depth` levels left out.
  auto path = [&](size_t depth) {
    std::string p;
    for (size_t i = 0; i + depth < levels.size(); ++i)
      p += levels[i].object ? (p.empty() ? "" : ".") + levels[i].key : fmt::format("[{}]", levels[i].index);
    return p;
  };
  auto field = [&](const std::string& key) {
    const std::string p = path(1);
    return p.empty() ? key : p + "." + key;
  };
  // The line of the token the parser read last (its last character: a number is ended by reading one past it).
  const char* furthest = text.data();
  const char* counted = text.data();
  int line = 1;
  auto token_line = [&] {
    const char* last = furthest > text.data() ? furthest - 1 : furthest;
    for (; counted < last; ++counted) line += *counted == '\n';
    return line;
  };
  auto check = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (lines && (levels.empty() || !levels.back().object)) lines->add(path(0), token_line());  // an element
        levels.push_back(Level{event == json::parse_event_t::object_start, 0, {}, {}});
        break;
      case json::parse_event_t::key: {
        Level& l = levels.back();
        l.key = parsed.get<std::string>();
        if (!l.keys.insert(l.key).second)
          throw ProfileError(file, field(l.key), "duplicate key; a key may appear only once in an object",
                             token_line());
        if (lines) lines->add(field(l.key), token_line());
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        levels.pop_back();
        if (!levels.empty() && !levels.back().object) ++levels.back().index;
        break;
      case json::parse_event_t::value:
        if (levels.empty() || levels.back().object) break;
        if (lines) lines->add(path(0), token_line());  // an element
        ++levels.back().index;
        break;
    }
    return true;
  };
  try {
    ReadIterator first{text.data(), &furthest}, last{text.data() + text.size(), &furthest};
    return json::parse(first, last, check);
  } catch (const json::parse_error& e) {
    const size_t upto = std::min(text.size(), size_t(e.byte));
    const long at = 1 + std::count(text.begin(), text.begin() + long(upto), '\n');
    throw ProfileError(file, "", fmt::format("JSON syntax error: {}", e.what()), int(at));
  }
}

namespace {
Profile read_profile(const json& doc, const std::string& file) {
  Obj root(doc, file, "");
  Profile p;
  p.file = file;
  const std::string format = root.text("format");
  if (format != "clustersim-profile/1")
    root.fail("format", fmt::format("\"{}\" is not a known format; allowed: clustersim-profile/1", format));
  p.name = root.text("name");
  p.description = root.text_or("description", "");
  p.method = root.choice("method", {"measured", "published"});
  p.timing = root.text_or("timing", "");
  {
    Obj d(root.get("device"), file, "device");
    p.device.name = d.text("name");
    p.device.sms = int(d.integer("sms", 1, 4096));
    p.device.driver = d.text_or("driver", "");
    if (d.has("libraries")) {
      Obj libs(d.get("libraries"), file, "device.libraries");
      for (const auto& [k, v] : d.get("libraries").items()) p.device.libraries[k] = libs.text(k, false);
      libs.finish();
    }
    if (d.has("clocks")) {
      Obj clocks(d.get("clocks"), file, "device.clocks");
      for (const auto& [k, v] : d.get("clocks").items()) p.device.clocks[k] = clocks.number(k, -1e9, 1e9);
      clocks.finish();
    }
    d.finish();
  }
  if (root.has("sources")) {
    Obj s(root.get("sources"), file, "sources");
    for (const auto& [k, v] : root.get("sources").items()) p.sources[k] = s.text(k);
    s.finish();
  }
  {
    Obj m(root.get("memory_saturation_sms"), file, "memory_saturation_sms");
    p.memory_saturation_sms.value = m.number("value", 1, p.device.sms);
    p.memory_saturation_sms.source = m.text("source");
    m.finish();
  }
  const json& effs = root.array("efficiencies");
  bool default_compute = false, default_memory = false;
  std::vector<std::string> ops = {"default", "gemm", "attention", "norm", "rope", "router", "quantize", "swiglu",
                                  "elementwise", "embedding", "loss"};
  for (size_t i = 0; i < effs.size(); ++i) {
    Obj e(effs[i], file, fmt::format("efficiencies[{}]", i));
    Efficiency x;
    x.op = e.choice("op", ops);
    x.precision = e.has("precision") ? e.choice("precision", {"fp8", "bf16", "fp32"}) : "";
    x.bound = e.choice("bound", {"compute", "memory"});
    x.value = e.number("value", 1e-3, 1.0);
    x.source = e.text("source");
    e.finish();
    for (const auto& prev : p.efficiencies)
      if (prev.op == x.op && prev.precision == x.precision && prev.bound == x.bound)
        e.fail_here(fmt::format("duplicates an earlier entry for op {} precision \"{}\" bound {}", x.op, x.precision,
                                x.bound));
    if (x.op == "default" && x.precision.empty()) (x.bound == "compute" ? default_compute : default_memory) = true;
    p.efficiencies.push_back(x);
  }
  if (!default_compute || !default_memory)
    root.fail("efficiencies", "needs an entry with op \"default\" and no precision for both bound compute and memory "
                              "(the roofline fallback for ops no record covers)");
  const json& recs = root.array("records");
  for (size_t i = 0; i < recs.size(); ++i) {
    KernelRecord r = read_record(recs[i], file, i, p.device.sms);
    for (size_t j = 0; j < p.records.size(); ++j) {
      const auto& q = p.records[j];
      if (q.kernel == r.kernel && q.role == r.role && q.shape == r.shape && q.sms == r.sms)
        throw ProfileError(file, fmt::format("records[{}]", i),
                           fmt::format("duplicates records[{}] ({}): one record per (kernel, role, shape, sms)", j,
                                       record_label(q)));
    }
    p.records.push_back(std::move(r));
  }
  root.finish();
  return p;
}

}  // namespace

Profile parse_profile(const std::string& text, const std::string& file) {
  JsonLines lines;
  const json doc = parse_json_text(text, file, &lines);
  return with_lines(lines, [&] { return read_profile(doc, file); });
}

Profile load_profile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ProfileError(path, "", "cannot open the profile file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_profile(ss.str(), path);
}

std::string default_profile_dir() {
  if (const char* env = std::getenv("CLUSTERSIM_PROFILES"); env && *env) return env;
#ifdef CLUSTERSIM_PROFILE_DIR
  return CLUSTERSIM_PROFILE_DIR;
#else
  return "calibration/profiles";
#endif
}

std::string resolve_profile(const std::string& name_or_path, const std::string& profile_dir) {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       (name_or_path.size() > 5 && name_or_path.ends_with(".json"));
  return is_path ? name_or_path : profile_dir + "/" + name_or_path + ".json";
}

std::string record_label(const KernelRecord& r) {
  const auto& s = r.shape;
  std::string shape;
  if (r.kernel == "attention")
    shape = fmt::format("b{} s{} h{} d{}/{}{}", s.batch, s.seq, s.heads, s.d_qk, s.d_v, s.causal ? " causal" : "");
  else if (kernel_is_compute_bound(r.kernel))
    shape = s.count > 1 ? fmt::format("{}x{}x{} x{}", s.m, s.n, s.k, s.count) : fmt::format("{}x{}x{}", s.m, s.n, s.k);
  else
    shape = fmt::format("{}x{}", s.m, s.n);
  return fmt::format("{}/{} {} @{}sm", r.kernel, r.role, shape, r.sms);
}

std::string profile_to_json(const Profile& p) {
  json j;  // nlohmann's object is a std::map: keys come out sorted, so the output is deterministic
  j["format"] = "clustersim-profile/1";
  j["name"] = p.name;
  j["description"] = p.description;
  j["method"] = p.method;
  j["timing"] = p.timing;
  j["device"] = {{"name", p.device.name}, {"sms", p.device.sms}, {"driver", p.device.driver},
                 {"libraries", p.device.libraries}, {"clocks", p.device.clocks}};
  j["sources"] = p.sources;
  j["memory_saturation_sms"] = {{"value", p.memory_saturation_sms.value}, {"source", p.memory_saturation_sms.source}};
  j["efficiencies"] = json::array();
  for (const auto& e : p.efficiencies) {
    json x = {{"op", e.op}, {"bound", e.bound}, {"value", e.value}, {"source", e.source}};
    if (!e.precision.empty()) x["precision"] = e.precision;
    j["efficiencies"].push_back(x);
  }
  j["records"] = json::array();
  for (const auto& r : p.records) {
    const auto& s = r.shape;
    json shape;
    if (r.kernel == "attention")
      shape = {{"batch", s.batch}, {"seq", s.seq}, {"heads", s.heads}, {"d_qk", s.d_qk}, {"d_v", s.d_v},
               {"causal", s.causal}};
    else if (kernel_is_compute_bound(r.kernel))
      shape = {{"m", s.m}, {"n", s.n}, {"k", s.k}, {"count", s.count}};
    else
      shape = {{"m", s.m}, {"n", s.n}, {"k", s.k}, {"bytes", s.bytes}};
    j["records"].push_back({{"kernel", r.kernel}, {"role", r.role}, {"shape", shape}, {"sms", r.sms},
                            {"median_ns", r.median_ns}, {"p10_ns", r.p10_ns}, {"p90_ns", r.p90_ns},
                            {"repetitions", r.repetitions}, {"source", r.source}});
  }
  return j.dump(1) + "\n";
}

void save_profile(const Profile& p, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw ProfileError(path, "", "cannot write the profile file");
  out << profile_to_json(p);
}

}  // namespace cs
