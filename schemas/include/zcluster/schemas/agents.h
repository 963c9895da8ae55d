// Agent messages: what an agent reports to its worker, what workers push to the master, and the
// control requests that list and edit agents. Field names follow Wazuh's agent sync rows.
// Included by messages.h; SCHEMAS.md documents every type with an example.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::schemas {

inline constexpr std::size_t kMaxAgentIdLength = 16;     // digits, like Wazuh's "001"
inline constexpr std::size_t kMaxAgentNameLength = 128;  // Wazuh's agent name limit
inline constexpr std::size_t kMaxFieldLength = 256;      // any OS field, label key or value
inline constexpr std::size_t kMaxLabels = 64;
inline constexpr std::size_t kMaxGroups = 128;
inline constexpr std::size_t kMaxBatchUpdates = 10000;  // agents in one agent_info batch
inline constexpr std::size_t kMaxAgents = 1000000;      // agents in one agent_list
inline constexpr std::size_t kMaxRelayedReports = 256;  // reports in one agent_reports

// "001": 1..16 ASCII digits.
bool IsValidAgentId(std::string_view id);
// An agent id as one integer, for tables of a million agents: the value with the length above
// it (16 digits are below 2^54), so that "1" and "001" stay apart. nullopt for an invalid id.
std::optional<std::uint64_t> PackAgentId(std::string_view id);
std::string UnpackAgentId(std::uint64_t packed);
// The id's numeric value ("007" → 7).
inline std::uint64_t PackedAgentIdValue(std::uint64_t packed) {
  return packed & ((std::uint64_t{1} << 54) - 1);
}
// Wazuh's agent name rule: 1..128 of A-Z a-z 0-9 . - _
bool IsValidAgentName(std::string_view name);

enum class AgentStatus : std::uint8_t { kNeverConnected, kPending, kActive, kDisconnected };
// "never_connected", "pending", "active", "disconnected": the wire and display names.
std::string_view AgentStatusName(AgentStatus status);
std::optional<AgentStatus> AgentStatusFromName(std::string_view name);
// Agents by status, indexed by AgentStatus.
using AgentStatusCounts = std::array<std::uint64_t, 4>;

struct AgentOs {
  std::string name, version, major, minor, codename, platform, build, uname, arch;
  bool operator==(const AgentOs&) const = default;
};

// What an agent says about itself.
struct AgentState {
  std::string name;
  std::string ip;
  AgentOs os;
  std::string version;     // agent software, e.g. "Wazuh v4.14.0"
  std::string config_sum;  // checksum of the agent's config
  std::string merged_sum;  // checksum of its merged shared config
  std::map<std::string, std::string> labels;
  AgentStatus status = AgentStatus::kActive;
  std::uint64_t last_keepalive = 0;      // unix seconds
  std::uint64_t disconnection_time = 0;  // unix seconds, 0 while connected
  bool operator==(const AgentState&) const = default;
};

// The bytes of an agent's state as it travels inside a report (and as the MAC covers it).
std::string EncodeAgentState(const AgentState& state);
Result<AgentState> DecodeAgentState(std::string_view bytes);

// A row of the master's agent table: the state plus who reports it.
struct AgentRecord {
  std::string id;
  AgentState state;
  std::string node;                 // the worker the agent reports to
  std::vector<std::string> groups;  // filled by the master when listing; not stored
  std::uint64_t counter = 0;        // the newest report counter applied (0: none said)
  bool operator==(const AgentRecord&) const = default;
};
std::string EncodeAgentRecord(const AgentRecord& record);
// What a master needs of every stored record at start (status, counter, node), read by a walk
// over the bytes that builds nothing: a million records in a fraction of a second.
// InvalidArgument for bytes that are not a record with a known state.status.
struct AgentRecordSummary {
  AgentStatus status = AgentStatus::kNeverConnected;
  std::uint64_t counter = 0;
  std::string node;
  std::uint64_t last_keepalive = 0;  // the state's
};
Result<AgentRecordSummary> SummarizeAgentRecord(std::string_view bytes);
// What EncodeAgentRecord makes of {id, state named `name`, node, no groups, counter}, without
// copying the state into a record first.
std::string EncodeAgentRecord(std::string_view id, const AgentState& state, std::string_view name,
                              std::string_view node, std::uint64_t counter);
Result<AgentRecord> DecodeAgentRecord(std::string_view bytes);

// agent → worker (agent port). `mac` = HMAC-SHA-512-256 over id, counter and `state` (or the
// keepalive time), keyed with the agent's key from client.keys (see SCHEMAS.md, "Agent reports").
// Most reports change nothing but the keepalive time: such a report may carry that time alone,
// and then means "my state is the one you last accepted from me, at this keepalive time".
struct AgentReport {
  static constexpr std::string_view kType = "agent_report";
  std::string id;
  std::uint64_t counter = 0;  // strictly increasing per agent: a lower or equal one is a replay
  std::string state;          // EncodeAgentState bytes; empty in a keepalive-only report
  std::string mac;            // 32 bytes
  std::optional<std::uint64_t> last_keepalive;  // set in a keepalive-only report, and only there
  bool keepalive_only() const { return last_keepalive.has_value(); }
  bool operator==(const AgentReport&) const = default;
};

// worker → agent.
struct AgentReportAck {
  static constexpr std::string_view kType = "agent_report_ack";
  std::string id;
  std::uint64_t counter = 0;
  std::vector<std::string> groups;  // the agent's groups, as the worker knows them
  bool operator==(const AgentReportAck&) const = default;
};

// relay → worker: the reports of many agents in one message, each still signed by its own
// agent. A relay (an agent-facing front end that holds many agents' connections) pays one CURVE
// message for a burst instead of one per report.
struct AgentReports {
  static constexpr std::string_view kType = "agent_reports";
  std::vector<AgentReport> reports;  // at most kMaxRelayedReports
  bool operator==(const AgentReports&) const = default;
};

// A report of an agent_reports that the worker refused, and why.
struct RefusedReport {
  std::string id;
  std::uint64_t counter = 0;
  Code code = Code::kInternal;
  std::string message;
  bool operator==(const RefusedReport&) const = default;
};

// worker → relay: the answer to every report of one agent_reports, each either acknowledged
// (durable on the worker, as agent_report_ack) or refused.
struct AgentReportsAck {
  static constexpr std::string_view kType = "agent_reports_ack";
  std::vector<AgentReportAck> acks;
  std::vector<RefusedReport> refused;
  bool operator==(const AgentReportsAck&) const = default;
};

// One agent's change inside a batch: the whole state, or (keepalive-only changes) just the
// keepalive time and status.
struct AgentUpdate {
  std::string id;
  bool full = true;
  AgentState state;  // when !full only last_keepalive and status are meaningful
  // The counter of the agent's report this update carries (0: not said). Agents count their
  // reports up, whichever worker they report to, so it orders updates from different workers.
  std::uint64_t counter = 0;
  bool operator==(const AgentUpdate&) const = default;
};

// worker → master: changed agents, acknowledged per batch.
struct AgentInfoBatch {
  static constexpr std::string_view kType = "agent_info";
  std::uint64_t batch = 0;    // the worker's batch number, echoed by the ack
  std::uint64_t pending = 0;  // changes the worker still holds after this batch
  std::vector<AgentUpdate> updates;
  bool operator==(const AgentInfoBatch&) const = default;
};

// master → worker: the batch is durable; `unknown` ids are not in the master's registry.
struct AgentInfoAck {
  static constexpr std::string_view kType = "agent_info_ack";
  std::uint64_t batch = 0;
  std::vector<std::string> unknown;
  // Ids whose keepalive-only update found no record to update (a master that lost its store):
  // not saved; the worker sends each one's whole state next.
  std::vector<std::string> resend;
  bool operator==(const AgentInfoAck&) const = default;
};

// control → master: the agent table, or only the agents in `ids` (the bench and the monitor
// follow a few agents without copying a table of 100,000). control → worker: not served.
struct AgentsQuery {
  static constexpr std::string_view kType = "agents_query";
  std::vector<std::string> ids;  // empty: every agent
  bool operator==(const AgentsQuery&) const = default;
};

struct AgentList {
  static constexpr std::string_view kType = "agent_list";
  std::vector<AgentRecord> agents;
  bool operator==(const AgentList&) const = default;
};

// Builds the two frames of an agent_list a few records at a time, byte for byte what Encode
// makes of the whole AgentList, so that a node can list 100,000 agents without holding its loop
// for the whole length. Exactly `count` records must be added before Finish.
class AgentListWriter {
 public:
  explicit AgentListWriter(std::uint32_t count);
  ~AgentListWriter();
  AgentListWriter(AgentListWriter&&) noexcept;
  void Add(const AgentRecord& record);
  std::uint32_t added() const { return added_; }
  std::uint32_t count() const { return count_; }
  // The type frame and the body; the writer is empty afterwards.
  std::vector<std::string> Finish();

 private:
  struct Buffer;
  std::unique_ptr<Buffer> body_;
  std::uint32_t count_ = 0, added_ = 0;
};

// control → master: register an agent in client.keys.
struct AgentAdd {
  static constexpr std::string_view kType = "agent_add";
  std::string name;
  std::string ip = "any";
  std::vector<std::string> groups;  // its first groups; empty: "default" when first seen
  bool operator==(const AgentAdd&) const = default;
};

// control → master: remove an agent from client.keys.
struct AgentRemove {
  static constexpr std::string_view kType = "agent_remove";
  std::string id;
  bool operator==(const AgentRemove&) const = default;
};

// master → control: the agent as client.keys now holds it (`key` empty after a removal).
struct AgentEntry {
  static constexpr std::string_view kType = "agent_entry";
  std::string id, name, ip, key;
  bool operator==(const AgentEntry&) const = default;
};

}  // namespace zcluster::schemas
