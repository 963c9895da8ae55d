#include "monitor/listener_watch.h"

#include <fmt/format.h>

namespace zcluster::nodes {

Result<std::unique_ptr<ListenerWatch>> ListenerWatch::Watch(zmq::context_t& ctx,
                                                            zmq::socket_t& listener,
                                                            bus::DescriptorBudget& budget,
                                                            Options options, const Logger& log,
                                                            NodeMonitor& monitor) {
  Result<bus::SocketEvents> events = bus::SocketEvents::Watch(ctx, listener);
  if (!events.ok()) return events.status();
  return std::unique_ptr<ListenerWatch>(
      new ListenerWatch(std::move(events).value(), budget, std::move(options), log, monitor));
}

ListenerWatch::ListenerWatch(bus::SocketEvents events, bus::DescriptorBudget& budget,
                             Options options, const Logger& log, NodeMonitor& monitor)
    : events_(std::move(events)),
      options_(std::move(options)),
      log_(log),
      monitor_(monitor),
      budget_(budget),
      guard_(budget, options_.per_address,
             [this](const bus::ConnectionGuard::Refusal& r) { Refused(r); }) {}

void ListenerWatch::Drain() {
  std::vector<bus::SocketEvent> events = events_.Drain();
  if (options_.show_events) monitor_.SocketEvents(options_.socket_name, events);
  guard_.Observe(events);
}

void ListenerWatch::Refused(const bus::ConnectionGuard::Refusal& r) {
  const bool per_address = r.cause == bus::ConnectionGuard::Cause::kPerAddress;
  monitor_.Refused("connection_refused", options_.socket_name, r.address,
                   per_address ? "connections per address" : "descriptor budget", r.note.log);
  if (!r.note.log) return;
  const std::string unlogged =
      r.note.unlogged ? fmt::format("; {} more from there not logged", r.note.unlogged) : "";
  if (per_address) {
    log_.Warning("Main",
                 "Closed a connection from {} on the {} port: it holds {}, more than {} {}{}",
                 r.address, options_.socket_name, r.held, options_.cap_setting,
                 options_.per_address, unlogged);
  } else {
    log_.Warning("Main",
                 "Closed a connection from {} on the {} port: the node holds {} connections, its "
                 "budget of {} keeps the rest of the open-files limit for its own use{}",
                 r.address, options_.socket_name, r.held, budget_.limit(), unlogged);
  }
}

}  // namespace zcluster::nodes
