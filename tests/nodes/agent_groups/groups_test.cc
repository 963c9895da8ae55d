// The master's group table and stream log, and a worker applying it, with real stores.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>

#include "agent_groups/master_groups.h"
#include "agent_groups/worker_groups.h"
#include "support/temp_dir.h"
#include "zcluster/store/records.h"

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

struct Node {
  testing::TempDir dir;
  ClusterLog log{false};
  std::unique_ptr<store::NodeStore> store;
  explicit Node(const char* type) {
    store = std::move(store::NodeStore::Open(dir / "db", {"c", type, type})).value();
  }
};

struct MasterNode : Node {
  std::unique_ptr<MasterGroups> groups;
  MasterNode() : Node("master") { Reload(); }
  void Reload() {
    groups.reset();
    groups = std::move(MasterGroups::Load(*store, dir / "shared", Logger(log, "Master"))).value();
  }
  void MakeGroup(const std::string& g) {
    std::filesystem::create_directories(dir / ("shared/" + g));
  }
};

auto AnyAgent = [](const std::string&) { return true; };

}  // namespace

TEST_CASE("the master numbers every change and keeps numbering across restarts",
          "[nodes][groups]") {
  MasterNode m;
  m.MakeGroup("web");
  auto first = m.groups->EnsureAssigned({"001", "002"});
  REQUIRE(first.ok());
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].seq == 1);
  CHECK((*first)[1].groups == std::vector<std::string>{"default"});
  // Already assigned: nothing to do.
  CHECK(m.groups->EnsureAssigned({"001"})->empty());
  auto web = m.groups->Assign({{"001"}, {"web"}, false}, AnyAgent);
  REQUIRE(web.ok());
  CHECK((*web)[0].seq == 3);
  CHECK((*web)[0].groups == std::vector<std::string>{"default", "web"});
  m.Reload();
  CHECK(m.groups->seq() == 3);
  CHECK(*m.groups->Of("001") == std::vector<std::string>{"default", "web"});
  CHECK((*m.groups->Assign({{"002"}, {"web"}, true}, AnyAgent))[0].seq == 4);
}

TEST_CASE("group commands check agents and folders", "[nodes][groups]") {
  MasterNode m;
  CHECK(m.groups->Assign({{"001"}, {"nope"}, false}, AnyAgent).status().code() == Code::kNotFound);
  CHECK(m.groups->Assign({{"001"}, {"default"}, false}, [](const std::string&) { return false; })
            .status()
            .code() == Code::kNotFound);
  CHECK(m.groups->Assign({{"001"}, {"../etc"}, false}, AnyAgent).status().code() ==
        Code::kNotFound);
  CHECK(m.groups->seq() == 0);
  m.MakeGroup("db");
  REQUIRE(m.groups->Assign({{"001"}, {"db"}, true}, AnyAgent).ok());
  // Taking the last group away puts the agent back in default, as Wazuh does.
  REQUIRE(m.groups->Unassign({{"001"}, {"db"}}).ok());
  CHECK(*m.groups->Of("001") == std::vector<std::string>{"default"});
  REQUIRE(m.groups->Forget("001").ok());
  CHECK(m.groups->Of("001") == nullptr);
  CHECK(m.groups->Table().defined == std::vector<std::string>{"db", "default"});
}

TEST_CASE("an agent listed many times in one command is one change", "[nodes][groups]") {
  MasterNode m;
  m.MakeGroup("web");
  schemas::GroupAssign assign{std::vector<std::string>(1000, "001"), {"web", "web"}, false};
  auto changes = m.groups->Assign(assign, AnyAgent);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 1);
  CHECK((*changes)[0].groups == std::vector<std::string>{"web"});
  CHECK(m.groups->seq() == 1);
  auto again = m.groups->Unassign({std::vector<std::string>(1000, "001"), {"web"}});
  REQUIRE(again.ok());
  CHECK(again->size() == 1);
  CHECK(m.groups->seq() == 2);
}

TEST_CASE("sync answers come from the log or as a whole table", "[nodes][groups]") {
  MasterNode m;
  REQUIRE(m.groups->EnsureAssigned({"001", "002", "003"}).ok());
  auto up_to_date = m.groups->SyncFrom(3);
  CHECK((!up_to_date->full && up_to_date->changes.empty() && up_to_date->seq == 3));
  auto tail = m.groups->SyncFrom(1);
  REQUIRE(tail.ok());
  CHECK_FALSE(tail->full);
  REQUIRE(tail->changes.size() == 2);
  CHECK(tail->changes[0].seq == 2);
  CHECK(m.groups->SyncFrom(0)->full);
  CHECK(m.groups->SyncFrom(0)->groups.size() == 3);
  CHECK(m.groups->SyncFrom(99)->full);  // ahead of the master
}

TEST_CASE("a worker applying the stream ends with the master's table and digest",
          "[nodes][groups]") {
  MasterNode m;
  m.MakeGroup("web");
  Node w("worker");
  auto worker = std::move(WorkerGroups::Load(*w.store, Logger(w.log, "Worker w"))).value();
  REQUIRE(m.groups->EnsureAssigned({"001", "002"}).ok());
  // Joins late: its first sync is the whole table.
  REQUIRE(*worker->Start());
  REQUIRE_FALSE(*worker->OnSync(*m.groups->SyncFrom(worker->sync_from())));
  CHECK(worker->applied() == 2);
  // Then deltas in order; one lost delta is noticed and caught up from the log.
  auto d3 = *m.groups->Assign({{"001"}, {"web"}, false}, AnyAgent);
  auto d4 = *m.groups->Forget("002");
  CHECK(*worker->OnDelta({d4}));  // 3 was dropped: gap
  REQUIRE_FALSE(*worker->OnSync(*m.groups->SyncFrom(worker->sync_from())));
  CHECK(worker->applied() == 4);
  CHECK(worker->digest() == m.groups->digest());
  CHECK(worker->Table().groups == m.groups->Table().groups);
  // Persisted with its position.
  worker.reset();
  auto again = std::move(WorkerGroups::Load(*w.store, Logger(w.log, "Worker w"))).value();
  CHECK(again->applied() == 4);
  CHECK(again->digest() == m.groups->digest());
  // A diverged table is replaced whole.
  REQUIRE(*again->Resync());
  CHECK(again->sync_from() == 0);
  REQUIRE_FALSE(*again->OnSync(*m.groups->SyncFrom(again->sync_from())));
  CHECK(again->digest() == m.groups->digest());
}

TEST_CASE("the digest does not depend on the order rows were set", "[nodes][groups]") {
  GroupTable a, b;
  a.Set("001", {"default"});
  a.Set("002", {"web", "db"});
  b.Set("002", {"web", "db"});
  b.Set("001", {"x"});
  b.Set("001", {"default"});
  CHECK(a.digest() == b.digest());
  b.Set("002", {"db", "web"});  // group order matters
  CHECK(a.digest() != b.digest());
  b.Set("002", {});
  a.Set("002", {});
  CHECK(a.digest() == b.digest());
}

TEST_CASE("agents share each distinct group list, and the rows come back as they were set",
          "[nodes][groups]") {
  GroupTable t;
  for (int i = 1; i <= 1000; ++i) {
    t.Set(fmt::format("{:03}", i),
          i % 2 ? std::vector<std::string>{"default"} : std::vector<std::string>{"web", "db"});
  }
  t.Set("0042", {"web"});      // "0042" is not "042"
  t.Set("not-an-id", {"db"});  // any other key is kept too
  CHECK(t.size() == 1002);
  CHECK(t.distinct_lists() == 4);
  CHECK(*t.Find("042") == std::vector<std::string>{"web", "db"});
  CHECK(*t.Find("0042") == std::vector<std::string>{"web"});
  CHECK(*t.Find("not-an-id") == std::vector<std::string>{"db"});
  CHECK(t.Find("1001") == nullptr);
  schemas::GroupMap rows = t.Rows();
  CHECK(rows.size() == 1002);
  CHECK(rows.at("001") == std::vector<std::string>{"default"});
  CHECK(rows.at("0042") == std::vector<std::string>{"web"});
  // A list nobody has any more is let go, and its place reused.
  t.Set("0042", {});
  t.Set("not-an-id", {});
  CHECK(t.distinct_lists() == 2);
  t.Set("001", {"db"});
  CHECK(t.distinct_lists() == 3);
  CHECK(*t.Find("001") == std::vector<std::string>{"db"});
  CHECK(*t.Find("003") == std::vector<std::string>{"default"});
  // The digest is that of a table that held one list per agent.
  GroupTable plain;
  for (const auto& [agent, groups] : t.Rows()) plain.Set(agent, groups);
  CHECK(plain.digest() == t.digest());
}

TEST_CASE("a group row that cannot be read stops the load with DataLoss", "[nodes][groups]") {
  // Once read as "no groups", which a worker would then have reported as its table.
  for (const char* type : {"master", "worker"}) {
    Node n(type);
    store::StoreBatch bad;
    bad.Put(store::Table::kGroups, "001", "\xc1");
    REQUIRE(n.store->Write(bad).ok());
    Status s =
        std::string(type) == "master"
            ? MasterGroups::Load(*n.store, n.dir / "shared", Logger(n.log, "Master")).status()
            : WorkerGroups::Load(*n.store, Logger(n.log, "Worker w")).status();
    CHECK(s.code() == Code::kDataLoss);
    CHECK(s.message().find("agent 001") != std::string::npos);
  }
}

TEST_CASE("rows that share their bytes load as the lists they hold, each decoded once",
          "[nodes][groups]") {
  Node n("master");
  GroupTable built;
  store::StoreBatch rows;
  auto put = [&](const std::string& agent, const std::vector<std::string>& groups) {
    rows.Put(store::Table::kGroups, agent, store::EncodeGroupsRow(groups));
    built.Set(agent, groups);
  };
  const std::vector<std::vector<std::string>> shared = {{"default"}, {"default", "web"}, {"db"}};
  for (int i = 1; i <= 3000; ++i) put(fmt::format("{:03}", i), shared[i % 3]);
  // More distinct lists than the load keeps decoded, then the shared ones again.
  for (int i = 0; i < 1500; ++i) put(fmt::format("{}", 5000 + i), {fmt::format("g{}", i)});
  for (int i = 0; i < 300; ++i) put(fmt::format("{}", 7000 + i), shared[i % 3]);
  REQUIRE(n.store->Write(rows).ok());
  GroupTable loaded;
  REQUIRE(loaded.Load(*n.store).ok());
  CHECK(loaded.Rows() == built.Rows());
  CHECK(loaded.digest() == built.digest());
  CHECK(loaded.distinct_lists() == built.distinct_lists());

  // A damaged row after many whose bytes were already decoded still stops the load.
  store::StoreBatch bad;
  bad.Put(store::Table::kGroups, "9999", "\xc1");
  REQUIRE(n.store->Write(bad).ok());
  GroupTable again;
  Status s = again.Load(*n.store);
  CHECK(s.code() == Code::kDataLoss);
  CHECK(s.message().find("agent 9999") != std::string::npos);
  // What was read before the damaged row is not kept as if it were the table.
  CHECK(again.size() == 0);
  CHECK(again.digest() == 0);
  CHECK(again.Find("001") == nullptr);
}

TEST_CASE("a loaded table takes every change as a table built by Set does", "[nodes][groups]") {
  // Ids of several lengths (the store orders them as strings, the table by number), and keys that
  // are not ids, with lists shared and not.
  Node n("master");
  GroupTable built;
  std::vector<std::string> agents;
  const std::vector<std::vector<std::string>> lists = {{"default"}, {"web", "db"}, {"db"}, {"x"}};
  store::StoreBatch rows;
  for (int i = 0; i < 600; ++i) {
    std::string agent = i % 3 == 0   ? fmt::format("{:03}", i)
                        : i % 3 == 1 ? fmt::format("{:05}", i)
                                     : fmt::format("{}", 100000 + i);
    if (i % 50 == 7) agent = fmt::format("name-{}", i);
    agents.push_back(agent);
    const std::vector<std::string>& groups = lists[i % lists.size()];
    rows.Put(store::Table::kGroups, agent, store::EncodeGroupsRow(groups));
    built.Set(agent, groups);
  }
  REQUIRE(n.store->Write(rows).ok());
  GroupTable loaded;
  loaded.Set("stale", {"gone"});  // a load replaces whatever the table held
  REQUIRE(loaded.Load(*n.store).ok());
  REQUIRE(loaded.Rows() == built.Rows());
  REQUIRE(loaded.digest() == built.digest());

  // Agents that were loaded, removed, set again and new, in a seeded order.
  for (int i = 0; i < 400; ++i) agents.push_back(fmt::format("{:04}", 7000 + i));
  std::uint64_t seed = 42;
  auto next = [&seed](std::uint64_t below) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (seed >> 33) % below;
  };
  for (int step = 0; step < 20000; ++step) {
    const std::string& agent = agents[next(agents.size())];
    std::uint64_t pick = next(lists.size() + 2);
    std::vector<std::string> groups =
        pick < lists.size() ? lists[pick] : std::vector<std::string>{};
    INFO("step " << step << ": agent " << agent);
    REQUIRE(loaded.Set(agent, groups) == built.Set(agent, groups));
    REQUIRE(loaded.size() == built.size());
    REQUIRE(loaded.digest() == built.digest());
    REQUIRE(loaded.distinct_lists() == built.distinct_lists());
    const std::vector<std::string>* got = loaded.Find(agent);
    const std::vector<std::string>* want = built.Find(agent);
    REQUIRE((got == nullptr) == (want == nullptr));
    if (got != nullptr) REQUIRE(*got == *want);
  }
  CHECK(loaded.Rows() == built.Rows());
}
