#include "agent_probe.h"

#include <fmt/format.h>

#include <thread>

#include "cluster_setup.h"
#include "zcluster/agent_sim/agent_simulator.h"
#include "zcluster/nodes/clock.h"

namespace zcluster::bench {

Result<std::unique_ptr<AgentProbe>> AgentProbe::Open(Deployment& d,
                                                     const std::vector<std::string>& workers,
                                                     const std::vector<nodes::ClientKey>& agents) {
  std::unique_ptr<AgentProbe> p(new AgentProbe(d));
  Result<bus::CurveKeyPair> own = bus::GenerateKeyPair();
  if (!own.ok()) return own.status();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Result<bus::DealerSocket> s =
        bus::DealerSocket::ConnectCurve(p->ctx_, *own, d.KeysOf(workers[i]).public_z85,
                                        fmt::format("tcp://127.0.0.1:{}", d.AgentPort(workers[i])),
                                        fmt::format("probe-{}", i), bus::SocketOptions{});
    if (!s.ok()) return s.status();
    p->sockets_.push_back(std::move(s).value());
    // Counters above anything a previous run of the same agent may have left.
    auto base = static_cast<std::uint64_t>(nodes::UnixNow() * 1e6);
    p->agents_.push_back({agents[i], nodes::DeriveAgentMacKey(agents[i].key), base});
  }
  return p;
}

Result<double> AgentProbe::Sample(std::size_t i, std::chrono::milliseconds bound,
                                  std::chrono::microseconds pause) {
  ProbeAgent& a = agents_[i];
  schemas::AgentState state = nodes::SimulatedAgentState(a.key.name, i);
  std::string mark = std::to_string(++a.counter);
  state.labels["probe"] = mark;
  state.last_keepalive = static_cast<std::uint64_t>(nodes::UnixNow());
  schemas::Frames report = schemas::Encode(nodes::SignReport(a.key.id, a.counter, state, a.mac));
  auto deadline = Clock::now() + bound;
  while (!sockets_[i].Send(report).ok()) {  // not connected yet
    if (Clock::now() > deadline) return Status::Unavailable("the probe cannot reach its worker");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto sent = Clock::now();
  for (;;) {
    // Drop the worker's acks as they come: only the master's table counts.
    while (true) {
      Result<std::optional<bus::Frames>> ack = sockets_[i].Receive();
      if (!ack.ok() || !ack->has_value()) break;
    }
    Result<schemas::Message> m = d_.Ask("master", schemas::AgentsQuery{{a.key.id}});
    if (m.ok() && std::holds_alternative<schemas::AgentList>(*m)) {
      const auto& list = std::get<schemas::AgentList>(*m).agents;
      if (!list.empty()) {
        auto label = list.front().state.labels.find("probe");
        if (label != list.front().state.labels.end() && label->second == mark) {
          return Millis(Clock::now() - sent);
        }
      }
    }
    if (Clock::now() > deadline) {
      return Status::Unavailable(
          fmt::format("agent {} did not reach the master within {} ms", a.key.id, bound.count()));
    }
    // The probe's pace, not a wait for the condition (that is the loop around it).
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
}

}  // namespace zcluster::bench
