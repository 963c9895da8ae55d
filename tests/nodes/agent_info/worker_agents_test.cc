#include "agent_info/worker_agents.h"

#include <algorithm>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace std::chrono_literals;

namespace {

schemas::AgentState State(const std::string& name, std::uint64_t keepalive = 100) {
  schemas::AgentState s;
  s.name = name;
  s.ip = "10.0.0.1";
  s.version = "Wazuh v4.14.0";
  s.last_keepalive = keepalive;
  return s;
}

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<store::NodeStore> store;
  std::unique_ptr<WorkerAgents> agents;
  WorkerAgentsParams params;
  SteadyClock::time_point t0 = SteadyClock::now();
  std::uint64_t counter = 0;

  Fixture() {
    params.node = "w1";
    params.max_batch_updates = 2;
    params.max_in_flight = 2;
    params.ack_timeout = 10s;
    params.disconnection_time = 60s;
    Open();
  }
  void Open() {
    agents.reset();
    store.reset();
    store = std::move(store::NodeStore::Open(dir / "db", {"c", "w1", "worker"})).value();
    agents = std::move(WorkerAgents::Load(*store, params)).value();
  }
  void Report(const std::string& id, const schemas::AgentState& s) {
    REQUIRE(agents->Apply({{id, ++counter, s}}, t0).ok());
  }
  schemas::AgentInfoBatch Next() {
    auto b = agents->NextBatch(t0);
    REQUIRE(b.has_value());
    return *b;
  }
  void Ack(const schemas::AgentInfoBatch& b, std::vector<std::string> unknown = {}) {
    REQUIRE(agents->OnAck({b.batch, std::move(unknown), {}}).ok());
  }
};

std::vector<std::string> Ids(const schemas::AgentInfoBatch& b) {
  std::vector<std::string> ids;
  for (const auto& u : b.updates) ids.push_back(u.id);
  return ids;
}

}  // namespace

TEST_CASE("changes go out in bounded batches within a bounded window", "[nodes][agents]") {
  Fixture f;
  for (std::string id : {"001", "002", "003", "004", "005"}) f.Report(id, State("a" + id));
  CHECK(f.agents->pending() == 5);
  schemas::AgentInfoBatch b1 = f.Next();
  schemas::AgentInfoBatch b2 = f.Next();
  CHECK(Ids(b1) == std::vector<std::string>{"001", "002"});
  CHECK(Ids(b2) == std::vector<std::string>{"003", "004"});
  CHECK(b1.updates[0].full);
  CHECK(b2.pending == 1);
  // Two batches in flight: the window is full.
  CHECK_FALSE(f.agents->NextBatch(f.t0).has_value());
  f.Ack(b1);
  CHECK(Ids(f.Next()) == std::vector<std::string>{"005"});
  CHECK(f.agents->pending() == 3);
}

TEST_CASE("only acknowledged changes are cleared, also across a restart", "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web"));
  f.Report("002", State("db"));
  schemas::AgentInfoBatch b = f.Next();
  f.Open();  // restart before the ack: the ack never comes
  CHECK(f.agents->pending() == 2);
  schemas::AgentInfoBatch again = f.Next();
  CHECK(Ids(again) == Ids(b));
  CHECK(again.updates[0].full);
  f.Ack(again);
  CHECK(f.agents->pending() == 0);
  // Acknowledged changes are not sent again; a restart only repeats each agent's keepalive
  // (keepalives are not marked in the store, and the master ignores one it has applied).
  f.Open();
  schemas::AgentInfoBatch keepalives = f.Next();
  CHECK(Ids(keepalives) == Ids(b));
  for (const auto& u : keepalives.updates) CHECK_FALSE(u.full);
  f.Ack(keepalives);
  CHECK(f.agents->pending() == 0);
  CHECK_FALSE(f.agents->NextBatch(f.t0).has_value());
  REQUIRE(f.agents->Find("001").has_value());
  CHECK(f.agents->Find("001")->name == "web");
}

TEST_CASE("a keepalive-only change travels as a cheap update", "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web", 100));
  f.Ack(f.Next());
  f.Report("001", State("web", 160));
  schemas::AgentInfoBatch b = f.Next();
  REQUIRE(b.updates.size() == 1);
  CHECK_FALSE(b.updates[0].full);
  CHECK(b.updates[0].state.last_keepalive == 160);
  f.Ack(b);
  // The same state again is no change at all.
  f.Report("001", State("web", 160));
  CHECK_FALSE(f.agents->NextBatch(f.t0).has_value());
  // A label change is a full update.
  schemas::AgentState labelled = State("web", 170);
  labelled.labels["env"] = "prod";
  f.Report("001", labelled);
  CHECK(f.Next().updates[0].full);
}

TEST_CASE("agents that share a profile hold it once, and a profile no agent uses is freed",
          "[nodes][agents]") {
  Fixture f;
  schemas::AgentState common = State("x", 100);
  common.os.name = "Ubuntu";
  common.os.uname = "Linux 5.15.0-91-generic #101-Ubuntu SMP x86_64";  // past the small buffer
  common.config_sum = "ab73c0ffee0123456789abcdef012345";
  common.labels["env"] = "prod";
  auto named = [&](const std::string& name, std::uint64_t keepalive) {
    schemas::AgentState s = common;
    s.name = name;
    s.last_keepalive = keepalive;
    return s;
  };
  for (int i = 1; i <= 50; ++i)
    f.Report(fmt::format("{:03}", i), named(fmt::format("a{}", i), 100));
  CHECK(f.agents->profiles() == 1);
  // An agent whose labels change with every report leaves one profile of its own, not one a
  // report; back to the fleet's, it leaves none.
  for (int round = 0; round < 20; ++round) {
    schemas::AgentState odd = named("a7", 101 + round);
    odd.labels["round"] = std::to_string(round);
    f.Report("007", odd);
    CHECK(f.agents->profiles() == 2);
    REQUIRE(f.agents->Find("007").has_value());
    CHECK(*f.agents->Find("007") == odd);
  }
  f.Report("007", named("a7", 200));
  CHECK(f.agents->profiles() == 1);
  // Each agent gives back the whole state it reported, its own fields and the shared ones.
  CHECK(*f.agents->Find("007") == named("a7", 200));
  CHECK(*f.agents->Find("050") == named("a50", 100));
  // A change of a field of the profile is a full change, as any other.
  schemas::AgentState upgraded = named("a3", 300);
  upgraded.version = "Wazuh v4.14.1";
  f.Report("003", upgraded);
  CHECK(f.agents->profiles() == 2);
  bool sent_whole = false;
  while (auto b = f.agents->NextBatch(f.t0)) {
    for (const auto& u : b->updates) {
      if (u.id == "003") {
        sent_whole = u.full && u.state == upgraded;
      } else {
        CHECK((!u.full || u.state.labels == common.labels));
      }
    }
    f.Ack(*b);
  }
  CHECK(sent_whole);
  // A restart holds the same profiles again.
  f.Open();
  CHECK(f.agents->profiles() == 2);
  CHECK(*f.agents->Find("003") == upgraded);
  CHECK(*f.agents->Find("007") == named("a7", 200));
}

TEST_CASE("an agent changed and changed back within one burst keeps the burst's last state",
          "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web", 100));
  f.Ack(f.Next());
  // One burst: a new ip, then the old one again with a later keepalive. The second report is a
  // keepalive-only change of the state before the burst, not of the one the first report made.
  schemas::AgentState moved = State("web", 110);
  moved.ip = "10.9.9.9";
  schemas::AgentState back = State("web", 120);
  REQUIRE(f.agents->Apply({{"001", ++f.counter, moved}, {"001", f.counter + 1, back}}, f.t0).ok());
  ++f.counter;
  REQUIRE(f.agents->Find("001").has_value());
  CHECK(*f.agents->Find("001") == back);
  schemas::AgentInfoBatch b = f.Next();
  REQUIRE(b.updates.size() == 1);
  CHECK(b.updates[0].full);
  CHECK(b.updates[0].state == back);
  f.Ack(b);
  // What was stored is the same state: a restart finds it.
  f.Open();
  REQUIRE(f.agents->Find("001").has_value());
  CHECK(f.agents->Find("001")->ip == "10.0.0.1");
  CHECK(f.agents->Find("001")->last_keepalive == 120);
}

TEST_CASE("a change made while its batch is in flight is sent after the ack", "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web", 100));
  schemas::AgentInfoBatch b = f.Next();
  schemas::AgentState changed = State("web", 100);
  changed.ip = "10.9.9.9";
  f.Report("001", changed);
  CHECK_FALSE(f.agents->NextBatch(f.t0).has_value());  // already in flight
  f.Ack(b);
  schemas::AgentInfoBatch b2 = f.Next();
  CHECK(b2.updates[0].state.ip == "10.9.9.9");
  f.Ack(b2);
  CHECK(f.agents->pending() == 0);
}

TEST_CASE("ids the master does not know are held back until client.keys changes",
          "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web"));
  f.Report("002", State("gone"));
  f.Ack(f.Next(), {"002"});
  CHECK(f.agents->pending() == 1);
  CHECK(f.agents->held_back() == 1);
  f.Report("002", State("gone", 200));
  CHECK_FALSE(f.agents->NextBatch(f.t0).has_value());
  f.agents->RegistryChanged();
  CHECK(Ids(f.Next()) == std::vector<std::string>{"002"});
}

TEST_CASE("lost and stale batches are sent again", "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web"));
  schemas::AgentInfoBatch b = f.Next();
  f.agents->RequeueInFlight();  // new session with the master
  schemas::AgentInfoBatch again = f.Next();
  CHECK(Ids(again) == Ids(b));
  CHECK(again.batch != b.batch);
  f.Ack(b);  // an ack for the old batch number is ignored
  CHECK(f.agents->pending() == 1);
  CHECK(f.agents->RequeueStale(f.t0 + 5s) == 0);
  CHECK(f.agents->RequeueStale(f.t0 + 11s) == 1);
  CHECK(Ids(f.Next()) == std::vector<std::string>{"001"});
}

TEST_CASE("agents silent past the disconnection time become disconnected", "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web"));
  f.Ack(f.Next());
  REQUIRE(f.agents->MarkSilent(f.t0 + 30s).ok());
  CHECK(f.agents->pending() == 0);
  REQUIRE(f.agents->MarkSilent(f.t0 + 61s).ok());
  schemas::AgentInfoBatch b = f.Next();
  REQUIRE(b.updates.size() == 1);
  CHECK(b.updates[0].full);
  CHECK(b.updates[0].state.status == schemas::AgentStatus::kDisconnected);
  CHECK(b.updates[0].state.disconnection_time > 0);
}

std::size_t Count(const WorkerAgents& agents, schemas::AgentStatus status) {
  return agents.CountByStatus()[static_cast<std::size_t>(status)];
}

TEST_CASE("only agents silent past the limit are marked, each once, until they report again",
          "[nodes][agents]") {
  using schemas::AgentStatus;
  Fixture f;
  for (const char* id : {"001", "002", "003"}) f.Report(id, State(id));
  CHECK(Count(*f.agents, AgentStatus::kActive) == 3);
  while (f.agents->pending() > 0) f.Ack(f.Next());
  // 002 reports again at t0 + 40 s: at t0 + 61 s only 001 and 003 have been silent for 60 s.
  REQUIRE(f.agents->Apply({{"002", ++f.counter, State("002", 140)}}, f.t0 + 40s).ok());
  while (f.agents->pending() > 0) f.Ack(f.Next());
  REQUIRE(f.agents->MarkSilent(f.t0 + 61s).ok());
  CHECK(f.agents->pending() == 2);
  CHECK(Count(*f.agents, AgentStatus::kActive) == 1);
  CHECK(Count(*f.agents, AgentStatus::kDisconnected) == 2);
  std::vector<std::string> marked;
  while (f.agents->pending() > 0) {
    schemas::AgentInfoBatch b = f.Next();
    for (const auto& u : b.updates) {
      CHECK(u.state.status == AgentStatus::kDisconnected);
      marked.push_back(u.id);
    }
    f.Ack(b);
  }
  std::sort(marked.begin(), marked.end());
  CHECK(marked == std::vector<std::string>{"001", "003"});
  // Marked once: a later check changes nothing until 002 falls silent in its turn.
  REQUIRE(f.agents->MarkSilent(f.t0 + 90s).ok());
  CHECK(f.agents->pending() == 0);
  // 001 comes back, and can fall silent again.
  REQUIRE(f.agents->Apply({{"001", ++f.counter, State("001", 195)}}, f.t0 + 95s).ok());
  CHECK(Count(*f.agents, AgentStatus::kActive) == 2);
  while (f.agents->pending() > 0) f.Ack(f.Next());
  REQUIRE(f.agents->MarkSilent(f.t0 + 101s).ok());  // 002's turn (last heard at t0 + 40 s)
  CHECK(Count(*f.agents, AgentStatus::kActive) == 1);
  REQUIRE(f.agents->MarkSilent(f.t0 + 156s).ok());
  CHECK(Count(*f.agents, AgentStatus::kActive) == 0);
  CHECK(Count(*f.agents, AgentStatus::kDisconnected) == 3);
}

TEST_CASE(
    "a restarted worker counts its agents by the status it stored, and times their silence "
    "from its start",
    "[nodes][agents]") {
  using schemas::AgentStatus;
  Fixture f;
  f.Report("001", State("a"));
  f.Report("002", State("b"));
  while (f.agents->pending() > 0) f.Ack(f.Next());
  REQUIRE(f.agents->MarkSilent(f.t0 + 61s).ok());  // both disconnected, and stored so
  while (f.agents->pending() > 0) f.Ack(f.Next());
  f.Open();
  CHECK(f.agents->size() == 2);
  CHECK(Count(*f.agents, AgentStatus::kDisconnected) == 2);
  CHECK(Count(*f.agents, AgentStatus::kActive) == 0);
  REQUIRE(f.agents->Apply({{"001", ++f.counter, State("a", 300)}}, SteadyClock::now()).ok());
  CHECK(Count(*f.agents, AgentStatus::kActive) == 1);
  CHECK(Count(*f.agents, AgentStatus::kDisconnected) == 1);
  while (f.agents->pending() > 0) f.Ack(f.Next());
  REQUIRE(f.agents->MarkSilent(SteadyClock::now() + 30s).ok());
  CHECK(Count(*f.agents, AgentStatus::kActive) == 1);
  REQUIRE(f.agents->MarkSilent(SteadyClock::now() + 61s).ok());
  CHECK(Count(*f.agents, AgentStatus::kActive) == 0);
}

TEST_CASE("an agent the master asks to resend goes out with its whole state and its counter",
          "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("a"));
  REQUIRE(f.agents->OnAck({f.Next().batch, {}, {}}).ok());
  f.Report("001", State("a", 200));  // only the keepalive time changed
  schemas::AgentInfoBatch keepalive = f.Next();
  REQUIRE(keepalive.updates.size() == 1);
  CHECK_FALSE(keepalive.updates[0].full);
  CHECK(keepalive.updates[0].counter == 2);
  REQUIRE(f.agents->OnAck({keepalive.batch, {}, {"001"}}).ok());
  schemas::AgentInfoBatch again = f.Next();
  REQUIRE(again.updates.size() == 1);
  CHECK(again.updates[0].full);
  CHECK(again.updates[0].state.version == "Wazuh v4.14.0");
  CHECK(again.updates[0].state.last_keepalive == 200);
  CHECK(again.updates[0].counter == 2);
  REQUIRE(f.agents->OnAck({again.batch, {}, {}}).ok());
  CHECK_FALSE(f.agents->NextBatch(f.t0).has_value());
}

TEST_CASE("a keepalive-only report rewrites only the counter row, and a restart keeps its time",
          "[nodes][agents]") {
  Fixture f;
  f.Report("001", State("web", 100));
  auto row = [&](store::Table table) {
    Result<std::optional<std::string>> got = f.store->Get(table, "001");
    REQUIRE(got.ok());
    return *got;
  };
  std::optional<std::string> record = row(store::Table::kAgents);
  REQUIRE(record.has_value());
  f.Report("001", State("web", 200));
  CHECK(row(store::Table::kAgents) == record);
  CHECK(row(store::Table::kAgentCounters)->size() == 16);
  // Unacknowledged, so sent whole after a restart, with the newest time.
  f.Open();
  REQUIRE(f.agents->Find("001").has_value());
  CHECK(f.agents->Find("001")->last_keepalive == 200);
  schemas::AgentInfoBatch b = f.Next();
  REQUIRE(b.updates.size() == 1);
  CHECK(b.updates[0].full);
  CHECK(b.updates[0].state.last_keepalive == 200);
  f.Ack(b);
  CHECK_FALSE(row(store::Table::kAgentPending).has_value());
  // Acknowledged, then a keepalive: a keepalive-only update, and still the one row written.
  f.Report("001", State("web", 300));
  CHECK_FALSE(row(store::Table::kAgentPending).has_value());
  b = f.Next();
  REQUIRE(b.updates.size() == 1);
  CHECK_FALSE(b.updates[0].full);
  // Lost with the worker before the ack: a restart sends every agent's keepalive again.
  f.Open();
  b = f.Next();
  REQUIRE(b.updates.size() == 1);
  CHECK_FALSE(b.updates[0].full);
  CHECK(b.updates[0].state.last_keepalive == 300);
  f.Ack(b);
  CHECK(f.agents->pending() == 0);
  // Anything beyond the time is a record write again.
  schemas::AgentState moved = State("web", 400);
  moved.ip = "10.0.0.9";
  f.Report("001", moved);
  CHECK(row(store::Table::kAgents) != record);
}
