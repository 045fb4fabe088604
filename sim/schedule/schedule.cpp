#include "sim/schedule/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace cs::sched {

Schedule empty_schedule(std::string kind, int ranks, int dirs, int stages, int micro_batches) {
  Schedule s;
  s.kind = std::move(kind);
  s.ranks = ranks;
  s.dirs = dirs;
  s.stages = stages;
  s.micro_batches = micro_batches;
  s.stage_rank.assign(dirs, std::vector<int>(stages, 0));
  s.ops.assign(ranks, {});
  return s;
}

std::vector<std::vector<int>> local_chunks(const Schedule& s) {
  std::vector<std::vector<int>> chunk(s.dirs, std::vector<int>(s.stages, 0));
  std::vector<int> seen(s.ranks, 0);
  for (int d = 0; d < s.dirs; ++d)
    for (int st = 0; st < s.stages; ++st) chunk[d][st] = seen[s.rank_of(d, st)]++;
  return chunk;
}

Schedule make_schedule(const ScheduleParams& p) {
  const int chunks = chunks_per_rank(p.kind, p.virtual_stages);
  if (!within_size_limits(p.kind, p.pp, p.micro_batches, p.virtual_stages))
    throw ScheduleError(fmt::format(
        "{} pipeline ranks × {} micro-batches{}: too large a schedule; allowed at most {} micro-batches and {} "
        "(rank, micro-batch, chunk) passes",
        p.pp, p.micro_batches, chunks > 1 ? fmt::format(" × {} chunks per rank", chunks) : "", kMaxMicroBatches,
        kMaxPasses));
  if (p.kind == "1f1b") return one_f_one_b(p.pp, p.micro_batches);
  if (p.kind == "interleaved") return interleaved_1f1b(p.pp, p.micro_batches, p.virtual_stages);
  if (p.kind == "zb1p") return zb1p(p.pp, p.micro_batches);
  if (p.kind == "dualpipe") return dualpipe(p.pp, p.micro_batches, p.overlap_fb);
  if (p.kind == "dualpipev") return dualpipev(p.pp, p.micro_batches, p.overlap_fb);
  throw ScheduleError(fmt::format("unknown schedule kind \"{}\"; allowed: 1f1b, interleaved, zb1p, dualpipe, dualpipev "
                                  "(custom schedules come from a file)",
                                  p.kind));
}

std::string to_string(const Pass& p, bool with_place) {
  const char* k = p.kind == PassKind::F ? "F" : p.kind == PassKind::B ? "B" : "W";
  std::string s = fmt::format("{}{}{}", k, p.mb, p.kind == PassKind::B && p.split ? "i" : "");
  if (with_place) s += fmt::format(" d{} s{}", p.dir, p.stage);
  return s;
}

std::string to_string(const Instruction& in, bool with_place) {
  switch (in.op) {
    case Op::FB: return to_string(in.pass, with_place) + "&" + to_string(in.pass2, with_place);
    case Op::Send: return fmt::format("send {}→{}", to_string(in.pass, with_place), in.peer);
    case Op::Recv: return fmt::format("recv {}←{}", to_string(in.pass, with_place), in.peer);
    default: return to_string(in.pass, with_place);
  }
}

namespace {

// The pass that consumes `p`'s output, if any: F feeds the next stage's F, B the previous stage's B.
bool consumer_of(const Schedule& s, const Pass& p, Pass& out) {
  if (p.kind == PassKind::F && p.stage + 1 < s.stages) {
    out = Pass{PassKind::F, p.dir, p.stage + 1, p.mb};
    return true;
  }
  if (p.kind == PassKind::B && p.stage > 0) {
    out = Pass{PassKind::B, p.dir, p.stage - 1, p.mb};
    return true;
  }
  return false;
}

// The passes of another stage that `p` needs as input (the data dependency; same-stage order is checked separately).
bool producer_of(const Schedule& s, const Pass& p, Pass& out) {
  if (p.kind == PassKind::F && p.stage > 0) {
    out = Pass{PassKind::F, p.dir, p.stage - 1, p.mb};
    return true;
  }
  if (p.kind == PassKind::B && p.stage + 1 < s.stages) {
    out = Pass{PassKind::B, p.dir, p.stage + 1, p.mb};
    return true;
  }
  return false;
}

std::vector<Pass> passes_of(const Instruction& in) {
  if (in.op == Op::FB) return {in.pass, in.pass2};
  if (in.is_compute()) return {in.pass};
  return {};
}

}  // namespace

void add_p2p(Schedule& s) {
  for (int r = 0; r < s.ranks; ++r) {
    std::vector<Instruction> out;
    for (const Instruction& in : s.ops[r]) {
      for (const Pass& p : passes_of(in)) {
        Pass prod;
        if (p.kind != PassKind::W && producer_of(s, p, prod) && s.rank_of(prod.dir, prod.stage) != r)
          out.push_back(Instruction{Op::Recv, prod, {}, s.rank_of(prod.dir, prod.stage)});
      }
      out.push_back(in);
      for (const Pass& p : passes_of(in)) {
        Pass cons;
        if (p.kind != PassKind::W && consumer_of(s, p, cons) && s.rank_of(cons.dir, cons.stage) != r)
          out.push_back(Instruction{Op::Send, p, {}, s.rank_of(cons.dir, cons.stage)});
      }
    }
    s.ops[r] = std::move(out);
  }
}

std::vector<ScheduleProblem> check_schedule(const Schedule& s) {
  std::vector<ScheduleProblem> errs;
  auto add = [&](int rank, int index, std::string what) { errs.push_back({rank, index, std::move(what)}); };
  auto where = [](int r, size_t i) { return fmt::format("rank {} op #{}", r, i); };
  // (kind, dir, stage, mb) → (rank, index, split) of the first occurrence.
  struct Seen {
    int rank;
    size_t index;
    bool split;
  };
  std::map<std::tuple<int, int, int, int>, Seen> seen;
  auto key = [](const Pass& p) { return std::make_tuple(int(p.kind), p.dir, p.stage, p.mb); };
  for (int r = 0; r < s.ranks; ++r) {
    for (size_t i = 0; i < s.ops[r].size(); ++i) {
      const Instruction& in = s.ops[r][i];
      for (const Pass& p : passes_of(in)) {
        if (p.dir < 0 || p.dir >= s.dirs || p.stage < 0 || p.stage >= s.stages || p.mb < 0 ||
            p.mb >= s.micro_batches) {
          add(r, int(i), fmt::format("{}: {} is outside the schedule (directions 0..{}, stages 0..{}, micro-batches "
                                     "0..{})",
                                     where(r, i), to_string(p, true), s.dirs - 1, s.stages - 1, s.micro_batches - 1));
          continue;
        }
        if (s.rank_of(p.dir, p.stage) != r)
          add(r, int(i), fmt::format("{}: {} belongs to rank {}", where(r, i), to_string(p, true),
                                     s.rank_of(p.dir, p.stage)));
        auto [it, fresh] = seen.emplace(key(p), Seen{r, i, p.split});
        if (!fresh) {
          add(r, int(i), fmt::format("{}: {} appears twice (first at op #{})", where(r, i), to_string(p, true),
                                     it->second.index));
          continue;
        }
        if (p.kind == PassKind::B) {
          auto f = seen.find(key(Pass{PassKind::F, p.dir, p.stage, p.mb}));
          if (f == seen.end() || f->second.rank != r)
            add(r, int(i), fmt::format("{}: {} comes before its forward", where(r, i), to_string(p, true)));
        }
        if (p.kind == PassKind::W) {
          auto b = seen.find(key(Pass{PassKind::B, p.dir, p.stage, p.mb}));
          if (b == seen.end() || b->second.rank != r)
            add(r, int(i), fmt::format("{}: {} comes before its backward", where(r, i), to_string(p, true)));
          else if (!b->second.split)
            add(r, int(i), fmt::format("{}: {} follows a full backward (only a split B, input gradient only, leaves a W)",
                                       where(r, i), to_string(p, true)));
        }
      }
      if (in.op == Op::Send || in.op == Op::Recv) {
        const Pass& p = in.pass;
        if (p.kind == PassKind::W || p.dir < 0 || p.dir >= s.dirs || p.stage < 0 || p.stage >= s.stages) {
          add(r, int(i), fmt::format("{}: {} carries no pipeline data", where(r, i), to_string(in, true)));
          continue;
        }
        Pass cons;
        if (!consumer_of(s, p, cons)) {
          add(r, int(i), fmt::format("{}: {}: nothing consumes this output", where(r, i), to_string(in, true)));
          continue;
        }
        const int from = s.rank_of(p.dir, p.stage), to = s.rank_of(cons.dir, cons.stage);
        if (in.op == Op::Send && (from != r || to == r))
          add(r, int(i), fmt::format("{}: {} must be on rank {} and go to another rank", where(r, i),
                                     to_string(in, true), from));
        if (in.op == Op::Send && from == r && !seen.count(key(p)))
          add(r, int(i), fmt::format("{}: {} comes before the pass producing it", where(r, i), to_string(in, true)));
        if (in.op == Op::Recv && (to != r || from == r))
          add(r, int(i), fmt::format("{}: {} must be on rank {} and come from another rank", where(r, i),
                                     to_string(in, true), to));
      }
    }
  }
  // Completeness: every F and B, and a W for every split B.
  for (int d = 0; d < s.dirs; ++d)
    for (int st = 0; st < s.stages; ++st)
      for (int m = 0; m < s.micro_batches; ++m)
        for (PassKind k : {PassKind::F, PassKind::B}) {
          const Pass p{k, d, st, m};
          auto it = seen.find(key(p));
          if (it == seen.end()) {
            add(s.rank_of(d, st), -1, fmt::format("rank {}: {} is missing", s.rank_of(d, st), to_string(p, true)));
          } else if (k == PassKind::B && it->second.split && !seen.count(key(Pass{PassKind::W, d, st, m}))) {
            add(it->second.rank, -1, fmt::format("rank {}: W{} d{} s{} is missing (its B is split)", it->second.rank, m, d, st));
          }
        }
  return errs;
}

}  // namespace cs::sched
