// Typed access to a YAML mapping with errors that name file:line:column, the field path and what is allowed.
// Every key a section reads is recorded; finish() rejects the keys nobody asked for (typos, unknown options).
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cs {

class ScenarioError : public std::runtime_error {
 public:
  ScenarioError(std::string file, int line, int column, std::string field, const std::string& what);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& field() const { return field_; }

 private:
  std::string file_;
  int line_;
  std::string field_;
};

class YamlSection {
 public:
  // `node` must be a mapping (checked); `path` is the field path of the section ("" for the root).
  YamlSection(YAML::Node node, std::string file, std::string path);

  bool has(const std::string& key) const;
  YAML::Node raw(const std::string& key);  // marks the key as read

  int64_t integer(const std::string& key, int64_t lo, int64_t hi);
  int64_t integer_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi);
  double number(const std::string& key, double lo, double hi);
  double number_or(const std::string& key, double fallback, double lo, double hi);
  bool boolean(const std::string& key);
  bool boolean_or(const std::string& key, bool fallback);
  std::string text(const std::string& key);
  std::string text_or(const std::string& key, const std::string& fallback);
  std::string choice(const std::string& key, const std::vector<std::string>& allowed);
  std::string choice_or(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed);
  YamlSection section(const std::string& key);  // a nested mapping

  // Errors about the whole section or one of its fields (the field's own line when it exists).
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  [[noreturn]] void fail_here(const std::string& what) const;
  void finish() const;  // unknown keys → error listing what is allowed

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string field_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node require(const std::string& key);
  std::string file_;
  std::string path_;
  YAML::Node node_;
  std::set<std::string> read_;
};

// Location of a node for messages (1-based line and column; 0 when the node has no mark).
int yaml_line(const YAML::Node& n);
int yaml_column(const YAML::Node& n);

// Loads a YAML file; syntax errors, and a key given twice in one mapping (at any depth), become ScenarioError with
// the file's line and, for a repeated key, its field path.
YAML::Node load_yaml_file(const std::string& path);

}  // namespace cs
