// The worker's state: the composition of its flows on one reactor. Shared by worker.cc
// (start-up, the loop, master and stream messages) and worker_control.cc (control requests).
// Private to nodes/.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent_groups/worker_groups.h"
#include "agent_info/agent_info_sync.h"
#include "agent_info/agent_port.h"
#include "agent_info/worker_agents.h"
#include "integrity/worker_integrity.h"
#include "monitor/listener_watch.h"
#include "monitor/monitor_sockets.h"
#include "monitor/node_monitor.h"
#include "streams/sync_retry.h"
#include "zcluster/bus/connection_guard.h"
#include "zcluster/bus/socket_events.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/bus/zap_authenticator.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/master_link.h"
#include "zcluster/nodes/process.h"
#include "zcluster/nodes/worker.h"

namespace zcluster::nodes {

struct Worker::Impl {
  ClusterConfig config;
  Logger log;
  NodeMonitor monitor;  // before the sockets and the ZAP handler, which report to it
  std::unique_ptr<store::NodeStore> store;
  zmq::context_t ctx{1};
  std::unique_ptr<bus::ZapAuthenticator> zap;  // the agent port's; stopped before ctx closes
  std::optional<bus::DealerSocket> dealer;
  std::optional<bus::SubscriberSocket> sub;        // the master's streams
  std::optional<bus::SocketEvents> dealer_events;  // watches `dealer`; destroyed before it
  std::optional<bus::SocketEvents> sub_events;     // watches `sub`; destroyed before it
  std::optional<ControlServer> control;
  std::unique_ptr<MonitorSockets> monitor_sockets;  // the monitor endpoints and the tap
  MasterLink link;                                  // keepalive
  bool handshake_failure_logged = false;
  bool connection_loss_logged = false;
  bool resend_on_reconnect = false;      // the connection dropped: resend once a new one is up
  std::unique_ptr<WorkerAgents> agents;  // agent info
  // What the agent port may hold: the open-files limit less a reserve.
  bus::DescriptorBudget budget{bus::DescriptorBudget::ForOpenFileLimit(OpenFileLimit())};
  std::unique_ptr<AgentPort> agent_port;
  std::unique_ptr<ListenerWatch> agent_port_watch;  // watches `agent_port`; destroyed before it
  std::optional<AgentInfoSync> agent_sync;
  std::unique_ptr<WorkerGroups> groups;  // local agent-groups
  SyncRetry groups_sync;
  std::unique_ptr<WorkerIntegrity> integrity;  // files flows, on their own thread
  std::uint64_t sessions_seen = 0;
  bool connected = false;  // as last told to the integrity actor
  const std::string files_delta_type = schemas::Encode(schemas::FilesDelta{})[0];
  // Control clients waiting for the master, by request type ("agents_query", ...).
  std::map<std::string, std::deque<std::string>> forwarded;
  static constexpr std::size_t kMaxForwarded = 16;  // per type; more at once are refused: busy

  Impl(const ClusterConfig& c, ClusterLog& l);
  ~Impl();
  static MasterLinkParams LinkParams(const ClusterConfig& c, Impl* self);

  // Asks the master for the groups stream from where we are (or from 0 after a divergence).
  void RequestGroupsSync(const Result<bool>& needed, SteadyClock::time_point now);
  void OnStreamMessage(const schemas::Message& m, SteadyClock::time_point now);
  void OnMasterMessage(const schemas::Message& m, SteadyClock::time_point now);
  // Work that is due by time rather than by a message: keepalives, batches, sync retries.
  void Tick(SteadyClock::time_point now);
  // Once a second: client.keys reloads, agent batches unacknowledged for too long, silent agents.
  void Housekeeping(SteadyClock::time_point now);
  // The DEALER's socket monitor: handshakes and disconnections.
  void OnSocketEvents();
  // The stream positions, digests and last integrity sync every keepalive carries.
  void FillKeepalive(schemas::Keepalive& keepalive) const;

  // Every message to the master goes through here, to be counted.
  Status SendToMaster(bus::Frames frames);
  // This node's counters, and the once-a-second copy the master's monitor view shows.
  schemas::NodeStats Stats() const;
  void SendStats();

  ControlAnswer Control(const schemas::Message& request, const std::string& client);
  // -l, -a and -i on a worker are answered by the master, as in Wazuh: the request goes over the
  // link, and the reply of each type comes back in the order they were asked (the master
  // answers each type in order), to the client waiting longest for that type.
  ControlAnswer Forward(const schemas::Message& request, const std::string& client);
  // A reply from the master to a forwarded request: relayed; false if it is not one.
  bool RelayForwarded(const schemas::Message& m);
  // The link is gone: every forwarded request is answered with an error now.
  void FailForwarded(std::string_view why);
  schemas::NodeList Nodes() const;
};

}  // namespace zcluster::nodes
