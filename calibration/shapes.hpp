// The kernel shapes a scenario needs timed: built from the model layer's op lists (models/ops.hpp), so the simulator
// and the kernel harness share one definition of every shape. `clustersim calibrate shapes` writes this list as
// JSON; clustersim-kernels (kernels/) reads it, times each entry at each SM count and writes a profile.
#pragma once
#include <string>
#include <vector>

#include "calibration/profile.hpp"
#include "models/model_config.hpp"
#include "models/ops.hpp"

namespace cs {

struct ShapeEntry {
  std::string kernel, role;
  KernelShape shape;
  std::vector<std::string> ops;  // names of the model ops with this shape (for reading the list)
};

struct ShapeList {
  std::string model;
  std::vector<int> sms;            // SM counts to time every entry at (e.g. 132 and 132 − comm SMs)
  std::vector<ShapeEntry> entries; // unique (kernel, role, shape), in first-use order
  // What the routing kernels need besides their shapes (0 = the model has no routed experts).
  int top_k = 0, expert_groups = 0, topk_groups = 0;
};

// Every compute op of every pipeline stage (forward, backward-input, backward-weight) for one micro-batch, plus the
// expert-parallel local kernels of an MoE model (permutation and FP8 gather of tokens × top_k rows), which the model
// layer folds into dispatch. Communication ops are left to the network model.
ShapeList build_shape_list(const ModelConfig& m, const OpsContext& c, int pipeline_stages, std::vector<int> sms);

std::string shape_list_to_json(const ShapeList& s);
// Throws ProfileError (file, "entries[i].field") on malformed input.
ShapeList parse_shape_list(const std::string& json_text, const std::string& file);
ShapeList load_shape_list(const std::string& path);

}  // namespace cs
