// What a node tells its monitor about itself: traffic by peer and type, the recent connection
// events of its sockets in a bounded ring, refused handshakes counted by address, and the
// process's own CPU, memory and uptime.
//
// Threading: the traffic meter and Stats belong to the loop thread. Events and refusals may be
// reported from any thread (the ZAP handler runs on its own), so those take a mutex; they are
// rare next to messages, and bounded, so a stranger's handshakes cannot grow them.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/traffic_meter.h"
#include "zcluster/bus/socket_events.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/control.h"
#include "zcluster/schemas/agents.h"
#include "zcluster/schemas/monitor.h"

namespace zcluster::nodes {

class NodeMonitor {
 public:
  static constexpr std::size_t kMaxEvents = 64;
  NodeMonitor(std::string name, std::string type);

  TrafficMeter& traffic() { return traffic_; }

  void Event(std::string_view kind, std::string_view socket, std::string_view address,
             std::string_view detail = "");
  // A handshake refused by this node's ZAP handler: a count for the address, and an event when
  // `event` (the handler's log budget decides, so that a flood cannot push every other event out
  // of the ring).
  void HandshakeRefused(std::string_view socket, const std::string& address, std::string_view key,
                        bool event);
  // Any refusal of a peer: counted for its address like a refused handshake, and an event of
  // `kind` when `event`.
  void Refused(std::string_view kind, std::string_view socket, const std::string& address,
               std::string_view detail, bool event);
  // Events from a socket's monitor, as they were drained.
  void SocketEvents(std::string_view socket, const std::vector<bus::SocketEvent>& events);

  // The fields every node fills: name, type, software, time, uptime, CPU, RSS, traffic, events
  // and refusals. The caller adds what its flows know.
  schemas::NodeStats Stats() const;

 private:
  std::string name_, type_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  TrafficMeter traffic_;
  mutable std::mutex mu_;
  std::deque<schemas::MonitorEvent> events_;     // guarded by mu_
  std::uint64_t next_seq_ = 1;                   // guarded by mu_
  std::map<std::string, std::uint64_t> failed_;  // guarded by mu_; by address, bounded
};

// Fills the agents_* fields of `stats` from counts by status.
void SetAgentCounts(schemas::NodeStats& stats, const schemas::AgentStatusCounts& by_status);

// The process's user+system CPU seconds and resident bytes.
double ProcessCpuSeconds();
std::uint64_t ProcessResidentBytes();

}  // namespace zcluster::nodes
