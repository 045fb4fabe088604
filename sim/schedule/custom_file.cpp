#include "sim/schedule/custom_file.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/yaml_reader.hpp"
#include "sim/schedule/timeline.hpp"

namespace cs::sched {

namespace {

constexpr int kMaxRanks = 4096;

Instruction read_instruction(const YAML::Node& node, const std::string& file, const std::string& path, int rank,
                             int ranks, int mbs, int chunks) {
  const char* form = "an instruction is a mapping naming one pass by micro-batch: {F: m}, {B: m}, {B: m, split: true}, "
                     "{W: m}, or {F: m, B: k} for an overlapped F&B pair (with chunk / b_chunk when virtual_stages > 1)";
  if (!node.IsMap()) throw ScenarioError(file, yaml_line(node), yaml_column(node), path, form);
  YamlSection sec(node, file, path);
  const bool f = sec.has("F"), b = sec.has("B"), w = sec.has("W");
  if (!f && !b && !w) sec.fail_here(std::string("unknown instruction: ") + form);
  if (w && (f || b)) sec.fail("W", "a W stands alone (it is not part of an F&B pair)");
  const int chunk = int(sec.integer_or("chunk", 0, 0, chunks - 1));
  const int stage = chunk * ranks + rank;
  Instruction in;
  if (f && b) {
    in.op = Op::FB;
    in.pass = Pass{PassKind::F, 0, stage, int(sec.integer("F", 0, mbs - 1))};
    const int bchunk = int(sec.integer_or("b_chunk", chunk, 0, chunks - 1));
    in.pass2 = Pass{PassKind::B, 0, bchunk * ranks + rank, int(sec.integer("B", 0, mbs - 1))};
    in.pass2.split = sec.boolean_or("split", false);
  } else if (f) {
    in.op = Op::F;
    in.pass = Pass{PassKind::F, 0, stage, int(sec.integer("F", 0, mbs - 1))};
  } else if (b) {
    in.op = Op::B;
    in.pass = Pass{PassKind::B, 0, stage, int(sec.integer("B", 0, mbs - 1))};
    in.pass.split = sec.boolean_or("split", false);
  } else {
    in.op = Op::W;
    in.pass = Pass{PassKind::W, 0, stage, int(sec.integer("W", 0, mbs - 1))};
  }
  if (!b && sec.has("split")) sec.fail("split", "only a backward (B) can be split");
  if (!(f && b) && sec.has("b_chunk")) sec.fail("b_chunk", "only an F&B pair ({F: m, B: k}) has a b_chunk");
  sec.finish();
  return in;
}

}  // namespace

Schedule load_custom_schedule(const std::string& path, int expect_pp, int expect_mbs, int max_stages) {
  YAML::Node root = load_yaml_file(path);
  YamlSection top(root, path, "");
  const int mbs = int(top.integer("micro_batches", 1, kMaxMicroBatches));
  const int chunks = int(top.integer_or("virtual_stages", 1, 1, 64));
  YAML::Node list = top.raw("ranks");
  if (!list || !list.IsSequence() || list.size() == 0)
    top.fail("ranks", "expected a list with one instruction list per pipeline rank");
  top.finish();
  const int ranks = int(list.size());
  if (ranks > kMaxRanks) top.fail("ranks", fmt::format("at most {} ranks", kMaxRanks));
  if (expect_pp > 0 && ranks != expect_pp)
    top.fail("ranks", fmt::format("the scenario's pipeline_parallel is {}, the file lists {} ranks", expect_pp, ranks));
  if (expect_mbs > 0 && mbs != expect_mbs)
    top.fail("micro_batches", fmt::format("the scenario runs {} micro-batches per pipeline, the file {}", expect_mbs, mbs));
  if (max_stages > 0 && int64_t(ranks) * chunks > max_stages)
    top.fail(top.has("virtual_stages") ? "virtual_stages" : "ranks",
             fmt::format("{} ranks × {} virtual stages = {} pipeline stages, but the scenario's model has {} blocks and "
                         "each stage needs at least one; allowed at most {} virtual stages with {} ranks",
                         ranks, chunks, int64_t(ranks) * chunks, max_stages, std::max(1, max_stages / ranks), ranks));

  Schedule s = empty_schedule("custom", ranks, 1, ranks * chunks, mbs);
  for (int st = 0; st < ranks * chunks; ++st) s.stage_rank[0][st] = st % ranks;
  std::vector<std::vector<YAML::Node>> nodes(ranks);  // for the lines of later errors
  for (int r = 0; r < ranks; ++r) {
    const YAML::Node ops = list[r];
    const std::string field = fmt::format("ranks[{}]", r);
    if (!ops.IsSequence())
      throw ScenarioError(path, yaml_line(ops), yaml_column(ops), field, "expected a list of instructions");
    for (size_t i = 0; i < ops.size(); ++i) {
      s.ops[r].push_back(read_instruction(ops[i], path, fmt::format("{}[{}]", field, i), r, ranks, mbs, chunks));
      nodes[r].push_back(ops[i]);
    }
  }
  auto where = [&](int r, int i) -> YAML::Node { return i >= 0 && i < int(nodes[r].size()) ? nodes[r][i] : list[r]; };
  auto field = [](int r, int i) { return i >= 0 ? fmt::format("ranks[{}][{}]", r, i) : fmt::format("ranks[{}]", r); };

  const auto problems = check_schedule(s);
  if (!problems.empty()) {
    const ScheduleProblem& p = problems.front();
    std::string what = p.what;
    if (problems.size() > 1) what += fmt::format(" (and {} more problem{})", problems.size() - 1, problems.size() > 2 ? "s" : "");
    const YAML::Node at = where(p.rank, p.index);
    throw ScenarioError(path, yaml_line(at), yaml_column(at), field(p.rank, p.index), what);
  }
  add_p2p(s);
  try {
    run_timeline(s, unit_costs(1, 2, 1, 3));
  } catch (const ScheduleDeadlock& d) {
    // Point at the first blocked rank's instruction, counted in the file's list (sends/receives are not in the file).
    const auto& w = d.waits().front();
    int file_index = -1;
    for (size_t k = 0, compute = 0; k < s.ops[w.rank].size(); ++k) {
      if (!s.ops[w.rank][k].is_compute()) {
        if (k == w.index) file_index = int(compute);  // a posted receive: the next compute in the file
        continue;
      }
      if (k == w.index) file_index = int(compute);
      if (k >= w.index && file_index >= 0) break;
      ++compute;
    }
    const YAML::Node at = where(w.rank, file_index);
    throw ScenarioError(path, yaml_line(at), yaml_column(at), field(w.rank, file_index), d.what());
  }
  return s;
}

}  // namespace cs::sched
