#include "zcluster/nodes/master.h"

#include <malloc.h>

#include <future>

#include "master/master_impl.h"
#include "monitor/prometheus_text.h"
#include "streams/delta_chunks.h"
#include "streams/stream_topics.h"
#include "zcluster/bus/reactor.h"

namespace zcluster::nodes {

Status Master::Impl::SendToWorker(const std::string& routing_id, bus::Frames frames) {
  const std::string* name = sessions.NameOf(routing_id);
  monitor.traffic().Out(name != nullptr ? std::string_view(*name) : "unknown", frames);
  return router->Send(routing_id, std::move(frames));
}

void Master::Impl::PublishFrames(bus::Frames frames) {
  monitor.traffic().Out("streams", frames);
  pub->Send(std::move(frames)).IgnoreError();  // PUB drops for a slow worker: it resyncs
}

void Master::Impl::OnHangup() {
  if (Status reopened = log.sink().Reopen(); !reopened.ok()) {
    log.Error("Main", "SIGHUP: log not reopened, lines still go to the old file: {}",
              reopened.message());
  }
  log.sink().SetDebug(ClusterDebugLevel(config.home) >= 1);
  Result<KeyMaterial> keys = LoadKeyMaterial(config);
  if (!keys.ok()) {
    log.Error("Main", "SIGHUP: keys not re-read, the ones in use stay: {}",
              keys.status().message());
    return;
  }
  authorized_workers = keys->allowed.Users();
  zap->Replace(std::move(keys->allowed));
  log.Info("Main", "SIGHUP: reopened the log; {} worker keys authorized; debug lines {}",
           authorized_workers->size(), log.sink().debug() ? "on" : "off");
}

void Master::Impl::HandleWorker(bus::Envelope& env) {
  if (authorized_workers && !authorized_workers->count(env.user_id)) {
    // Its key was removed from the folder: nothing it sends is taken, and its session lapses.
    log.Debug("Main", "Refused a message from {}: its key is no longer authorized", env.user_id);
    SendToWorker(env.routing_id,
                 schemas::Encode(schemas::ErrorReply{
                     Code::kPermissionDenied, "this node's key is no longer authorized", ""}))
        .IgnoreError();
    return;
  }
  const std::string* session = sessions.NameOf(env.routing_id);
  monitor.traffic().In(session != nullptr    ? std::string_view(*session)
                       : env.user_id.empty() ? std::string_view("unknown")
                                             : std::string_view(env.user_id),
                       env.frames);
  auto reply = [&](const schemas::Message& m) {
    SendToWorker(env.routing_id, schemas::Encode(m)).IgnoreError();  // peer gone: nothing to do
  };
  if (env.too_many_frames) {
    return reply(schemas::ErrorReply{Code::kInvalidArgument, "too many frames", ""});
  }
  if (env.frames.size() == 2 && schemas::IsAgentInfoType(env.frames[0])) {
    // The master's busiest message is read in place rather than decoded (ReadAgentInfo).
    Result<std::string> worker = sessions.Authenticate(env, SteadyClock::now());
    if (!worker.ok()) {
      return reply(schemas::ErrorReply{worker.status().code(), worker.status().message(),
                                       std::string(schemas::AgentInfoBatch::kType)});
    }
    return TakeAgentInfo(env.routing_id, *worker, std::move(env.frames[1]));
  }
  Result<schemas::Message> message = schemas::Decode(env.frames);
  if (!message.ok()) {
    log.Debug("Main", "Malformed message from {}: {}", env.user_id, message.status().message());
    return reply(schemas::ErrorReply{Code::kInvalidArgument, message.status().message(), ""});
  }
  auto still_connected = [this](const std::string& rid, const schemas::KeepaliveAck& probe) {
    return SendToWorker(rid, schemas::Encode(probe)).ok();
  };
  const schemas::Message& m = *message;
  if (std::holds_alternative<schemas::Hello>(m) || std::holds_alternative<schemas::Keepalive>(m)) {
    std::optional<schemas::Message> r =
        sessions.OnMessage(env, m, SteadyClock::now(), still_connected);
    auto* ack = r ? std::get_if<schemas::KeepaliveAck>(&*r) : nullptr;
    if (ack != nullptr) NoteGroupsPosition(env, std::get<schemas::Keepalive>(m), ack);
    if (r && std::holds_alternative<schemas::Welcome>(*r)) {
      const std::string* name = sessions.NameOf(env.routing_id);
      if (name != nullptr) seen_workers.insert(*name);
      monitor.Event("accepted", "cluster", env.peer_address, name != nullptr ? *name : "");
    }
    if (r) reply(*r);
    return;
  }
  Result<std::string> worker = sessions.Authenticate(env, SteadyClock::now());
  std::string type(schemas::TypeOf(m));
  if (!worker.ok()) {
    return reply(schemas::ErrorReply{worker.status().code(), worker.status().message(), type});
  }
  if (const auto* bye = std::get_if<schemas::Goodbye>(&m)) {
    // A clean stop: the session ends now rather than after its silence, and the line says so,
    // once per worker per 30 s however often it restarts.
    if (sessions.Drop(env.routing_id)) {
      worker_state.erase(*worker);
      monitor.Event("disconnected", "cluster", env.peer_address, *worker);
      if (goodbye_lines.Take(*worker, SteadyClock::now()).log) {
        Logger(log.sink(), "Worker " + *worker)
            .Info("Main", "Disconnected cleanly: {}",
                  bye->reason.empty() ? "no reason" : bye->reason);
      }
    }
    return;
  }
  if (AnswerForwarded(env, m)) return;
  if (const auto* stats = std::get_if<schemas::NodeStats>(&m)) {
    // Bounded by the workers that completed a hello; the name is the session's, not the claim.
    if (worker_stats.size() >= kMaxWorkerStats && !worker_stats.count(*worker)) return;
    schemas::NodeStats& kept = worker_stats[*worker];
    kept = *stats;
    kept.name = *worker;
    kept.type = "worker";
    return;
  }
  if (const auto* request = std::get_if<schemas::FilesSyncRequest>(&m)) {
    return integrity->FilesSync(env.routing_id, *worker, *request);
  }
  if (const auto* fetch = std::get_if<schemas::FileFetch>(&m)) {
    return integrity->FileFetch(env.routing_id, *fetch);
  }
  if (const auto* request = std::get_if<schemas::GroupsSyncRequest>(&m)) {
    if (request->from > groups->seq() && may_adopt_groups) {
      // The worker applied changes this master never numbered: its store was lost or replaced.
      // Answering with our table would wipe the worker's; taking the worker's keeps them.
      if (asked_for_groups.insert(*worker).second) {
        log.WithTag("Worker " + *worker)
            .Error("Agent-groups send",
                   "Worker is at groups change {} but this master's stream is at {}: this "
                   "master's database was lost or replaced. Taking the worker's table instead "
                   "of overwriting it",
                   request->from, groups->seq());
      }
      return reply(schemas::GroupTableQuery{});
    }
    if (request->from > groups->seq()) {
      log.WithTag("Worker " + *worker)
          .Warning("Agent-groups send",
                   "Worker claims groups change {} but this master's stream is at {}: it gets "
                   "this master's whole table",
                   request->from, groups->seq());
    }
    // A worker that syncs from within our stream shows that this master's history is the
    // cluster's: from now on no worker's table replaces it.
    may_adopt_groups = may_adopt_groups && request->from > groups->seq();
    Result<schemas::GroupsSync> sync = groups->SyncFrom(request->from);
    if (!sync.ok()) {
      return reply(schemas::ErrorReply{sync.status().code(), sync.status().message(), type});
    }
    Logger(log.WithTag("Worker " + *worker))
        .At(sync->full || !sync->changes.empty() ? LogLevel::kInfo : LogLevel::kDebug,
            "Agent-groups send", "Sync from {}: {} to {}", request->from,
            sync->full ? fmt::format("whole table, {} agents", sync->groups.size())
                       : fmt::format("{} changes", sync->changes.size()),
            sync->seq);
    return reply(*sync);
  }
  if (auto* table = std::get_if<schemas::GroupTable>(&*message)) {
    if (!asked_for_groups.erase(*worker)) {
      return reply(
          schemas::ErrorReply{Code::kInvalidArgument, "group_table was not asked for", type});
    }
    if (!may_adopt_groups) {
      return reply(schemas::ErrorReply{Code::kFailedPrecondition,
                                       "this master's group table is no longer replaced", type});
    }
    std::erase_if(table->groups, [&](const auto& row) { return !agents->Registered(row.first); });
    Result<MasterGroups::Changes> adopted = groups->Adopt(*table);
    may_adopt_groups = !adopted.ok();  // once: the first worker ahead of a lost store
    asked_for_groups.clear();
    return Publish(adopted);
  }
  if (auto* batch = std::get_if<schemas::AgentInfoBatch>(&*message)) {
    // Its type spelled otherwise than IsAgentInfoType reads: the body as the encoder writes it.
    return TakeAgentInfo(env.routing_id, *worker, schemas::Encode(*batch)[1]);
  }
  reply(schemas::ErrorReply{Code::kInvalidArgument, "a worker may not send " + type, type});
}

void Master::Impl::TakeAgentInfo(const std::string& routing_id, const std::string& worker,
                                 std::string body) {
  // Saved with the others that arrived together (SaveArrivedBatches).
  if (Status taken = arrived.Take(routing_id, worker, std::move(body)); !taken.ok()) {
    log.Debug("Main", "Malformed message from {}: {}", worker, taken.message());
    SendToWorker(routing_id,
                 schemas::Encode(schemas::ErrorReply{Code::kInvalidArgument, taken.message(), ""}))
        .IgnoreError();
  }
}

void Master::Impl::SaveArrivedBatches() {
  if (arrived.empty()) return;
  const std::vector<ArrivedAgentInfo::Batch>& arrived_batches = arrived.batches();
  std::vector<MasterAgents::WorkerBatch> batches;
  for (const ArrivedAgentInfo::Batch& a : arrived_batches) batches.push_back({&a.worker, &a.view});
  std::vector<std::string> saved;
  Result<std::vector<schemas::AgentInfoAck>> acks = agents->ApplyAll(batches, &saved);
  if (acks.ok()) {
    // An agent seen for the first time gets its first group at once.
    Publish(groups->EnsureAssigned(saved));
  } else {
    log.Error("Agent-info sync", "Cannot save {} batches: {}", arrived_batches.size(),
              acks.status().ToString());
  }
  for (std::size_t i = 0; i < arrived_batches.size(); ++i) {
    schemas::Message reply =
        acks.ok() ? schemas::Message((*acks)[i])
                  : schemas::ErrorReply{Code::kUnavailable, acks.status().message(), "agent_info"};
    SendToWorker(arrived_batches[i].routing_id, schemas::Encode(reply)).IgnoreError();
  }
  arrived.Clear();
}

void Master::Impl::NoteGroupsPosition(const bus::Envelope& env, const schemas::Keepalive& ka,
                                      schemas::KeepaliveAck* ack) {
  const std::string* name = sessions.NameOf(env.routing_id);
  if (name == nullptr) return;
  worker_state[*name] = ka;
  if (ka.groups_seq == groups->seq() && ka.groups_digest != groups->digest()) {
    log.WithTag("Worker " + *name)
        .Warning("Agent-groups send",
                 "Group table differs from the "
                 "master's at {}: asking for a resync",
                 ka.groups_seq);
    ack->resync_groups = true;
  }
}

void Master::Impl::Publish(const Result<MasterGroups::Changes>& changes) {
  if (!changes.ok()) {
    log.Error("Local agent-groups", "{}", changes.status().ToString());
    return;
  }
  if (changes->empty()) return;
  auto start = SteadyClock::now();
  ForEachDelta<schemas::GroupsDelta>(
      *changes, static_cast<std::size_t>(config.delta_batch),
      [this](const schemas::GroupsDelta& d) { PublishFrames(schemas::Encode(d)); });
  // Every group change is worth a line, but a script assigning agents one by one must not
  // write one each: at INFO once per 10 s (and for any large change), the rest at DEBUG.
  const bool info = changes->size() >= 100 || start - last_groups_info >= std::chrono::seconds(10);
  if (info) last_groups_info = start;
  log.At(info ? LogLevel::kInfo : LogLevel::kDebug, "Agent-groups send",
         "Published {} changes, stream at {}. Finished in {:.3f}s.", changes->size(),
         changes->back().seq, std::chrono::duration<double>(SteadyClock::now() - start).count());
  next_heartbeat = SteadyClock::now() + std::chrono::seconds(1);
}

void Master::Impl::Heartbeat(SteadyClock::time_point now) {
  if (now < next_heartbeat) return;
  // One stream per tick, alternating: each stream's heartbeat comes every second, and two
  // messages back to back never compete for a worker's last queue slot.
  heartbeat_files = !heartbeat_files;
  schemas::StreamHeartbeat hb = heartbeat_files
                                    ? schemas::StreamHeartbeat{"files", integrity->state().seq}
                                    : schemas::StreamHeartbeat{"groups", groups->seq()};
  PublishFrames(schemas::Encode(hb));
  next_heartbeat = now + std::chrono::milliseconds(500);
  // A disk that came back is found here, not at the next change someone makes.
  store->Recover().IgnoreError();
  DisconnectAgentsOfLostWorkers(now);
}

std::optional<SteadyClock::time_point> Master::Impl::FoldSeenLog(SteadyClock::time_point now) {
  Status s = agents->ContinueFold(kFoldStep);
  if (!s.ok() && fold_failing.empty()) {
    log.Error("Agent-info", "Cannot fold the last-seen log: {}", s.ToString());
  } else if (s.ok() && !fold_failing.empty()) {
    log.Info("Agent-info", "Folding the last-seen log again");
  }
  fold_failing = s.ok() ? "" : s.message();
  // A fold goes on in small steps with pauses between them, so that its writes never fill the
  // store's memtables faster than they are flushed and the agents' own writes never wait for
  // them. A failed step, or a check whether a fold is due, comes after a longer pause.
  if (s.ok() && agents->folding()) return now + kFoldPause;
  return now + std::chrono::seconds(1);
}

void Master::Impl::DisconnectAgentsOfLostWorkers(SteadyClock::time_point now) {
  if (now < next_lost_check) return;
  next_lost_check = now + std::chrono::seconds(1);
  std::set<std::string> connected;
  for (const schemas::NodeInfo& n : sessions.Connected()) connected.insert(n.name);
  const auto limit = std::chrono::duration<double>(config.intervals.agents_disconnection_time);
  std::map<std::string, SteadyClock::time_point> still_absent;
  for (const auto& [node, held] : agents->AgentsByNode()) {
    if (held.active == 0 || connected.count(node)) continue;
    auto seen = absent_since.find(node);
    const SteadyClock::time_point since = seen == absent_since.end() ? now : seen->second;
    if (now - since < limit) {
      still_absent.emplace(node, since);
      continue;
    }
    Result<std::size_t> marked =
        agents->MarkDisconnected(node, static_cast<std::uint64_t>(UnixNow()));
    if (!marked.ok()) {
      log.Error("Agent-info", "Agents of lost worker '{}' not marked disconnected: {}", node,
                marked.status().message());
      still_absent.emplace(node, since);  // tried again in a second
      continue;
    }
    log.Info("Agent-info",
             "Worker '{}' has been gone for more than {:.0f}s: {} agents marked disconnected", node,
             limit.count(), *marked);
  }
  absent_since = std::move(still_absent);
}

Master::Master(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Master::~Master() = default;

Result<std::unique_ptr<Master>> Master::Start(const ClusterConfig& config, KeyMaterial keys,
                                              ClusterLog& log) {
  const SteadyClock::time_point started = SteadyClock::now();
  auto seconds_since = [](SteadyClock::time_point t) {
    return std::chrono::duration<double>(SteadyClock::now() - t).count();
  };
  auto impl = std::make_unique<Impl>(config, log);
  Result<std::unique_ptr<store::NodeStore>> store = OpenNodeHome(config, impl->log);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  // The agent table and the group table are read at once, on a core each: with a million agents
  // these two scans are most of a master's start. Both only read the store. How long each took
  // is logged with the start: an operator sizing a restart reads it there.
  const double store_seconds = seconds_since(started);
  double groups_seconds = 0;
  std::future<Result<std::unique_ptr<MasterGroups>>> groups_loaded =
      std::async(std::launch::async,
                 [&store = *impl->store, &config, log = impl->log, &groups_seconds, seconds_since] {
                   const SteadyClock::time_point begun = SteadyClock::now();
                   Result<std::unique_ptr<MasterGroups>> loaded =
                       MasterGroups::Load(store, config.home + "/etc/shared", log);
                   groups_seconds = seconds_since(begun);
                   return loaded;
                 });
  const SteadyClock::time_point agents_begun = SteadyClock::now();
  Result<std::unique_ptr<MasterAgents>> agents =
      MasterAgents::Load(*impl->store, config.client_keys_path(), impl->log);
  const double agents_seconds = seconds_since(agents_begun);
  const SteadyClock::time_point files_begun = SteadyClock::now();
  // The file table too, while the group table may still be loading: at a million agents the
  // group table takes about as long as the agents and the files together.
  Result<std::unique_ptr<MasterIntegrity>> integrity =
      agents.ok() ? MasterIntegrity::Start(impl->ctx, impl->config, *impl->store, impl->log)
                  : Result<std::unique_ptr<MasterIntegrity>>(agents.status());
  const double files_seconds = seconds_since(files_begun);
  Result<std::unique_ptr<MasterGroups>> groups = groups_loaded.get();
  if (!agents.ok()) return agents.status();
  impl->agents = std::move(agents).value();
  std::uint64_t registered = 0;
  for (std::uint64_t n : impl->agents->CountByStatus()) registered += n;
  impl->may_adopt_groups = impl->store->starts() == 1;
  if (impl->store->starts() == 1 && registered > 0) {
    impl->log.Error("Main",
                    "The database at {} is new, but client.keys lists {} agents: if it was lost, "
                    "group assignments come back from the first worker ahead of this master, and "
                    "agent records as each agent reports",
                    config.db_path(), registered);
  }
  if (!groups.ok()) return groups.status();
  impl->groups = std::move(groups).value();
  // The scans above freed as much as they keep (a million agents' rows and log groups read
  // through): handed back now, not held for the life of the process.
  ::malloc_trim(0);
  if (!integrity.ok()) return integrity.status();
  impl->integrity = std::move(integrity).value();

  Logger master_log(log, "Master");
  NodeMonitor* monitor = &impl->monitor;
  auto refusal = [master_log, monitor](const bus::ZapVerdict& v,
                                       const bus::ZapAuthenticator::RefusalNote& note) {
    const char* socket = v.domain == bus::ZapAuthenticator::kMonitorDomain ? "monitor"
                         : v.domain == std::string_view(kAdminDomain)      ? "admin"
                                                                           : "cluster";
    monitor->HandshakeRefused(socket, v.address, v.public_z85, note.log);
    if (!note.log) return;
    master_log.Warning(
        "Main", "Refused CURVE handshake{} from {}: {} (key {}){}",
        socket == std::string_view("cluster") ? "" : fmt::format(" on the {} endpoint", socket),
        v.address, v.status_text, v.public_z85.empty() ? "none" : v.public_z85,
        note.unlogged ? fmt::format("; {} more refusals from there not logged", note.unlogged)
                      : "");
  };
  if (keys.allowed.size() == 0) {
    master_log.Warning("Main", "No worker key is authorized: no worker can connect");
  }
  Result<std::unique_ptr<bus::ZapAuthenticator>> zap =
      bus::ZapAuthenticator::Start(impl->ctx, keys.allowed, refusal);
  if (!zap.ok()) return zap.status();
  impl->zap = std::move(zap).value();

  bus::SocketOptions worker_options;
  worker_options.max_message_bytes = Impl::kMaxWorkerFrameBytes;
  Result<bus::RouterSocket> router = bus::RouterSocket::BindCurve(
      impl->ctx, *impl->zap, keys.own, config.master_endpoint(), worker_options);
  if (!router.ok()) return router.status();
  impl->router.emplace(std::move(router).value());
  const std::size_t per_address = static_cast<std::size_t>(config.connections_per_address);
  Result<std::unique_ptr<ListenerWatch>> router_watch =
      ListenerWatch::Watch(impl->ctx, impl->router->socket(), impl->budget,
                           {"cluster", "<tuning><connections_per_address>", per_address, true},
                           master_log, impl->monitor);
  if (!router_watch.ok()) return router_watch.status();
  impl->router_watch = std::move(router_watch).value();
  Result<bus::PublisherSocket> pub =
      bus::PublisherSocket::BindCurve(impl->ctx, *impl->zap, keys.own, config.stream_endpoint(),
                                      bus::SocketOptions{}, config.pub_hwm, StreamTopics());
  if (!pub.ok()) return pub.status();
  impl->pub.emplace(std::move(pub).value());
  Result<std::unique_ptr<ListenerWatch>> pub_watch =
      ListenerWatch::Watch(impl->ctx, impl->pub->socket(), impl->budget,
                           {"streams", "<tuning><connections_per_address>", per_address, false},
                           master_log, impl->monitor);
  if (!pub_watch.ok()) return pub_watch.status();
  impl->pub_watch = std::move(pub_watch).value();

  Result<ControlServer> control = ControlServer::Bind(impl->ctx, config.control_path());
  if (!control.ok()) return control.status();
  impl->control.emplace(std::move(control).value());
  impl->control->CountTraffic(&impl->monitor.traffic(), "control");
  if (config.admin_port) {
    bus::SocketOptions admin_options;
    admin_options.max_message_bytes = 1 << 20;  // a request is small; the largest is a group list
    Result<ControlServer> admin = ControlServer::BindCurve(
        impl->ctx, *impl->zap, keys.own, config.admin_endpoint(), admin_options, kAdminDomain);
    if (!admin.ok()) return admin.status();
    impl->admin.emplace(std::move(admin).value());
    impl->admin->CountTraffic(&impl->monitor.traffic(), "admin");
    Result<std::unique_ptr<ListenerWatch>> admin_watch =
        ListenerWatch::Watch(impl->ctx, impl->admin->socket(), impl->budget,
                             {"admin", "<tuning><connections_per_address>", per_address, true},
                             master_log, impl->monitor);
    if (!admin_watch.ok()) return admin_watch.status();
    impl->admin_watch = std::move(admin_watch).value();
    master_log.Info("Main", "Remote administration on {} ({} keys)", impl->admin->endpoint(),
                    keys.allowed.size(kAdminDomain));
  }
  Result<std::unique_ptr<MonitorSockets>> monitor_sockets = MonitorSockets::Bind(
      impl->ctx, config, *impl->zap, keys, impl->monitor, impl->budget, master_log);
  if (!monitor_sockets.ok()) return monitor_sockets.status();
  impl->monitor_sockets = std::move(monitor_sockets).value();
  if (config.metrics_port) {
    Result<std::unique_ptr<MetricsServer>> metrics =
        MetricsServer::Start(config.metrics_host, *config.metrics_port);
    if (!metrics.ok()) return metrics.status();
    impl->metrics = std::move(metrics).value();
    master_log.Info("Main", "Metrics on http://{}:{}/metrics", config.metrics_host,
                    impl->metrics->port());
  }

  master_log.Info("Main",
                  "Listening on {}, streams on {} ({} keys, {} mode); control socket {}; "
                  "start {}; groups stream at {}",
                  impl->router->endpoint(), impl->pub->endpoint(), keys.allowed.size(),
                  keys.shared_key_mode ? "shared-key" : "per-node key", config.control_path(),
                  impl->store->starts(), impl->groups->seq());
  master_log.Info("Main",
                  "Ready in {:.2f} s: database {:.2f} s, then agents {:.2f} s and files {:.2f} s "
                  "beside groups {:.2f} s",
                  seconds_since(started), store_seconds, agents_seconds, files_seconds,
                  groups_seconds);
  master_log.Info("Main", "Connections: {} per address on the cluster and streams ports, {} in all",
                  per_address == 0 ? std::string("no cap") : std::to_string(per_address),
                  impl->budget.limit());
  return std::unique_ptr<Master>(new Master(std::move(impl)));
}

ListeningPorts Master::ports() const {
  ListeningPorts p;
  p.port = PortOf(impl_->router->endpoint());
  p.stream_port = PortOf(impl_->pub->endpoint());
  if (impl_->metrics) p.metrics_port = impl_->metrics->port();
  p.monitor_port = impl_->monitor_sockets->tcp_port();
  if (impl_->admin) p.admin_port = PortOf(impl_->admin->endpoint());
  return p;
}

Status Master::Run(int stop_fd) {
  Impl& m = *impl_;
  bus::Reactor reactor;
  ControlServer::Handler answers = [&m](const schemas::Message& request,
                                        const std::string& client) {
    return m.Control(request, client);
  };
  reactor.AddReader(stop_fd, [&] {
    const ReceivedSignals got = ReadSignals(stop_fd);
    if (got.hangup) m.OnHangup();
    if (got.stop) {
      m.log.Info("Main", "Stopping");
      reactor.Stop();
    }
    return Status::Ok();
  });
  // Before the ROUTER: a worker subscribes before its hello, so its subscription is applied
  // before anything is published for it.
  reactor.AddReader(m.pub->socket(), [&m] {
    m.pub->ServeSubscriptions();
    return Status::Ok();
  });
  reactor.AddReader(m.router->socket(), [&m] {
    // Bounded so that the control socket and the timers are served under a flood.
    for (int budget = 1000; budget > 0; --budget) {
      Result<std::optional<bus::Envelope>> env = m.router->Receive();
      if (!env.ok()) return env.status();
      if (!env->has_value()) break;
      m.HandleWorker(**env);
      // A group commit of bounded size: the batches waiting (and their frames) are the master's
      // largest memory.
      if (m.arrived.full()) m.SaveArrivedBatches();
    }
    m.SaveArrivedBatches();
    return Status::Ok();
  });
  reactor.AddReader(m.router_watch->socket(), [&m] {
    m.router_watch->Drain();
    return Status::Ok();
  });
  reactor.AddReader(m.pub_watch->socket(), [&m] {
    m.pub_watch->Drain();
    return Status::Ok();
  });
  reactor.AddReader(m.control->socket(), [&] {
    m.control->ServePending(answers, m.log);
    return Status::Ok();
  });
  if (m.admin) {
    ControlServer::Handler admin_answers = [&m](const schemas::Message& request,
                                                const std::string& client) {
      return m.Control(request, std::string(Impl::kAdminClient) + client);
    };
    ControlServer::Gate gate = [&m](const schemas::Message& request, const bus::Envelope& peer) {
      return m.AdminGate(request, peer);
    };
    reactor.AddReader(m.admin->socket(), [&m, admin_answers, gate] {
      m.admin->ServePending(admin_answers, m.log, gate);
      return Status::Ok();
    });
    reactor.AddReader(m.admin_watch->socket(), [&m] {
      m.admin_watch->Drain();
      return Status::Ok();
    });
  }
  m.monitor_sockets->Serve(
      reactor, [&m] { return m.ClusterView(); }, m.log);
  auto now = reactor.now();
  m.reactor = &reactor;
  m.listing_timer =
      reactor.AddTimer(now, [&m](SteadyClock::time_point t) { return m.ServeListings(t); });
  // Silence is judged after the drain, so a keepalive queued behind a long turn still counts.
  auto max_silence = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(m.config.intervals.max_allowed_time_without_keepalive));
  reactor.AddTimer(now, [&m, max_silence](SteadyClock::time_point t) {
    for (const std::string& dropped : m.sessions.Expire(t)) {
      m.worker_state.erase(dropped);
      m.monitor.Event("disconnected", "cluster", "", dropped);
    }
    // Sessions only get later deadlines, so a new one never expires before this fallback.
    return std::optional(m.sessions.NextExpiry().value_or(t + max_silence));
  });
  MasterIntegrity::Outputs integrity_out{
      [&m](const std::string& routing_id, bus::Frames f) {
        m.SendToWorker(routing_id, std::move(f)).IgnoreError();  // gone: it asks again
      },
      [&m](bus::Frames f) { m.PublishFrames(std::move(f)); },
      [&m](const std::string& client, bus::Frames f) { m.ReplyToControl(client, std::move(f)); }};
  reactor.AddReader(m.integrity->socket(), [&] { return m.integrity->Drain(integrity_out); });
  reactor.AddTimer(now, [&m](SteadyClock::time_point t) {
    m.Heartbeat(t);
    return std::optional(m.next_heartbeat);
  });
  reactor.AddTimer(now, [&m](SteadyClock::time_point t) { return m.FoldSeenLog(t); });
  if (m.metrics) {
    // Workers' stats arrive once a second: so does the text a scrape gets.
    reactor.AddTimer(now, [&m](SteadyClock::time_point t) {
      m.metrics->Publish(RenderPrometheus(m.ClusterView()));
      return std::optional(t + std::chrono::seconds(1));
    });
  }
  Status ran = reactor.Run();
  FlushNodeHomeAtStop(*m.store, m.log);
  return ran;
}

}  // namespace zcluster::nodes
