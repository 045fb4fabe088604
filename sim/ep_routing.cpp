#include "sim/ep_routing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <tuple>

namespace cs {

namespace {
void check_shape(const MoeShape& s) {
  if (s.ranks <= 0 || s.ranks_per_node <= 0 || s.ranks % s.ranks_per_node != 0)
    throw std::invalid_argument(fmt::format("EP group of {} ranks does not fill whole nodes of {} ranks", s.ranks, s.ranks_per_node));
  if (s.experts <= 0 || s.experts % s.ranks != 0)
    throw std::invalid_argument(fmt::format("{} experts cannot be split evenly over {} EP ranks", s.experts, s.ranks));
  if (s.topk <= 0 || s.topk > s.experts)
    throw std::invalid_argument(fmt::format("top-k {} must be in 1..{} (the expert count)", s.topk, s.experts));
  if (s.tokens_per_rank < 0) throw std::invalid_argument("tokens per rank must be ≥ 0");
}

void balanced(const EpRoutingSpec& spec, const MoeShape& s, TokenRouting& out) {
  const int nodes = s.ranks / s.ranks_per_node, per_node = s.experts / nodes;
  const int m = spec.max_nodes > 0 ? std::min(spec.max_nodes, nodes) : nodes;
  const int per_token_node = (s.topk + m - 1) / m;
  if (per_token_node > per_node)
    throw std::invalid_argument(fmt::format("balanced routing: top-{} over {} nodes needs {} experts per node, nodes hold {}",
                                            s.topk, m, per_token_node, per_node));
  // Expert i of token `base`: node (base + i % m) mod nodes, index ((base / nodes)·per_token_node + i / m) mod
  // per_node. i % m < nodes and i / m < per_token_node ≤ per_node, so per token one division each and a conditional
  // subtraction per expert give the same values (64-bit divisions per expert were most of this loop's time).
  std::vector<int> step_node(size_t(s.topk)), step_within(size_t(s.topk));
  for (int i = 0; i < s.topk; ++i) step_node[size_t(i)] = i % m, step_within[size_t(i)] = i / m;
  size_t o = 0;
  for (int r = 0; r < s.ranks; ++r)
    for (int64_t t = 0; t < s.tokens_per_rank; ++t) {
      const int64_t base = int64_t(r) * s.tokens_per_rank + t;
      const int node0 = int(base % nodes), within0 = int((base / nodes) * per_token_node % per_node);
      for (int i = 0; i < s.topk; ++i) {
        int node = node0 + step_node[size_t(i)], within = within0 + step_within[size_t(i)];
        if (node >= nodes) node -= nodes;
        if (within >= per_node) within -= per_node;
        out.experts[o++] = node * per_node + within;
      }
    }
}

void scored(const std::vector<double>& weights, const EpRoutingSpec& spec, const MoeShape& s, TokenRouting& out) {
  const int nodes = s.ranks / s.ranks_per_node, per_node = s.experts / nodes;
  const int m = spec.max_nodes > 0 ? std::min(spec.max_nodes, nodes) : nodes;
  std::vector<double> inv_w(weights.size());
  for (size_t e = 0; e < weights.size(); ++e) inv_w[e] = weights[e] > 0 ? 1.0 / weights[e] : 0;
  const bool equal = std::all_of(weights.begin(), weights.end(), [&](double w) { return w == weights[0]; });
  std::vector<double> key(static_cast<size_t>(s.experts)), node_key(static_cast<size_t>(nodes));
  std::vector<int> node_order(static_cast<size_t>(nodes));
  size_t o = 0;
  for (int r = 0; r < s.ranks; ++r) {
    SplitMix rng{spec.seed * 0x100000001b3ULL + uint64_t(r) * 0x9e3779b97f4a7c15ULL};
    for (int64_t t = 0; t < s.tokens_per_rank; ++t) {
      // Key log(u)/w: the order of u^(1/w); experts of weight 0 are never chosen.
      if (equal)  // same order as log(u)/w, without the logarithms
        for (int e = 0; e < s.experts; ++e) key[size_t(e)] = rng.uniform();
      else
        for (int e = 0; e < s.experts; ++e)
          key[size_t(e)] = inv_w[size_t(e)] > 0 ? std::log(rng.uniform()) * inv_w[size_t(e)] : -INFINITY;
      for (int n = 0; n < nodes; ++n)
        node_key[size_t(n)] = *std::max_element(key.begin() + n * per_node, key.begin() + (n + 1) * per_node);
      std::iota(node_order.begin(), node_order.end(), 0);
      std::partial_sort(node_order.begin(), node_order.begin() + m, node_order.end(), [&](int a, int b) {
        return node_key[size_t(a)] != node_key[size_t(b)] ? node_key[size_t(a)] > node_key[size_t(b)] : a < b;
      });
      if (m * per_node < s.topk)
        throw std::invalid_argument(fmt::format("top-{} needs more experts than {} nodes hold", s.topk, m));
      // The top k by (key desc, expert asc), kept sorted while the candidates are scanned.
      int32_t* const top = &out.experts[o];
      int n_top = 0;
      for (int j = 0; j < m; ++j)
        for (int e = node_order[size_t(j)] * per_node; e < (node_order[size_t(j)] + 1) * per_node; ++e) {
          const double x = key[size_t(e)];
          if (n_top == s.topk) {
            const double y = key[size_t(top[n_top - 1])];
            if (x < y || (x == y && e > top[n_top - 1])) continue;
            --n_top;
          }
          int i = n_top++;
          for (; i > 0; --i) {
            const double y = key[size_t(top[i - 1])];
            if (y > x || (y == x && top[i - 1] < e)) break;
            top[i] = top[i - 1];
          }
          top[i] = e;
        }
      o += size_t(s.topk);
    }
  }
}
}  // namespace

RoutingKind routing_kind_from_name(const std::string& name) {
  if (name == "balanced") return RoutingKind::balanced;
  if (name == "random") return RoutingKind::random;
  if (name == "zipf") return RoutingKind::zipf;
  if (name == "file") return RoutingKind::file;
  throw std::invalid_argument(fmt::format("routing kind '{}' is not one of: balanced, random, zipf, file", name));
}

const char* routing_kind_name(RoutingKind k) {
  switch (k) {
    case RoutingKind::balanced: return "balanced";
    case RoutingKind::random: return "random";
    case RoutingKind::zipf: return "zipf";
    case RoutingKind::file: return "file";
  }
  return "?";
}

std::vector<double> read_expert_loads(const std::string& path, int experts) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("{}: cannot open the expert load file", path));
  std::vector<double> loads;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    const auto b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const std::string field = line.substr(b, e - b + 1);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(field, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != field.size() || !std::isfinite(v) || v < 0)
      throw std::invalid_argument(fmt::format("{}:{}: expert load '{}' is not a finite number ≥ 0 (one load per line, "
                                              "'#' starts a comment)", path, lineno, field));
    loads.push_back(v);
  }
  if (int(loads.size()) != experts)
    throw std::invalid_argument(fmt::format("{}: has {} expert loads, the model has {} routed experts (one load per line)",
                                            path, loads.size(), experts));
  if (std::accumulate(loads.begin(), loads.end(), 0.0) <= 0)
    throw std::invalid_argument(fmt::format("{}: every expert load is 0; at least one must be > 0", path));
  return loads;
}

TokenRouting route_tokens(const EpRoutingSpec& spec, const MoeShape& shape) {
  check_shape(shape);
  TokenRouting out{shape, std::vector<int32_t>(size_t(int64_t(shape.ranks) * shape.tokens_per_rank * shape.topk))};
  std::vector<double> w(size_t(shape.experts), 1.0);
  switch (spec.kind) {
    case RoutingKind::balanced:
      balanced(spec, shape, out);
      return out;
    case RoutingKind::random:
      break;
    case RoutingKind::zipf: {
      if (!(spec.zipf_exponent >= 0)) throw std::invalid_argument("zipf exponent must be ≥ 0");
      std::vector<int> rank(size_t(shape.experts));
      std::iota(rank.begin(), rank.end(), 1);
      SplitMix rng{spec.seed ^ 0x5a17f00dULL};
      for (size_t i = rank.size() - 1; i > 0; --i) std::swap(rank[i], rank[size_t(rng.next() % (i + 1))]);
      for (size_t e = 0; e < w.size(); ++e) w[e] = 1.0 / std::pow(double(rank[e]), spec.zipf_exponent);
      break;
    }
    case RoutingKind::file:
      w = read_expert_loads(spec.load_file, shape.experts);
      break;
  }
  scored(w, spec, shape, out);
  return out;
}

RoutingSample sample_routing(const EpRoutingSpec& spec, const MoeShape& shape) {
  check_shape(shape);
  MoeShape sampled = shape;
  sampled.tokens_per_rank = std::min(shape.tokens_per_rank, kRoutingSampleTokens);
  const double scale = sampled.tokens_per_rank > 0 ? double(shape.tokens_per_rank) / double(sampled.tokens_per_rank) : 1;
  using Key = std::tuple<int, uint64_t, double, std::string, int, int, int, int, int, int64_t>;
  const Key key{int(spec.kind), spec.seed, spec.zipf_exponent, spec.load_file, spec.max_nodes, sampled.ranks,
                sampled.ranks_per_node, sampled.experts, sampled.topk, sampled.tokens_per_rank};
  static std::mutex mu;
  static std::deque<std::pair<Key, std::shared_ptr<const TokenRouting>>> cache;  // most recent first
  constexpr size_t kEntries = 8;  // ≤ 8 × 8 MB at DeepSeek-V3's EP64
  {
    const std::lock_guard<std::mutex> lock(mu);
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (it->first == key) {
        auto hit = *it;
        cache.erase(it);
        cache.push_front(hit);
        return {hit.second, scale};
      }
  }
  auto routing = std::make_shared<const TokenRouting>(route_tokens(spec, sampled));
  const std::lock_guard<std::mutex> lock(mu);
  cache.emplace_front(key, routing);
  if (cache.size() > kEntries) cache.pop_back();
  return {routing, scale};
}

}  // namespace cs
