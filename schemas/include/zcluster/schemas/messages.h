// The message types of the zcluster protocol and their msgpack encoding. SCHEMAS.md beside this
// folder is the reference for implementers in other languages; tests/schemas checks that every
// example encoding there matches this code.
//
// A message is two ZeroMQ frames: frame 0 is the type name as a msgpack str ("hello"), frame 1
// the body as a msgpack map with str keys. A ROUTER adds the routing id in front; nothing else
// is framed. Decoders ignore map keys they do not know (so a newer peer may add fields within
// a protocol version) and reject missing or mistyped required fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "zcluster/schemas/agents.h"
#include "zcluster/schemas/files.h"
#include "zcluster/schemas/groups.h"
#include "zcluster/schemas/monitor.h"
#include "zcluster/schemas/status.h"

namespace zcluster::schemas {

// Bumped when a change is not backwards compatible; the master refuses a hello whose protocol
// differs from its own.
inline constexpr std::uint32_t kProtocolVersion = 1;
// Longest node or cluster name accepted, on the wire and in config.
inline constexpr std::size_t kMaxNameLength = 64;
// Longest free-text field (error messages, software versions, addresses).
inline constexpr std::size_t kMaxTextLength = 1024;
// Most nodes a node list may carry.
inline constexpr std::size_t kMaxNodes = 100000;

// Wazuh's rule for node and cluster names: A-Z, a-z, 0-9, '.', '-', '_', 1..kMaxNameLength long.
bool IsValidName(std::string_view name);

// The version in a software string: "zcluster 0.1.0" → "0.1.0" (the whole string if no space).
std::string SoftwareVersion(std::string_view software);

// worker → master: the first message of a session.
struct Hello {
  static constexpr std::string_view kType = "hello";
  std::string cluster;  // the <cluster><name> the worker belongs to
  std::string node;     // the worker's <node_name>; must match the name its key is filed under
  std::uint32_t protocol = kProtocolVersion;
  std::string software;  // e.g. "zcluster 0.1.0", shown by zcluster-control -l
  bool operator==(const Hello&) const = default;
};

// master → worker: hello accepted.
struct Welcome {
  static constexpr std::string_view kType = "welcome";
  std::string cluster;
  std::string master;  // the master's node name
  std::uint32_t protocol = kProtocolVersion;
  std::string software;
  // Seconds without a keepalive after which the master drops the worker (0: not said).
  double max_silence = 0;
  bool operator==(const Welcome&) const = default;
};

// worker → master, every <keep_alive> seconds once welcomed.
struct Keepalive {
  static constexpr std::string_view kType = "keepalive";
  std::uint64_t n = 0;              // counts keepalives within a session; echoed by the ack
  std::uint64_t groups_seq = 0;     // the last groups-stream change the worker applied
  std::uint64_t groups_digest = 0;  // digest of its group table (see SCHEMAS.md)
  std::uint64_t files_seq = 0;      // the last files-stream change the worker applied
  std::uint64_t files_digest = 0;   // digest of the files on its disk
  double integrity_start = 0;       // its last integrity sync (repair round), unix times
  double integrity_end = 0;
  std::uint64_t files_created = 0, files_updated = 0, files_deleted = 0;
  std::string store_error{};    // why its database refuses writes ("" while it takes them)
  double agent_sync_start = 0;  // its last finished agent-info round, unix times (0: none yet)
  double agent_sync_end = 0;
  std::uint64_t agents_sent = 0;  // agents it sent in that round
  bool operator==(const Keepalive&) const = default;
};

// master → worker.
struct KeepaliveAck {
  static constexpr std::string_view kType = "keepalive_ack";
  std::uint64_t n = 0;
  bool resync_groups = false;  // the worker's group table differs at the same position: resync
  bool operator==(const KeepaliveAck&) const = default;
};

// worker → master: the worker is stopping; the master ends its session at once instead of
// waiting for its silence, and logs a clean disconnect. No reply.
struct Goodbye {
  static constexpr std::string_view kType = "goodbye";
  std::string reason;  // at most kMaxTextLength bytes
  bool operator==(const Goodbye&) const = default;
};

// Any reply that refuses a request. `code` is a zcluster::Code number.
struct ErrorReply {
  static constexpr std::string_view kType = "error";
  Code code = Code::kInternal;
  std::string message;
  std::string in_reply_to;  // the type of the refused message, "" when it could not be read
  bool operator==(const ErrorReply&) const = default;
};

// control client → node: list the connected nodes.
struct NodesQuery {
  static constexpr std::string_view kType = "nodes_query";
  bool operator==(const NodesQuery&) const = default;
};

struct NodeInfo {
  std::string name;
  std::string type;           // "master" or "worker"
  std::string version;        // software version the node reported
  std::string address;        // "IP:port" as seen by the master
  double last_keepalive = 0;  // unix time, seconds
  bool operator==(const NodeInfo&) const = default;
};

// node → control client.
struct NodeList {
  static constexpr std::string_view kType = "node_list";
  std::vector<NodeInfo> nodes;
  bool operator==(const NodeList&) const = default;
};

// control client → master: per-worker health.
struct HealthQuery {
  static constexpr std::string_view kType = "health_query";
  bool operator==(const HealthQuery&) const = default;
};

struct WorkerHealth {
  std::string name;
  double last_keepalive = 0;    // unix time
  double agent_sync_start = 0;  // the last agent-info sync round, unix times (0: none yet)
  double agent_sync_end = 0;
  std::uint64_t agents_sent = 0;     // agents received in that round
  std::uint64_t agents_unknown = 0;  // of which not in the registry
  std::uint64_t agents_pending = 0;  // changes the worker still held after its last batch
  std::uint64_t groups_seq = 0;      // the worker's groups-stream position (its last keepalive)
  std::uint64_t master_groups_seq = 0;
  bool groups_digest_match = false;  // same table as the master's at the same position
  std::uint64_t files_seq = 0;
  std::uint64_t master_files_seq = 0;
  bool files_digest_match = false;  // same files on disk as the master's table
  double integrity_start = 0, integrity_end = 0;
  std::uint64_t files_created = 0, files_updated = 0, files_deleted = 0;
  std::string store_error{};  // from its last keepalive: why its database refuses writes, or ""
  std::string version{};      // the software it said hello with
  std::string address{};      // the IP it connects from
  std::uint64_t active_agents = 0;  // agents the master shows as active through it
  bool operator==(const WorkerHealth&) const = default;
};

// master → control client.
struct Health {
  static constexpr std::string_view kType = "health";
  std::vector<WorkerHealth> workers;
  std::string master_store_error{};  // why the master's database refuses writes, or ""
  std::string master_name{}, master_version{}, master_address{};
  // Workers the master knows (seen since it started, or holding agents) that are not connected.
  std::vector<std::string> lost{};
  bool operator==(const Health&) const = default;
};

// control client → any node: its stream positions and counters, small enough to ask for every
// few milliseconds (the bench and the monitor do).
struct StatusQuery {
  static constexpr std::string_view kType = "status_query";
  bool operator==(const StatusQuery&) const = default;
};

// node → control client.
struct NodeStatus {
  static constexpr std::string_view kType = "node_status";
  std::string name;
  std::string type;              // "master" or "worker"
  std::uint64_t groups_seq = 0;  // master: its stream head; worker: what it has applied
  std::uint64_t files_seq = 0;
  bool files_synced = false;         // master: first scan done; worker: disk matches its table
  std::uint64_t files_pending = 0;   // worker: files still being fetched
  std::uint64_t agents_stored = 0;   // master: agent records persisted since start;
                                     // worker: agent reports accepted since start
  std::uint64_t agents_pending = 0;  // worker: agent changes the master has not acknowledged
  bool operator==(const NodeStatus&) const = default;
};

using Message =
    std::variant<Hello, Welcome, Keepalive, KeepaliveAck, ErrorReply, NodesQuery, NodeList,
                 AgentReport, AgentReportAck, AgentReports, AgentReportsAck, AgentInfoBatch,
                 AgentInfoAck, AgentsQuery, AgentList, AgentAdd, AgentRemove, AgentEntry,
                 HealthQuery, Health, GroupsDelta, StreamHeartbeat, GroupsSyncRequest, GroupsSync,
                 GroupAssign, GroupUnassign, GroupsChanged, GroupTableQuery, GroupTable, FilesDelta,
                 FilesSyncRequest, FilesSync, FileFetch, FileData, FileTableQuery, FileTable,
                 StatusQuery, NodeStatus, NodeStats, MonitorQuery, ClusterStats, Goodbye>;

// Frames as bytes: the transport (bus/) moves them without knowing what they mean.
using Frames = std::vector<std::string>;

Frames Encode(const Message& message);
// The same, for the messages that hold thousands of items, without copying one into a Message
// first: a report, an ack or an update is encoded where it lies.
Frames Encode(const AgentReports& message);
Frames Encode(const AgentReportsAck& message);
Frames Encode(const AgentInfoBatch& message);
Frames Encode(const AgentInfoAck& message);
Frames Encode(const AgentList& message);
// Decodes the two frames of a message. Unknown types, malformed msgpack, missing or mistyped
// fields and out-of-range values are InvalidArgument with a message naming the field.
Result<Message> Decode(const Frames& frames);
// The type name of a message ("hello").
std::string_view TypeOf(const Message& message);

}  // namespace zcluster::schemas
