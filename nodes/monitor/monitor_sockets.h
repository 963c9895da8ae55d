// A node's monitor endpoints and its tap. The endpoint is monitor.sock, local (mode 0660); with
// <monitor><bind> it is also served on TCP with CURVE, where the ZAP handler lets in only the keys
// of <monitor><authorized_keys>. Both answer monitor_query and nothing else, so nothing a monitor
// client sends can change the node. The tap (tap.sock) carries copies of the traffic to --dump.
//
// Threading: owned by the node's loop thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "monitor/listener_watch.h"
#include "monitor/node_monitor.h"
#include "zcluster/bus/reactor.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/key_material.h"

namespace zcluster::nodes {

class MonitorSockets {
 public:
  // A monitor request is a few dozen bytes: a larger frame closes the TCP connection before
  // anything is allocated for it.
  static constexpr std::int64_t kMaxRequestBytes = 4096;

  // `zap` must already list the admin keys (KeyMaterial::allowed) when <monitor><bind> is set.
  // The TCP endpoint's connections count against `budget` and <tuning><connections_per_address>.
  static Result<std::unique_ptr<MonitorSockets>> Bind(zmq::context_t& ctx,
                                                      const ClusterConfig& config,
                                                      const bus::ZapAuthenticator& zap,
                                                      const KeyMaterial& keys, NodeMonitor& monitor,
                                                      bus::DescriptorBudget& budget,
                                                      const Logger& log);
  MonitorSockets(const MonitorSockets&) = delete;
  MonitorSockets& operator=(const MonitorSockets&) = delete;
  // Stops tapping into the socket before it closes.
  ~MonitorSockets();

  // Serves every endpoint and the tap's subscriptions on `reactor`; `view` is the answer to a
  // monitor_query (the cluster for a master, the node alone for a worker).
  void Serve(bus::Reactor& reactor, std::function<schemas::ClusterStats()> view, const Logger& log);
  // The TCP endpoint's port (0 without <monitor><bind>).
  std::uint16_t tcp_port() const;

 private:
  MonitorSockets(NodeMonitor& monitor, ControlServer local, bus::TapSocket tap)
      : monitor_(&monitor), local_(std::move(local)), tap_(std::move(tap)) {}
  NodeMonitor* monitor_;
  std::optional<ControlServer> local_;
  std::optional<ControlServer> remote_;
  std::unique_ptr<ListenerWatch> remote_watch_;  // watches `remote_`; destroyed before it
  std::optional<bus::TapSocket> tap_;
  std::function<schemas::ClusterStats()> view_;
};

}  // namespace zcluster::nodes
