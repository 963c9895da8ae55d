#include "zcluster/agent_sim/agent_simulator.h"

#include <sodium.h>

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/agent_auth.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/process.h"
#include "zcluster/schemas/agent_info_view.h"

namespace zcluster::nodes {
namespace {

struct SimAgent {
  ClientKey key;
  AgentMacPads pads;  // an agent signs every report with its one key: hashed once
  schemas::AgentState state;
  // The state as last sent, and where its keepalive time lies in those bytes: a report that
  // changes nothing but the time rewrites the time there instead of encoding the state again.
  std::string encoded;
  std::optional<schemas::KeepaliveSpan> keepalive;
  std::uint64_t counter = 0;
  std::uint64_t acked = 0;  // the newest counter acknowledged
  // The counter of the report that sent the current state whole (0: none since it changed or
  // the worker asked for it). Once acknowledged, a keepalive-only report stands for the state.
  std::uint64_t state_sent = 0;
  bool state_held() const { return state_sent != 0 && acked >= state_sent; }
  bool asked = false;  // the worker asked for the state whole: queued to report again at once
  std::map<std::uint64_t, schemas::AgentState> unacked;  // counter → state sent, for `truth`
};

// The bytes of the agent's state at `keepalive`, re-encoded only when more than the time
// changed since the last report (Churn clears `encoded`).
const std::string& EncodedState(SimAgent& agent, std::uint64_t keepalive) {
  agent.state.last_keepalive = keepalive;
  if (agent.encoded.empty() || !agent.keepalive ||
      !schemas::ReplaceKeepalive(agent.encoded, *agent.keepalive, keepalive)) {
    agent.encoded = schemas::EncodeAgentState(agent.state);
    agent.keepalive = schemas::FindKeepalive(agent.encoded);
  }
  return agent.encoded;
}

}  // namespace

schemas::AgentState SimulatedAgentState(const std::string& name, std::size_t n) {
  schemas::AgentState s;
  s.name = name;
  s.ip = fmt::format("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  s.os = {"Ubuntu", "22.04.4 LTS", "22", "04", "jammy", "ubuntu", "", "Linux 5.15.0", "x86_64"};
  s.version = "Wazuh v4.14.0";
  s.config_sum = "ab73af41699f13fdd81903b5f23d8d00";
  s.merged_sum = "4a8724b20dee0124ff9656783c490c4e";
  s.labels = {{"env", "prod"}, {"rack", std::to_string(n % 40)}};
  s.status = schemas::AgentStatus::kActive;
  return s;
}

namespace {

// Changes something a Wazuh agent might change between two reports.
// A churned report always differs from the last one (a random pick may land on the old value).
void Churn(schemas::AgentState& s) {
  const schemas::AgentState before = s;
  while (s == before) {
    switch (randombytes_uniform(3)) {
      case 0:
        s.labels["rack"] = std::to_string(randombytes_uniform(40));
        break;
      case 1:
        s.labels["build"] = std::to_string(randombytes_uniform(1000));
        break;
      default:
        s.merged_sum = fmt::format("{:032x}", randombytes_random());
        break;
    }
  }
}

}  // namespace

Result<AgentSimResult> RunAgentSimulation(const ClientKeys& keys, const AgentSimOptions& o) {
  std::vector<SimAgent> agents;
  std::uint64_t base = static_cast<std::uint64_t>(UnixNow() * 1e6) * 1000;  // grows across runs
  for (const ClientKey& k : keys.entries()) {
    if (k.removed) continue;
    if (o.count != 0 && agents.size() >= o.count) break;
    SimAgent& agent = agents.emplace_back();
    agent.key = k;
    agent.pads = HashMacPads(DeriveAgentMacKey(k.key));
    agent.state = SimulatedAgentState(k.name, agents.size() - 1);
    agent.counter = agent.acked = base;
  }
  if (agents.empty()) return Status::InvalidArgument("client.keys has no agent to simulate");
  std::size_t nconn = std::max<std::size_t>(1, std::min(o.connections, agents.size()));

  // Thousands of agents may mean many sockets: lift the descriptor limit as far as allowed.
  RaiseOpenFileLimit();
  zmq::context_t ctx(1);
  Result<bus::CurveKeyPair> own = bus::GenerateKeyPair();  // any key: reports carry the proof
  if (!own.ok()) return own.status();
  std::vector<bus::DealerSocket> sockets;
  for (std::size_t i = 0; i < nconn; ++i) {
    Result<bus::DealerSocket> d = bus::DealerSocket::ConnectCurve(
        ctx, *own, o.server_public_z85, o.endpoint, fmt::format("sim-{}", i), bus::SocketOptions{});
    if (!d.ok()) return d.status();
    sockets.push_back(std::move(d).value());
  }
  std::vector<std::size_t> outstanding(nconn, 0);
  // A relay keeps several messages in flight on each connection.
  const std::size_t window = std::max(o.window, 4 * o.relay);
  // As a relay: the message being filled for each connection, and when its first report came.
  std::vector<schemas::AgentReports> batches(o.relay > 1 ? nconn : 0);
  std::vector<SteadyClock::time_point> batch_since(batches.size());
  std::vector<std::size_t> batch_bytes(batches.size(), 0);
  // Full at `relay` reports, or before the next could take the message past the worker's 64 KiB
  // frame limit (the largest honest report is under 40 KiB; a simulated one a few hundred bytes).
  auto batch_full = [&](std::size_t c) {
    return batches[c].reports.size() >= std::min(o.relay, schemas::kMaxRelayedReports) ||
           batch_bytes[c] >= (56 << 10);
  };
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < agents.size(); ++i) index[agents[i].key.id] = i;

  AgentSimResult result;
  auto start = SteadyClock::now();
  auto end_at = start + std::chrono::duration_cast<SteadyClock::duration>(
                            std::chrono::duration<double>(o.duration));
  std::size_t next = 0;  // next agent to report
  // Whether a report churns: drawn for every report, so from a generator seeded once rather
  // than the system's random source each time.
  std::mt19937_64 rng(randombytes_random() | (std::uint64_t{randombytes_random()} << 32));
  std::bernoulli_distribution churns(std::clamp(o.churn, 0.0, 1.0));
  bool first_round_done = false;
  auto acknowledged = [&](const schemas::AgentReportAck& ack) {
    auto a = index.find(ack.id);
    if (a == index.end()) return;
    SimAgent& agent = agents[a->second];
    // Acks come in order per agent: one for a report not sent, or already passed, is no ack.
    if (ack.counter <= agent.acked || ack.counter > agent.counter) return;
    if (o.keep_truth) {
      auto u = agent.unacked.find(ack.counter);
      if (u == agent.unacked.end()) return;
      // This state is now the newest acknowledged one.
      result.truth[ack.id] = u->second;
      agent.unacked.erase(agent.unacked.begin(), std::next(u));
    }
    agent.acked = ack.counter;
    ++result.acked;
  };
  // The worker holds no checked state of the agent (it restarted, client.keys changed, or the
  // agent fell silent): the agent sends its state whole, at once.
  std::deque<std::size_t> asked;
  auto state_asked = [&](const std::string& id) {
    ++result.asked;
    auto a = index.find(id);
    if (a == index.end()) return;
    SimAgent& agent = agents[a->second];
    agent.state_sent = 0;
    if (!std::exchange(agent.asked, true)) asked.push_back(a->second);
  };
  auto receive = [&](std::size_t c) {
    for (;;) {
      Result<std::optional<bus::Frames>> f = sockets[c].Receive();
      if (!f.ok() || !f->has_value()) return;
      Result<schemas::Message> m = schemas::Decode(**f);
      if (const auto* ack = m.ok() ? std::get_if<schemas::AgentReportAck>(&*m) : nullptr) {
        --outstanding[c];
        acknowledged(*ack);
      } else if (const auto* all = m.ok() ? std::get_if<schemas::AgentReportsAck>(&*m) : nullptr) {
        outstanding[c] -= std::min(outstanding[c], all->acks.size() + all->refused.size());
        for (const schemas::AgentReportAck& a : all->acks) acknowledged(a);
        for (const schemas::RefusedReport& r : all->refused) {
          if (r.code == Code::kFailedPrecondition) {
            state_asked(r.id);
          } else {
            ++result.errors;
          }
        }
      } else {
        // An error answers one agent_report; as a relay, a whole agent_reports the worker could
        // not read, whose reports are then counted lost at the end.
        if (o.relay <= 1) --outstanding[c];
        ++result.errors;
      }
    }
  };
  // A relay sends a full message at once, and a partial one once its oldest report waited 10 ms
  // or the reporting is over (`all`); a message not taken (not connected yet) is tried again.
  auto flush = [&](SteadyClock::time_point now, bool all) {
    bool flushed = false;
    for (std::size_t c = 0; c < batches.size(); ++c) {
      if (batches[c].reports.empty()) continue;
      bool due = all || batch_full(c) || now - batch_since[c] >= std::chrono::milliseconds(10);
      if (due && sockets[c].Send(schemas::Encode(batches[c])).ok()) {
        batches[c].reports.clear();
        batch_bytes[c] = 0;
        flushed = true;
      }
    }
    return flushed;
  };
  // Progress is a report sent or acknowledged. Without any for `drain`, the run ends whatever
  // is left: a worker that never accepts the connection, or one killed with reports in flight
  // (their acks will never come), must not keep the simulator running for ever.
  auto last_progress = start;
  for (;;) {
    auto now = SteadyClock::now();
    bool sending = !first_round_done || (now < end_at && !(o.stop && o.stop->load()));
    if (!sending && result.acked + result.asked == result.sent) break;
    if (now - last_progress > o.drain) {
      if (result.sent == 0) {
        return Status::Unavailable(
            fmt::format("no connection to {} within {} ms", o.endpoint, o.drain.count()));
      }
      result.lost = result.sent - result.acked;
      break;
    }
    std::vector<bus::PollItem> items;
    for (auto& s : sockets) items.push_back({&s.socket(), -1, false});
    std::uint64_t before = result.acked;
    ZC_RETURN_IF_ERROR(bus::Poll(items, std::chrono::milliseconds(sending ? 0 : 50)));
    for (std::size_t c = 0; c < nconn; ++c) {
      if (items[c].readable) receive(c);
    }
    if (result.acked != before) last_progress = SteadyClock::now();
    std::uint64_t sent_before = result.sent;
    if (!sending) {
      flush(now, true);
      continue;
    }
    // Paced: reports allowed so far at `rate`; unpaced: as many as the windows allow.
    double elapsed = std::chrono::duration<double>(now - start).count();
    std::uint64_t allowed =
        o.rate > 0 ? static_cast<std::uint64_t>(elapsed * o.rate) + 1 : UINT64_MAX;
    std::size_t sent_now = 0;
    while (result.sent < allowed && sent_now < 4096) {
      const bool again = !asked.empty();
      const std::size_t i = again ? asked.front() : next;
      SimAgent& agent = agents[i];
      std::size_t c = i % nconn;
      if (outstanding[c] >= window) break;
      if (o.relay > 1 && batch_full(c)) break;
      if (again) {
        asked.pop_front();
        agent.asked = false;
      } else if ((o.churn_first_round || result.sent >= agents.size()) && churns(rng)) {
        Churn(agent.state);
        agent.encoded.clear();
        agent.state_sent = 0;
      }
      const auto keepalive = static_cast<std::uint64_t>(UnixNow());
      ++agent.counter;
      schemas::AgentReport r;
      r.id = agent.key.id;
      r.counter = agent.counter;
      if (agent.state_held() && o.relay > 1) {
        agent.state.last_keepalive = keepalive;
        r.last_keepalive = keepalive;
        r.mac = SignKeepalive(agent.pads, r.id, r.counter, keepalive);
        ++result.keepalive_only;
      } else {
        r.state = EncodedState(agent, keepalive);
        r.mac = SignState(agent.pads, r.id, r.counter, r.state);
        if (agent.state_sent == 0) agent.state_sent = agent.counter;
      }
      if (o.relay <= 1) {
        if (!sockets[c].Send(schemas::Encode(r)).ok()) break;  // not connected yet
      } else {
        if (batches[c].reports.empty()) batch_since[c] = now;
        batch_bytes[c] += r.id.size() + r.state.size() + r.mac.size() + 32;  // and map keys
        batches[c].reports.push_back(std::move(r));
      }
      if (o.keep_truth) agent.unacked.emplace(agent.counter, agent.state);
      ++outstanding[c];
      ++result.sent;
      ++sent_now;
      if (!again && ++next == agents.size()) {
        next = 0;
        first_round_done = true;
        if (o.duration <= 0) break;
      }
    }
    bool flushed = flush(now, false);
    if (result.sent != sent_before) last_progress = SteadyClock::now();
    if (sent_now == 0 && !flushed) {
      // Every window is full or the pace says wait: sleep on the sockets, not on a timer.
      std::vector<bus::PollItem> wait;
      for (auto& s : sockets) wait.push_back({&s.socket(), -1, false});
      ZC_RETURN_IF_ERROR(bus::Poll(wait, std::chrono::milliseconds(5)));
    }
  }
  if (result.acked == 0) return Status::Unavailable("the worker acknowledged no report");
  return result;
}

}  // namespace zcluster::nodes
