#include "monitor/monitor_sockets.h"

#include "zcluster/nodes/process.h"

namespace zcluster::nodes {

Result<std::unique_ptr<MonitorSockets>> MonitorSockets::Bind(
    zmq::context_t& ctx, const ClusterConfig& config, const bus::ZapAuthenticator& zap,
    const KeyMaterial& keys, NodeMonitor& monitor, bus::DescriptorBudget& budget,
    const Logger& log) {
  Result<ControlServer> local = ControlServer::Bind(ctx, config.monitor_path());
  if (!local.ok()) return local.status();
  Result<bus::TapSocket> tap = bus::TapSocket::BindLocal(ctx, config.tap_path());
  if (!tap.ok()) return tap.status();
  std::unique_ptr<MonitorSockets> sockets(
      new MonitorSockets(monitor, std::move(local).value(), std::move(tap).value()));
  sockets->local_->CountTraffic(&monitor.traffic(), "monitor");
  if (config.monitor_port) {
    bus::SocketOptions options;
    options.max_message_bytes = kMaxRequestBytes;
    Result<ControlServer> remote =
        ControlServer::BindCurve(ctx, zap, keys.own, config.monitor_endpoint(), options,
                                 bus::ZapAuthenticator::kMonitorDomain);
    if (!remote.ok()) return remote.status();
    sockets->remote_.emplace(std::move(remote).value());
    sockets->remote_->CountTraffic(&monitor.traffic(), "monitor");
    Result<std::unique_ptr<ListenerWatch>> watch =
        ListenerWatch::Watch(ctx, sockets->remote_->socket(), budget,
                             {"monitor", "<tuning><connections_per_address>",
                              static_cast<std::size_t>(config.connections_per_address), false},
                             log, monitor);
    if (!watch.ok()) return watch.status();
    sockets->remote_watch_ = std::move(watch).value();
  }
  monitor.traffic().Tap(&*sockets->tap_, config.node_name);
  return sockets;
}

MonitorSockets::~MonitorSockets() {
  if (tap_) monitor_->traffic().Tap(nullptr, "");
  remote_watch_.reset();
}

void MonitorSockets::Serve(bus::Reactor& reactor, std::function<schemas::ClusterStats()> view,
                           const Logger& log) {
  view_ = std::move(view);
  ControlServer::Handler answer = [this](const schemas::Message& request,
                                         const std::string&) -> ControlAnswer {
    if (!std::holds_alternative<schemas::MonitorQuery>(request)) return std::nullopt;
    return view_();
  };
  reactor.AddReader(tap_->socket(), [this] {
    tap_->UpdateListening();
    return Status::Ok();
  });
  if (remote_watch_) {
    reactor.AddReader(remote_watch_->socket(), [this] {
      remote_watch_->Drain();
      return Status::Ok();
    });
  }
  for (std::optional<ControlServer>* endpoint : {&local_, &remote_}) {
    if (!*endpoint) continue;
    reactor.AddReader((*endpoint)->socket(), [endpoint, answer, log] {
      (*endpoint)->ServePending(answer, log);
      return Status::Ok();
    });
  }
}

std::uint16_t MonitorSockets::tcp_port() const { return remote_ ? PortOf(remote_->endpoint()) : 0; }

}  // namespace zcluster::nodes
