// The master's agent table against workers' batches: the registry's name wins, and an update
// older than one already applied is ignored, whichever worker sends it and however late.
#include <catch2/catch.hpp>

#include "nodes/agent_info/master_agents_fixture.h"
#include "support/small_disk.h"
#include "support/wait.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace zcluster::testing;
using namespace std::chrono_literals;

TEST_CASE("an update older than the one applied is ignored, from any worker and however late",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  // The agent reported to w1 (counter 5), then moved to w2 (counter 9) while w1 was cut off.
  f.Send("w2", {f.id, true, State("v9", 900), 9});
  f.Send("w1", {f.id, true, State("v5", 500), 5});  // w1 reconnects with what it held
  schemas::AgentRecord rec = f.Record();
  CHECK(rec.node == "w2");
  CHECK(rec.state.version == "v9");
  CHECK(rec.state.labels.at("site") == "v9");
  CHECK(rec.counter == 9);
  // w1's keepalive-only update is just as old.
  f.Send("w1", {f.id, false, State("", 600), 6});
  CHECK(f.Record().state.last_keepalive == 900);
  CHECK(f.agents->ignored_older() == 2);

  // Newer ones apply, keepalive-only ones too, and the order survives a master restart.
  f.Send("w2", {f.id, false, State("", 1000), 10});
  CHECK(f.Record().state.last_keepalive == 1000);
  CHECK(f.Record().state.version == "v9");
  f.agents.reset();
  f.agents = std::move(MasterAgents::Load(*f.store, f.dir / "client.keys", Logger(f.log, "Master")))
                 .value();
  f.Send("w1", {f.id, true, State("v7", 700), 7});
  CHECK(f.Record().state.version == "v9");
  CHECK(f.Record().counter == 10);
  // A worker that says no counter (an older one) is applied as before.
  f.Send("w1", {f.id, true, State("v0", 50), 0});
  CHECK(f.Record().state.version == "v0");
}

TEST_CASE("a keepalive-only update for an agent without a record asks for the whole state",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  const std::string worker = "w1";
  schemas::AgentInfoBatch batch{1, 0, {{f.id, false, State("", 600), 6}}};
  std::vector<std::string> saved;
  Result<std::vector<schemas::AgentInfoAck>> acks = ApplyFromWire(*f.agents, worker, batch, &saved);
  REQUIRE(acks.ok());
  CHECK(acks->at(0).resend == std::vector<std::string>{f.id});
  CHECK(saved.empty());
  // No blank record: the agent is still one that never connected.
  CHECK(f.Record().node.empty());
  CHECK(f.Record().state.status == schemas::AgentStatus::kNeverConnected);
  f.Send("w1", {f.id, true, State("v6", 600), 6});
  CHECK(f.Record().state.version == "v6");
}

TEST_CASE("a keepalive-only update is a small write beside the record, which stays as it was",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  f.Send("w1", {f.id, true, State("v1", 100), 1});
  auto row = [&](store::Table table) {
    Result<std::optional<std::string>> got = f.store->Get(table, f.id);
    REQUIRE(got.ok());
    return *got;
  };
  std::optional<std::string> record = row(store::Table::kAgents);
  REQUIRE(record.has_value());
  // The record's summary is logged with it: a start can read the log instead of the record. (The
  // first group is the mark that a store which began empty is whole.)
  const auto [first_groups, first_bytes] = f.Rows(store::Table::kAgentSeenLog);
  CHECK(first_groups == 2);

  f.Send("w2", {f.id, false, State("", 200), 2});
  CHECK(row(store::Table::kAgents) == record);  // not rewritten
  const auto [groups, bytes] = f.Rows(store::Table::kAgentSeenLog);
  CHECK(groups == 3);
  CHECK(bytes - first_bytes < 60);
  CHECK(f.Rows(store::Table::kAgentSeen).first == 0);
  schemas::AgentRecord shown = f.Record();
  CHECK(shown.state.last_keepalive == 200);
  CHECK(shown.node == "w2");
  CHECK(shown.counter == 2);
  CHECK(shown.state.version == "v1");
  // The whole table as -a lists it agrees with the one-agent answer.
  Result<schemas::AgentList> all = f.agents->List();
  REQUIRE(all.ok());
  REQUIRE(all->agents.size() == 1);
  CHECK(all->agents[0] == shown);

  // After a restart the master still knows the agent has a record (no resend) and the keepalive.
  f.Restart();
  CHECK(f.Record() == shown);
  f.Send("w2", {f.id, false, State("", 300), 3});
  CHECK(f.Record().state.last_keepalive == 300);
  CHECK(f.agents->CountByStatus()[static_cast<std::size_t>(schemas::AgentStatus::kActive)] == 1);

  // A whole record replaces both rows; a later keepalive in the same group lands over it.
  const std::string worker = "w1";
  schemas::AgentInfoBatch batch{
      7, 0, {{f.id, true, State("v4", 400), 4}, {f.id, false, State("", 500), 5}}};
  std::vector<std::string> saved;
  REQUIRE(ApplyFromWire(*f.agents, worker, batch, &saved).ok());
  CHECK(saved == std::vector<std::string>{f.id});
  CHECK(f.Record().state.version == "v4");
  CHECK(f.Record().state.last_keepalive == 500);
  // A whole record ends the overlay: after a restart the log's earlier keepalive (500) must not
  // be laid over it again.
  f.Send("w1", {f.id, true, State("v6", 600), 6});
  CHECK(f.Record().state.last_keepalive == 600);
  f.Restart();
  CHECK(f.Record().state.last_keepalive == 600);
  CHECK(f.Record().counter == 6);

  // A worker gone: its agents turn disconnected through the small row as well.
  Result<std::size_t> marked = f.agents->MarkDisconnected("w1", 900);
  REQUIRE(marked.ok());
  CHECK(*marked == 1);
  CHECK(f.Record().state.status == schemas::AgentStatus::kDisconnected);
  CHECK(f.Record().state.disconnection_time == 900);
  CHECK(f.Record().state.version == "v6");
  CHECK(f.Record().state.last_keepalive == 600);
  // The worker restarts and repeats the keepalive of the report the master applied: nothing
  // changes; a newer report makes the agent active again.
  f.Send("w1", {f.id, false, State("", 600), 6});
  CHECK(f.Record().state.status == schemas::AgentStatus::kDisconnected);
  f.Send("w1", {f.id, false, State("", 950), 7});
  CHECK(f.Record().state.status == schemas::AgentStatus::kActive);
  CHECK(f.Record().state.disconnection_time == 0);
  REQUIRE(f.agents->MarkDisconnected("w1", 990).ok());
  f.Restart();
  CHECK(f.Record().state.status == schemas::AgentStatus::kDisconnected);
  CHECK(f.Record().state.disconnection_time == 990);
  CHECK(f.Record().state.last_keepalive == 950);

  // Removing the agent removes its record, and the log says its overlay is gone.
  REQUIRE(f.agents->Remove(f.id).ok());
  CHECK_FALSE(row(store::Table::kAgents).has_value());
  f.Restart();
  CHECK(f.agents->CountByStatus() == schemas::AgentStatusCounts{});
}

TEST_CASE("a restarted master marks a lost worker's agents with the keepalive each last stored",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  ClientKeys keys = std::move(ClientKeys::Load(f.dir / "client.keys")).value();
  const std::string other = keys.Add("web-2", "any")->id;
  const std::string never = keys.Add("web-3", "any")->id;
  REQUIRE(keys.Save(f.dir / "client.keys").ok());
  REQUIRE(f.agents->ReloadRegistryIfChanged().ok());
  // One agent's last keepalive is in its record, the other's in the small row beside it; the
  // third never reported and has nothing to mark.
  schemas::AgentState second = State("v2", 300);
  second.name = "web-2";
  f.Send("w1", {f.id, true, State("v1", 200), 1});
  f.Send("w1", {other, true, second, 1});
  f.Send("w1", {other, false, State("", 450), 2});
  f.agents.reset();
  f.agents = std::move(MasterAgents::Load(*f.store, f.dir / "client.keys", Logger(f.log, "Master")))
                 .value();

  Result<std::size_t> marked = f.agents->MarkDisconnected("w1", 999);
  REQUIRE(marked.ok());
  CHECK(*marked == 2);
  Result<schemas::AgentList> list = f.agents->List({f.id, other, never});
  REQUIRE(list.ok());
  REQUIRE(list->agents.size() == 3);
  CHECK(list->agents[0].state.status == schemas::AgentStatus::kDisconnected);
  CHECK(list->agents[0].state.last_keepalive == 200);
  CHECK(list->agents[0].state.disconnection_time == 999);
  CHECK(list->agents[0].state.version == "v1");
  CHECK(list->agents[1].state.status == schemas::AgentStatus::kDisconnected);
  CHECK(list->agents[1].state.last_keepalive == 450);
  CHECK(list->agents[1].counter == 2);
  CHECK(list->agents[1].node == "w1");
  CHECK(list->agents[2].state.status == schemas::AgentStatus::kNeverConnected);
}

TEST_CASE("a batch whose write failed is applied whole when the worker sends it again",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  ClientKeys keys = std::move(ClientKeys::Load(f.dir / "client.keys")).value();
  const std::string big = keys.Add("web-2", "any")->id;
  REQUIRE(keys.Save(f.dir / "client.keys").ok());
  // The database moves onto a disk the test can fill.
  f.agents.reset();
  f.store.reset();
  testing::SmallDisk disk(64);
  if (!disk.available()) {
    WARN("skipped: " << disk.error());
    return;
  }
  REQUIRE(disk.Bind(f.dir / "db"));
  f.store = std::move(store::NodeStore::Open(f.dir / "db", {"c", "master", "master"})).value();
  f.agents = std::move(MasterAgents::Load(*f.store, f.dir / "client.keys", Logger(f.log, "Master")))
                 .value();
  f.Send("w1", {f.id, true, State("v1", 100), 1});

  // Each batch: the keepalive of one agent, and a large record of another that eats the disk.
  const std::string worker = "w1";
  auto batch = [&](std::uint64_t n) {
    schemas::AgentState large = State("v", 0);
    large.name = "web-2";
    // As large as a state may be on the wire: every label at its limits, some 33 KB.
    large.labels.clear();
    for (std::size_t l = 0; l < schemas::kMaxLabels; ++l) {
      std::string key = std::to_string(l);
      key.resize(schemas::kMaxFieldLength, 'k');
      large.labels[key] = std::string(schemas::kMaxFieldLength, 'x');
    }
    return schemas::AgentInfoBatch{
        n, 0, {{f.id, false, State("", 100 + n), n}, {big, true, large, n}}};
  };
  REQUIRE(disk.Fill());
  std::vector<std::string> saved;
  std::uint64_t failed = 0;
  Status refused;
  for (std::uint64_t n = 2; n < 1000 && failed == 0; ++n) {
    schemas::AgentInfoBatch b = batch(n);
    refused = ApplyFromWire(*f.agents, worker, b, &saved).status();
    if (!refused.ok()) failed = n;
  }
  REQUIRE(failed != 0);
  CHECK(refused.code() != Code::kInvalidArgument);  // the disk, not the batch

  // The worker was not acknowledged, so it sends the same batch again once the disk has room:
  // the keepalive lands, rather than being taken for one already applied.
  disk.Free();
  const schemas::AgentInfoBatch again = batch(failed);
  Status last;
  if (!testing::WaitFor(
          [&] {
            last = ApplyFromWire(*f.agents, worker, again, &saved).status();
            return last.ok();
          },
          10s)) {
    FAIL("the batch sent again is still refused: " << last.message());
  }
  CHECK(f.agents->ignored_older() == 0);
  CHECK(f.Record().state.last_keepalive == 100 + failed);
  CHECK(f.Record().counter == failed);
}
