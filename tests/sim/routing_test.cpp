// Scored routing (random, zipf, file) against its definition, written the plain way: every key, a full sort of the
// chosen nodes' experts. The engine's selection (top k kept while scanning) must give the same experts in the same
// order, ties included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

#include "sim/ep_routing.hpp"

namespace cs {
namespace {

// The definition: key log(u)/w per expert of weight w > 0 (u itself when all weights are equal; weight 0: never
// chosen, no draw), the m nodes with the highest best key (ties: lower node), then the top k of their experts by key
// (ties: lower expert), in that order.
std::vector<int32_t> reference(const std::vector<double>& w, const EpRoutingSpec& spec, const MoeShape& s) {
  const int nodes = s.ranks / s.ranks_per_node, per_node = s.experts / nodes;
  const int m = spec.max_nodes > 0 ? std::min(spec.max_nodes, nodes) : nodes;
  const bool equal = std::all_of(w.begin(), w.end(), [&](double x) { return x == w[0]; });
  std::vector<int32_t> out;
  std::vector<double> key(size_t(s.experts));
  for (int r = 0; r < s.ranks; ++r) {
    SplitMix rng{spec.seed * 0x100000001b3ULL + uint64_t(r) * 0x9e3779b97f4a7c15ULL};
    for (int64_t t = 0; t < s.tokens_per_rank; ++t) {
      for (size_t e = 0; e < key.size(); ++e)
        key[e] = equal ? rng.uniform() : w[e] > 0 ? std::log(rng.uniform()) * (1.0 / w[e]) : -INFINITY;
      std::vector<int> order(static_cast<size_t>(nodes));
      std::iota(order.begin(), order.end(), 0);
      auto best = [&](int n) { return *std::max_element(key.begin() + n * per_node, key.begin() + (n + 1) * per_node); };
      std::sort(order.begin(), order.end(), [&](int a, int b) { return best(a) != best(b) ? best(a) > best(b) : a < b; });
      std::vector<int> cand;
      for (int j = 0; j < m; ++j)
        for (int e = order[size_t(j)] * per_node; e < (order[size_t(j)] + 1) * per_node; ++e) cand.push_back(e);
      std::sort(cand.begin(), cand.end(), [&](int a, int b) {
        return key[size_t(a)] != key[size_t(b)] ? key[size_t(a)] > key[size_t(b)] : a < b;
      });
      out.insert(out.end(), cand.begin(), cand.begin() + s.topk);
    }
  }
  return out;
}

TEST(Routing, ScoredRoutingIsItsDefinition) {
  const auto dir = std::filesystem::temp_directory_path() / "cs_routing_reference";
  std::filesystem::create_directories(dir);
  // Skewed loads with zero-load experts (never chosen while others remain), and equal loads (keys without logs).
  std::vector<double> skewed(64), flat(64, 3.0), few(64, 0.0);
  for (size_t e = 0; e < 64; ++e) skewed[e] = e % 7 == 3 ? 0.0 : e % 5 == 0 ? 40.0 : 1.0 + 0.1 * double(e);
  for (size_t e : {2u, 9u, 33u}) few[e] = 1.0;  // fewer positive loads than top-k: zero-load experts fill the rest
  int checked = 0, files = 0;
  for (const auto& loads : {skewed, flat, few}) {
    const std::string file = (dir / ("loads" + std::to_string(files++) + ".txt")).string();
    {
      std::ofstream f(file);
      for (double x : loads) f << x << "\n";
    }
    for (int max_nodes : {0, 1, 2, 3, 8})
      for (const MoeShape& shape : {MoeShape{16, 2, 64, 6, 50}, MoeShape{16, 4, 64, 8, 40}}) {
        const EpRoutingSpec spec{RoutingKind::file, uint64_t(5 + max_nodes), 1.0, file, max_nodes};
        if (max_nodes > 0 && max_nodes * (shape.experts / (shape.ranks / shape.ranks_per_node)) < shape.topk) continue;
        EXPECT_EQ(route_tokens(spec, shape).experts, reference(read_expert_loads(file, shape.experts), spec, shape))
            << file << " max_nodes " << max_nodes << " ranks per node " << shape.ranks_per_node;
        ++checked;
      }
  }
  EXPECT_GE(checked, 25);
}

}  // namespace
}  // namespace cs
