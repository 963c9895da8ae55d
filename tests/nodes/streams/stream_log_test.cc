#include "streams/stream_log.h"

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

std::vector<std::uint64_t> After(const StreamLog& log, std::uint64_t from) {
  std::vector<std::uint64_t> seqs;
  REQUIRE(log.ReadAfter(from,
                        [&](std::uint64_t seq, std::string_view entry) {
                          CHECK(entry == "e" + std::to_string(seq));
                          seqs.push_back(seq);
                          return Status::Ok();
                        })
              .ok());
  return seqs;
}

void Append(store::NodeStore& store, StreamLog& log, int n) {
  std::vector<std::string> entries;
  for (int i = 1; i <= n; ++i) entries.push_back("e" + std::to_string(log.seq() + i));
  store::StoreBatch batch;
  log.Stage(batch, entries);
  REQUIRE(store.Write(batch).ok());
  log.Committed();
}

}  // namespace

TEST_CASE("a stream log numbers, keeps a bounded tail and survives a restart", "[nodes][streams]") {
  testing::TempDir dir;
  auto store = std::move(store::NodeStore::Open(dir / "db", {"c", "m", "master"})).value();
  {
    StreamLog log = *StreamLog::Load(*store, store::Table::kGroupsLog, "groups", /*keep=*/3);
    CHECK(log.seq() == 0);
    CHECK(log.NeedsFull(0));
    Append(*store, log, 2);
    CHECK(log.seq() == 2);
    CHECK(After(log, 0) == std::vector<std::uint64_t>{1, 2});
    Append(*store, log, 3);  // 5 changes, the log keeps 3..5
    CHECK(log.NeedsFull(1));
    CHECK_FALSE(log.NeedsFull(2));
    CHECK(After(log, 2) == std::vector<std::uint64_t>{3, 4, 5});
    CHECK(log.NeedsFull(6));  // ahead of the master
  }
  StreamLog again = *StreamLog::Load(*store, store::Table::kGroupsLog, "groups", 3);
  CHECK(again.seq() == 5);
  CHECK(again.NeedsFull(1));
  CHECK(After(again, 3) == std::vector<std::uint64_t>{4, 5});
  // Staged but not written: nothing moves.
  store::StoreBatch unused;
  again.Stage(unused, {"e6"});
  CHECK(again.seq() == 5);
}
