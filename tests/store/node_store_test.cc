#include "zcluster/store/node_store.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::store;

TEST_CASE("a node store keeps identity and positions across reopen", "[store]") {
  testing::TempDir dir;
  const NodeIdentity id{"wazuh", "w1", "worker"};
  {
    auto store = NodeStore::Open(dir / "db", id);
    REQUIRE(store.ok());
    CHECK((*store)->starts() == 1);
    CHECK(*(*store)->Position("groups") == 0);
    StoreBatch batch;
    batch.SetPosition("groups", 42);
    batch.SetPosition("files", uint64_t{1} << 40);
    REQUIRE((*store)->Write(batch).ok());
  }
  auto again = NodeStore::Open(dir / "db", id);
  REQUIRE(again.ok());
  CHECK((*again)->starts() == 2);
  CHECK(*(*again)->Position("groups") == 42);
  CHECK(*(*again)->Position("files") == uint64_t{1} << 40);
}

TEST_CASE("a database of another cluster or node or type is refused", "[store]") {
  testing::TempDir dir;
  REQUIRE(NodeStore::Open(dir / "db", {"wazuh", "w1", "worker"}).ok());
  auto other_cluster = NodeStore::Open(dir / "db", {"other", "w1", "worker"});
  REQUIRE_FALSE(other_cluster.ok());
  CHECK(other_cluster.status().code() == Code::kFailedPrecondition);
  CHECK(other_cluster.status().message().find("cluster 'wazuh', not 'other'") != std::string::npos);
  CHECK(NodeStore::Open(dir / "db", {"wazuh", "w2", "worker"}).status().code() ==
        Code::kFailedPrecondition);
  CHECK(NodeStore::Open(dir / "db", {"wazuh", "w1", "master"}).status().code() ==
        Code::kFailedPrecondition);
  // The refusals changed nothing: the rightful owner still opens it.
  CHECK(NodeStore::Open(dir / "db", {"wazuh", "w1", "worker"}).ok());
}

TEST_CASE("one process at a time holds a database", "[store]") {
  testing::TempDir dir;
  auto first = NodeStore::Open(dir / "db", {"wazuh", "m", "master"});
  REQUIRE(first.ok());
  auto second = NodeStore::Open(dir / "db", {"wazuh", "m", "master"});
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kUnavailable);
}

TEST_CASE("batches write several tables at once and survive reopen", "[store]") {
  testing::TempDir dir;
  const NodeIdentity id{"wazuh", "w1", "worker"};
  {
    auto store = NodeStore::Open(dir / "db", id);
    REQUIRE(store.ok());
    StoreBatch batch;
    batch.Put(Table::kAgents, "002", "two");
    batch.Put(Table::kAgents, "001", "one");
    batch.Put(Table::kAgentCounters, "001", EncodeU64(7));
    batch.Put(Table::kAgentPending, "001", "x");
    REQUIRE((*store)->Write(batch).ok());
    StoreBatch erase;
    erase.Delete(Table::kAgentPending, "001");
    REQUIRE((*store)->Write(erase).ok());
  }
  auto store = NodeStore::Open(dir / "db", id);
  REQUIRE(store.ok());
  CHECK(*(*store)->Get(Table::kAgents, "001") == std::optional<std::string>("one"));
  CHECK_FALSE((*store)->Get(Table::kAgents, "003")->has_value());
  CHECK(*DecodeU64(**(*store)->Get(Table::kAgentCounters, "001")) == 7);
  CHECK_FALSE((*store)->Get(Table::kAgentPending, "001")->has_value());
  std::vector<std::string> keys;
  REQUIRE((*store)
              ->ForEach(Table::kAgents,
                        [&](std::string_view k, std::string_view) {
                          keys.emplace_back(k);
                          return Status::Ok();
                        })
              .ok());
  CHECK(keys == std::vector<std::string>{"001", "002"});
  // A visitor's error stops the scan and comes back.
  Status stopped = (*store)->ForEach(
      Table::kAgents, [](std::string_view, std::string_view) { return Status::DataLoss("stop"); });
  CHECK(stopped.code() == Code::kDataLoss);
}

TEST_CASE("a store closed cleanly leaves no log for the next open to replay", "[store]") {
  // A restart's open replays whatever the write-ahead log still holds; a clean close writes the
  // memtables out instead, so the log files left behind are empty.
  testing::TempDir dir;
  const NodeIdentity id{"wazuh", "m", "master"};
  auto log_bytes = [&] {
    std::uintmax_t bytes = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir / "db")) {
      if (f.path().extension() == ".log") bytes += f.file_size();
    }
    return bytes;
  };
  {
    auto store = NodeStore::Open(dir / "db", id);
    REQUIRE(store.ok());
    StoreBatch batch;
    for (int i = 0; i < 1000; ++i) batch.Put(Table::kAgents, fmt::format("{:03}", i), "record");
    REQUIRE((*store)->Write(batch).ok());
    REQUIRE(log_bytes() > 0);
  }
  CHECK(log_bytes() == 0);
  auto again = NodeStore::Open(dir / "db", id);
  REQUIRE(again.ok());
  CHECK(*(*again)->Get(Table::kAgents, "999") == std::optional<std::string>("record"));
}

TEST_CASE("a store flushed at a node's stop has no log left and takes writes after it", "[store]") {
  testing::TempDir dir;
  const NodeIdentity id{"wazuh", "w", "worker"};
  auto store = NodeStore::Open(dir / "db", id);
  REQUIRE(store.ok());
  StoreBatch batch;
  for (int i = 0; i < 1000; ++i) batch.Put(Table::kAgents, fmt::format("{:03}", i), "record");
  REQUIRE((*store)->Write(batch).ok());
  REQUIRE((*store)->Flush().ok());
  std::uintmax_t log_bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir / "db")) {
    if (f.path().extension() == ".log") log_bytes += f.file_size();
  }
  CHECK(log_bytes == 0);
  StoreBatch later;
  later.Put(Table::kAgents, "1000", "later");
  REQUIRE((*store)->Write(later).ok());
  CHECK(*(*store)->Get(Table::kAgents, "1000") == std::optional<std::string>("later"));
  CHECK(*(*store)->Get(Table::kAgents, "999") == std::optional<std::string>("record"));
}

TEST_CASE("within a batch, a key's later operation lands over its earlier ones", "[store]") {
  testing::TempDir dir;
  auto store = NodeStore::Open(dir / "db", {"wazuh", "m", "master"});
  REQUIRE(store.ok());
  // Keys out of order and each written several times, across tables: the batch is written
  // sorted by key, and each key must keep the order of its own operations.
  StoreBatch batch;
  for (int round = 0; round < 3; ++round) {
    for (int k = 40; k > 0; --k) {
      const std::string key = fmt::format("{:03}", k);
      batch.Put(Table::kAgentSeen, key, fmt::format("{}-{}", key, round));
      batch.Put(Table::kAgents, key, fmt::format("r{}", round));
      if (k % 2 == 0) batch.Delete(Table::kAgents, key);
    }
  }
  batch.Put(Table::kAgents, "007", "last");
  batch.SetPosition("groups", 9);
  batch.SetPosition("groups", 5);
  REQUIRE((*store)->Write(batch).ok());
  for (int k = 1; k <= 40; ++k) {
    const std::string key = fmt::format("{:03}", k);
    CHECK(*(*store)->Get(Table::kAgentSeen, key) == std::optional(key + "-2"));
    std::optional<std::string> record = *(*store)->Get(Table::kAgents, key);
    if (key == "007") {
      CHECK(record == std::optional<std::string>("last"));
    } else if (k % 2 == 0) {
      CHECK_FALSE(record.has_value());
    } else {
      CHECK(record == std::optional<std::string>("r2"));
    }
  }
  CHECK(*(*store)->Position("groups") == 5);
}

TEST_CASE("range deletions go to the tables that take them, never to an agent table", "[store]") {
  testing::TempDir dir;
  auto store = NodeStore::Open(dir / "db", {"wazuh", "w", "worker"});
  REQUIRE(store.ok());
  // A whole-table replace of the files, several times over, between many agent writes: the
  // agent tables' memtables keep an insert hint, which a range deletion must never reach.
  for (int round = 0; round < 4; ++round) {
    StoreBatch files;
    files.DeleteRange(Table::kFiles, "", std::string(1, '\xff'));
    for (int f = 0; f < 50; ++f) files.Put(Table::kFiles, fmt::format("f{:02}", (f * 7) % 50), "x");
    REQUIRE((*store)->Write(files).ok());
    StoreBatch agents;
    for (int k = 0; k < 500; ++k) {
      const std::string key = fmt::format("{:04}", (k * 37 + round) % 500);
      agents.Put(Table::kAgents, key, fmt::format("r{}", round));
      agents.Put(Table::kAgentSeen, key, "s");
    }
    REQUIRE((*store)->Write(agents).ok());
  }
  CHECK(*(*store)->Get(Table::kFiles, "f07") == std::optional<std::string>("x"));
  CHECK((*(*store)->Get(Table::kAgents, "0123")).has_value());

  // A range deletion in an agent table is refused whole, with the reason.
  StoreBatch bad;
  bad.Put(Table::kAgents, "9999", "new");
  bad.DeleteRange(Table::kAgents, "0000", "0100");
  Status s = (*store)->Write(bad);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("range deletion in an agent table") != std::string::npos);
  CHECK_FALSE((*(*store)->Get(Table::kAgents, "9999")).has_value());
  CHECK((*(*store)->Get(Table::kAgents, "0050")).has_value());
  CHECK((*store)->writable());
}
