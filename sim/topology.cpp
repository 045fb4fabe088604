#include "sim/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <stdexcept>

namespace cs {

struct Topology::Graph {
  // Edge property: the link id, so a path found in the graph maps back to links.
  using G = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                  boost::property<boost::edge_index_t, LinkId>>;
  G g;
};

const char* link_kind_name(LinkKind k) {
  switch (k) {
    case LinkKind::nvlink_up: return "nvlink_up";
    case LinkKind::nvlink_down: return "nvlink_down";
    case LinkKind::pcie_up: return "pcie_up";
    case LinkKind::pcie_down: return "pcie_down";
    case LinkKind::nic_up: return "nic_up";
    case LinkKind::nic_down: return "nic_down";
    case LinkKind::leaf_up: return "leaf_up";
    case LinkKind::spine_down: return "spine_down";
    case LinkKind::other: return "other";
  }
  return "?";
}

namespace {
uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: a fixed, portable hash for ECMP-by-hash
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

Topology::Topology(const ClusterSpec& spec) : spec_(spec), graph_(std::make_unique<Graph>()) { build(); }
Topology::~Topology() = default;

int Topology::nic_of_gpu(int gpu) const {
  return node_of(gpu) * spec_.node.nics + local_index(gpu) * spec_.node.nics / spec_.node.gpus;
}
int Topology::gpu_of_nic(int nic) const {
  const int node = nic / spec_.node.nics, k = nic % spec_.node.nics;
  const int local = (k * spec_.node.gpus + spec_.node.nics - 1) / spec_.node.nics;  // first GPU mapped to NIC k
  return gpu_at(node, local);
}

Topology::Endpoint Topology::compute_endpoint_of_nic(int nic) const {
  const int node = nic / spec_.node.nics, k = nic % spec_.node.nics;
  switch (spec_.fabric.kind) {
    case FabricKind::multi_plane_fat_tree: {
      const int planes = spec_.fabric.planes, per_node = spec_.node.nics / planes;
      const int idx = node * per_node + k / planes;
      return {k % planes, idx / down_, idx % down_};
    }
    case FabricKind::multi_rail_fat_tree: {
      const int leaves_per_rail = (spec_.nodes + down_ - 1) / down_;
      return {0, k * leaves_per_rail + node / down_, node % down_};
    }
    case FabricKind::fat_tree:
      return {0, nic / down_, nic % down_};
  }
  return {0, 0, 0};
}

void Topology::build() {
  const ClusterSpec& c = spec_;
  const FabricSpec& f = c.fabric;
  const int G = c.gpus(), nics = c.nodes * c.node.nics;
  if (c.node.nics < 1 || c.node.gpus % c.node.nics != 0)
    throw std::invalid_argument(fmt::format("cluster {}: gpus_per_node ({}) must be a multiple of nics_per_node ({})",
                                            c.name, c.node.gpus, c.node.nics));
  const int ports = f.switch_ports;
  if (f.kind == FabricKind::fat_tree) {
    down_ = int(double(ports) * f.oversubscription / (1.0 + f.oversubscription));
    down_ = std::clamp(down_, 1, ports - 1);
  } else {
    down_ = ports / 2;  // non-blocking two-layer tree: half the leaf ports face NICs, half face spines
  }
  const int up = ports - down_;
  switch (f.kind) {
    case FabricKind::multi_plane_fat_tree:
      if (c.node.nics % f.planes != 0)
        throw std::invalid_argument(fmt::format("cluster {}: fabric.planes ({}) must divide nics_per_node ({})",
                                                c.name, f.planes, c.node.nics));
      trees_ = f.planes;
      leaves_ = (c.nodes * (c.node.nics / f.planes) + down_ - 1) / down_;
      break;
    case FabricKind::multi_rail_fat_tree:
      trees_ = 1;
      leaves_ = c.node.nics * ((c.nodes + down_ - 1) / down_);
      break;
    case FabricKind::fat_tree:
      trees_ = 1;
      leaves_ = (nics + down_ - 1) / down_;
      break;
  }
  spines_ = leaves_ > 1 ? up : 0;
  if (leaves_ > ports)
    throw std::invalid_argument(fmt::format(
        "cluster {}: {} leaf switches per tree exceed the {} ports of a spine; a two-layer fat tree of {}-port "
        "switches holds at most {} NICs per tree",
        c.name, leaves_, ports, ports, ports * down_));
  hash_routing_ = f.routing == "ecmp-hash";
  nic_ends_.resize(size_t(nics));
  for (int n = 0; n < nics; ++n) nic_ends_[size_t(n)] = compute_endpoint_of_nic(n);
  places_.resize(size_t(G));
  for (int g = 0; g < G; ++g) places_[size_t(g)] = Place{node_of(g), local_index(g), nic_of_gpu(g)};

  const double nvlink = c.gpu.nvlink_achievable_gbps > 0 ? c.gpu.nvlink_achievable_gbps : c.gpu.nvlink_gbps;
  const double pcie = c.node.pcie_gbps;
  const double nic = c.node.nic_gbps / 8.0 * f.ib_efficiency;
  const double fabric = f.link_gbps / 8.0 * f.ib_efficiency;
  const TimeNs cross_extra = std::max<TimeNs>(0, f.latency_cross_leaf_ns - f.latency_same_leaf_ns);

  // Vertices: GPUs, NICs, NVSwitches, leaves, spines.
  const int v_nic = G, v_nvs = v_nic + nics, v_leaf = v_nvs + c.nodes, v_spine = v_leaf + trees_ * leaves_;
  const int vertices = v_spine + trees_ * spines_;
  vertex_names_.resize(size_t(vertices));
  for (int g = 0; g < G; ++g) vertex_names_[size_t(g)] = fmt::format("node{}.gpu{}", node_of(g), local_index(g));
  for (int n = 0; n < nics; ++n)
    vertex_names_[size_t(v_nic + n)] = fmt::format("node{}.nic{}", n / c.node.nics, n % c.node.nics);
  for (int n = 0; n < c.nodes; ++n) vertex_names_[size_t(v_nvs + n)] = fmt::format("node{}.nvswitch", n);
  for (int t = 0; t < trees_; ++t) {
    for (int l = 0; l < leaves_; ++l) vertex_names_[size_t(v_leaf + t * leaves_ + l)] = fmt::format("plane{}.leaf{}", t, l);
    for (int s = 0; s < spines_; ++s)
      vertex_names_[size_t(v_spine + t * spines_ + s)] = fmt::format("plane{}.spine{}", t, s);
  }
  auto add = [&](LinkKind kind, double gbps, TimeNs lat, int from, int to) {
    lat_.push_back(lat);
    links_.push_back(LinkInfo{kind, gbps, lat,
                              fmt::format("{}->{}", vertex_names_[size_t(from)], vertex_names_[size_t(to)])});
    link_from_.push_back(from);
    link_to_.push_back(to);
  };
  for (int g = 0; g < G; ++g) {
    const int nvs = v_nvs + node_of(g), nc = v_nic + nic_of_gpu(g);
    add(LinkKind::nvlink_up, nvlink, c.node.nvlink_latency_ns, g, nvs);
    add(LinkKind::nvlink_down, nvlink, 0, nvs, g);
    add(LinkKind::pcie_up, pcie, 0, g, nc);
    add(LinkKind::pcie_down, pcie, 0, nc, g);
  }
  nic_base_ = int(links_.size());
  for (int n = 0; n < nics; ++n) {
    const Endpoint e = endpoint_of_nic(n);
    const int leaf = v_leaf + e.tree * leaves_ + e.leaf;
    add(LinkKind::nic_up, nic, f.latency_same_leaf_ns, v_nic + n, leaf);
    add(LinkKind::nic_down, nic, 0, leaf, v_nic + n);
  }
  leaf_up_base_ = int(links_.size());
  for (int t = 0; t < trees_; ++t)
    for (int l = 0; l < leaves_; ++l)
      for (int s = 0; s < spines_; ++s)
        add(LinkKind::leaf_up, fabric, cross_extra, v_leaf + t * leaves_ + l, v_spine + t * spines_ + s);
  spine_down_base_ = int(links_.size());
  for (int t = 0; t < trees_; ++t)
    for (int s = 0; s < spines_; ++s)
      for (int l = 0; l < leaves_; ++l)
        add(LinkKind::spine_down, fabric, 0, v_spine + t * spines_ + s, v_leaf + t * leaves_ + l);
  failed_.assign(links_.size(), 0);
  find_shadowed();

  for (int v = 0; v < vertices; ++v) boost::add_vertex(graph_->g);
  for (size_t i = 0; i < links_.size(); ++i) boost::add_edge(size_t(link_from_[i]), size_t(link_to_[i]), LinkId(i), graph_->g);

  // Validation: every GPU reaches GPU 0 and GPU 0 reaches every GPU (links come in opposite pairs, so this is
  // strong connectivity of the GPUs).
  std::vector<boost::default_color_type> color(static_cast<size_t>(vertices));
  std::vector<int> seen(size_t(vertices), 0);
  struct Mark : boost::default_bfs_visitor {
    std::vector<int>* seen;
    void discover_vertex(size_t v, const Graph::G&) const { (*seen)[v] = 1; }
  } mark;
  mark.seen = &seen;
  boost::breadth_first_search(graph_->g, size_t(0), boost::visitor(mark).color_map(color.data()));
  for (int g = 0; g < G; ++g)
    if (!seen[size_t(g)])
      throw std::logic_error(fmt::format("cluster {}: GPU {} is unreachable from GPU 0 in the built topology", c.name, g));
}

LinkId Topology::find_link(const std::string& name) const {
  for (size_t i = 0; i < links_.size(); ++i)
    if (links_[i].name == name) return LinkId(i);
  return -1;
}

void Topology::push(Route& r, LinkId id) const {
  r.ids[size_t(r.hops++)] = id;
  r.latency_ns += lat_[size_t(id)];
}

bool Topology::fabric_hops(int nic_src, int nic_dst, uint64_t hash, Route& r) const {
  const Endpoint a = endpoint_of_nic(nic_src), b = endpoint_of_nic(nic_dst);
  if (a.tree != b.tree) return false;
  if (a.leaf == b.leaf) return true;
  // ECMP by destination: spine = destination port mod spines (balanced for permutations, like mod-k routing);
  // ECMP by hash: a fixed hash of (flow hash, source, destination).
  const int first = hash_routing_ ? int(mix64(hash ^ mix64(uint64_t(nic_src) << 32 | uint64_t(nic_dst))) % uint64_t(spines_))
                                  : b.port % spines_;
  for (int i = 0; i < spines_; ++i) {
    const int s = (first + i) % spines_;
    const LinkId up = leaf_up(a.tree, a.leaf, s), down = spine_down(a.tree, s, b.leaf);
    if (failed_[size_t(up)] || failed_[size_t(down)]) continue;  // ECMP drops next hops that are down
    push(r, up);
    push(r, down);
    return true;
  }
  return false;
}

int Topology::translation_period_gpus() const {
  if (hash_routing_ || failures_ > 0) return 0;
  const int nics = spec_.node.nics, gpus = spec_.node.gpus;
  switch (spec_.fabric.kind) {
    case FabricKind::multi_plane_fat_tree:
      if (nics / spec_.fabric.planes != 1) return 0;
      return down_ * gpus;  // a leaf holds down_ nodes' NIC of its plane
    case FabricKind::multi_rail_fat_tree:
      return down_ * gpus;
    case FabricKind::fat_tree:
      return down_ % nics == 0 ? down_ / nics * gpus : 0;
  }
  return 0;
}

Route Topology::route(int src, int dst, PathKind kind, uint64_t hash) const {
  Route r;
  if (src == dst) return r;
  bool ok = true;
  const Place ps = places_[size_t(src)], pd = places_[size_t(dst)];
  if (ps.node == pd.node) {
    push(r, nvlink_up(src));
    push(r, nvlink_down(dst));
  } else {
    const int nic_s = ps.nic, nic_d = pd.nic;
    const bool same_tree = endpoint_of_nic(nic_s).tree == endpoint_of_nic(nic_d).tree;
    if (same_tree && (kind == PathKind::direct || ps.local == pd.local)) {
      push(r, pcie_up(src));
      push(r, nic_up(nic_s));
      ok = fabric_hops(nic_s, nic_d, hash, r);
      push(r, nic_down(nic_d));
      push(r, pcie_down(dst));
    } else if (kind == PathKind::pxn || !same_tree) {
      if (kind == PathKind::pxn) {
        // NCCL PXN: NVLink to the source-node GPU behind the NIC of the destination's rail/plane, then the fabric.
        const int relay = gpu_at(ps.node, local_index(gpu_of_nic(nic_d)));
        const int nic_r = places_[size_t(relay)].nic;
        if (relay != src) {
          push(r, nvlink_up(src));
          push(r, nvlink_down(relay));
        }
        push(r, pcie_up(relay));
        push(r, nic_up(nic_r));
        ok = fabric_hops(nic_r, nic_d, hash, r);
        push(r, nic_down(nic_d));
        push(r, pcie_down(dst));
      } else {
        // Direct across planes (DeepEP): the source's plane to the destination node's GPU of the same index, then
        // NVLink to the destination.
        const int relay = gpu_at(pd.node, ps.local);
        const int nic_r = places_[size_t(relay)].nic;
        push(r, pcie_up(src));
        push(r, nic_up(nic_s));
        ok = fabric_hops(nic_s, nic_r, hash, r);
        push(r, nic_down(nic_r));
        push(r, pcie_down(relay));
        push(r, nvlink_up(relay));
        push(r, nvlink_down(dst));
      }
    }
  }
  if (failures_ > 0) {
    for (LinkId id : r.links()) ok = ok && !failed_[size_t(id)];
    if (!ok) {
      const uint64_t key = uint64_t(src) << 32 | uint64_t(uint32_t(dst));
      auto it = failure_routes_.find(key);
      if (it == failure_routes_.end()) it = failure_routes_.emplace(key, graph_route(src, dst)).first;
      r = it->second;
    }
  }
  return r;
}

Route Topology::graph_route(int src, int dst) const {
  // Shortest surviving path (BFS in hops over links not failed); GPUs other than src may relay, as PXN does.
  using G = Graph::G;
  const G& g = graph_->g;
  const size_t n = boost::num_vertices(g);
  std::vector<LinkId> via(n, -1);
  std::vector<uint8_t> seen(n, 0);
  std::vector<size_t> frontier{size_t(src)};
  seen[size_t(src)] = 1;
  auto index = boost::get(boost::edge_index, g);
  for (size_t head = 0; head < frontier.size() && !seen[size_t(dst)]; ++head) {
    const size_t v = frontier[head];
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e) {
      const LinkId id = index[*e];
      const size_t w = boost::target(*e, g);
      if (failed_[size_t(id)] || seen[w]) continue;
      seen[w] = 1;
      via[w] = id;
      frontier.push_back(w);
    }
  }
  if (!seen[size_t(dst)])
    throw std::runtime_error(fmt::format("no surviving route from {} to {} after the failures",
                                         vertex_names_[size_t(src)], vertex_names_[size_t(dst)]));
  std::vector<LinkId> rev;
  for (size_t v = size_t(dst); v != size_t(src); v = size_t(link_from_[size_t(via[v])])) rev.push_back(via[v]);
  if (rev.size() > size_t(Route::kMaxHops))
    throw std::runtime_error(fmt::format("surviving route from {} to {} has {} hops (at most {} supported)",
                                         vertex_names_[size_t(src)], vertex_names_[size_t(dst)], rev.size(),
                                         Route::kMaxHops));
  Route r;
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) push(r, *it);
  return r;
}

void Topology::fail_link(LinkId id) {
  if (id < 0 || size_t(id) >= links_.size()) throw std::out_of_range(fmt::format("fail_link: no link {}", id));
  if (!failed_[size_t(id)]) ++failures_;
  failed_[size_t(id)] = 1;
  failure_routes_.clear();
}

void Topology::find_shadowed() {
  // A vertex that is not a GPU (no route starts or ends there) whose links are exactly u→v, v→w, w→v and v→u with
  // u ≠ w: a simple path entering from u leaves to w and one leaving to w came from u, so u→v and v→w carry
  // the same flows on every route (likewise w→v and v→u). Of each such pair the link of higher (capacity, id) is
  // shadowed; the lowest of a chain of such pairs never is, so every route keeps a link of each chain. Failures only
  // take routes away, so what holds for the built graph holds after them.
  const size_t L = links_.size();
  const int vertices = int(vertex_names_.size());
  std::vector<std::vector<LinkId>> in(static_cast<size_t>(vertices)), out(static_cast<size_t>(vertices));
  for (size_t i = 0; i < L; ++i) {
    out[size_t(link_from_[i])].push_back(LinkId(i));
    in[size_t(link_to_[i])].push_back(LinkId(i));
  }
  shadowed_.assign(L, 0);
  auto higher = [&](LinkId a, LinkId b) {  // a above b on (capacity, id)
    const double ca = links_[size_t(a)].bytes_per_ns, cb = links_[size_t(b)].bytes_per_ns;
    return ca != cb ? ca > cb : a > b;
  };
  auto shadow_pair = [&](LinkId a, LinkId b) { shadowed_[size_t(higher(a, b) ? a : b)] = 1; };
  for (int v = gpus(); v < vertices; ++v) {
    const auto &i = in[size_t(v)], &o = out[size_t(v)];
    if (i.size() != 2 || o.size() != 2) continue;
    const int u = link_from_[size_t(i[0])], w = link_from_[size_t(i[1])];
    if (u == w) continue;
    // The out-links, matched to their in-links: v→w continues u→v, v→u continues w→v.
    const LinkId to_w = link_to_[size_t(o[0])] == w ? o[0] : o[1], to_u = to_w == o[0] ? o[1] : o[0];
    if (link_to_[size_t(to_w)] != w || link_to_[size_t(to_u)] != u) continue;
    shadow_pair(i[0], to_w);
    shadow_pair(i[1], to_u);
  }
}

void Topology::fail_switch(const std::string& name) {
  int v = -1;
  for (size_t i = 0; i < vertex_names_.size(); ++i)
    if (vertex_names_[i] == name) v = int(i);
  if (v < 0 || v < gpus())
    throw std::invalid_argument(fmt::format("fail_switch: no switch named '{}' (e.g. plane0.leaf0, plane0.spine0, node0.nvswitch)", name));
  for (size_t i = 0; i < links_.size(); ++i)
    if (link_from_[i] == v || link_to_[i] == v) fail_link(LinkId(i));
}

}  // namespace cs
