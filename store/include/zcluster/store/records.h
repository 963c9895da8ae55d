// What each table of the node store holds, and how it is encoded: one place per table, so that
// a reader of the database needs this file only. Every decoder names the table and key of a row
// it cannot read and answers DataLoss; no row is ever read as empty.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/messages.h"

namespace zcluster::store {

// kAgents: agent id → its record, as schemas/ encodes it (EncodeAgentRecord).
std::string EncodeAgentRow(const schemas::AgentRecord& record);
// The row of the record {id, state named `name`, node, counter}, without building the record.
std::string EncodeAgentRow(std::string_view id, const schemas::AgentState& state,
                           std::string_view name, std::string_view node, std::uint64_t counter);
Result<schemas::AgentRecord> DecodeAgentRow(std::string_view id, std::string_view bytes);
// What a master needs of every row at start (schemas::SummarizeAgentRecord): DataLoss as
// DecodeAgentRow.
Result<schemas::AgentRecordSummary> SummarizeAgentRow(std::string_view id, std::string_view bytes);

// kAgentSeen: agent id → what a keepalive-only update changes (status, keepalive, disconnection
// time, report counter, reporting node), written alone so that the report that changes nothing
// else costs a write of a few dozen bytes and no read. It overrides those fields of the agent's
// kAgents row; a write of the whole record removes it.
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
