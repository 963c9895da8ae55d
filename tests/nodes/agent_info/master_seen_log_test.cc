// The master's last-seen log: a group of keepalives is one row, a restart replays it, a fold
// replaces it with one snapshot (a restart at any point of the fold shows the same agents), an
// older store's per-agent rows are read and then folded away, and once a snapshot is whole a
// start reads the log alone.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "nodes/agent_info/master_agents_fixture.h"
#include "support/older_seen_log.h"

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
  REQUIRE(ApplyFromWire(*f.agents, worker, batch, &saved).ok());
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
  Result<std::vector<schemas::AgentInfoAck>> acks = ApplyFromWire(*f.agents, worker, batch, &saved);
  REQUIRE(acks.ok());
  REQUIRE(acks->at(0).resend.empty());
}

// Makes the fixture's store look like one an older zcluster wrote: no last-seen log, so no mark
// that it is whole.
void AsOlderStore(store::StoreBatch& older) {
  older.DeleteRange(store::Table::kAgentSeenLog, store::EncodeU64(0), store::EncodeU64(~0ull));
  older.SetPosition(store::kSeenLogCompleteStream, 0);
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
  // The empty snapshot that marks a store which began empty, the full records' group, then this.
  CHECK(f.Rows(store::Table::kAgentSeenLog).first == 3);
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
  f.Restart();
  CHECK(f.agents->statuses_from_log());  // the store began empty: its log was whole from then
  // An agent's first record does not count towards a fold: it makes no entry obsolete.
  CHECK(f.agents->seen_log_entries() == 0);
  // 66 groups of 1,000 keepalives: past the log's fold threshold of 65,536 entries.
  for (std::uint64_t round = 0; round < 66; ++round) {
    Keepalives(f, ids, round % 2 ? "w1" : "w2", round + 2, 10000 * (round + 1));
    REQUIRE_FALSE(f.agents->folding());
  }
  CHECK(f.Rows(store::Table::kAgentSeenLog).first == 68);  // the mark and the full records too
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

  // The 67 groups are gone: four slices of the snapshot and the group that landed midway remain.
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
  CHECK(f.agents->statuses_from_log());
  CHECK(f.agents->seen_log_entries() == 2);
  REQUIRE(f.agents->ContinueFold(300).ok());
  CHECK_FALSE(f.agents->folding());
}

TEST_CASE("an older store's last-seen rows are read, then folded into the log and deleted",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  // As an older master left them: a record, and a last-seen row over it, neither in the log.
  store::StoreBatch older;
  older.Put(store::Table::kAgents, f.id,
            store::EncodeAgentRow(f.id, State("v1", 100), "web-1", "w1", 1));
  older.Put(store::Table::kAgentSeen, f.id,
            store::EncodeAgentSeenRow({schemas::AgentStatus::kDisconnected, 777, 780, 5, "w9"}));
  AsOlderStore(older);
  REQUIRE(f.store->Write(older).ok());
  f.Restart();
  CHECK_FALSE(f.agents->statuses_from_log());
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

namespace {

// Everything a master shows of its agents.
struct Shown {
  schemas::AgentList list;
  schemas::AgentStatusCounts counts;
  std::map<std::string, MasterAgents::NodeAgents> by_node;
  bool operator==(const Shown& o) const {
    if (list != o.list || counts != o.counts || by_node.size() != o.by_node.size()) return false;
    for (const auto& [node, n] : by_node) {
      auto it = o.by_node.find(node);
      if (it == o.by_node.end() || it->second.total != n.total || it->second.active != n.active) {
        return false;
      }
    }
    return true;
  }
};

Shown ShownBy(MasterAgents& agents) {
  return {ListOf(agents), agents.CountByStatus(), agents.AgentsByNode()};
}

}  // namespace

TEST_CASE("once a snapshot is whole, a start reads the log alone and shows the same agents",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  const std::vector<std::string> ids = Register(f, 99);
  // As an older zcluster leaves a store: records, no log, and a last-seen row, which makes a fold
  // due at once however short the log.
  store::StoreBatch older;
  older.Put(store::Table::kAgentSeen, ids[5],
            store::EncodeAgentSeenRow({schemas::AgentStatus::kActive, 555, 0, 2, "w9"}));
  AsOlderStore(older);
  REQUIRE(f.store->Write(older).ok());
  f.Restart();
  CHECK_FALSE(f.agents->statuses_from_log());
  REQUIRE(f.agents->ContinueFold(1000).ok());
  REQUIRE_FALSE(f.agents->folding());
  f.Restart();
  CHECK(f.agents->statuses_from_log());

  // Every kind of change after the snapshot: keepalives, full records (one over an overlay, one
  // over none), a lost worker's agents marked, a removal, a new agent with nothing stored.
  Keepalives(f, std::vector<std::string>(ids.begin() + 1, ids.begin() + 11), "w2", 3, 2000);
  f.Send("w3", {ids[2], true, State("v2", 3000), 4});
  f.Send("w3", {ids[20], true, State("v3", 3100), 5});
  REQUIRE(f.agents->MarkDisconnected("w1", 4000).ok());
  REQUIRE(f.agents->Remove(ids[30]).ok());
  REQUIRE(f.agents->Add("late", "any").ok());
  const Shown live = ShownBy(*f.agents);
  CHECK(live.counts[static_cast<std::size_t>(schemas::AgentStatus::kNeverConnected)] == 1);
  CHECK(live.by_node.at("w3").total == 2);

  f.Restart();
  CHECK(f.agents->statuses_from_log());
  CHECK(ShownBy(*f.agents) == live);
  // A keepalive needs a record to lay its fields over: the log alone knew which agents have one.
  Keepalives(f, {ids[20], ids[40]}, "w2", 9, 5000);

  // An administrator's edit brings a removed agent back while the master is stopped: its record
  // went with the removal, and the log says so.
  REQUIRE(f.agents->Remove(ids[2]).ok());
  {
    std::ifstream in(f.dir / "client.keys");
    std::stringstream text;
    text << in.rdbuf();
    std::string keys = text.str();
    const std::string removed = "\n" + ids[2] + " !";
    const std::size_t at = keys.find(removed);
    REQUIRE(at != std::string::npos);
    keys.erase(at + removed.size() - 1, 1);
    std::ofstream(f.dir / "client.keys") << keys;
  }
  f.Restart();
  CHECK(f.agents->statuses_from_log());
  schemas::AgentInfoBatch back{20, 0, {{ids[2], false, State("", 6000), 20}}};
  const std::string w2 = "w2";
  std::vector<std::string> saved;
  Result<std::vector<schemas::AgentInfoAck>> acks = ApplyFromWire(*f.agents, w2, back, &saved);
  REQUIRE(acks.ok());
  CHECK(acks->at(0).resend == std::vector<std::string>{ids[2]});

  // The mark is trusted only with the snapshot group it names: without it, the records are read.
  Result<std::uint64_t> first = f.store->Position(store::kSeenLogCompleteStream);
  REQUIRE(first.ok());
  REQUIRE(*first > 0);
  const Shown before_loss = ShownBy(*f.agents);
  store::StoreBatch lose;
  lose.Delete(store::Table::kAgentSeenLog, store::EncodeU64(*first));
  REQUIRE(f.store->Write(lose).ok());
  f.Restart();
  CHECK_FALSE(f.agents->statuses_from_log());
  CHECK(ShownBy(*f.agents).list.agents.size() == before_loss.list.agents.size());
}

TEST_CASE("a group of an older zcluster after a whole snapshot is refused as damage",
          "[nodes][agents]") {
  MasterAgentsFixture f;
  f.Send("w1", {f.id, true, State("v1", 100), 1});
  f.Restart();
  REQUIRE(f.agents->statuses_from_log());
  // An older zcluster's group (format 1: no record bit, fixed-width fields) written after the
  // snapshot: it may have written records the log does not show, so the log alone is not to be
  // trusted.
  const std::string row = OlderSeenLogGroup(1, f.id, "w1", 0x80 | 2, 0, 0, 0);  // overlay, active
  store::StoreBatch append;
  append.Put(store::Table::kAgentSeenLog, store::EncodeU64(1000), row);
  REQUIRE(f.store->Write(append).ok());
  auto restarted = MasterAgents::Load(*f.store, f.dir / "client.keys", Logger(f.log, "Master"));
  REQUIRE_FALSE(restarted.ok());
  CHECK(restarted.status().code() == Code::kDataLoss);
  CHECK(restarted.status().message().find("older zcluster") != std::string::npos);
}
