#include "calibration/shapes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "calibration/cost_model.hpp"

namespace cs {

using nlohmann::json;

namespace {

void add(ShapeList& out, const std::string& kernel, const std::string& role, const KernelShape& s,
         const std::string& op) {
  for (auto& e : out.entries)
    if (e.kernel == kernel && e.role == role && e.shape == s) {
      if (std::find(e.ops.begin(), e.ops.end(), op) == e.ops.end()) e.ops.push_back(op);
      return;
    }
  out.entries.push_back(ShapeEntry{kernel, role, s, {op}});
}

json shape_json(const std::string& kernel, const KernelShape& s) {
  if (kernel == "attention")
    return {{"batch", s.batch}, {"seq", s.seq}, {"heads", s.heads}, {"d_qk", s.d_qk}, {"d_v", s.d_v},
            {"causal", s.causal}};
  if (kernel_is_compute_bound(kernel)) return {{"m", s.m}, {"n", s.n}, {"k", s.k}, {"count", s.count}};
  return {{"m", s.m}, {"n", s.n}, {"k", s.k}, {"bytes", s.bytes}};
}

}  // namespace

ShapeList build_shape_list(const ModelConfig& m, const OpsContext& c, int pipeline_stages, std::vector<int> sms) {
  ShapeList out;
  out.model = m.name;
  std::sort(sms.begin(), sms.end(), std::greater<>());
  sms.erase(std::unique(sms.begin(), sms.end()), sms.end());
  out.sms = sms;
  for (const auto& stage : assign_stages(m, pipeline_stages)) {
    const LayerOps ops = stage_ops(m, stage, c);
    for (const auto* pass : {&ops.forward, &ops.backward_input, &ops.backward_weight})
      for (const auto& op : *pass) {
        const KernelKey key = kernel_key(op);
        if (key.kernel.empty()) continue;  // communication: the network model's
        add(out, key.kernel, key.role, kernel_shape(op), op.name);
      }
  }
  if (m.is_moe()) {
    out.top_k = m.top_k;
    out.expert_groups = std::max(1, m.expert_groups);
    out.topk_groups = m.topk_groups > 0 ? m.topk_groups : out.expert_groups;
    // The expert-contiguous permutation of tokens × top_k (token, expert) pairs: read the expert index, write the
    // slot (plus per-expert counters); then the gather of each token's FP8 row (hidden bytes + one FP32 scale per 128)
    // into its slots: read once per token, written once per pair.
    const std::string why = "(expert-parallel local kernel, part of dispatch)";
    KernelShape p;
    p.m = c.tokens() * m.top_k;
    p.n = m.routed_experts;
    p.bytes = double(p.m) * 2 * 4;
    add(out, "permute", "forward", p, why);
    KernelShape g;
    g.m = c.tokens();
    g.n = m.hidden;
    g.bytes = double(g.m) * double(g.n) * (1.0 + 4.0 / 128.0) * double(1 + m.top_k);
    add(out, "gather_fp8", "forward", g, why);
  }
  return out;
}

std::string shape_list_to_json(const ShapeList& s) {
  json j;
  j["format"] = "clustersim-shapes/1";
  j["model"] = s.model;
  j["sms"] = s.sms;
  j["routing"] = {{"top_k", s.top_k}, {"expert_groups", s.expert_groups}, {"topk_groups", s.topk_groups}};
  j["entries"] = json::array();
  for (const auto& e : s.entries)
    j["entries"].push_back({{"kernel", e.kernel}, {"role", e.role}, {"shape", shape_json(e.kernel, e.shape)},
                            {"ops", e.ops}});
  return j.dump(1) + "\n";
}

namespace {
ShapeList read_shape_list(json doc, const std::string& file) {
  // The list is edited by hand (to time extra shapes), so a field the harness would not read is an error rather than
  // dropped: an entry's own "sms" or a misspelt key would otherwise be ignored without a word.
  auto only = [&](const json& obj, const std::string& path, const std::vector<std::string>& allowed,
                  const std::string& why) {
    if (!obj.is_object())
      throw ProfileError(file, path, fmt::format("expected an object, got {}", obj.type_name()));
    for (const auto& [key, value] : obj.items())
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        throw ProfileError(file, path.empty() ? key : path + "." + key,
                           fmt::format("unknown field; allowed here: {}{}", fmt::join(allowed, ", "), why));
  };
  only(doc, "", {"format", "model", "sms", "routing", "entries"}, "");
  if (!doc.contains("format") || doc["format"] != "clustersim-shapes/1")
    throw ProfileError(file, "format",
                       fmt::format("expected \"clustersim-shapes/1\", got {}",
                                   doc.contains("format") ? doc["format"].dump() : std::string("nothing")));
  if (!doc.contains("entries") || !doc["entries"].is_array()) throw ProfileError(file, "entries", "expected an array");
  if (!doc.contains("sms") || !doc["sms"].is_array() || doc["sms"].empty())
    throw ProfileError(file, "sms", "expected a non-empty array of SM counts");
  ShapeList out;
  if (doc.contains("model")) {
    if (!doc["model"].is_string())
      throw ProfileError(file, "model", fmt::format("expected a string, got {}", doc["model"].type_name()));
    out.model = doc["model"].get<std::string>();
  }
  if (doc.contains("routing")) {
    const json& r = doc["routing"];
    only(r, "routing", {"top_k", "expert_groups", "topk_groups"}, "");
    for (const char* key : {"top_k", "expert_groups", "topk_groups"})
      if (!r.contains(key) || !r[key].is_number_integer() || r[key].get<int64_t>() < 0 || r[key].get<int64_t>() > 1024)
        throw ProfileError(file, std::string("routing.") + key, "expected an integer in [0, 1024]");
    out.top_k = r["top_k"].get<int>();
    out.expert_groups = r["expert_groups"].get<int>();
    out.topk_groups = r["topk_groups"].get<int>();
  }
  for (size_t i = 0; i < doc["sms"].size(); ++i) {
    const json& v = doc["sms"][i];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 4096)
      throw ProfileError(file, fmt::format("sms[{}]", i), fmt::format("expected an SM count in [1, 4096], got {}", v.dump()));
    const int sms = v.get<int>();
    // Each entry is timed once per SM count: a count given twice would time every kernel twice and write a profile
    // with duplicate records, which does not load.
    if (const auto at = std::find(out.sms.begin(), out.sms.end(), sms); at != out.sms.end())
      throw ProfileError(file, fmt::format("sms[{}]", i),
                         fmt::format("{} is given twice (first at sms[{}]); each SM count may appear once", sms,
                                     at - out.sms.begin()));
    out.sms.push_back(sms);
  }
  // Entries have the shape of profile records without timings: validate each with the profile reader by wrapping it
  // into a one-record profile, so both files obey one set of rules.
  const json wrapper = {
      {"format", "clustersim-profile/1"},
      {"name", "shapes"},
      {"method", "measured"},
      {"device", {{"name", "-"}, {"sms", 4096}}},
      {"memory_saturation_sms", {{"value", 1}, {"source", "-"}}},
      {"efficiencies", json::array({{{"op", "default"}, {"bound", "compute"}, {"value", 1}, {"source", "-"}},
                                    {{"op", "default"}, {"bound", "memory"}, {"value", 1}, {"source", "-"}}})}};
  for (size_t i = 0; i < doc["entries"].size(); ++i) {
    const std::string at = fmt::format("entries[{}]", i);
    json e = doc["entries"][i];
    only(e, at, {"kernel", "role", "shape", "ops"},
         " (an entry is timed at every SM count of the list's top-level sms)");
    std::vector<std::string> names;
    if (e.contains("ops")) {
      if (!e["ops"].is_array()) throw ProfileError(file, at + ".ops", "expected an array of op names");
      for (size_t k = 0; k < e["ops"].size(); ++k) {
        if (!e["ops"][k].is_string())
          throw ProfileError(file, fmt::format("{}.ops[{}]", at, k),
                             fmt::format("expected a string (an op name), got {}", e["ops"][k].dump()));
        names.push_back(e["ops"][k].get<std::string>());
      }
      e.erase("ops");
    }
    e["sms"] = 1;
    e["median_ns"] = 1;
    e["source"] = "-";
    json one = wrapper;
    one["records"] = json::array({e});
    KernelRecord r;
    try {
      r = parse_profile(one.dump(), file).records.at(0);
    } catch (const ProfileError& err) {
      // records[0].… is this entry; the message stays as it is, the line is the entry's field's in this file (the
      // wrapper's own line is not).
      const std::string& field = err.field();
      throw ProfileError(file, field.rfind("records[0]", 0) == 0 ? at + field.substr(10) : at, err.detail());
    }
    for (size_t j = 0; j < out.entries.size(); ++j) {
      const ShapeEntry& q = out.entries[j];
      if (q.kernel == r.kernel && q.role == r.role && q.shape == r.shape) {
        const std::string label = record_label(r);  // without the placeholder "@1sm"
        throw ProfileError(file, at,
                           fmt::format("duplicates entries[{}] ({}): one entry per (kernel, role, shape)", j,
                                       label.substr(0, label.rfind(" @"))));
      }
    }
    out.entries.push_back(ShapeEntry{r.kernel, r.role, r.shape, names});
  }
  return out;
}
}  // namespace

ShapeList parse_shape_list(const std::string& text, const std::string& file) {
  JsonLines lines;
  json doc = parse_json_text(text, file, &lines);
  return with_lines(lines, [&] { return read_shape_list(std::move(doc), file); });
}

ShapeList load_shape_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ProfileError(path, "", "cannot open the shape list");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_shape_list(ss.str(), path);
}

}  // namespace cs
