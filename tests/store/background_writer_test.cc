#include "zcluster/store/background_writer.h"

#include <poll.h>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::store;

namespace {

const NodeIdentity kId{"wazuh", "master", "master"};

StoreBatch OneRow(const std::string& key, const std::string& value) {
  StoreBatch batch;
  batch.Put(Table::kAgents, key, value);
  return batch;
}

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

TEST_CASE("a background write says when it is durable, one at a time", "[store]") {
  testing::TempDir dir;
  auto store = NodeStore::Open(dir / "db", kId);
  REQUIRE(store.ok());
  auto writer = BackgroundWriter::Start(**store);
  REQUIRE(writer.ok());
  BackgroundWriter& w = **writer;
  CHECK_FALSE(w.busy());
  CHECK(w.Collect().code() == Code::kFailedPrecondition);
  CHECK_FALSE(Readable(w.fd(), 0));

  REQUIRE(w.Submit(OneRow("001", "first")).ok());
  CHECK(w.busy());
  CHECK(w.Submit(OneRow("002", "second")).code() == Code::kFailedPrecondition);
  REQUIRE(Readable(w.fd(), 10000));
  REQUIRE(w.Collect().ok());
  CHECK_FALSE(w.busy());
  CHECK_FALSE(Readable(w.fd(), 0));  // collected: quiet until the next write
  CHECK(*(*store)->Get(Table::kAgents, "001") == std::optional<std::string>("first"));
  CHECK(*(*store)->Get(Table::kAgents, "002") == std::nullopt);

  // Collect waits for a write that has not finished.
  REQUIRE(w.Submit(OneRow("002", "second")).ok());
  REQUIRE(w.Collect().ok());
  CHECK(*(*store)->Get(Table::kAgents, "002") == std::optional<std::string>("second"));
}

TEST_CASE("a background writer that goes away finishes the write it was handed", "[store]") {
  testing::TempDir dir;
  {
    auto store = NodeStore::Open(dir / "db", kId);
    REQUIRE(store.ok());
    auto writer = BackgroundWriter::Start(**store);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->Submit(OneRow("007", "kept")).ok());
  }
  auto again = NodeStore::Open(dir / "db", kId);
  REQUIRE(again.ok());
  CHECK(*(*again)->Get(Table::kAgents, "007") == std::optional<std::string>("kept"));
}

TEST_CASE("a failed background write is reported by Collect", "[store]") {
  testing::TempDir dir;
  auto store = NodeStore::Open(dir / "db", kId);
  REQUIRE(store.ok());
  auto writer = BackgroundWriter::Start(**store);
  REQUIRE(writer.ok());
  StoreBatch bad;
  bad.DeleteRange(Table::kAgents, "z", "a");  // RocksDB refuses a range that ends before it begins
  REQUIRE((*writer)->Submit(std::move(bad)).ok());
  Status s = (*writer)->Collect();
  CHECK_FALSE(s.ok());
  CHECK_FALSE((*writer)->busy());
}
