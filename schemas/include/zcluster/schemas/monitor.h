// Monitor messages: what every node counts about its own traffic and connections, the stats a
// worker sends its master once a second, and the cluster-wide view a node's monitor endpoint
// serves. Included by messages.h; SCHEMAS.md documents the shapes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::schemas {

// Bounds of one node's stats, checked on decode.
inline constexpr std::size_t kMaxTrafficRows = 4096;
inline constexpr std::size_t kMaxMonitorEvents = 256;
inline constexpr std::size_t kMaxFailureAddresses = 256;

// Messages and bytes of one (peer, message type, direction) since the node started.
struct TrafficRow {
  std::string peer;  // a worker or master name, or "agents", "control", "monitor", "streams"
  std::string type;  // the message type ("keepalive"), or "other" for frames that are not one
  bool out = false;  // sent by this node (false: received)
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;  // every frame of the message, routing id excluded
  bool operator==(const TrafficRow&) const = default;
};

// One connection event of a node's sockets, numbered so that a reader keeps each once.
struct MonitorEvent {
  std::uint64_t seq = 0;
  double time = 0;      // unix time
  std::string kind;     // "connected", "accepted", "disconnected", "handshake_failed",
                        // "auth_refused", "connection_refused", "retry"
  std::string socket;   // "cluster", "streams", "agents"
  std::string address;  // the peer's endpoint or address, as libzmq reported it
  std::string detail;   // for a refusal, the refused key (Z85) or the reason
  bool operator==(const MonitorEvent&) const = default;
};

struct HandshakeFailures {
  std::string address;
  std::uint64_t count = 0;
  bool operator==(const HandshakeFailures&) const = default;
};

// One node's counters. A worker sends this to its master once a second; the master adds what it
// knows of the worker (state, lags, last keepalive) before serving it in a cluster_stats.
struct NodeStats {
  static constexpr std::string_view kType = "node_stats";
  std::string name;
  std::string type;        // "master" or "worker"
  std::string software;    // "zcluster 0.1.0"
  std::string state;       // set by the master: "up", or "down" once the session expired
  double time = 0;         // when the stats were taken, unix time
  double uptime = 0;       // seconds since the node started
  double cpu_seconds = 0;  // user + system CPU of the process
  std::uint64_t rss_bytes = 0;
  std::uint64_t groups_seq = 0, files_seq = 0;  // stream positions
  std::uint64_t groups_lag = 0, files_lag = 0;  // set by the master: its position minus these
  double last_keepalive = 0;                    // set by the master, unix time
  // Agents by status: a worker's own agents; the master's whole registry.
  std::uint64_t agents_active = 0, agents_disconnected = 0, agents_never_connected = 0,
                agents_pending = 0;
  // A worker's agent port: reports accepted and refused by reason.
  std::uint64_t reports_accepted = 0, reports_unknown = 0, reports_bad_mac = 0,
                reports_replayed = 0, reports_malformed = 0, reports_mismatched = 0,
                reports_rate_limited = 0;
  double last_repair = 0;  // the end of the last integrity repair (0: none), unix time
  std::uint64_t files_created = 0, files_updated = 0, files_deleted = 0;  // in that repair
  std::vector<TrafficRow> traffic;
  std::vector<MonitorEvent> events;  // the most recent, oldest first
  std::vector<HandshakeFailures> handshake_failures;
  bool operator==(const NodeStats&) const = default;
};

// monitor client → node's monitor endpoint.
struct MonitorQuery {
  static constexpr std::string_view kType = "monitor_query";
  bool operator==(const MonitorQuery&) const = default;
};

// node → monitor client: the master's view of the whole cluster (itself first), or a worker's
// view of itself alone.
struct ClusterStats {
  static constexpr std::string_view kType = "cluster_stats";
  std::string cluster;
  std::string node;  // the node that answered
  std::uint32_t protocol = 0;
  std::vector<NodeStats> nodes;
  bool operator==(const ClusterStats&) const = default;
};

// The taps of a node's traffic (<home>/queue/cluster/tap.sock, XPUB): each message the node sends
// or receives, while someone listens, as a header frame followed by the message's own frames.
struct TapHeader {
  std::string node;  // the node that saw the message
  std::string peer;  // the other end, as in TrafficRow
  bool out = false;  // sent by `node`
  double time = 0;   // unix time
  // Bytes of the message's body not copied, because the message was larger than the tap's snap
  // length; 0 when the frames follow whole.
  std::uint64_t elided = 0;
  bool operator==(const TapHeader&) const = default;
};
std::string EncodeTapHeader(const TapHeader& header);
Result<TapHeader> DecodeTapHeader(const std::string& frame);

}  // namespace zcluster::schemas
