// The worker: its flows composed on one reactor, the integrity flows on their actor thread.
#include "zcluster/nodes/worker.h"

#include <sodium.h>

#include <utility>

#include "runtime/node_home.h"
#include "streams/stream_topics.h"
#include "worker/worker_impl.h"
#include "zcluster/bus/reactor.h"

namespace zcluster::nodes {
namespace {

// "w1-3fa9c2d1": readable in traces, new for every process so that a second process with the
// same name is seen as a second connection (and refused as a duplicate) rather than silently
// taking the first one's routing id over.
std::string SessionRoutingId(const std::string& node) {
  unsigned char r[4];
  randombytes_buf(r, sizeof r);
  return fmt::format("{}-{:02x}{:02x}{:02x}{:02x}", node, r[0], r[1], r[2], r[3]);
}

}  // namespace

Worker::Impl::Impl(const ClusterConfig& c, ClusterLog& l)
    : config(c),
      log(l, "Worker " + c.node_name),
      monitor(c.node_name, "worker"),
      link(LinkParams(c, this), log) {}

MasterLinkParams Worker::Impl::LinkParams(const ClusterConfig& c, Impl* self) {
  MasterLinkParams p{c.name, c.node_name};
  p.keep_alive = std::chrono::duration<double>(c.intervals.keep_alive);
  p.max_silence = std::chrono::duration<double>(c.intervals.max_allowed_time_without_keepalive);
  p.payload = [self](schemas::Keepalive& ka) { self->FillKeepalive(ka); };
  return p;
}

Worker::Impl::~Impl() {
  // The actor and the sockets close before the ZAP handler stops, and all before the context
  // terminates.
  integrity.reset();
  agent_port_watch.reset();
  agent_port.reset();
  monitor_sockets.reset();
  control.reset();
  dealer_events.reset();
  sub_events.reset();
  sub.reset();
  dealer.reset();
  zap.reset();
}

void Worker::Impl::FillKeepalive(schemas::Keepalive& ka) const {
  ka.groups_seq = groups->applied();
  ka.groups_digest = groups->digest();
  const WorkerIntegrity::State& files = integrity->state();
  ka.files_seq = files.applied;
  ka.files_digest = files.digest;
  const IntegritySyncStats& s = files.last_sync;
  ka.integrity_start = s.start;
  ka.integrity_end = s.end;
  ka.files_created = s.created;
  ka.files_updated = s.updated;
  ka.files_deleted = s.deleted;
  // Within a keepalive's text limit: RocksDB's messages name a path and can run long.
  ka.store_error = store->write_error().substr(0, schemas::kMaxTextLength);
  const AgentInfoSync::Round& round = agent_sync->last_round();
  ka.agent_sync_start = round.start;
  ka.agent_sync_end = round.end;
  ka.agents_sent = round.sent;
}

Status Worker::Impl::SendToMaster(bus::Frames frames) {
  monitor.traffic().Out("master", frames);
  return dealer->Send(std::move(frames));
}

schemas::NodeStats Worker::Impl::Stats() const {
  schemas::NodeStats s = monitor.Stats();
  schemas::Keepalive ka;
  FillKeepalive(ka);
  s.groups_seq = ka.groups_seq;
  s.files_seq = ka.files_seq;
  SetAgentCounts(s, agents->CountByStatus());
  const AgentPortCounters& port = agent_port->counters();
  s.reports_accepted = port.accepted;
  s.reports_unknown = port.unknown;
  s.reports_bad_mac = port.bad_mac;
  s.reports_replayed = port.replayed;
  s.reports_malformed = port.malformed;
  s.reports_mismatched = port.mismatched;
  s.reports_rate_limited = port.rate_limited;
  s.last_repair = ka.integrity_end;
  s.files_created = ka.files_created;
  s.files_updated = ka.files_updated;
  s.files_deleted = ka.files_deleted;
  return s;
}

void Worker::Impl::SendStats() {
  if (link.state() != MasterLink::State::kConnected) return;
  // Dropped when the queue to the master is full: the next second brings fresh totals.
  SendToMaster(schemas::Encode(Stats())).IgnoreError();
}

void Worker::Impl::RequestGroupsSync(const Result<bool>& needed, SteadyClock::time_point now) {
  if (!needed.ok()) {
    log.Error("Agent-groups recv", "{}", needed.status().ToString());
    return;
  }
  if (!*needed || link.state() != MasterLink::State::kConnected) return;
  if (SendToMaster(schemas::Encode(schemas::GroupsSyncRequest{groups->sync_from()})).ok()) {
    groups_sync.Sent(now);
  }
}

void Worker::Impl::OnStreamMessage(const schemas::Message& m, SteadyClock::time_point now) {
  if (const auto* hb = std::get_if<schemas::StreamHeartbeat>(&m); hb && hb->stream == "files") {
    integrity->OnHeartbeat(*hb);
    return;
  }
  if (const auto* delta = std::get_if<schemas::GroupsDelta>(&m)) {
    RequestGroupsSync(groups->OnDelta(*delta), now);
  } else if (const auto* hb = std::get_if<schemas::StreamHeartbeat>(&m)) {
    RequestGroupsSync(groups->OnHeartbeat(*hb), now);
  }
}

void Worker::Impl::OnMasterMessage(const schemas::Message& m, SteadyClock::time_point now) {
  if (RelayForwarded(m)) return;
  if (const auto* sync = std::get_if<schemas::GroupsSync>(&m)) {
    RequestGroupsSync(groups->OnSync(*sync), now);
    return;
  }
  if (std::holds_alternative<schemas::GroupTableQuery>(m)) {
    // A master that lost its store takes our table rather than overwrite it.
    SendToMaster(schemas::Encode(groups->Table())).IgnoreError();
    return;
  }
  if (const auto* ka = std::get_if<schemas::KeepaliveAck>(&m); ka && ka->resync_groups) {
    RequestGroupsSync(groups->Resync(), now);
  }
  if (const auto* ack = std::get_if<schemas::AgentInfoAck>(&m)) {
    if (Status s = agent_sync->OnAck(*ack, now); !s.ok()) {
      log.Error("Agent-info sync", "Cannot record an ack: {}", s.ToString());
    }
    return;
  }
  link.OnReply(m, now);
}

void Worker::Impl::Tick(SteadyClock::time_point now) {
  if (auto message = link.Next(now)) {
    Status sent = SendToMaster(schemas::Encode(*message));
    link.Sent(*message, sent.ok(), now);
  }
  if (link.state() != MasterLink::State::kConnected) {
    if (std::exchange(connected, false)) integrity->SessionEnded();
    if (!forwarded.empty()) FailForwarded("the connection to the master was lost");
    return;
  }
  if (link.sessions() != sessions_seen) {
    sessions_seen = link.sessions();
    agent_sync->SendInFlightAgain();
    RequestGroupsSync(groups->Start(), now);  // subscribed already: now the snapshot
    connected = true;
    integrity->SessionStarted();
  }
  if (groups_sync.Due(now, groups->syncing())) RequestGroupsSync(true, now);
  agent_sync->Pump(now, [this](const schemas::AgentInfoBatch& b) {
    return SendToMaster(schemas::Encode(b)).ok();
  });
}

void Worker::Impl::Housekeeping(SteadyClock::time_point now) {
  // A disk that came back is found here, not at the next change that arrives.
  store->Recover().IgnoreError();
  Result<bool> reloaded = agent_port->ReloadKeysIfChanged();
  if (!reloaded.ok()) log.Error("Main", "client.keys: {}", reloaded.status().ToString());
  if (Status s = agent_sync->Housekeeping(now); !s.ok()) {
    log.Error("Agent-info sync", "{}", s.ToString());
  }
  SendStats();
}

void Worker::Impl::OnSocketEvents() {
  std::vector<bus::SocketEvent> events = dealer_events->Drain();
  monitor.SocketEvents("cluster", events);
  for (const bus::SocketEvent& e : events) {
    switch (e.kind) {
      case bus::SocketEventKind::kHandshakeSucceeded:
        log.Debug("Main", "CURVE handshake with {} succeeded", e.endpoint);
        link.TransportUp(SteadyClock::now());
        handshake_failure_logged = false;
        connection_loss_logged = false;
        if (std::exchange(resend_on_reconnect, false)) {
          log.Info("Main", "Reconnected to {}; {} agent-info batches sent again", e.endpoint,
                   agent_sync->SendInFlightAgain());
        }
        break;
      case bus::SocketEventKind::kAuthRefused:
        link.KeyRefused();
        break;
      case bus::SocketEventKind::kHandshakeFailed:
        // The socket retries every few seconds: one line until a handshake succeeds. libzmq
        // says the same for a master too busy or paused to finish the handshake in time and for
        // one whose key is not <master_public_key>: the line names both.
        if (std::exchange(handshake_failure_logged, true)) break;
        log.Warning("Main",
                    "CURVE handshake with {} failed: the master did not answer in time, or "
                    "<master_public_key> is not its key",
                    e.endpoint);
        break;
      case bus::SocketEventKind::kDisconnected: {
        // A reset, a master that closed, or keepalive probes unanswered: what this node wrote to
        // the connection may be lost with it, and the acks will never come. The agent-info
        // batches go again once a new connection is up, not after their ack timeout; not at
        // once, because libzmq tells of the loss before it detaches the old pipe, and a send in
        // between would be lost with it.
        resend_on_reconnect = true;
        // Once until a handshake succeeds: a master that keeps dropping us says it once.
        if (!std::exchange(connection_loss_logged, true)) {
          log.Info("Main", "Connection to {} lost; reconnecting", e.endpoint);
        }
        break;
      }
      case bus::SocketEventKind::kAccepted:
      case bus::SocketEventKind::kRetried:
        break;
    }
  }
}

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

Result<std::unique_ptr<Worker>> Worker::Start(const ClusterConfig& config, KeyMaterial keys,
                                              ClusterLog& log) {
  auto impl = std::make_unique<Impl>(config, log);
  Result<std::unique_ptr<store::NodeStore>> store = OpenNodeHome(config, impl->log);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  WorkerAgentsParams params;
  params.node = config.node_name;
  params.disconnection_time =
      std::chrono::duration<double>(config.intervals.agents_disconnection_time);
  Result<std::unique_ptr<WorkerAgents>> agents = WorkerAgents::Load(*impl->store, params);
  if (!agents.ok()) return agents.status();
  impl->agents = std::move(agents).value();
  impl->agent_sync.emplace(*impl->agents, impl->log);
  Result<std::unique_ptr<WorkerGroups>> groups = WorkerGroups::Load(*impl->store, impl->log);
  if (!groups.ok()) return groups.status();
  impl->groups = std::move(groups).value();
  Result<std::unique_ptr<WorkerIntegrity>> integrity =
      WorkerIntegrity::Start(impl->ctx, impl->config, *impl->store, impl->log);
  if (!integrity.ok()) return integrity.status();
  impl->integrity = std::move(integrity).value();

  // The agent port's ZAP handler: agents prove themselves per report, so their domain is open;
  // the cluster domain stays closed (nothing else binds here).
  bus::AllowList agent_keys = keys.allowed;  // and the admins', with <monitor><bind>
  ZC_RETURN_IF_ERROR(agent_keys.OpenDomain(bus::ZapAuthenticator::kAgentDomain, "agent"));
  NodeMonitor* monitor = &impl->monitor;
  auto refusal = [monitor, log = impl->log](const bus::ZapVerdict& v,
                                            const bus::ZapAuthenticator::RefusalNote& note) {
    bool admin = v.domain == bus::ZapAuthenticator::kMonitorDomain;
    monitor->HandshakeRefused(admin ? "monitor" : "agents", v.address, v.public_z85, note.log);
    if (!note.log || !admin) return;  // the agent port admits any CURVE key: nothing to tell
    log.Warning("Main", "Refused CURVE handshake on the monitor endpoint from {}: {} (key {}){}",
                v.address, v.status_text, v.public_z85.empty() ? "none" : v.public_z85,
                note.unlogged
                    ? fmt::format("; {} more refusals from there not logged", note.unlogged)
                    : "");
  };
  Result<std::unique_ptr<bus::ZapAuthenticator>> zap =
      bus::ZapAuthenticator::Start(impl->ctx, std::move(agent_keys), refusal);
  if (!zap.ok()) return zap.status();
  impl->zap = std::move(zap).value();
  Result<std::unique_ptr<AgentPort>> port = AgentPort::Bind(
      impl->ctx, *impl->zap, keys.own, config.agent_endpoint(), config.client_keys_path(),
      *impl->agents, impl->log, [g = impl->groups.get()](const std::string& id) {
        const std::vector<std::string>* of = g->Of(id);
        return of ? *of : std::vector<std::string>{};
      });
  if (!port.ok()) return port.status();
  (*port)->SetRateLimit(static_cast<std::uint32_t>(config.agent_reports_per_second));
  impl->agent_port = std::move(port).value();
  impl->agent_port->CountTraffic(&impl->monitor.traffic());
  // Agents come and go by the thousand: their connections are guarded, not shown as events.
  Result<std::unique_ptr<ListenerWatch>> port_watch =
      ListenerWatch::Watch(impl->ctx, impl->agent_port->socket(), impl->budget,
                           {"agents", "<tuning><agent_connections_per_address>",
                            static_cast<std::size_t>(config.agent_connections_per_address), false},
                           impl->log, impl->monitor);
  if (!port_watch.ok()) return port_watch.status();
  impl->agent_port_watch = std::move(port_watch).value();
  impl->log.Info("Main", "Agent connections: {} per address, {} in all",
                 config.agent_connections_per_address == 0
                     ? std::string("no cap")
                     : std::to_string(config.agent_connections_per_address),
                 impl->budget.limit());

  // Watched before it connects: a refusal of our key on the very first handshake is seen.
  Result<bus::DealerSocket> dealer =
      bus::DealerSocket::CreateCurve(impl->ctx, keys.own, keys.master_public,
                                     SessionRoutingId(config.node_name), bus::SocketOptions{});
  if (!dealer.ok()) return dealer.status();
  impl->dealer.emplace(std::move(dealer).value());
  Result<bus::SocketEvents> events = bus::SocketEvents::Watch(impl->ctx, impl->dealer->socket());
  if (!events.ok()) return events.status();
  impl->dealer_events.emplace(std::move(events).value());
  // Subscribed before the first hello, so no delta published after our sync can be missed.
  Result<bus::SubscriberSocket> sub = bus::SubscriberSocket::ConnectCurve(
      impl->ctx, keys.own, keys.master_public, config.stream_endpoint(), bus::SocketOptions{},
      config.sub_hwm, StreamTopics());
  if (!sub.ok()) return sub.status();
  impl->sub.emplace(std::move(sub).value());
  ZC_RETURN_IF_ERROR(impl->dealer->Connect(config.master_endpoint()));
  Result<bus::SocketEvents> sub_events = bus::SocketEvents::Watch(impl->ctx, impl->sub->socket());
  if (!sub_events.ok()) return sub_events.status();
  impl->sub_events.emplace(std::move(sub_events).value());

  Result<ControlServer> control = ControlServer::Bind(impl->ctx, config.control_path());
  if (!control.ok()) return control.status();
  impl->control.emplace(std::move(control).value());
  impl->control->CountTraffic(&impl->monitor.traffic(), "control");
  Result<std::unique_ptr<MonitorSockets>> monitor_sockets = MonitorSockets::Bind(
      impl->ctx, config, *impl->zap, keys, impl->monitor, impl->budget, impl->log);
  if (!monitor_sockets.ok()) return monitor_sockets.status();
  impl->monitor_sockets = std::move(monitor_sockets).value();
  impl->log.Info("Main",
                 "Connecting to master at {} ({} mode); agents on {} ({} known); "
                 "control socket {}",
                 config.master_endpoint(), keys.shared_key_mode ? "shared-key" : "per-node key",
                 impl->agent_port->endpoint(), impl->agents->size(), config.control_path());
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

ListeningPorts Worker::ports() const {
  ListeningPorts p;
  p.agent_port = PortOf(impl_->agent_port->endpoint());
  p.monitor_port = impl_->monitor_sockets->tcp_port();
  return p;
}

Status Worker::Run(int stop_fd) {
  Impl& w = *impl_;
  bus::Reactor reactor;
  ControlServer::Handler answers = [&w](const schemas::Message& request,
                                        const std::string& client) {
    return w.Control(request, client);
  };
  auto now = reactor.now();
  // Keepalives, hellos, sync retries, fetches and agent batches: due by the link's clock, and
  // asked for again after any message that may have given it work (Wake).
  bus::Reactor::TimerId tick = reactor.AddTimer(now, [&w](SteadyClock::time_point t) {
    w.Tick(t);
    return std::optional(w.link.NextWake());
  });
  auto poke = [&reactor, tick] { reactor.Wake(tick, reactor.now()); };
  reactor.AddTimer(now, [&w](SteadyClock::time_point t) {
    w.Housekeeping(t);
    return std::optional(t + std::chrono::seconds(1));
  });
  reactor.AddReader(stop_fd, [&] {
    const ReceivedSignals got = ReadSignals(stop_fd);
    if (got.hangup) {
      // A worker reads its keys at start (a restart changes them); only the log is reopened.
      w.log.sink().SetDebug(ClusterDebugLevel(w.config.home) >= 1);
      if (Status reopened = w.log.sink().Reopen(); reopened.ok()) {
        w.log.Info("Main", "SIGHUP: reopened the log; debug lines {}",
                   w.log.sink().debug() ? "on" : "off");
      } else {
        w.log.Error("Main", "SIGHUP: log not reopened, lines still go to the old file: {}",
                    reopened.message());
      }
    }
    if (got.stop) {
      w.log.Info("Main", "Stopping");
      if (w.link.state() == MasterLink::State::kConnected &&
          w.SendToMaster(schemas::Encode(schemas::Goodbye{"stopping"})).ok()) {
        // Linger a moment at close so the goodbye leaves before the socket does.
        w.dealer->socket().set(zmq::sockopt::linger, 500);
      }
      reactor.Stop();
    }
    return Status::Ok();
  });
  reactor.AddReader(w.dealer_events->socket(), [&] {
    w.OnSocketEvents();
    poke();
    return Status::Ok();
  });
  reactor.AddReader(w.sub_events->socket(), [&w] {
    w.monitor.SocketEvents("streams", w.sub_events->Drain());
    return Status::Ok();
  });
  reactor.AddReader(w.dealer->socket(), [&] {
    for (int budget = 1000; budget > 0; --budget) {
      Result<std::optional<bus::Frames>> frames = w.dealer->Receive();
      if (!frames.ok()) return frames.status();
      if (!frames->has_value()) break;
      w.monitor.traffic().In("master", **frames);
      if (w.integrity->Takes(**frames)) {
        w.integrity->FromMaster(std::move(**frames));  // decoded on the actor's thread
        continue;
      }
      Result<schemas::Message> reply = schemas::Decode(**frames);
      if (!reply.ok()) {
        w.log.Warning("Main", "Malformed message from master: {}", reply.status().message());
        continue;
      }
      w.OnMasterMessage(*reply, SteadyClock::now());
    }
    poke();
    return Status::Ok();
  });
  reactor.AddReader(w.sub->socket(), [&] {
    for (int budget = 1000; budget > 0; --budget) {
      Result<std::optional<bus::Frames>> frames = w.sub->Receive();
      if (!frames.ok() || !frames->has_value()) break;
      w.monitor.traffic().In("streams", **frames);
      if ((**frames)[0] == w.files_delta_type) {
        w.integrity->OnDelta(std::move(**frames));
        continue;
      }
      Result<schemas::Message> m = schemas::Decode(**frames);
      if (m.ok()) w.OnStreamMessage(*m, SteadyClock::now());
    }
    poke();
    return Status::Ok();
  });
  reactor.AddReader(w.agent_port_watch->socket(), [&w] {
    w.agent_port_watch->Drain();
    return Status::Ok();
  });
  reactor.AddReader(w.agent_port->socket(), [&] {
    if (Status s = w.agent_port->ServePending(); !s.ok()) {
      w.log.Error("Agent port", "{}", s.ToString());
    }
    poke();
    return Status::Ok();
  });
  WorkerIntegrity::Outputs integrity_out{
      [&w](bus::Frames f) { return w.SendToMaster(std::move(f)).ok(); },
      [&w](const std::string& client, bus::Frames f) { w.control->Reply(client, std::move(f)); }};
  reactor.AddReader(w.integrity->socket(), [&] { return w.integrity->Drain(integrity_out); });
  reactor.AddReader(w.control->socket(), [&] {
    w.control->ServePending(answers, w.log);
    return Status::Ok();
  });
  // A worker's monitor view is itself alone.
  w.monitor_sockets->Serve(
      reactor,
      [&w] {
        return schemas::ClusterStats{
            w.config.name, w.config.node_name, schemas::kProtocolVersion, {w.Stats()}};
      },
      w.log);
  Status ran = reactor.Run();
  FlushNodeHomeAtStop(*w.store, w.log);
  return ran;
}

}  // namespace zcluster::nodes
