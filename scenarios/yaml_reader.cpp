#include "scenarios/yaml_reader.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

namespace cs {

ScenarioError::ScenarioError(std::string file, int line, int column, std::string field, const std::string& what)
    // file:line:column: where there is a position; a file that cannot be read at all has none.
    : std::runtime_error(fmt::format("{}{}: {}{}", file, line > 0 ? fmt::format(":{}:{}", line, column) : "",
                                     field.empty() ? "" : field + ": ", what)),
      file_(std::move(file)),
      line_(line),
      field_(std::move(field)) {}

int yaml_line(const YAML::Node& n) {
  auto m = n.Mark();
  return m.line < 0 ? 0 : m.line + 1;
}
int yaml_column(const YAML::Node& n) {
  auto m = n.Mark();
  return m.column < 0 ? 0 : m.column + 1;
}

namespace {

std::string key_text(const YAML::Node& key) {
  if (key.IsScalar() || key.IsNull()) return key.Scalar();
  YAML::Emitter out;  // a mapping or list used as a key (rare, but legal YAML)
  out << YAML::Flow << key;
  return out.c_str();
}

// yaml-cpp keeps both pairs of a repeated key and its lookups return the first, so every reader that asks for a
// field by name would silently drop the later value. Checking the whole tree once, as it is loaded, covers every
// file and every reader, including fields a reader hands on as raw nodes. `open` holds the mappings and lists being
// checked: an alias can make a node contain itself (&a {k: *a}), and one already open is not walked again.
void check_unique_keys(const YAML::Node& node, const std::string& file, const std::string& path,
                       std::vector<YAML::Node>& open) {
  if (!node.IsMap() && !node.IsSequence()) return;
  for (const YAML::Node& o : open)
    if (o.is(node)) return;
  open.push_back(node);
  if (node.IsMap()) {
    std::map<std::string, YAML::Node> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = key_text(it->first);
      const std::string field = path.empty() ? key : path + "." + key;
      const auto [first, fresh] = seen.emplace(key, it->first);
      if (!fresh) {
        const int line = yaml_line(first->second), column = yaml_column(first->second);
        const std::string where = line == yaml_line(it->first) ? fmt::format("line {}, column {}", line, column)
                                                               : fmt::format("line {}", line);
        throw ScenarioError(file, yaml_line(it->first), yaml_column(it->first), field,
                            fmt::format("duplicate key (first at {}); a key may appear only once in a mapping", where));
      }
      check_unique_keys(it->second, file, field, open);
    }
  } else {
    size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i)
      check_unique_keys(*it, file, fmt::format("{}[{}]", path, i), open);
  }
  open.pop_back();
}

}  // namespace

YAML::Node load_yaml_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ScenarioError(path, 0, 0, "", "is a folder, not a YAML file");
  std::ifstream in(path);
  if (!in) throw ScenarioError(path, 0, 0, "", "cannot open the file");
  YAML::Node root;
  try {
    // Every document of the file, so that a second one (after a `---`) is an error rather than silently ignored.
    const std::vector<YAML::Node> docs = YAML::LoadAll(in);
    if (docs.size() > 1)
      throw ScenarioError(path, docs[1].Mark().line + 1, docs[1].Mark().column + 1, "",
                          fmt::format("the file holds {} YAML documents (separated by ---); it must hold one",
                                      docs.size()));
    if (!docs.empty()) root = docs[0];
  } catch (const YAML::Exception& e) {
    throw ScenarioError(path, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg);
  }
  std::vector<YAML::Node> open;
  check_unique_keys(root, path, "", open);
  return root;
}

namespace {
std::string show(const YAML::Node& n) {
  if (n.IsScalar()) return fmt::format("\"{}\"", n.Scalar());
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "nothing";
}
}  // namespace

YamlSection::YamlSection(YAML::Node node, std::string file, std::string path)
    : file_(std::move(file)), path_(std::move(path)), node_(std::move(node)) {
  if (!node_.IsMap()) fail_here(fmt::format("expected a mapping of fields, got {}", show(node_)));
}

bool YamlSection::has(const std::string& key) const { return bool(node_[key]); }

YAML::Node YamlSection::raw(const std::string& key) {
  read_.insert(key);
  return node_[key];
}

void YamlSection::fail(const std::string& key, const std::string& what) const {
  YAML::Node n = node_[key];
  const YAML::Node& at = n ? n : node_;
  throw ScenarioError(file_, yaml_line(at), yaml_column(at), field_path(key), what);
}

void YamlSection::fail_here(const std::string& what) const {
  throw ScenarioError(file_, yaml_line(node_), yaml_column(node_), path_, what);
}

namespace {
// Edits (insert, delete, replace) that turn a into b; small strings only.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

YAML::Node YamlSection::require(const std::string& key) {
  read_.insert(key);
  YAML::Node n = node_[key];
  if (!n || n.IsNull()) {
    // A misspelt required field is missing and unknown at once: name the likely misspelling, which is the mistake.
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& other = it->first.Scalar();
      if (other != key && !read_.count(other) && edit_distance(other, key) <= 2)
        throw ScenarioError(file_, yaml_line(it->first), yaml_column(it->first), field_path(other),
                            fmt::format("unknown field; did you mean {}? (required here, and missing)", key));
    }
    fail(key, "required field is missing");
  }
  return n;
}

namespace {
// A number must be written as one: a quoted or !!str scalar ("16") is text, and a plain integer with a leading zero
// (020) is octal to yaml-cpp (16) but decimal to YAML 1.2 (20). Returns what is wrong, or "".
std::string number_form(const YAML::Node& n) {
  if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str")
    return fmt::format("the string \"{}\" (write the number without quotes)", n.Scalar());
  const std::string& t = n.Scalar();
  const size_t digits = t.find_first_not_of("+-");
  if (digits != std::string::npos && digits + 1 < t.size() && t[digits] == '0' &&
      t.find_first_not_of("0123456789", digits) == std::string::npos)
    return fmt::format("{} (a leading zero reads as octal in some YAML readers and decimal in others: write it "
                       "without the zero)",
                       t);
  return "";
}
}  // namespace

int64_t YamlSection::integer(const std::string& key, int64_t lo, int64_t hi) {
  YAML::Node n = require(key);
  auto range = [&] { return fmt::format("an integer in [{}, {}]", lo, hi); };
  if (!n.IsScalar()) fail(key, fmt::format("expected {}, got {}", range(), show(n)));
  if (const std::string bad = number_form(n); !bad.empty()) fail(key, fmt::format("expected {}, got {}", range(), bad));
  int64_t v = 0;
  // Plain integers, or a float literal with an exact integer value (14.8e12 tokens).
  if (!YAML::convert<int64_t>::decode(n, v)) {
    double d = 0;
    if (!YAML::convert<double>::decode(n, d) || !std::isfinite(d) || d != std::floor(d) ||
        std::fabs(d) > 9.0e18)
      fail(key, fmt::format("expected {}, got {}", range(), show(n)));
    v = static_cast<int64_t>(d);
  }
  if (v < lo || v > hi) fail(key, fmt::format("expected {}, got {}", range(), v));
  return v;
}

int64_t YamlSection::integer_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  if (!has(key)) {
    read_.insert(key);
    return fallback;
  }
  return integer(key, lo, hi);
}

double YamlSection::number(const std::string& key, double lo, double hi) {
  YAML::Node n = require(key);
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v))
    fail(key, fmt::format("expected a number in [{}, {}], got {}", lo, hi, show(n)));
  if (const std::string bad = number_form(n); !bad.empty())
    fail(key, fmt::format("expected a number in [{}, {}], got {}", lo, hi, bad));
  if (v < lo || v > hi) fail(key, fmt::format("expected a number in [{}, {}], got {}", lo, hi, v));
  return v;
}

double YamlSection::number_or(const std::string& key, double fallback, double lo, double hi) {
  if (!has(key)) {
    read_.insert(key);
    return fallback;
  }
  return number(key, lo, hi);
}

bool YamlSection::boolean(const std::string& key) {
  YAML::Node n = require(key);
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
    fail(key, fmt::format("expected true or false, got {}", show(n)));
  return v;
}

bool YamlSection::boolean_or(const std::string& key, bool fallback) {
  if (!has(key)) {
    read_.insert(key);
    return fallback;
  }
  return boolean(key);
}

std::string YamlSection::text(const std::string& key) {
  YAML::Node n = require(key);
  if (!n.IsScalar() || n.Scalar().empty()) fail(key, fmt::format("expected a non-empty string, got {}", show(n)));
  return n.Scalar();
}

std::string YamlSection::text_or(const std::string& key, const std::string& fallback) {
  if (!has(key)) {
    read_.insert(key);
    return fallback;
  }
  return text(key);
}

std::string YamlSection::choice(const std::string& key, const std::vector<std::string>& allowed) {
  YAML::Node n = require(key);
  if (n.IsScalar())
    for (const auto& a : allowed)
      if (n.Scalar() == a) return a;
  fail(key, fmt::format("expected one of {}, got {}", fmt::join(allowed, " | "), show(n)));
}

std::string YamlSection::choice_or(const std::string& key, const std::string& fallback,
                                   const std::vector<std::string>& allowed) {
  if (!has(key)) {
    read_.insert(key);
    return fallback;
  }
  return choice(key, allowed);
}

YamlSection YamlSection::section(const std::string& key) {
  YAML::Node n = require(key);
  if (!n.IsMap()) fail(key, fmt::format("expected a mapping of fields, got {}", show(n)));
  return YamlSection(n, file_, field_path(key));
}

void YamlSection::finish() const {
  std::vector<std::string> allowed(read_.begin(), read_.end());
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (!read_.count(key)) {
      throw ScenarioError(file_, yaml_line(it->first), yaml_column(it->first), field_path(key),
                          fmt::format("unknown field; allowed here: {}", fmt::join(allowed, ", ")));
    }
  }
}

}  // namespace cs
