// Token → expert assignments for expert-parallel dispatch/combine, under node-limited routing: each token picks at
// most `max_nodes` nodes (groups) and its top-k experts among the experts those nodes hold.
//   balanced  deterministic rotation: every expert gets the same load (± 1) and a token spreads its k experts
//             evenly over min(max_nodes, nodes) consecutive nodes
//   random    DeepEP's test routing (tests/test_internode.py): i.i.d. scores per (token, expert); a node's score is the
//             max of its experts' scores; the top max_nodes nodes, then the top-k experts among them. Our scores are
//             uniform from a seeded splitmix64 stream (DeepEP uses |N(0,1)|+1: only the order matters, and any
//             i.i.d. continuous law gives the same distribution of choices)
//   zipf      as random, with expert e's score u^(1/w_e) (weighted sampling without replacement, Efraimidis–Spirakis)
//             and w_e ∝ 1 / rank_e^exponent over a seeded permutation of experts: popular experts are chosen more
//   file      as zipf, with w_e the e-th load of a file (one non-negative number per line, '#' comments)
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cs {

enum class RoutingKind { balanced, random, zipf, file };

// splitmix64: a counter-based generator with a fixed definition, so routings are identical on every platform. Rank r
// of a scored routing draws from state seed·0x100000001b3 + r·0x9e3779b97f4a7c15, one uniform per (token, expert of
// weight > 0) in order.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }  // in (0, 1)
};

struct EpRoutingSpec {
  RoutingKind kind = RoutingKind::balanced;
  uint64_t seed = 1;
  double zipf_exponent = 1.0;
  std::string load_file;     // kind == file
  int max_nodes = 4;         // node-limited routing ([TR] §2.1.2: at most 4 nodes per token); ≤ 0: no limit
};

struct MoeShape {
  int ranks = 64;                  // EP group size
  int ranks_per_node = 8;          // consecutive ranks share a node (a node is a routing group)
  int experts = 256;               // routed experts, placed in blocks of experts/ranks per rank
  int topk = 8;
  int64_t tokens_per_rank = 4096;
};

struct TokenRouting {
  MoeShape shape;
  std::vector<int32_t> experts;  // [rank][token][k], expert ids
  int32_t expert(int rank, int64_t token, int k) const {
    return experts[size_t((int64_t(rank) * shape.tokens_per_rank + token) * shape.topk + k)];
  }
};

RoutingKind routing_kind_from_name(const std::string& name);  // balanced | random | zipf | file (else throws)
const char* routing_kind_name(RoutingKind k);

TokenRouting route_tokens(const EpRoutingSpec& spec, const MoeShape& shape);

// Routing statistics of a micro-batch: long micro-batches (context extension: 32K-128K tokens per GPU) are routed
// for their first kRoutingSampleTokens tokens per rank only, and counts derived from the sample scale by
// tokens_per_rank / sampled tokens. Expected counts are unchanged; the sampling noise is that of a 4096-token
// micro-batch (DeepEP's test size and the pre-training micro-batch), so imbalance measured on the sample is, if
// anything, slightly pessimistic. Results are cached (the last few shapes, thread-safe): dispatch, combine and the
// expert-load statistics of one micro-batch share one draw.
inline constexpr int64_t kRoutingSampleTokens = 4096;
struct RoutingSample {
  std::shared_ptr<const TokenRouting> routing;  // shape.tokens_per_rank = the sampled tokens
  double scale = 1;                             // tokens_per_rank / sampled tokens (≥ 1)
};
RoutingSample sample_routing(const EpRoutingSpec& spec, const MoeShape& shape);

// Reads one load per expert; errors name the file and line and say what is allowed.
std::vector<double> read_expert_loads(const std::string& path, int experts);

}  // namespace cs
