// What each table of the node store holds, and how it is encoded: one place per table, so that
// a reader of the database needs this file only. Every decoder names the table and key of a row
// it cannot read and answers DataLoss; no row is ever read as empty.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/messages.h"

namespace zcluster::store {

// kAgents: agent id → its record, as schemas/ encodes it (EncodeAgentRecord).
std::string EncodeAgentRow(const schemas::AgentRecord& record);
Result<schemas::AgentRecord> DecodeAgentRow(std::string_view id, std::string_view bytes);

// kAgentCounters: agent id → the last report counter the worker accepted (EncodeU64).
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
