// The worker's agent port with a real CURVE ROUTER on loopback in this process: reports signed
// with the agent's key are saved and acknowledged with its groups; every kind of refusal is
// answered with an error, counted by its reason, and saves nothing.
#include "agent_info/agent_port.h"

#include <catch2/catch.hpp>

#include <fstream>

#include "support/temp_dir.h"
#include "support/wait.h"
#include "zcluster/bus/socket_events.h"
#include "zcluster/nodes/agent_auth.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace std::chrono_literals;
using zcluster::testing::WaitFor;

namespace {

struct Port {
  testing::TempDir dir;
  ClusterLog log{false};
  zmq::context_t ctx{1};
  std::unique_ptr<bus::ZapAuthenticator> zap;
  bus::CurveKeyPair keys = *bus::GenerateKeyPair();
  std::unique_ptr<store::NodeStore> store;
  std::unique_ptr<WorkerAgents> agents;
  std::unique_ptr<AgentPort> port;
  ClientKeys registry;
  std::optional<bus::DealerSocket> agent;

  Port() {
    REQUIRE(registry.Add("web", "any").ok());
    REQUIRE(registry.Add("db", "10.0.0.5").ok());
    REQUIRE(registry.Save(dir / "client.keys").ok());
    bus::AllowList open;
    REQUIRE(open.OpenDomain(bus::ZapAuthenticator::kAgentDomain, "agent").ok());
    zap = std::move(bus::ZapAuthenticator::Start(ctx, std::move(open), nullptr)).value();
    store = std::move(store::NodeStore::Open(dir / "db", {"c", "w1", "worker"})).value();
    WorkerAgentsParams params;
    params.node = "w1";
    agents = std::move(WorkerAgents::Load(*store, params)).value();
    port = std::move(AgentPort::Bind(
                         ctx, *zap, keys, "tcp://127.0.0.1:*", dir / "client.keys", *agents,
                         Logger(log, "Worker w1"),
                         [](const std::string&) { return std::vector<std::string>{"default"}; }))
               .value();
    agent.emplace(std::move(bus::DealerSocket::ConnectCurve(ctx, *bus::GenerateKeyPair(),
                                                            keys.public_z85, port->endpoint(),
                                                            "agent-conn", bus::SocketOptions{}))
                      .value());
  }
  ~Port() {
    agent.reset();
    port.reset();
    zap.reset();
  }
  // Sends `frames` as the agent, serves the port until the reply comes back.
  schemas::Message Exchange(const schemas::Frames& frames) {
    REQUIRE(WaitFor([&] { return agent->Send(frames).ok(); }, 10s));
    std::optional<schemas::Frames> reply;
    REQUIRE(WaitFor(
        [&] {
          REQUIRE(port->ServePending().ok());
          auto r = agent->Receive();
          return r.ok() && (reply = *r).has_value();
        },
        10s));
    Result<schemas::Message> m = schemas::Decode(*reply);
    REQUIRE(m.ok());
    return *m;
  }
  ClientKey web() const { return registry.entries().front(); }
};

schemas::AgentState State() {
  schemas::AgentState s;
  s.name = "web";
  s.version = "Wazuh v4.14.0";
  s.last_keepalive = 100;
  return s;
}

}  // namespace

TEST_CASE("a signed report is saved and acknowledged with the agent's groups",
          "[nodes][agents][port]") {
  Port p;
  schemas::AgentReport r = SignReport(p.web().id, 1, State(), DeriveAgentMacKey(p.web().key));
  schemas::Message reply = p.Exchange(schemas::Encode(r));
  const auto* ack = std::get_if<schemas::AgentReportAck>(&reply);
  REQUIRE(ack != nullptr);
  CHECK(ack->id == p.web().id);
  CHECK(ack->counter == 1);
  CHECK(ack->groups == std::vector<std::string>{"default"});
  CHECK(p.port->counters().accepted == 1);
  CHECK(p.agents->pending() == 1);  // durable, waiting for the master
}

TEST_CASE("each refusal is answered, counted by its reason and saves nothing",
          "[nodes][agents][port]") {
  Port p;
  AgentMacKey key = DeriveAgentMacKey(p.web().key);
  REQUIRE(std::holds_alternative<schemas::AgentReportAck>(
      p.Exchange(schemas::Encode(SignReport(p.web().id, 5, State(), key)))));
  std::uint64_t expected_accepted = 1;
  auto refused = [&](const schemas::Frames& frames) {
    schemas::Message m = p.Exchange(frames);
    const auto* e = std::get_if<schemas::ErrorReply>(&m);
    REQUIRE(e != nullptr);
    return e->message;
  };
  SECTION("replayed") {
    CHECK(refused(schemas::Encode(SignReport(p.web().id, 5, State(), key))).find("replayed") !=
          std::string::npos);
    CHECK(p.port->counters().replayed == 1);
  }
  SECTION("bad MAC") {
    schemas::AgentReport r = SignReport(p.web().id, 6, State(), DeriveAgentMacKey("other"));
    CHECK(refused(schemas::Encode(r)).find("bad MAC") == 0);
    CHECK(p.port->counters().bad_mac == 1);
  }
  SECTION("unknown agent") {
    CHECK(refused(schemas::Encode(SignReport("999", 1, State(), key))) == "unknown agent id 999");
    CHECK(p.port->counters().unknown == 1);
  }
  SECTION("another agent's name, or another IP than the one registered") {
    schemas::AgentState other = State();
    other.name = "db";
    CHECK(refused(schemas::Encode(SignReport(p.web().id, 6, other, key))) ==
          "agent 001 is registered as 'web', not 'db'");
    const ClientKey& db = p.registry.entries()[1];
    AgentMacKey db_key = DeriveAgentMacKey(db.key);
    schemas::AgentState moved = State();
    moved.name = "db";
    moved.ip = "10.9.9.9";
    CHECK(refused(schemas::Encode(SignReport(db.id, 1, moved, db_key))) ==
          "agent 002 is registered at 10.0.0.5, not 10.9.9.9");
    CHECK(p.port->counters().mismatched == 2);
    moved.ip = "10.0.0.5";
    CHECK(std::holds_alternative<schemas::AgentReportAck>(
        p.Exchange(schemas::Encode(SignReport(db.id, 2, moved, db_key)))));
    CHECK(p.agents->pending() == 2);
    ++expected_accepted;
  }
  SECTION("malformed") {
    refused({"\xc1", "\xc1"});
    CHECK(p.port->counters().malformed == 1);
    // Unreadable: in_reply_to is "", as SCHEMAS.md says; another type is named.
    schemas::Message m = p.Exchange({"\xc1", "\xc1"});
    CHECK(std::get<schemas::ErrorReply>(m).in_reply_to.empty());
    m = p.Exchange(schemas::Encode(schemas::Keepalive{1}));
    CHECK(std::get<schemas::ErrorReply>(m).in_reply_to == "keepalive");
    CHECK(std::get<schemas::ErrorReply>(
              p.Exchange(schemas::Encode(SignReport("999", 1, State(), key))))
              .in_reply_to == "agent_report");
    CHECK(p.port->counters().malformed == 3);
  }
  CHECK(p.port->counters().accepted == expected_accepted);
}

TEST_CASE("the largest honest report passes and a larger frame closes the connection unread",
          "[nodes][agents][port]") {
  Port p;
  AgentMacKey key = DeriveAgentMacKey(p.web().key);
  schemas::AgentState big = State();
  for (std::size_t i = 0; i < schemas::kMaxLabels; ++i) {
    big.labels[std::string(schemas::kMaxFieldLength - 2, 'k') + fmt::format("{:02}", i)] =
        std::string(schemas::kMaxFieldLength, 'v');
  }
  for (std::string* f : {&big.os.name, &big.os.version, &big.os.major, &big.os.minor,
                         &big.os.codename, &big.os.platform, &big.os.build, &big.os.uname,
                         &big.os.arch, &big.version, &big.config_sum, &big.merged_sum}) {
    *f = std::string(schemas::kMaxFieldLength, 'x');
  }
  schemas::Frames honest = schemas::Encode(SignReport(p.web().id, 1, big, key));
  REQUIRE(honest[1].size() < static_cast<std::size_t>(AgentPort::kMaxFrameBytes));
  REQUIRE(std::holds_alternative<schemas::AgentReportAck>(p.Exchange(honest)));

  std::optional<bus::SocketEvents> events;
  Result<bus::SocketEvents> watched = bus::SocketEvents::Watch(p.ctx, p.agent->socket());
  REQUIRE(watched.ok());
  events.emplace(std::move(watched).value());
  REQUIRE(p.agent->Send({"agent_report", std::string(AgentPort::kMaxFrameBytes + 1, '\xc0')}).ok());
  bool closed = false, back = false;
  WaitFor(
      [&] {
        REQUIRE(p.port->ServePending().ok());
        for (const bus::SocketEvent& e : events->Drain()) {
          closed = closed || e.kind == bus::SocketEventKind::kDisconnected;
          back = back || (closed && e.kind == bus::SocketEventKind::kHandshakeSucceeded);
        }
        return back;
      },
      10s);
  CHECK(closed);
  CHECK(back);                               // the agent reconnects by itself
  CHECK(p.port->counters().malformed == 0);  // never read, so never decoded
  events.reset();
  // A report sent in the moment the old connection was torn down may be lost with it, as on any
  // network: the agent sends again, with a new counter, until it hears an ack.
  bool acked = false;
  for (std::uint64_t counter = 2; counter < 12 && !acked; ++counter) {
    schemas::Frames report = schemas::Encode(SignReport(p.web().id, counter, State(), key));
    REQUIRE(WaitFor([&] { return p.agent->Send(report).ok(); }, 5s));
    WaitFor(
        [&] {
          REQUIRE(p.port->ServePending().ok());
          Result<std::optional<schemas::Frames>> r = p.agent->Receive();
          if (!r.ok() || !r->has_value()) return false;
          Result<schemas::Message> m = schemas::Decode(**r);
          acked = m.ok() && std::holds_alternative<schemas::AgentReportAck>(*m);
          return true;
        },
        1s);
  }
  CHECK(acked);
  CHECK(p.port->counters().accepted >= 2);
}

TEST_CASE("an agent that floods the port is refused past its rate and counted",
          "[nodes][agents][port]") {
  Port p;
  p.port->SetRateLimit(3);
  AgentMacKey key = DeriveAgentMacKey(p.web().key);
  // Seven reports within a second or two: whichever second they fall in, at most six fit.
  std::size_t refused = 0;
  for (std::uint64_t counter = 1; counter <= 7; ++counter) {
    schemas::Message m = p.Exchange(schemas::Encode(SignReport(p.web().id, counter, State(), key)));
    if (const auto* e = std::get_if<schemas::ErrorReply>(&m)) {
      CHECK(e->code == Code::kUnavailable);
      CHECK(e->message.find("more than 3 reports in a second") != std::string::npos);
      ++refused;
    }
  }
  CHECK(refused >= 1);
  CHECK(p.port->counters().rate_limited == refused);
  CHECK(p.port->counters().accepted == 7 - refused);
}

TEST_CASE("a relay's reports are checked one by one then saved and answered together",
          "[nodes][agents][port]") {
  Port p;
  AgentMacKey web_key = DeriveAgentMacKey(p.web().key);
  const ClientKey& db = p.registry.entries()[1];
  schemas::AgentState db_state = State();
  db_state.name = "db";
  db_state.ip = "10.0.0.5";
  schemas::AgentReports relayed;
  relayed.reports = {
      SignReport(p.web().id, 1, State(), web_key),
      SignReport(db.id, 1, db_state, DeriveAgentMacKey(db.key)),
      SignReport(p.web().id, 1, State(), web_key),                    // the same counter again
      SignReport(db.id, 2, db_state, DeriveAgentMacKey("not db's")),  // forged
      SignReport(p.web().id, 2, State(), web_key),
  };
  schemas::Message reply = p.Exchange(schemas::Encode(relayed));
  const auto* answer = std::get_if<schemas::AgentReportsAck>(&reply);
  REQUIRE(answer != nullptr);
  REQUIRE(answer->acks.size() == 3);
  CHECK(answer->acks[0] == schemas::AgentReportAck{p.web().id, 1, {"default"}});
  CHECK(answer->acks[1] == schemas::AgentReportAck{db.id, 1, {"default"}});
  CHECK(answer->acks[2] == schemas::AgentReportAck{p.web().id, 2, {"default"}});
  REQUIRE(answer->refused.size() == 2);
  CHECK(answer->refused[0].id == p.web().id);
  CHECK(answer->refused[0].counter == 1);
  CHECK(answer->refused[0].message.find("replayed") != std::string::npos);
  CHECK(answer->refused[1].id == db.id);
  CHECK(answer->refused[1].code == Code::kPermissionDenied);
  CHECK(answer->refused[1].message == "bad MAC from agent " + db.id);
  CHECK(p.port->counters().accepted == 3);
  CHECK(p.port->counters().replayed == 1);
  CHECK(p.port->counters().bad_mac == 1);
  CHECK(p.agents->pending() == 2);  // both agents, durable, waiting for the master
  CHECK(p.agents->Find(p.web().id).has_value());

  // More reports than one message may hold: refused whole, as malformed, and nothing is saved.
  schemas::AgentReports over;
  for (std::uint64_t c = 3; c < 3 + schemas::kMaxRelayedReports + 1; ++c) {
    over.reports.push_back(SignReport(p.web().id, c, State(), web_key));
  }
  reply = p.Exchange(schemas::Encode(over));
  const auto* error = std::get_if<schemas::ErrorReply>(&reply);
  REQUIRE(error != nullptr);
  CHECK(error->message == "agent_reports.reports has too many items");
  CHECK(p.port->counters().malformed == 1);
  CHECK(p.port->counters().accepted == 3);
}

TEST_CASE("a report that repeats its agent's state but for the keepalive time keeps that state",
          "[nodes][agents][port]") {
  Port p;
  AgentMacKey key = DeriveAgentMacKey(p.web().key);
  schemas::AgentState first = State();
  first.labels = {{"env", "prod"}};
  auto acked = [&](const schemas::AgentState& s, std::uint64_t counter) {
    return std::holds_alternative<schemas::AgentReportAck>(
        p.Exchange(schemas::Encode(SignReport(p.web().id, counter, s, key))));
  };
  REQUIRE(acked(first, 1));
  schemas::AgentState later = first;
  later.last_keepalive = 200;
  REQUIRE(acked(later, 2));
  CHECK(p.agents->Find(p.web().id) == later);

  // One burst: a change, then back to the state before it. The last report is the state.
  schemas::AgentState changed = first;
  changed.labels["env"] = "test";
  changed.last_keepalive = 300;
  schemas::AgentState back = first;
  back.last_keepalive = 301;
  schemas::AgentReports relayed{
      {SignReport(p.web().id, 3, changed, key), SignReport(p.web().id, 4, back, key)}};
  schemas::Message reply = p.Exchange(schemas::Encode(relayed));
  REQUIRE(std::get<schemas::AgentReportsAck>(reply).acks.size() == 2);
  CHECK(p.agents->Find(p.web().id) == back);
  back.last_keepalive = 302;
  REQUIRE(acked(back, 5));
  CHECK(p.agents->Find(p.web().id) == back);

  // The worker marks the silent agent disconnected; the same state reported again is active.
  REQUIRE(p.agents->MarkSilent(SteadyClock::now() + std::chrono::hours(1)).ok());
  REQUIRE(p.agents->Find(p.web().id)->status == schemas::AgentStatus::kDisconnected);
  back.last_keepalive = 303;
  REQUIRE(acked(back, 6));
  CHECK(p.agents->Find(p.web().id) == back);
  CHECK(p.port->counters().accepted == 6);
}

TEST_CASE("an agent renamed in client.keys during a burst has its next report checked in full",
          "[nodes][agents][port]") {
  Port p;
  AgentMacKey key = DeriveAgentMacKey(p.web().key);
  REQUIRE(std::holds_alternative<schemas::AgentReportAck>(
      p.Exchange(schemas::Encode(SignReport(p.web().id, 1, State(), key)))));
  // Agent 001 is registered again as "web2" with the same key, beside a new agent 003.
  ClientKeys added;
  REQUIRE(added.Add("spare", "any").ok());
  REQUIRE(added.Add("spare2", "any").ok());
  REQUIRE(added.Add("late", "any").ok());
  const ClientKey late = added.entries()[2];
  {
    std::ofstream out(p.dir / "client.keys", std::ios::trunc);
    out << p.web().id << " web2 any " << p.web().key << "\n";
    const ClientKey& db = p.registry.entries()[1];
    out << db.id << " " << db.name << " " << db.ip << " " << db.key << "\n";
    out << late.id << " late any " << late.key << "\n";
  }
  // One burst: web's change, admitted under the old registry, then the new agent's first
  // report, whose unknown id has client.keys read again.
  schemas::AgentState changed = State();
  changed.labels = {{"env", "prod"}};
  schemas::AgentState late_state = State();
  late_state.name = "late";
  schemas::AgentReports relayed{{SignReport(p.web().id, 2, changed, key),
                                 SignReport(late.id, 1, late_state, DeriveAgentMacKey(late.key))}};
  schemas::Message reply = p.Exchange(schemas::Encode(relayed));
  REQUIRE(std::get<schemas::AgentReportsAck>(reply).acks.size() == 2);
  // The same state again: checked against the new registry, not taken on its digest.
  changed.last_keepalive += 1;
  reply = p.Exchange(schemas::Encode(SignReport(p.web().id, 3, changed, key)));
  const auto* error = std::get_if<schemas::ErrorReply>(&reply);
  REQUIRE(error != nullptr);
  CHECK(error->message == "agent 001 is registered as 'web2', not 'web'");
  CHECK(p.port->counters().mismatched == 1);
}

namespace {

schemas::AgentReport KeepaliveOnly(const ClientKey& agent, std::uint64_t counter,
                                   std::uint64_t time) {
  schemas::AgentReport r;
  r.id = agent.id;
  r.counter = counter;
  r.last_keepalive = time;
  r.mac = SignKeepalive(HashMacPads(DeriveAgentMacKey(agent.key)), agent.id, counter, time);
  return r;
}

}  // namespace

TEST_CASE("a keepalive-only report stands for the agent's checked state, and only for it",
          "[nodes][agents][port]") {
  Port p;
  AgentMacKey key = DeriveAgentMacKey(p.web().key);
  auto code_of = [](const schemas::Message& reply) {
    const auto* error = std::get_if<schemas::ErrorReply>(&reply);
    return error == nullptr ? Code::kOk : error->code;
  };
  // No state of the agent yet: asked for it whole, not counted as a refusal, nothing saved.
  schemas::Message reply = p.Exchange(schemas::Encode(KeepaliveOnly(p.web(), 1, 150)));
  CHECK(code_of(reply) == Code::kFailedPrecondition);
  CHECK(p.port->counters().state_asked == 1);
  CHECK(p.port->counters().accepted == 0);
  CHECK_FALSE(p.agents->Find(p.web().id).has_value());

  schemas::AgentState state = State();
  state.labels = {{"env", "prod"}};
  REQUIRE(std::holds_alternative<schemas::AgentReportAck>(
      p.Exchange(schemas::Encode(SignReport(p.web().id, 2, state, key)))));
  reply = p.Exchange(schemas::Encode(KeepaliveOnly(p.web(), 3, 250)));
  REQUIRE(std::holds_alternative<schemas::AgentReportAck>(reply));
  state.last_keepalive = 250;
  CHECK(p.agents->Find(p.web().id) == state);

  // Signed with another key, or carrying a full report's MAC, or replayed: refused as such.
  schemas::AgentReport forged = KeepaliveOnly(p.web(), 4, 260);
  forged.mac = SignKeepalive(HashMacPads(DeriveAgentMacKey("not web's")), p.web().id, 4, 260);
  CHECK(code_of(p.Exchange(schemas::Encode(forged))) == Code::kPermissionDenied);
  schemas::AgentReport borrowed = KeepaliveOnly(p.web(), 4, 260);
  borrowed.mac = SignReport(p.web().id, 4, state, key).mac;
  CHECK(code_of(p.Exchange(schemas::Encode(borrowed))) == Code::kPermissionDenied);
  CHECK(p.port->counters().bad_mac == 2);
  CHECK(code_of(p.Exchange(schemas::Encode(KeepaliveOnly(p.web(), 3, 270)))) ==
        Code::kPermissionDenied);
  CHECK(p.port->counters().replayed == 1);
  CHECK(p.agents->Find(p.web().id)->last_keepalive == 250);

  // Fallen silent, the agent is disconnected: a keepalive alone does not make it active again.
  REQUIRE(p.agents->MarkSilent(SteadyClock::now() + std::chrono::hours(1)).ok());
  CHECK(code_of(p.Exchange(schemas::Encode(KeepaliveOnly(p.web(), 5, 280)))) ==
        Code::kFailedPrecondition);
  CHECK(p.agents->Find(p.web().id)->status == schemas::AgentStatus::kDisconnected);
  state.last_keepalive = 290;
  REQUIRE(std::holds_alternative<schemas::AgentReportAck>(
      p.Exchange(schemas::Encode(SignReport(p.web().id, 6, state, key)))));
  CHECK(p.agents->Find(p.web().id) == state);

  // client.keys changed: the held state was checked against the old one, so it is asked again,
  // in a relay's answer as a refused entry.
  {
    std::ofstream out(p.dir / "client.keys", std::ios::app);
    out << "099 late any " << std::string(64, 'a') << "\n";
  }
  REQUIRE(p.port->ReloadKeysIfChanged().value());
  reply = p.Exchange(schemas::Encode(schemas::AgentReports{{KeepaliveOnly(p.web(), 7, 300)}}));
  const auto& answer = std::get<schemas::AgentReportsAck>(reply);
  CHECK(answer.acks.empty());
  REQUIRE(answer.refused.size() == 1);
  CHECK(answer.refused[0].code == Code::kFailedPrecondition);
  CHECK(p.port->counters().state_asked == 3);
  CHECK(p.port->counters().accepted == 3);
}
