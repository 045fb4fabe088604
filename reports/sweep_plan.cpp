#include "reports/sweep_plan.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <set>

#include "scenarios/yaml_reader.hpp"

namespace cs {

namespace {

std::string show(const YAML::Node& n) {
  if (n.IsScalar()) return fmt::format("\"{}\"", n.Scalar());
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return fmt::format("{} (a mapping)", canonical_value(n));
  if (n.IsNull()) return "~ (empty)";
  return "nothing";
}

struct PathPart {
  std::string key;
  int index = -1;  // "phases[2]" → key phases, index 2
};

// Splits "training.phases[0].tokens"; a malformed part returns an empty list.
std::vector<PathPart> split_path(const std::string& path) {
  std::vector<PathPart> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string::npos) dot = path.size();
    std::string part = path.substr(start, dot - start);
    PathPart p;
    if (auto b = part.find('['); b != std::string::npos) {
      if (part.back() != ']' || b + 2 > part.size() - 1) return {};
      const std::string digits = part.substr(b + 1, part.size() - b - 2);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return {};
      p.index = std::stoi(digits);
      part = part.substr(0, b);
    }
    if (part.empty()) return {};
    p.key = part;
    parts.push_back(p);
    start = dot + 1;
  }
  return parts;
}

// A new section at `walked` under `parent`: empty, except cluster.gpu under a cluster preset, which starts as that
// preset's own GPU preset (the loader reads an inline gpu mapping without a preset as a whole new GPU).
YAML::Node inherited_gpu(const std::string& walked, const YAML::Node& parent) {
  YAML::Node section(YAML::NodeType::Map);
  if (walked != "cluster.gpu" || !parent["preset"] || !parent["preset"].IsScalar()) return section;
  const auto file = std::filesystem::path(preset_dir()) / "clusters" / (parent["preset"].Scalar() + ".yaml");
  if (!std::filesystem::exists(file)) return section;  // the loader names the unknown preset
  const YAML::Node cluster = load_yaml_file(file.string());
  if (cluster["gpu"] && cluster["gpu"].IsScalar()) section["preset"] = cluster["gpu"].Scalar();
  return section;
}

// Sets one field of `root` in place. Scalars are written into an existing scalar node so the base file's line stays
// attached to it (the loader's messages then point at the base's own line for that field).
void set_field(YAML::Node root, const FieldValue& f, const std::string& sweep_file) {
  auto fail = [&](const std::string& what) { throw ScenarioError(sweep_file, f.line, f.column, f.path, what); };
  const std::vector<PathPart> parts = split_path(f.path);
  if (parts.empty()) fail("not a field path: expected keys separated by dots, e.g. layout.pipeline_parallel or "
                          "training.phases[0].tokens");
  YAML::Node cur;
  cur.reset(root);
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const PathPart& p = parts[i];
    const bool last = i + 1 == parts.size();
    if (!cur.IsMap()) fail(fmt::format("{} is a value ({}), not a section with fields", walked, show(cur)));
    walked += (walked.empty() ? "" : ".") + p.key;
    YAML::Node child = cur[p.key];
    if (last && p.index < 0) {
      if (child && child.IsScalar() && f.value.IsScalar()) child = f.value.Scalar();
      else cur[p.key] = YAML::Clone(f.value);
      return;
    }
    if (!child || child.IsNull()) {
      if (p.index >= 0) fail(fmt::format("{} is not a list in the base scenario", walked));
      cur[p.key] = inherited_gpu(walked, cur);
      child.reset(cur[p.key]);
    } else if (child.IsScalar() && p.index < 0 && (walked == "model" || walked == "cluster" || walked == "cluster.gpu")) {
      // A preset named by a string: override one of its fields with {preset: NAME, field: value}.
      YAML::Node m(YAML::NodeType::Map);
      m["preset"] = child.Scalar();
      cur[p.key] = m;
      child.reset(cur[p.key]);
    }
    if (p.index >= 0) {
      if (!child.IsSequence() || p.index >= int(child.size()))
        fail(fmt::format("{} has no element [{}] in the base scenario ({} element(s))", walked, p.index,
                         child.IsSequence() ? child.size() : 0));
      walked += fmt::format("[{}]", p.index);
      YAML::Node el = child[p.index];
      if (last) {
        if (el.IsScalar() && f.value.IsScalar()) el = f.value.Scalar();
        else el = YAML::Clone(f.value);
        return;
      }
      child.reset(el);
    }
    cur.reset(child);
  }
}

bool path_within(const std::string& field, const std::string& path) {
  return path == field || (path.size() > field.size() && path.compare(0, field.size(), field) == 0 &&
                           (path[field.size()] == '.' || path[field.size()] == '['));
}

// The loader's explanation without its location (a swept value has no line in the base file).
std::string explanation(const ScenarioError& e) {
  const std::string what = e.what();
  const size_t at = what.find(e.field() + ": ");
  return at == std::string::npos ? what : what.substr(at + e.field().size() + 2);
}

// Loads the base with one axis value applied, to turn errors that are about the sweep file itself (a path the
// scenario does not have, a value the field cannot take) into errors at the sweep file's line. Errors about the
// combination (validation: layout vs cluster, batch divisibility, …) are left for the points that hit them.
// The two kinds are told apart by the loader's wording: YamlSection::finish says "unknown field", and its typed
// readers say "expected …", which its cross-field validation never does (tests/sweep/plan_test.cpp holds both).

void check_axis_value(const SweepPlan& plan, const AxisValue& v, const YAML::Node& key) {
  YAML::Node tree = YAML::Load(plan.base_text);
  for (const FieldValue& f : v.fields) set_field(tree, f, plan.file);
  try {
    load_scenario(tree, plan.base_path);
  } catch (const ScenarioError& e) {
    const std::string what = e.what();
    for (const FieldValue& f : v.fields) {
      if (what.find("unknown field") != std::string::npos && path_within(e.field(), f.path))
        throw ScenarioError(plan.file, yaml_line(key), yaml_column(key), f.path,
                            fmt::format("not a field of the base scenario {}: {}: {}", plan.base_path, e.field(),
                                        explanation(e)));
      // The scenario reader's type and range errors read "expected …"; validation's cross-field errors never do.
      if (e.field() == f.path && what.find(": expected ") != std::string::npos)
        throw ScenarioError(plan.file, f.line, f.column, f.path,
                            fmt::format("value {} is not allowed: {}", show(f.value), explanation(e)));
      // A required field missing at or inside the swept path was removed by the value itself (an empty ~ value, or a
      // section given without one of its required fields: a swept section replaces the base's whole section).
      if (path_within(f.path, e.field()) && what.find("required field is missing") != std::string::npos)
        throw ScenarioError(plan.file, f.line, f.column, f.path,
                            fmt::format("value {} is not allowed: {}: {}{}", show(f.value), e.field(), explanation(e),
                                        f.value.IsMap() ? " (a swept section replaces the base's whole section)"
                                                        : ""));
    }
  }
}

// A grid axis may not repeat a value (the points would repeat); a zip list may (64, 64 for two cluster sizes), since
// only a repeated tuple of the whole group repeats a point, which the plan checks once the group is read.
SweepAxis read_list_axis(YamlSection& s, const std::string& key, const std::string& path, bool distinct) {
  YAML::Node list = s.raw(key);
  if (!list.IsSequence() || list.size() == 0)
    s.fail(key, fmt::format("expected a non-empty list of values for field {}, got {}", path,
                            list.IsSequence() ? "an empty list" : show(list)));
  SweepAxis axis;
  axis.paths = {path};
  std::set<std::string> seen;
  for (const YAML::Node& v : list) {
    if (distinct && !seen.insert(canonical_value(v)).second)
      s.fail(key, fmt::format("value {} appears twice in the list for {}", canonical_value(v), path));
    axis.values.push_back(AxisValue{{FieldValue{path, v, yaml_line(v), yaml_column(v)}}});
  }
  return axis;
}

}  // namespace

size_t SweepPlan::size() const {
  size_t n = 1;
  for (const auto& a : axes) n *= a.values.size();
  return n;
}

std::string canonical_value(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << n;
  return out.c_str();
}

std::string fnv1a_hex(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (char c : bytes) {
    h ^= uint8_t(c);
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

std::string point_id(const std::vector<FieldValue>& fields) {
  std::map<std::string, std::string> sorted;
  for (const auto& f : fields) sorted[f.path] = canonical_value(f.value);
  std::string lines;
  for (const auto& [path, value] : sorted) lines += path + "=" + value + "\n";
  return fnv1a_hex(lines);
}

nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (n.IsSequence()) {
    auto a = nlohmann::json::array();
    for (const auto& x : n) a.push_back(yaml_to_json(x));
    return a;
  }
  if (n.IsMap()) {
    auto o = nlohmann::json::object();
    for (auto it = n.begin(); it != n.end(); ++it) o[it->first.Scalar()] = yaml_to_json(it->second);
    return o;
  }
  if (!n.IsScalar()) return nullptr;
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted in the file: a string whatever it looks like
  int64_t i = 0;
  if (YAML::convert<int64_t>::decode(n, i)) return i;
  double d = 0;
  if (YAML::convert<double>::decode(n, d) && std::isfinite(d)) return d;
  if (s == "true") return true;
  if (s == "false") return false;
  return s;
}

SweepPlan load_sweep(const YAML::Node& root, const std::string& file) {
  YamlSection s(root, file, "");
  SweepPlan plan;
  plan.file = file;
  const bool named = s.has("name");
  plan.name = s.text_or("name", std::filesystem::path(file).stem().string());
  // A given name makes the default output folder (sweep-<name>): a path in it would write elsewhere.
  if (named && (plan.name.empty() ||
                plan.name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                    std::string::npos ||
                plan.name.find("..") != std::string::npos))
    s.fail("name", fmt::format("\"{}\": allowed letters, digits, '.', '_' and '-' (no '/' or '..'): it names the output "
                               "folder sweep-<name>",
                               plan.name));
  const std::string base = s.text("base");
  {
    std::map<std::string, std::string> settings;
    for (auto it = root.begin(); it != root.end(); ++it)
      if (const std::string key = it->first.Scalar(); key != "grid" && key != "zip")
        settings[key] = canonical_value(it->second);
    for (const auto& [key, value] : settings) plan.settings += key + "=" + value + "\n";
  }
  plan.base_path = (std::filesystem::path(file).parent_path() / base).lexically_normal().string();
  if (!std::filesystem::is_regular_file(plan.base_path))
    s.fail("base", fmt::format("no such scenario file: {} (the path is relative to the sweep file's folder)",
                               plan.base_path));
  load_yaml_file(plan.base_path);  // syntax errors name the base file and line
  {
    std::ifstream in(plan.base_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    plan.base_text = ss.str();
  }

  std::vector<YAML::Node> keys;  // each axis's key (a zip group's mapping), for messages
  std::set<std::string> paths;
  auto add_path = [&](YamlSection& sec, const std::string& key, const std::string& path) {
    if (!paths.insert(path).second) sec.fail(key, fmt::format("field {} is swept twice", path));
    // A section and a field inside it, both swept, would set the field twice per point: whichever axis came last
    // would win, silently.
    for (const std::string& other : paths)
      if (other != path && (path_within(other, path) || path_within(path, other)))
        sec.fail(key, fmt::format("field {} is {} {}, which is swept too; sweep the section or fields inside it, not "
                                  "both",
                                  path, path_within(other, path) ? "inside" : "a section holding", other));
  };
  if (s.has("grid")) {
    YamlSection g = s.section("grid");
    for (auto it = g.node().begin(); it != g.node().end(); ++it) {
      const std::string key = it->first.Scalar();
      add_path(g, key, key);
      plan.axes.push_back(read_list_axis(g, key, key, true));
      keys.push_back(it->first);
    }
    g.finish();
  } else {
    s.raw("grid");
  }
  if (s.has("zip")) {
    YAML::Node zip = s.raw("zip");
    if (!zip.IsSequence() || zip.size() == 0)
      s.fail("zip", fmt::format("expected a list of groups (each a mapping of field → list, lists of equal length), "
                                "got {}",
                                show(zip)));
    for (size_t gi = 0; gi < zip.size(); ++gi) {
      YamlSection z(zip[gi], file, fmt::format("zip[{}]", gi));
      SweepAxis axis;
      size_t n = 0;
      std::string first;
      for (auto it = z.node().begin(); it != z.node().end(); ++it) {
        const std::string key = it->first.Scalar();
        add_path(z, key, key);
        SweepAxis one = read_list_axis(z, key, key, false);
        if (axis.paths.empty()) {
          n = one.values.size();
          first = key;
          axis.values.resize(n);
        } else if (one.values.size() != n) {
          z.fail(key, fmt::format("a zip group's lists advance together: {} has {} values but {} has {}", key,
                                  one.values.size(), first, n));
        }
        axis.paths.push_back(key);
        for (size_t i = 0; i < n; ++i) axis.values[i].fields.push_back(one.values[i].fields[0]);
      }
      z.finish();
      if (axis.paths.empty()) z.fail_here("a zip group needs at least one field → list");
      plan.axes.push_back(std::move(axis));
      keys.push_back(zip[gi]);
    }
  } else {
    s.raw("zip");
  }
  s.finish();
  if (plan.axes.empty()) s.fail_here("a sweep needs at least one field to vary, under grid: or zip:");
  // Zip tuples can repeat even when each list is fine on its own ([1, 1] with [2, 2]).
  for (const SweepAxis& a : plan.axes) {
    std::set<std::string> ids;
    for (const AxisValue& v : a.values)
      if (!ids.insert(point_id(v.fields)).second)
        throw ScenarioError(file, v.fields[0].line, v.fields[0].column, v.fields[0].path,
                            "this combination of values appears twice");
  }
  for (size_t i = 0; i < plan.axes.size(); ++i)
    for (const AxisValue& v : plan.axes[i].values) check_axis_value(plan, v, keys[i]);
  return plan;
}

SweepPlan load_sweep(const std::string& path) { return load_sweep(load_yaml_file(path), path); }

SweepPoint sweep_point(const SweepPlan& plan, size_t index) {
  SweepPoint p;
  p.index = index;
  // Mixed-radix digits of the index, the last axis fastest.
  std::vector<size_t> digit(plan.axes.size());
  size_t rest = index;
  for (size_t k = plan.axes.size(); k-- > 0;) {
    const size_t n = plan.axes[k].values.size();
    digit[k] = rest % n;
    rest /= n;
  }
  for (size_t k = 0; k < plan.axes.size(); ++k)
    for (const FieldValue& f : plan.axes[k].values[digit[k]].fields) p.fields.push_back(f);
  p.id = point_id(p.fields);
  return p;
}

YAML::Node apply_point(const SweepPlan& plan, const SweepPoint& point) {
  YAML::Node tree = YAML::Load(plan.base_text);
  for (const FieldValue& f : point.fields) set_field(tree, f, plan.file);
  return tree;
}

nlohmann::json point_fields_json(const SweepPoint& point) {
  auto o = nlohmann::json::object();
  for (const FieldValue& f : point.fields) o[f.path] = yaml_to_json(f.value);
  return o;
}

}  // namespace cs
