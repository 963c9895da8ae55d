// One listening socket's connection events, drained on the node's loop: each goes to the node's
// monitor (when the socket's events are worth showing) and to a bus::ConnectionGuard, which closes
// connections past the socket's cap per address or past the process's descriptor budget. A
// refusal is counted in the monitor and logged in bounded lines, one per address per interval.
//
// Threading: owned by the thread that owns the socket; destroyed before it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "monitor/node_monitor.h"
#include "zcluster/bus/connection_guard.h"
#include "zcluster/bus/socket_events.h"
#include "zcluster/nodes/cluster_log.h"

namespace zcluster::nodes {

class ListenerWatch {
 public:
  struct Options {
    std::string socket_name;      // in log lines and monitor events: "cluster", "stream", "agent"
    std::string cap_setting;      // the element that sets `per_address`, for the log line
    std::size_t per_address = 0;  // 0: only the budget applies
    bool show_events = true;      // every accept and disconnect also goes to the monitor's events
  };

  static Result<std::unique_ptr<ListenerWatch>> Watch(zmq::context_t& ctx, zmq::socket_t& listener,
                                                      bus::DescriptorBudget& budget,
                                                      Options options, const Logger& log,
                                                      NodeMonitor& monitor);
  ListenerWatch(const ListenerWatch&) = delete;
  ListenerWatch& operator=(const ListenerWatch&) = delete;

  // The events' socket, for the reactor; Drain when it is readable.
  zmq::socket_t& socket() { return events_.socket(); }
  void Drain();
  const bus::ConnectionGuard& guard() const { return guard_; }

 private:
  ListenerWatch(bus::SocketEvents events, bus::DescriptorBudget& budget, Options options,
                const Logger& log, NodeMonitor& monitor);
  void Refused(const bus::ConnectionGuard::Refusal& r);

  bus::SocketEvents events_;
  Options options_;
  Logger log_;
  NodeMonitor& monitor_;
  bus::DescriptorBudget& budget_;
  bus::ConnectionGuard guard_;
};

}  // namespace zcluster::nodes
