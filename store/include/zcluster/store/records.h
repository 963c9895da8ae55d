// What each table of the node store holds, and how it is encoded: one place per table, so that
// a reader of the database needs this file only. Every decoder names the table and key of a row
// it cannot read and answers DataLoss; no row is ever read as empty.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/agent_info_view.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::store {

// kAgents: agent id → its record, as schemas/ encodes it (EncodeAgentRecord).
std::string EncodeAgentRow(const schemas::AgentRecord& record);
// The row of the record {id, state named `name`, node, counter}, without building the record.
std::string EncodeAgentRow(std::string_view id, const schemas::AgentState& state,
                           std::string_view name, std::string_view node, std::uint64_t counter);
// The row of {id, state, node, counter} for state bytes a record may carry as they are
// (schemas::AgentUpdateView::state_as_is).
std::string EncodeAgentRowOfState(std::string_view id, std::string_view state,
                                  std::string_view node, std::uint64_t counter);
Result<schemas::AgentRecord> DecodeAgentRow(std::string_view id, std::string_view bytes);
// What a master needs of every row at start (schemas::SummarizeAgentRecord): DataLoss as
// DecodeAgentRow.
Result<schemas::AgentRecordSummary> SummarizeAgentRow(std::string_view id, std::string_view bytes);

// kAgentSeen: agent id → what a keepalive-only update changes (status, keepalive, disconnection
// time, report counter, reporting node). It overrides those fields of the agent's kAgents row.
// Written by earlier masters, one row per keepalive; read at start, then folded into
// kAgentSeenLog and deleted.
struct AgentSeenRow {
  schemas::AgentStatus status = schemas::AgentStatus::kActive;
  std::uint64_t last_keepalive = 0;
  std::uint64_t disconnection_time = 0;
  std::uint64_t counter = 0;
  std::string node;
  bool operator==(const AgentSeenRow&) const = default;
};
std::string EncodeAgentSeenRow(const AgentSeenRow& row);
Result<AgentSeenRow> DecodeAgentSeenRow(std::string_view id, std::string_view bytes);
// The record as it stands once `seen` is laid over it.
void ApplySeen(const AgentSeenRow& seen, schemas::AgentRecord& record);

// kAgentSeenLog (master): sequence number (EncodeU64) → a group of last-seen entries, in the
// order the master applied them: what keepalive-only updates, marks of a lost worker's agents,
// full records and removals did to each agent's last-seen fields. A group of thousands of
// keepalives is one row, written with the write that acknowledges them; the per-agent row of a
// keepalive would make RocksDB's per-key cost the limit of the keepalive path. Replayed in
// sequence order at start; the master folds the log now and then into one snapshot of every
// agent it holds anything of and deletes what came before it. Every write of a kAgents row has
// its entry, so once a snapshot is whole the log alone says what a start needs of every agent
// (NodeStore position kSeenLogCompleteStream names that snapshot's first group); before that it
// is replayed over a scan of the kAgents rows (and an older store's kAgentSeen rows).
struct SeenLogEntry {
  std::string_view id;
  // True: the fields override the agent's kAgents row. False: the row is the whole truth again
  // (a full record was written, or the agent was removed); the fields are the row's.
  bool overlay = true;
  // Whether the agent has a kAgents row once the entry applies: false only for a removal.
  bool record = true;
  // The agent had nothing stored before (its first record): the entry makes no earlier one
  // obsolete, so it does not count towards a fold.
  bool first = false;
  schemas::AgentStatus status = schemas::AgentStatus::kActive;
  std::uint64_t last_keepalive = 0;
  std::uint64_t disconnection_time = 0;
  std::uint64_t counter = 0;
  std::string_view node;
  // Set by ForEachSeenLogEntry: the entry is part of a fold's snapshot (which does not count
  // towards the next fold). Add ignores it: the group says it.
  bool in_snapshot = false;
  // Set by ForEachSeenLogEntry: `record` was written (a group of an older zcluster leaves it
  // unknown, and its removals and full records may have no entry at all).
  bool knows_record = false;
};
// The NodeStore position naming the first group of a whole snapshot; 0 while the log has none.
// Written by the master with the write that ends a fold (and deletes the groups before the
// snapshot), or with an empty snapshot group when a store begins with no agents at all.
inline constexpr const char* kSeenLogCompleteStream = "agents.seen.complete";
// Whether the group stored as `bytes` is a fold's snapshot group of this format (one that knows
// which agents have records): what a start checks before it trusts kSeenLogCompleteStream.
bool IsWholeSnapshotGroup(std::string_view bytes);
// Builds one group. The few node names are written once, ahead of the entries. A snapshot's
// groups are marked as such.
class SeenLogGroup {
 public:
  explicit SeenLogGroup(bool snapshot = false) : snapshot_(snapshot) {}
  // Ids longer than 255 bytes (never a valid agent id) and a 65,536th node name are refused.
  Status Add(const SeenLogEntry& entry);
  std::size_t size() const { return count_; }
  // Entries that make an earlier one obsolete: those not marked `first`.
  std::size_t superseding() const { return count_ - firsts_; }
  bool empty() const { return count_ == 0; }
  std::string Finish() const;

 private:
  std::vector<std::string> nodes_;
  std::size_t last_node_ = 0;  // a group's entries mostly come from one worker in a row
  std::string entries_;
  std::uint32_t count_ = 0;
  std::uint32_t firsts_ = 0;
  bool snapshot_ = false;
};
// Calls `visit` for each entry of the group stored at `seq`, in order; DataLoss naming the
// sequence number when the row is damaged, checked whole before the first entry is visited.
using SeenLogVisitor = std::function<Status(const SeenLogEntry&)>;
Status ForEachSeenLogEntry(std::uint64_t seq, std::string_view bytes, const SeenLogVisitor& visit);

// kAgentCounters (worker): agent id → the last report counter the worker accepted and the
// keepalive time of that report, 16 bytes (two EncodeU64). The keepalive time overrides the
// kAgents row's, which is written only when more than the keepalive changed. A row of 8 bytes
// (the counter alone, as older stores hold) leaves the kAgents row's time as it is.
struct AgentCounterRow {
  std::uint64_t counter = 0;
  std::optional<std::uint64_t> last_keepalive;
};
std::string EncodeAgentCounterRow(std::uint64_t counter, std::uint64_t last_keepalive);
Result<AgentCounterRow> DecodeAgentCounterRow(std::string_view id, std::string_view bytes);
// kAgentPending: agent id → "" while the agent has a change the master has not acknowledged.

// kGroups: agent id → its groups, in order (a msgpack array of strings).
std::string EncodeGroupsRow(const std::vector<std::string>& groups);
Result<std::vector<std::string>> DecodeGroupsRow(std::string_view agent, std::string_view bytes);

// kGroupsLog: sequence number (EncodeU64) → one change of the groups stream ([agent, groups]).
std::string EncodeGroupChangeRow(const schemas::GroupChange& change);
Result<schemas::GroupChange> DecodeGroupChangeRow(std::uint64_t seq, std::string_view bytes);

// kFiles on the master: path → the file's entry and the stat that entry's hash was taken at (a
// restart rehashes only files whose stat moved).
struct FileStatRow {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
};
struct MasterFileRow {
  schemas::FileEntry entry;
  FileStatRow stat;
};
std::string EncodeMasterFileRow(const MasterFileRow& row);
Result<MasterFileRow> DecodeMasterFileRow(std::string_view path, std::string_view bytes);

// kFiles on a worker: path → the entry the master's table holds (what the disk must match).
std::string EncodeExpectedFileRow(const schemas::FileEntry& entry);
Result<schemas::FileEntry> DecodeExpectedFileRow(std::string_view path, std::string_view bytes);

// kFilesLog: sequence number (EncodeU64) → one change of the files stream, metadata only (a
// replay fetches the content).
std::string EncodeFileChangeRow(const schemas::FileChange& change);
Result<schemas::FileChange> DecodeFileChangeRow(std::uint64_t seq, std::string_view bytes);

}  // namespace zcluster::store
