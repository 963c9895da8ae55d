// Agent-group messages: the master's sequence-numbered groups stream (PUB → SUB), the snapshot
// exchange a worker uses to join or resync (DEALER → ROUTER), and the control requests that
// assign groups. Included by messages.h; SCHEMAS.md documents the sequence rules.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zcluster::schemas {

inline constexpr std::size_t kMaxGroupNameLength = 128;
inline constexpr std::size_t kMaxStreamChanges = 200000;  // changes in one delta or sync message

// A group is a folder of etc/shared/: 1..128 of A-Z a-z 0-9 . - _, and not "." or "..".
bool IsValidGroupName(std::string_view name);

using GroupMap = std::map<std::string, std::vector<std::string>>;  // agent id → groups, in order

// One change of the groups stream: agent's groups become `groups` (empty: no row any more).
struct GroupChange {
  std::uint64_t seq = 0;
  std::string agent;
  std::vector<std::string> groups;
  bool operator==(const GroupChange&) const = default;
};

// master → workers (PUB): changes with consecutive sequence numbers, oldest first.
struct GroupsDelta {
  static constexpr std::string_view kType = "groups_delta";
  std::vector<GroupChange> changes;
  bool operator==(const GroupsDelta&) const = default;
};

// master → workers (PUB), every second: the latest sequence number of a stream, so that a worker
// on a quiet stream still notices a delta it missed.
struct StreamHeartbeat {
  static constexpr std::string_view kType = "stream_heartbeat";
  std::string stream;  // "groups"
  std::uint64_t seq = 0;
  bool operator==(const StreamHeartbeat&) const = default;
};

// worker → master: "I have applied up to `from`; bring me up to date." 0 asks for everything.
struct GroupsSyncRequest {
  static constexpr std::string_view kType = "groups_sync_request";
  std::uint64_t from = 0;
  bool operator==(const GroupsSyncRequest&) const = default;
};

// master → worker: the changes after `from` from the master's delta log, or (`full`) the whole
// table, either way current up to `seq`.
struct GroupsSync {
  static constexpr std::string_view kType = "groups_sync";
  std::uint64_t seq = 0;
  bool full = false;
  std::vector<GroupChange> changes;  // !full
  GroupMap groups;                   // full
  bool operator==(const GroupsSync&) const = default;
};

// control → master: give `agents` the `groups` (appended in order, or in place of their groups
// when `replace`). NotFound for an agent not in client.keys or a group with no folder.
struct GroupAssign {
  static constexpr std::string_view kType = "group_assign";
  std::vector<std::string> agents;
  std::vector<std::string> groups;
  bool replace = false;
  bool operator==(const GroupAssign&) const = default;
};

// control → master: take `groups` (all when empty) away from `agents`; an agent left with none
// goes back to "default", as in Wazuh.
struct GroupUnassign {
  static constexpr std::string_view kType = "group_unassign";
  std::vector<std::string> agents;
  std::vector<std::string> groups;
  bool operator==(const GroupUnassign&) const = default;
};

// master → control: the changes are durable and published.
struct GroupsChanged {
  static constexpr std::string_view kType = "groups_changed";
  std::uint64_t seq = 0;      // the stream position after the change
  std::uint64_t changed = 0;  // agents whose groups changed
  bool operator==(const GroupsChanged&) const = default;
};

// control → any node: its own group table.
struct GroupTableQuery {
  static constexpr std::string_view kType = "group_table_query";
  bool operator==(const GroupTableQuery&) const = default;
};

struct GroupTable {
  static constexpr std::string_view kType = "group_table";
  std::uint64_t seq = 0;  // the stream position the table reflects
  GroupMap groups;
  std::vector<std::string> defined;  // the node's etc/shared/ folders
  bool operator==(const GroupTable&) const = default;
};

}  // namespace zcluster::schemas
