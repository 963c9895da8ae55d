// The master's last-seen log: a group of keepalives is one row, a restart replays it, a fold
// replaces it with one snapshot (a restart at any point of the fold shows the same agents), and an
// older store's per-agent rows are read and then folded away.
#include <catch2/catch.hpp>

#include "nodes/agent_info/master_agents_fixture.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace zcluster::testing;

namespace {

// The fixture's agent and `more` others, each with a full record from w1 (counter 1).
std::vector<std::string> Register(MasterAgentsFixture& f, std::size_t more) {
  ClientKeys keys = std::move(ClientKeys::Load(f.dir / "client.keys")).value();
  std::vector<std::string> ids{f.id};
  for (std::size_t i = 0; i < more; ++i) ids.push_back(keys.Add(fmt::format("a-{}", i), "any")->id);
  REQUIRE(keys.Save(f.dir / "client.keys").ok());
  REQUIRE(f.agents->ReloadRegistryIfChanged().ok());
  schemas::AgentInfoBatch batch{1, 0, {}};
  for (const std::string& id : ids) batch.updates.push_back({id, true, State("v1", 1), 1});
  const std::string worker = "w1";
  std::vector<std::string> saved;
  REQUIRE(f.agents->ApplyAll({{&worker, &batch}}, &saved).ok());
  return ids;
}

// One keepalive-only batch from `worker`: agent i reports `keepalive + i` with `counter`.
void Keepalives(MasterAgentsFixture& f, const std::vector<std::string>& ids,
                const std::string& worker, std::uint64_t counter, std::uint64_t keepalive) {
  schemas::AgentInfoBatch batch{counter, 0, {}};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    batch.updates.push_back({ids[i], false, State("", keepalive + i), counter});
  }
  std::vector<std::string> saved;
  Result<std::vector<schemas::AgentInfoAck>> acks = f.agents->ApplyAll({{&worker, &batch}}, &saved);
  REQUIRE(acks.ok());
  REQUIRE(acks->at(0).resend.empty());
}

schemas::AgentList ListOf(MasterAgents& agents) {
  Result<schemas::AgentList> list = agents.List();
  REQUIRE(list.ok());
  return std::move(list).value();
}

// What a master started on the store now would list.
schemas::AgentList ListAfterRestart(MasterAgentsFixture& f) {
  auto fresh = MasterAgents::Load(*f.store, f.dir / "client.keys", Logger(f.log, "Master"));
  REQUIRE(fresh.ok());
  return ListOf(**fresh);
}

}  // namespace

TEST_CASE("the keepalives of a group are one row of the log, and a restart replays them",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  const std::vector<std::string> ids = Register(f, 1999);
  const auto records = f.Rows(store::Table::kAgents);
  Keepalives(f, ids, "w2", 2, 1000);
  CHECK(f.Rows(store::Table::kAgentSeenLog).first == 1);
  CHECK(f.Rows(store::Table::kAgents) == records);
  f.Restart();
  const schemas::AgentList list = ListOf(*f.agents);
  REQUIRE(list.agents.size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO(ids[i]);
    CHECK(list.agents[i].id == ids[i]);
    CHECK(list.agents[i].state.last_keepalive == 1000 + i);
    CHECK(list.agents[i].node == "w2");
    CHECK(list.agents[i].counter == 2);
    CHECK(list.agents[i].state.version == "v1");
  }
}

TEST_CASE(
    "a fold replaces the log with a snapshot, and a restart at any point shows the same agents",
    "[nodes][agents]") {
  MasterAgentsFixture f;
  const std::vector<std::string> ids = Register(f, 999);
  // 66 groups of 1,000 keepalives: past the log's fold threshold of 65,536 entries.
  for (std::uint64_t round = 0; round < 66; ++round) {
    Keepalives(f, ids, round % 2 ? "w1" : "w2", round + 2, 10000 * (round + 1));
    REQUIRE_FALSE(f.agents->folding());
  }
  CHECK(f.Rows(store::Table::kAgentSeenLog).first == 66);
  REQUIRE(f.agents->ContinueFold(300).ok());
  REQUIRE(f.agents->folding());
  CHECK(ListAfterRestart(f) == ListOf(*f.agents));

  // Reports keep landing while the fold goes on: one agent already in the snapshot, and one not
  // yet in it.
  const std::vector<std::string> moved = {ids[0], ids[999]};
  Keepalives(f, moved, "w3", 100, 5);
  REQUIRE(f.agents->ContinueFold(300).ok());
  CHECK(ListAfterRestart(f) == ListOf(*f.agents));
  int steps = 0;
  while (f.agents->folding() && ++steps < 10) REQUIRE(f.agents->ContinueFold(300).ok());
  REQUIRE_FALSE(f.agents->folding());

  // The 66 groups are gone: four slices of the snapshot and the group that landed midway remain.
  const auto [groups, bytes] = f.Rows(store::Table::kAgentSeenLog);
  CHECK(groups == 5);
  CHECK(bytes < 1000 * 40);
  const schemas::AgentList after = ListAfterRestart(f);
  CHECK(after == ListOf(*f.agents));
  REQUIRE(after.agents.size() == 1000);
  CHECK(after.agents[0].node == "w3");
  CHECK(after.agents[0].state.last_keepalive == 5);
  CHECK(after.agents[999].state.last_keepalive == 6);
  CHECK(after.agents[500].state.last_keepalive == 660000 + 500);
  CHECK(after.agents[500].node == "w1");
  CHECK(after.agents[500].counter == 67);
  // Nothing more to fold until the log grows again: only the group that landed midway counts
  // towards the next fold, not the snapshot, or folds would follow one another for ever.
  CHECK(f.agents->seen_log_entries() == 2);
  REQUIRE(f.agents->ContinueFold(300).ok());
  CHECK_FALSE(f.agents->folding());
  // Nor after a start: the snapshot's groups say what they are.
  f.Restart();
  CHECK(f.agents->seen_log_entries() == 2);
  REQUIRE(f.agents->ContinueFold(300).ok());
  CHECK_FALSE(f.agents->folding());
}

TEST_CASE("an older store's last-seen rows are read, then folded into the log and deleted",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  f.Send("w1", {f.id, true, State("v1", 100), 1});
  store::StoreBatch older;
  older.Put(store::Table::kAgentSeen, f.id,
            store::EncodeAgentSeenRow({schemas::AgentStatus::kDisconnected, 777, 780, 5, "w9"}));
  REQUIRE(f.store->Write(older).ok());
  f.Restart();
  const schemas::AgentRecord shown = f.Record();
  CHECK(shown.state.last_keepalive == 777);
  CHECK(shown.state.disconnection_time == 780);
  CHECK(shown.state.status == schemas::AgentStatus::kDisconnected);
  CHECK(shown.node == "w9");
  CHECK(shown.counter == 5);

  // Due at once, however short the log: one step folds a registry this small.
  REQUIRE(f.agents->ContinueFold(300).ok());
  CHECK_FALSE(f.agents->folding());
  CHECK(f.Rows(store::Table::kAgentSeen).first == 0);
  CHECK(f.Rows(store::Table::kAgentSeenLog).first == 1);
  f.Restart();
  CHECK(f.Record() == shown);
  // A whole record ends the overlay the fold carried over.
  f.Send("w1", {f.id, true, State("v6", 900), 6});
  f.Restart();
  CHECK(f.Record().state.last_keepalive == 900);
  CHECK(f.Record().state.status == schemas::AgentStatus::kActive);
  CHECK(f.Record().node == "w1");
}
