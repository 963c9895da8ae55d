// Every table's rows round-trip through records.h, keep the encoding databases already hold, and
// a row that cannot be read is DataLoss naming its table and key, never an empty value.
#include "zcluster/store/records.h"

#include "zcluster/store/node_store.h"

#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include "support/older_seen_log.h"

using namespace zcluster;
using namespace zcluster::store;

namespace {

const std::string kGarbage = "\xc1\xc1\xc1";  // 0xc1 is never used in msgpack

template <typename T>
std::string Pack(const T& v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return {b.data(), b.size()};
}

}  // namespace

TEST_CASE("every table's rows round-trip", "[store]") {
  schemas::AgentRecord agent{"001", {}, "w1", {}};
  agent.state.name = "web";
  agent.state.status = schemas::AgentStatus::kActive;
  CHECK(*DecodeAgentRow("001", EncodeAgentRow(agent)) == agent);

  std::vector<std::string> groups{"default", "web"};
  CHECK(*DecodeGroupsRow("001", EncodeGroupsRow(groups)) == groups);

  schemas::GroupChange gc{7, "001", groups};
  CHECK(*DecodeGroupChangeRow(7, EncodeGroupChangeRow(gc)) == gc);

  MasterFileRow mf{{"etc/rules/a.xml", std::string(64, 'a'), 10, 0660}, {10, 123456789, 42}};
  Result<MasterFileRow> mf2 = DecodeMasterFileRow("etc/rules/a.xml", EncodeMasterFileRow(mf));
  REQUIRE(mf2.ok());
  CHECK(mf2->entry == mf.entry);
  CHECK(mf2->stat.size == 10);
  CHECK(mf2->stat.mtime_ns == 123456789);
  CHECK(mf2->stat.inode == 42);

  CHECK(*DecodeExpectedFileRow("etc/rules/a.xml", EncodeExpectedFileRow(mf.entry)) == mf.entry);

  schemas::FileChange fc{9, false, mf.entry, ""};
  CHECK(*DecodeFileChangeRow(9, EncodeFileChangeRow(fc)) == fc);

  AgentSeenRow seen{schemas::AgentStatus::kDisconnected, 1700000000, 1700000600, 42, "w2"};
  CHECK(*DecodeAgentSeenRow("001", EncodeAgentSeenRow(seen)) == seen);
  CHECK(EncodeAgentSeenRow(seen).size() == 28);  // a few dozen bytes, not a record's hundreds
  Result<AgentCounterRow> counter = DecodeAgentCounterRow("001", EncodeAgentCounterRow(9, 77));
  REQUIRE(counter.ok());
  CHECK(counter->counter == 9);
  CHECK(counter->last_keepalive == std::optional<std::uint64_t>(77));
}

TEST_CASE("an agent row's summary agrees with the whole record", "[store]") {
  schemas::AgentRecord rec{"001", {}, "w3", {"web"}, 77};
  rec.state.name = "web";
  rec.state.status = schemas::AgentStatus::kDisconnected;
  // Labels named like fields are not the fields.
  rec.state.labels = {{"status", "active"}, {"last_keepalive", "5"}};
  rec.state.last_keepalive = 1700000123;
  rec.state.disconnection_time = 1700000999;
  Result<schemas::AgentRecordSummary> s = SummarizeAgentRow("001", EncodeAgentRow(rec));
  REQUIRE(s.ok());
  CHECK(s->status == schemas::AgentStatus::kDisconnected);
  CHECK(s->counter == 77);
  CHECK(s->node == "w3");
  CHECK(s->last_keepalive == 1700000123);
  CHECK(SummarizeAgentRow("017", kGarbage).status().code() == Code::kDataLoss);
  CHECK(
      SummarizeAgentRow("017", Pack(std::map<std::string, int>{{"node", 1}})).status().message() ==
      "store: agent 017: no state.status");
  // Nowhere but the state map's own field counts, and the row must be whole.
  schemas::AgentRecord only_label{"001", {}, "w3", {}, 1};
  only_label.state.labels = {{"status", "active"}};
  std::string row = EncodeAgentRow(only_label);
  CHECK(SummarizeAgentRow("001", row).ok());
  CHECK(SummarizeAgentRow("001", row.substr(0, row.size() - 1)).status().code() == Code::kDataLoss);
  CHECK(SummarizeAgentRow("001", row + '\x01').status().code() == Code::kDataLoss);
  CHECK(SummarizeAgentRow("001", Pack(std::vector<int>{1})).status().message() ==
        "store: agent 001: not a map");
  CHECK(SummarizeAgentRow("001", Pack(std::map<std::string, std::map<std::string, std::string>>{
                                     {"state", {{"status", "sleeping"}}}}))
            .status()
            .message() == "store: agent 001: state.status is not a known status");
  CHECK(SummarizeAgentRow("001", Pack(std::map<std::string, std::vector<std::string>>{
                                     {"state", {"status", "active"}}}))
            .status()
            .message() == "store: agent 001: no state.status");
}

TEST_CASE("a last-seen row lays its fields over the record and leaves the rest", "[store]") {
  schemas::AgentRecord rec{"001", {}, "w1", {}, 5};
  rec.state.version = "Wazuh v4.14.0";
  rec.state.last_keepalive = 100;
  rec.state.disconnection_time = 90;
  ApplySeen({schemas::AgentStatus::kActive, 200, 0, 6, "w2"}, rec);
  CHECK(rec.state.last_keepalive == 200);
  CHECK(rec.state.disconnection_time == 0);
  CHECK(rec.state.status == schemas::AgentStatus::kActive);
  CHECK(rec.counter == 6);
  CHECK(rec.node == "w2");
  CHECK(rec.state.version == "Wazuh v4.14.0");
}

TEST_CASE("rows keep the encoding existing databases hold", "[store]") {
  std::vector<std::string> groups{"default"};
  CHECK(EncodeGroupsRow(groups) == Pack(groups));
  CHECK(EncodeGroupChangeRow({3, "002", groups}) ==
        Pack(std::make_tuple(std::string("002"), groups)));
  schemas::FileEntry e{"etc/lists/x", std::string(64, 'b'), 5, 0660};
  CHECK(EncodeExpectedFileRow(e) == Pack(std::make_tuple(e.hash, e.size, e.mode)));
  CHECK(EncodeFileChangeRow({1, true, e, ""}) ==
        Pack(std::make_tuple(true, e.path, e.hash, e.size, e.mode)));
}

TEST_CASE("a row that cannot be read is DataLoss naming its key", "[store]") {
  auto is_loss_of = [](const Status& s, const std::string& key) {
    return s.code() == Code::kDataLoss && s.message().find(key) != std::string::npos;
  };
  CHECK(is_loss_of(DecodeAgentRow("017", kGarbage).status(), "agent 017"));
  CHECK(is_loss_of(DecodeGroupsRow("017", kGarbage).status(), "agent 017"));
  CHECK(is_loss_of(DecodeGroupsRow("017", Pack(5)).status(), "agent 017"));
  CHECK(is_loss_of(DecodeGroupChangeRow(12, kGarbage).status(), "entry 12"));
  CHECK(is_loss_of(DecodeMasterFileRow("etc/a", kGarbage).status(), "'etc/a'"));
  CHECK(is_loss_of(DecodeExpectedFileRow("etc/a", Pack(std::make_tuple(1))).status(), "'etc/a'"));
  CHECK(is_loss_of(DecodeFileChangeRow(12, kGarbage).status(), "entry 12"));
  std::string seen = EncodeAgentSeenRow({schemas::AgentStatus::kActive, 1, 0, 1, "w1"});
  CHECK(is_loss_of(DecodeAgentSeenRow("017", seen.substr(0, 20)).status(), "agent 017"));
  CHECK(is_loss_of(DecodeAgentSeenRow("017", "\x02" + seen.substr(1)).status(), "agent 017"));
  CHECK(is_loss_of(DecodeAgentSeenRow("017", seen.substr(0, 1) + "\x09" + seen.substr(2)).status(),
                   "agent 017"));
  CHECK(is_loss_of(DecodeAgentSeenRow("017", seen + std::string(300, 'x')).status(), "agent 017"));
  CHECK(is_loss_of(DecodeAgentCounterRow("017", "12345").status(), "agent 017"));
  CHECK(DecodeAgentCounterRow("017", EncodeU64(3))->last_keepalive == std::nullopt);
}

TEST_CASE("a damaged row whose header claims billions of entries is refused unallocated",
          "[store]") {
  // Found by tests/fuzz/records_fuzz.cc (regressions/records/): a map32 header claiming
  // 3.4 billion entries in a 5-byte row. msgpack-c would allocate for them before reading.
  const std::string row("\xdf\xcc\xa9\xff\xff", 5);
  Result<std::vector<std::string>> groups = DecodeGroupsRow("017", row);
  REQUIRE_FALSE(groups.ok());
  CHECK(groups.status().code() == Code::kDataLoss);
  CHECK(groups.status().message().find("map size overflow") != std::string::npos);
  CHECK_FALSE(DecodeGroupChangeRow(1, row).ok());
  CHECK_FALSE(DecodeFileChangeRow(1, row).ok());
}

namespace {

// Every entry of a seen-log group, as the visitor saw it (node and id copied out of the row).
struct Seen {
  std::string id;
  bool overlay;
  bool record;
  bool first;
  schemas::AgentStatus status;
  std::uint64_t keepalive, disconnection, counter;
  std::string node;
  bool operator==(const Seen&) const = default;
};

Result<std::vector<Seen>> ReadGroup(std::uint64_t seq, std::string_view bytes) {
  std::vector<Seen> out;
  Status s = ForEachSeenLogEntry(seq, bytes, [&](const SeenLogEntry& e) {
    out.push_back({std::string(e.id), e.overlay, e.record, e.first, e.status, e.last_keepalive,
                   e.disconnection_time, e.counter, std::string(e.node)});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace

TEST_CASE("a seen-log group keeps its entries in order, each node named once", "[store]") {
  SeenLogGroup group;
  CHECK(group.empty());
  const std::vector<Seen> want = {
      {"001", true, true, false, schemas::AgentStatus::kActive, 100, 0, 7, "worker-a"},
      {"002", true, true, false, schemas::AgentStatus::kDisconnected, 90, 120, 3, "worker-b"},
      {"001", false, true, false, schemas::AgentStatus::kPending, 1ull << 40, 5, ~0ull, "worker-a"},
      {"00003", false, false, false, schemas::AgentStatus::kNeverConnected, 0, 0, 0, ""},
      {"00004", false, true, true, schemas::AgentStatus::kActive, 1, 0, 1, "worker-b"},
  };
  for (const Seen& s : want) {
    REQUIRE(group
                .Add({s.id, s.overlay, s.record, s.first, s.status, s.keepalive, s.disconnection,
                      s.counter, s.node})
                .ok());
  }
  CHECK(group.size() == 5);
  CHECK(group.superseding() == 4);  // the last is an agent's first record
  const std::string row = group.Finish();
  CHECK(*ReadGroup(9, row) == want);
  // A keepalive costs its id and a few integers; the worker's name is not repeated.
  std::string::size_type first = row.find("worker-a");
  CHECK(row.find("worker-a", first + 1) == std::string::npos);
  CHECK(row.size() < 5 * 25);
  CHECK(ReadGroup(9, SeenLogGroup().Finish())->empty());

  // A snapshot's group reads the same, and says what it is.
  SeenLogGroup snapshot(/*snapshot=*/true);
  REQUIRE(
      snapshot.Add({"001", true, true, false, schemas::AgentStatus::kActive, 100, 0, 7, "w"}).ok());
  std::vector<bool> in_snapshot;
  auto note = [&](const SeenLogEntry& e) {
    in_snapshot.push_back(e.in_snapshot);
    CHECK(e.knows_record);
    return Status::Ok();
  };
  REQUIRE(ForEachSeenLogEntry(9, snapshot.Finish(), note).ok());
  REQUIRE(ForEachSeenLogEntry(9, row, note).ok());
  CHECK(in_snapshot == std::vector<bool>{true, false, false, false, false, false});
  // Only a snapshot's group can be the first of a whole log.
  CHECK(IsWholeSnapshotGroup(snapshot.Finish()));
  CHECK(IsWholeSnapshotGroup(SeenLogGroup(/*snapshot=*/true).Finish()));
  CHECK_FALSE(IsWholeSnapshotGroup(row));
  CHECK_FALSE(IsWholeSnapshotGroup(""));

  CHECK(group.Add({std::string(256, '1'), true, true, false, {}, 0, 0, 0, "w"}).code() ==
        Code::kInvalidArgument);
  CHECK(group.Add({"004", true, true, false, {}, 0, 0, 0, std::string(256, 'w')}).code() ==
        Code::kInvalidArgument);
  CHECK(group.size() == 5);
}

TEST_CASE("a damaged seen-log group is DataLoss naming it, and applies no entry", "[store]") {
  SeenLogGroup group;
  REQUIRE(
      group.Add({"001", true, true, false, schemas::AgentStatus::kActive, 100, 0, 7, "w1"}).ok());
  REQUIRE(
      group.Add({"002", true, true, false, schemas::AgentStatus::kActive, 100, 0, 7, "w2"}).ok());
  const std::string row = group.Finish();
  // Header: format, entry count (4), node count (2); then "\x02w1", "\x02w2"; then the entries,
  // the first [3]["001"][flags] then 100, 0, 7 and node 0 as one-byte varints.
  const std::size_t entries = 7 + 3 + 3;
  const std::size_t second_flags = entries + (1 + 3 + 1 + 4) + 1 + 3;
  auto with = [&](std::size_t at, char c) {
    std::string damaged = row;
    damaged[at] = c;
    return damaged;
  };
  const std::vector<std::pair<std::string, std::string>> damaged = {
      {row.substr(0, 5), "too short"},
      {with(0, '\x07'), "unknown format"},
      {with(4, '\x03'), "entries cut short"},     // claims a third entry
      {with(6, '\x09'), "node names cut short"},  // nine names
      {row.substr(0, row.size() - 1), "entries cut short"},
      {row + "x", "bytes after the last entry"},
      {with(second_flags, '\x09'), "unknown status"},  // the second entry's: the first is fine
      {with(second_flags, '\x10'), "unknown status"},
      {std::string(row).insert(entries + 5, std::string(10, '\xff')), "a number past 64 bits"},
      {with(row.size() - 1, '\x02'), "unknown node index"},
  };
  for (const auto& [bytes, why] : damaged) {
    INFO(why);
    std::size_t visited = 0;
    Status s = ForEachSeenLogEntry(41, bytes, [&](const SeenLogEntry&) {
      ++visited;
      return Status::Ok();
    });
    CHECK(s.code() == Code::kDataLoss);
    CHECK(s.message().find("seen log group 41") != std::string::npos);
    CHECK(s.message().find(why) != std::string::npos);
    CHECK(visited == 0);
  }
  // A count of billions in a short row is refused before anything is read for it.
  std::string huge = row;
  huge.replace(1, 4, "\xff\xff\xff\xff");
  CHECK(ForEachSeenLogEntry(1, huge, [](const SeenLogEntry&) { return Status::Ok(); }).code() ==
        Code::kDataLoss);
}

TEST_CASE("an older zcluster's seen-log groups read without the record bit", "[store]") {
  for (const char format : {'\x01', '\x02'}) {
    INFO(int(format));
    // One entry of agent 001 from node w1, in the fixed-width layout of formats 1 and 2.
    auto older = [&](unsigned char flags) {
      return zcluster::testing::OlderSeenLogGroup(format, "001", "w1", flags, 900, 0, 3);
    };
    const auto active = static_cast<unsigned char>(schemas::AgentStatus::kActive);
    const std::string row = older(0x80 | active);  // the entries' views point into it
    std::vector<SeenLogEntry> seen;
    REQUIRE(ForEachSeenLogEntry(3, row, [&](const SeenLogEntry& e) {
              seen.push_back(e);
              return Status::Ok();
            }).ok());
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].id == "001");
    CHECK_FALSE(seen[0].knows_record);
    CHECK_FALSE(seen[0].record);
    CHECK(seen[0].overlay);
    CHECK(seen[0].in_snapshot == (format == '\x02'));
    CHECK(seen[0].status == schemas::AgentStatus::kActive);
    CHECK(seen[0].last_keepalive == 900);
    CHECK(seen[0].counter == 3);
    CHECK(seen[0].node == "w1");
    CHECK_FALSE(IsWholeSnapshotGroup(row));
    // Those formats had no record bit: one set there is damage.
    CHECK(ForEachSeenLogEntry(3, older(0xc0 | active), [](const SeenLogEntry&) {
            return Status::Ok();
          }).code() == Code::kDataLoss);
  }
}
