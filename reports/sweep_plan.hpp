// A sweep: a base scenario and a grid over its fields (dotted paths), plus `zip` groups of fields that vary together.
//
//   name: pp-vs-nodes                       # optional (default: the sweep file's stem)
//   base: ../deepseek-v3.yaml               # relative to the sweep file
//   grid:                                   # each key is one axis; the cartesian product of all axes is swept
//     layout.pipeline_parallel: [8, 16]
//     schedule.kind: [1f1b, dualpipe]
//   zip:                                    # each group is one axis whose lists advance together (equal lengths)
//     - cluster.nodes: [128, 256]
//       layout.data_parallel: [64, 128]
//
// Points are ordered like nested loops over the axes in file order (grid keys, then zip groups; the last axis
// varies fastest). A point's id is a hash of its field assignments, so it stays the same when axes are reordered
// or values are added: that is what resume matches on, together with the digests of the point's other inputs
// (reports/sweep_inputs.hpp: the sweep file's other settings, the base scenario, the files its scenario reads).
#pragma once
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scenarios/scenario.hpp"

namespace cs {

// One field assignment: dotted path → value, with the sweep file's line of the value (for messages).
struct FieldValue {
  std::string path;
  YAML::Node value;
  int line = 0;
  int column = 0;
};

// One value of one axis: the fields it sets (one for a grid axis, one per path for a zip group).
struct AxisValue {
  std::vector<FieldValue> fields;
};

struct SweepAxis {
  std::vector<std::string> paths;  // one path for a grid axis; several for a zip group
  std::vector<AxisValue> values;
};

struct SweepPlan {
  std::string file;        // the sweep file (for messages)
  std::string name;
  std::string base_path;   // the base scenario, resolved against the sweep file's folder
  std::string base_text;   // its YAML text: each point parses its own tree, which keeps the base file's lines for
                           // the loader's messages (YAML::Clone drops them) and shares no tree between threads
  std::string settings;    // the sweep file's settings other than grid and zip, one "key=value" line each in key
                           // order ("base=../deepseek-v3.yaml\nname=…\n"): an input of every point
  std::vector<SweepAxis> axes;
  size_t size() const;     // number of points (product of axis sizes)
};

// One point of the grid: its position, stable id and the field values it assigns, in axis order.
struct SweepPoint {
  size_t index = 0;
  std::string id;
  std::vector<FieldValue> fields;
};

// Reads and checks a sweep file. Bad input (missing base, unknown field path, empty or non-list values, values the
// field cannot take, duplicate points) raises ScenarioError naming the sweep file, line and field.
SweepPlan load_sweep(const std::string& path);
// The same from an already parsed sweep document; `file` locates the base and appears in messages.
SweepPlan load_sweep(const YAML::Node& root, const std::string& file);

SweepPoint sweep_point(const SweepPlan& plan, size_t index);

// The base scenario's YAML tree with the point's fields set (a fresh parse; the plan is untouched).
// A preset named by a string (model: deepseek-v3, cluster: h800-2048, cluster.gpu) becomes {preset: NAME} so one of
// its fields can be overridden; a missing section is created so the loader can say which keys are allowed.
// Safe to call from several threads at once.
YAML::Node apply_point(const SweepPlan& plan, const SweepPoint& point);

// The point's fields as a JSON object (path → value), in axis order.
nlohmann::json point_fields_json(const SweepPoint& point);

// A YAML scalar as JSON: integer, number or boolean when it reads as one, else a string; lists/mappings recursively.
nlohmann::json yaml_to_json(const YAML::Node& n);

// Stable id of a set of field assignments: 16 hex digits of FNV-1a over "path=value" lines.
std::string point_id(const std::vector<FieldValue>& fields);
// 16 hex digits of the 64-bit FNV-1a hash of `bytes`: the same on every platform and build.
std::string fnv1a_hex(std::string_view bytes);
// Canonical text of a value (the scalar as written, else flow-style YAML).
std::string canonical_value(const YAML::Node& n);

}  // namespace cs
