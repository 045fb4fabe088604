#include "sim/simgrid_oracle.hpp"

#include <fmt/format.h>
#include <simgrid/s4u.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

namespace sg4 = simgrid::s4u;

namespace cs {

namespace {

// Runs `body` in a forked child; the child writes `count` doubles to the pipe.
std::vector<double> in_child(size_t count, const std::function<std::vector<double>()>& body) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("simgrid oracle: pipe() failed");
  std::fflush(nullptr);  // buffered output would otherwise be written twice
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("simgrid oracle: fork() failed");
  if (pid == 0) {
    close(fds[0]);
    int rc = 0;
    try {
      const std::vector<double> out = body();
      const char* p = reinterpret_cast<const char*>(out.data());
      size_t left = out.size() * sizeof(double);
      while (left > 0) {
        const ssize_t w = write(fds[1], p, left);
        if (w <= 0) break;
        p += w;
        left -= size_t(w);
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "simgrid oracle (child): {}\n", e.what());
      rc = 3;
    }
    close(fds[1]);
    _exit(rc);
  }
  close(fds[1]);
  std::vector<double> out(count);
  char* p = reinterpret_cast<char*>(out.data());
  size_t left = count * sizeof(double);
  while (left > 0) {
    const ssize_t r = read(fds[0], p, left);
    if (r <= 0) break;
    p += r;
    left -= size_t(r);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || left != 0)
    throw std::runtime_error(fmt::format("simgrid oracle: the child simulation failed (status {})", status));
  return out;
}

struct Platform {
  std::vector<sg4::Host*> hosts;      // by GPU
  std::map<LinkId, sg4::Link*> links;
};

sg4::Engine make_engine(const char* host_model) {
  xbt_log_control_set("root.thres:critical");
  std::vector<std::string> args = {"clustersim-oracle", "--cfg=network/model:CM02", "--cfg=network/crosstraffic:0",
                                   "--cfg=network/TCP-gamma:0", "--cfg=network/optim:Full",
                                   "--cfg=contexts/stack-size:64"};
  if (host_model) args.push_back(fmt::format("--cfg=host/model:{}", host_model));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int argc = int(argv.size());
  return sg4::Engine(&argc, argv.data());
}

// Hosts for every GPU, links and one route per (src, dst) pair the flows use.
Platform build_platform(const Topology& topo, const std::vector<FlowRequest>& flows) {
  Platform p;
  auto* zone = sg4::create_full_zone("cluster");
  p.hosts.resize(size_t(topo.gpus()), nullptr);
  std::map<std::pair<int, int>, Route> routes;
  for (const FlowRequest& f : flows) {
    if (!p.hosts[size_t(f.src_gpu)]) p.hosts[size_t(f.src_gpu)] = zone->create_host(fmt::format("gpu{}", f.src_gpu), 1e9)->seal();
    if (!p.hosts[size_t(f.dst_gpu)]) p.hosts[size_t(f.dst_gpu)] = zone->create_host(fmt::format("gpu{}", f.dst_gpu), 1e9)->seal();
    const Route r = topo.route(f.src_gpu, f.dst_gpu, f.path, f.hash);
    auto [it, fresh] = routes.emplace(std::make_pair(f.src_gpu, f.dst_gpu), r);
    if (!fresh && it->second.ids != r.ids)
      throw std::invalid_argument(fmt::format("simgrid oracle: two flows {}→{} use different routes", f.src_gpu, f.dst_gpu));
    for (LinkId l : r.links())
      if (!p.links.count(l)) {
        const LinkInfo& info = topo.link(l);
        p.links[l] = zone->create_link(fmt::format("l{}", l), info.bytes_per_ns * 1e9)
                         ->set_latency(double(info.latency_ns) * 1e-9)
                         ->set_sharing_policy(sg4::Link::SharingPolicy::SHARED)
                         ->seal();
      }
  }
  for (auto& [pair, r] : routes) {
    if (pair.first == pair.second) continue;
    std::vector<sg4::LinkInRoute> list;
    for (LinkId l : r.links()) list.emplace_back(p.links[l]);
    zone->add_route(p.hosts[size_t(pair.first)]->get_netpoint(), p.hosts[size_t(pair.second)]->get_netpoint(), nullptr,
                    nullptr, list, false);
  }
  zone->seal();
  return p;
}

}  // namespace

std::vector<double> simgrid_finish_times_ns(const Topology& topo, std::span<const TimedFlow> flows) {
  std::vector<TimedFlow> copy(flows.begin(), flows.end());
  return in_child(copy.size(), [&topo, copy]() {
    sg4::Engine engine = make_engine(nullptr);
    std::vector<FlowRequest> reqs;
    for (const TimedFlow& f : copy) reqs.push_back(f.req);
    Platform p = build_platform(topo, reqs);
    std::vector<double> finish(copy.size(), -1);
    // One sender actor per (source, start time): it starts its flows, then records each completion; one receiver
    // actor per destination posts a receive for each incoming flow.
    std::map<std::pair<int, TimeNs>, std::vector<size_t>> senders;
    std::map<int, size_t> incoming;
    for (size_t i = 0; i < copy.size(); ++i) {
      senders[{copy[i].req.src_gpu, copy[i].start}].push_back(i);
      incoming[copy[i].req.dst_gpu]++;
    }
    for (auto& [dst, n] : incoming) {
      sg4::Actor::create(fmt::format("recv{}", dst), p.hosts[size_t(dst)], [dst = dst, n = n] {
        auto* mb = sg4::Mailbox::by_name(fmt::format("to{}", dst));
        std::vector<sg4::CommPtr> comms;
        std::vector<int*> data(n, nullptr);
        for (size_t k = 0; k < n; ++k) comms.push_back(mb->get_async<int>(&data[k]));
        sg4::Comm::wait_all(comms);
      });
    }
    static int token = 0;
    for (auto& [key, idx] : senders) {
      sg4::Actor::create(fmt::format("send{}_{}", key.first, key.second), p.hosts[size_t(key.first)],
                         [&copy, &finish, idx = idx, start = key.second] {
                           if (start > 0) sg4::this_actor::sleep_until(double(start) * 1e-9);
                           std::vector<sg4::CommPtr> comms;
                           for (size_t i : idx)
                             comms.push_back(sg4::Mailbox::by_name(fmt::format("to{}", copy[i].req.dst_gpu))
                                                 ->put_async(&token, uint64_t(copy[i].req.bytes)));
                           std::vector<size_t> left = idx;
                           while (!comms.empty()) {
                             const ssize_t k = sg4::Comm::wait_any(comms);
                             finish[left[size_t(k)]] = sg4::Engine::get_clock() * 1e9;
                             comms.erase(comms.begin() + k);
                             left.erase(left.begin() + k);
                           }
                         });
    }
    engine.run();
    return finish;
  });
}

std::vector<double> simgrid_ptask_finish_ns(const Topology& topo, const std::vector<std::vector<FlowRequest>>& sets) {
  return in_child(sets.size(), [&topo, &sets]() {
    sg4::Engine engine = make_engine("ptask_L07");
    std::vector<FlowRequest> all;
    for (auto& s : sets) all.insert(all.end(), s.begin(), s.end());
    Platform p = build_platform(topo, all);
    std::vector<double> finish(sets.size(), -1);
    sg4::Actor::create("driver", p.hosts[size_t(all.front().src_gpu)], [&] {
      std::vector<sg4::ExecPtr> execs;
      for (const auto& set : sets) {
        // Hosts of the set, and the bytes matrix between them.
        std::map<int, size_t> index;
        std::vector<sg4::Host*> hosts;
        for (const FlowRequest& f : set)
          for (int g : {f.src_gpu, f.dst_gpu})
            if (index.emplace(g, hosts.size()).second) hosts.push_back(p.hosts[size_t(g)]);
        std::vector<double> flops(hosts.size(), 0), bytes(hosts.size() * hosts.size(), 0);
        for (const FlowRequest& f : set) bytes[index[f.src_gpu] * hosts.size() + index[f.dst_gpu]] += double(f.bytes);
        execs.push_back(sg4::Exec::init()->set_hosts(hosts)->set_flops_amounts(flops)->set_bytes_amounts(bytes)->start());
      }
      std::vector<size_t> left(sets.size());
      for (size_t i = 0; i < left.size(); ++i) left[i] = i;
      while (!execs.empty()) {
        const ssize_t k = sg4::Exec::wait_any(execs);
        finish[left[size_t(k)]] = sg4::Engine::get_clock() * 1e9;
        execs.erase(execs.begin() + k);
        left.erase(left.begin() + k);
      }
    });
    engine.run();
    return finish;
  });
}

}  // namespace cs
