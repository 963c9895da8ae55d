#include "zcluster/nodes/master.h"

#include "zcluster/bus/sockets.h"
#include "zcluster/bus/zap_authenticator.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/master_agents.h"
#include "zcluster/nodes/file_watcher.h"
#include "zcluster/nodes/master_files.h"
#include "zcluster/nodes/master_groups.h"
#include "zcluster/nodes/worker_sessions.h"
#include "zcluster/nodes/node_home.h"

namespace zcluster::nodes {

struct Master::Impl {
  ClusterConfig config;
  Logger log;
  std::unique_ptr<store::NodeStore> store;
  zmq::context_t ctx{1};
  std::unique_ptr<bus::ZapAuthenticator> zap;  // declared after ctx: stopped before ctx closes
  std::optional<bus::RouterSocket> router;
  std::optional<bus::PublisherSocket> pub;
  std::optional<ControlServer> control;
  WorkerSessions sessions;
  std::unique_ptr<MasterAgents> agents;
  std::unique_ptr<MasterGroups> groups;
  std::unique_ptr<MasterFiles> files;
  std::optional<FileWatcher> watcher;
  SteadyClock::time_point next_rescan{};
  bool heartbeat_files = false;
  std::map<std::string, schemas::Keepalive> worker_state;  // each worker's last keepalive
  SteadyClock::time_point next_heartbeat{};

  Impl(const ClusterConfig& c, ClusterLog& l)
      : config(c),
        log(l, "Master"),
        sessions(HelloPolicy{c.name, schemas::kProtocolVersion, true}, c.node_name,
                 std::chrono::duration<double>(c.intervals.max_allowed_time_without_keepalive),
                 l) {}

  ~Impl() {
    // Sockets close before the ZAP handler stops, and all before the context terminates.
    control.reset();
    pub.reset();
    router.reset();
    zap.reset();
  }

  void HandleWorker(const bus::Envelope& env) {
    auto reply = [&](const schemas::Message& m) {
      router->Send(env.routing_id, schemas::Encode(m)).IgnoreError();  // peer gone: nothing to do
    };
    if (env.too_many_frames) {
      return reply(schemas::ErrorReply{Code::kInvalidArgument, "too many frames", ""});
    }
    Result<schemas::Message> message = schemas::Decode(env.frames);
    if (!message.ok()) {
      log.Debug("Main", "Malformed message from {}: {}", env.user_id, message.status().message());
      return reply(schemas::ErrorReply{Code::kInvalidArgument, message.status().message(), ""});
    }
    auto still_connected = [this](const std::string& rid, const schemas::KeepaliveAck& probe) {
      return router->Send(rid, schemas::Encode(probe)).ok();
    };
    const schemas::Message& m = *message;
    if (std::holds_alternative<schemas::Hello>(m) || std::holds_alternative<schemas::Keepalive>(m)) {
      std::optional<schemas::Message> r = sessions.OnMessage(env, m, SteadyClock::now(),
                                                             still_connected);
      auto* ack = r ? std::get_if<schemas::KeepaliveAck>(&*r) : nullptr;
      if (ack != nullptr) NoteGroupsPosition(env, std::get<schemas::Keepalive>(m), ack);
      if (r) reply(*r);
      return;
    }
    Result<std::string> worker = sessions.Authenticate(env, SteadyClock::now());
    std::string type(schemas::TypeOf(m));
    if (!worker.ok()) {
      return reply(schemas::ErrorReply{worker.status().code(), worker.status().message(), type});
    }
    if (const auto* request = std::get_if<schemas::FilesSyncRequest>(&m)) {
      if (!files->ready()) {
        // Answered once the first scan is committed (Rescan).
        waiting_file_syncs.push_back({env.routing_id, *worker, request->from});
        return;
      }
      AnswerFilesSync(env.routing_id, *worker, request->from);
      return;
    }
    if (const auto* fetch = std::get_if<schemas::FileFetch>(&m)) return reply(files->Serve(*fetch));
    if (const auto* request = std::get_if<schemas::GroupsSyncRequest>(&m)) {
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
    if (const auto* batch = std::get_if<schemas::AgentInfoBatch>(&m)) {
      std::vector<std::string> saved;
      Result<schemas::AgentInfoAck> ack = agents->Apply(*worker, *batch, &saved);
      if (ack.ok()) {
        // An agent seen for the first time gets its first group at once.
        Publish(groups->EnsureAssigned(saved));
        return reply(*ack);
      }
      log.Error("Agent-info sync", "Cannot save a batch from {}: {}", *worker,
                ack.status().ToString());
      return reply(schemas::ErrorReply{Code::kUnavailable, ack.status().message(), type});
    }
    reply(schemas::ErrorReply{Code::kInvalidArgument, "a worker may not send " + type, type});
  }

  // The worker's groups position from its keepalive; a table that differs from ours at the same
  // position is told to resync.
  void NoteGroupsPosition(const bus::Envelope& env, const schemas::Keepalive& ka,
                          schemas::KeepaliveAck* ack) {
    const std::string* name = sessions.NameOf(env.routing_id);
    if (name == nullptr) return;
    worker_state[*name] = ka;
    if (ka.groups_seq == groups->seq() && ka.groups_digest != groups->digest()) {
      log.WithTag("Worker " + *name).Warning("Agent-groups send", "Group table differs from the "
                                             "master's at {}: asking for a resync", ka.groups_seq);
      ack->resync_groups = true;
    }
  }

  // Publishes durable changes on the groups stream.
  void Publish(const Result<MasterGroups::Changes>& changes) {
    if (!changes.ok()) {
      log.Error("Local agent-groups", "{}", changes.status().ToString());
      return;
    }
    if (changes->empty()) return;
    auto start = SteadyClock::now();
    // Large bursts go out as several messages of at most <tuning><delta_batch> changes.
    std::size_t chunk = static_cast<std::size_t>(config.delta_batch);
    for (std::size_t i = 0; i < changes->size(); i += chunk) {
      schemas::GroupsDelta delta;
      auto end = std::min(changes->size(), i + chunk);
      delta.changes.assign(changes->begin() + static_cast<std::ptrdiff_t>(i),
                           changes->begin() + static_cast<std::ptrdiff_t>(end));
      // PUB may drop it for a slow worker: its sequence check turns that into a resync.
      pub->Send(schemas::Encode(delta)).IgnoreError();
    }
    log.At(changes->size() >= 100 ? LogLevel::kInfo : LogLevel::kDebug, "Agent-groups send",
           "Published {} changes, stream at {}. Finished in {:.3f}s.", changes->size(),
           changes->back().seq,
           std::chrono::duration<double>(SteadyClock::now() - start).count());
    next_heartbeat = SteadyClock::now() + std::chrono::seconds(1);
  }

  struct WaitingSync {
    std::string routing_id, worker;
    std::uint64_t from;
  };
  std::vector<WaitingSync> waiting_file_syncs;

  void AnswerFilesSync(const std::string& routing_id, const std::string& worker,
                       std::uint64_t from) {
    Result<schemas::FilesSync> sync = files->SyncFrom(from);
    schemas::Message reply =
        sync.ok() ? schemas::Message(*sync)
                  : schemas::ErrorReply{sync.status().code(), sync.status().message(),
                                        "files_sync_request"};
    if (sync.ok()) {
      log.WithTag("Worker " + worker)
          .At(sync->full || !sync->changes.empty() ? LogLevel::kInfo : LogLevel::kDebug,
              "Integrity check", "Sync from {}: {} to {}", from,
              sync->full ? fmt::format("whole table, {} files", sync->files.size())
                         : fmt::format("{} changes", sync->changes.size()),
              sync->seq);
    }
    router->Send(routing_id, schemas::Encode(reply)).IgnoreError();  // gone: it asks again
  }

  // Local integrity: rescans the file set and publishes what changed.
  void Rescan(SteadyClock::time_point now) {
    if (watcher && watcher->Drain()) {
      // Something moved: rescan shortly (a burst of events is one scan).
      next_rescan = std::min(next_rescan, now + std::chrono::milliseconds(20));
    }
    if (now < next_rescan) return;
    auto start = SteadyClock::now();
    std::size_t unsettled = 0;
    Result<MasterFiles::Changes> changes = files->Rescan(&unsettled);
    if (watcher) watcher->WatchAll(config.home, FileSet::FromConfig(config));
    next_rescan = now + std::chrono::duration_cast<SteadyClock::duration>(
                            std::chrono::duration<double>(config.intervals.local_integrity));
    // A file still being written is looked at again soon, and published once it has settled.
    if (unsettled > 0) next_rescan = std::min(next_rescan, now + std::chrono::milliseconds(50));
    if (!changes.ok()) {
      log.Error("Local integrity", "{}", changes.status().ToString());
      return;
    }
    if (files->ready()) {
      for (const WaitingSync& w : waiting_file_syncs) AnswerFilesSync(w.routing_id, w.worker, w.from);
      waiting_file_syncs.clear();
    }
    if (changes->empty()) return;
    std::size_t deleted = 0;
    for (const auto& c : *changes) deleted += c.deleted ? 1 : 0;
    log.Info("Local integrity", "{} files changed, {} deleted; stream at {}. Finished in {:.3f}s.",
             changes->size() - deleted, deleted, files->seq(),
             std::chrono::duration<double>(SteadyClock::now() - start).count());
    std::size_t chunk = static_cast<std::size_t>(config.delta_batch);
    for (std::size_t i = 0; i < changes->size(); i += chunk) {
      schemas::FilesDelta delta;
      auto end = std::min(changes->size(), i + chunk);
      delta.changes.assign(changes->begin() + static_cast<std::ptrdiff_t>(i),
                           changes->begin() + static_cast<std::ptrdiff_t>(end));
      pub->Send(schemas::Encode(delta)).IgnoreError();  // a drop becomes a resync
    }
  }

  void Heartbeat(SteadyClock::time_point now) {
    if (now < next_heartbeat) return;
    // One stream per tick, alternating: each stream's heartbeat comes every second, and two
    // messages back to back never compete for a worker's last queue slot.
    heartbeat_files = !heartbeat_files;
    schemas::StreamHeartbeat hb = heartbeat_files
                                      ? schemas::StreamHeartbeat{"files", files->seq()}
                                      : schemas::StreamHeartbeat{"groups", groups->seq()};
    pub->Send(schemas::Encode(hb)).IgnoreError();
    next_heartbeat = now + std::chrono::milliseconds(500);
  }

  // Answers the control socket's requests.
  std::optional<schemas::Message> Control(const schemas::Message& request) {
    auto result = [](auto r) -> schemas::Message {
      if (!r.ok()) return schemas::ErrorReply{r.status().code(), r.status().message(), ""};
      return *r;
    };
    if (std::holds_alternative<schemas::NodesQuery>(request)) return Nodes();
    if (std::holds_alternative<schemas::AgentsQuery>(request)) {
      if (Status s = agents->ReloadRegistryIfChanged(); !s.ok()) {
        return schemas::ErrorReply{s.code(), s.message(), "agents_query"};
      }
      schemas::AgentList list = agents->List();
      for (schemas::AgentRecord& a : list.agents) {
        if (const auto* g = groups->Of(a.id)) a.groups = *g;
      }
      return list;
    }
    if (const auto* add = std::get_if<schemas::AgentAdd>(&request)) {
      if (!add->groups.empty()) {
        schemas::GroupAssign check{{}, add->groups, true};
        Result<MasterGroups::Changes> none = groups->Assign(check, [](const std::string&) {
          return true;
        });
        if (!none.ok()) return schemas::ErrorReply{none.status().code(), none.status().message(), ""};
      }
      Result<schemas::AgentEntry> entry = agents->Add(add->name, add->ip);
      if (entry.ok() && !add->groups.empty()) {
        Publish(groups->Assign({{entry->id}, add->groups, true},
                               [](const std::string&) { return true; }));
      }
      return result(entry);
    }
    if (const auto* remove = std::get_if<schemas::AgentRemove>(&request)) {
      Result<schemas::AgentEntry> entry = agents->Remove(remove->id);
      if (entry.ok()) Publish(groups->Forget(remove->id));
      return result(entry);
    }
    if (const auto* assign = std::get_if<schemas::GroupAssign>(&request)) {
      auto exists = [this](const std::string& id) { return agents->Registered(id); };
      return GroupsResult(groups->Assign(*assign, exists));
    }
    if (const auto* unassign = std::get_if<schemas::GroupUnassign>(&request)) {
      return GroupsResult(groups->Unassign(*unassign));
    }
    if (std::holds_alternative<schemas::GroupTableQuery>(request)) return groups->Table();
    if (std::holds_alternative<schemas::FileTableQuery>(request)) return files->Table();
    if (std::holds_alternative<schemas::HealthQuery>(request)) return HealthReport();
    return std::nullopt;
  }

  schemas::Message GroupsResult(const Result<MasterGroups::Changes>& changes) {
    if (!changes.ok()) {
      return schemas::ErrorReply{changes.status().code(), changes.status().message(), ""};
    }
    Publish(changes);
    return schemas::GroupsChanged{groups->seq(), changes->size()};
  }

  schemas::Health HealthReport() const {
    schemas::Health health;
    for (const schemas::NodeInfo& n : sessions.Connected()) {
      schemas::WorkerHealth h{};
      h.name = n.name;
      h.last_keepalive = n.last_keepalive;
      h.master_groups_seq = groups->seq();
      h.master_files_seq = files->seq();
      if (auto k = worker_state.find(n.name); k != worker_state.end()) {
        const schemas::Keepalive& ka = k->second;
        h.groups_seq = ka.groups_seq;
        h.groups_digest_match = ka.groups_seq == groups->seq() &&
                                ka.groups_digest == groups->digest();
        h.files_seq = ka.files_seq;
        h.files_digest_match = ka.files_digest == files->digest();
        h.integrity_start = ka.integrity_start;
        h.integrity_end = ka.integrity_end;
        h.files_created = ka.files_created;
        h.files_updated = ka.files_updated;
        h.files_deleted = ka.files_deleted;
      }
      auto s = agents->sync_stats().find(n.name);
      if (s != agents->sync_stats().end()) {
        h.agent_sync_start = s->second.start;
        h.agent_sync_end = s->second.end;
        h.agents_sent = s->second.sent;
        h.agents_unknown = s->second.unknown;
        h.agents_pending = s->second.pending;
      }
      health.workers.push_back(std::move(h));
    }
    return health;
  }

  schemas::NodeList Nodes() const {
    schemas::NodeList list;
    std::string address = config.nodes.empty() ? config.bind_addr : config.nodes.front();
    double now = UnixNow();
    list.nodes.push_back({config.node_name, "master", ZCLUSTER_VERSION,
                          address + ":" + std::to_string(config.port), now});
    for (schemas::NodeInfo& n : sessions.Connected()) list.nodes.push_back(std::move(n));
    return list;
  }
};

Master::Master(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Master::~Master() = default;

Result<std::unique_ptr<Master>> Master::Start(const ClusterConfig& config, KeyMaterial keys,
                                              ClusterLog& log) {
  auto impl = std::make_unique<Impl>(config, log);
  Result<std::unique_ptr<store::NodeStore>> store = OpenNodeHome(config);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  Result<std::unique_ptr<MasterAgents>> agents =
      MasterAgents::Load(*impl->store, config.client_keys_path(), impl->log);
  if (!agents.ok()) return agents.status();
  impl->agents = std::move(agents).value();
  Result<std::unique_ptr<MasterGroups>> groups =
      MasterGroups::Load(*impl->store, config.home + "/etc/shared", impl->log);
  if (!groups.ok()) return groups.status();
  impl->groups = std::move(groups).value();
  Result<std::unique_ptr<MasterFiles>> files = MasterFiles::Load(
      *impl->store, FileScanner(config.home, FileSet::FromConfig(config)), impl->log);
  if (!files.ok()) return files.status();
  impl->files = std::move(files).value();
  Result<FileWatcher> watcher = FileWatcher::Open();
  if (watcher.ok()) {
    impl->watcher.emplace(std::move(watcher).value());
    impl->watcher->WatchAll(config.home, FileSet::FromConfig(config));
  } else {
    impl->log.Warning("Local integrity", "No inotify ({}): rescanning every {}s only",
                      watcher.status().message(), config.intervals.local_integrity);
  }

  Logger master_log(log, "Master");
  auto refusal = [master_log](const bus::ZapVerdict& v, std::uint64_t suppressed) {
    master_log.Warning("Main", "Refused CURVE handshake from {}: {} (key {}){}", v.address,
                       v.status_text, v.public_z85.empty() ? "none" : v.public_z85,
                       suppressed ? fmt::format("; {} more refusals not logged", suppressed) : "");
  };
  if (keys.workers.size() == 0) {
    master_log.Warning("Main", "No worker key is authorized: no worker can connect");
  }
  Result<std::unique_ptr<bus::ZapAuthenticator>> zap =
      bus::ZapAuthenticator::Start(impl->ctx, keys.workers, refusal);
  if (!zap.ok()) return zap.status();
  impl->zap = std::move(zap).value();

  Result<bus::RouterSocket> router = bus::RouterSocket::BindCurve(
      impl->ctx, *impl->zap, keys.own, config.master_endpoint(), bus::SocketOptions{});
  if (!router.ok()) return router.status();
  impl->router.emplace(std::move(router).value());
  Result<bus::PublisherSocket> pub =
      bus::PublisherSocket::BindCurve(impl->ctx, *impl->zap, keys.own, config.stream_endpoint(),
                                      bus::SocketOptions{}, config.pub_hwm);
  if (!pub.ok()) return pub.status();
  impl->pub.emplace(std::move(pub).value());

  Result<ControlServer> control = ControlServer::Bind(impl->ctx, config.control_path());
  if (!control.ok()) return control.status();
  impl->control.emplace(std::move(control).value());

  master_log.Info("Main", "Listening on {}, streams on {} ({} keys, {} mode); control socket {}; "
                          "start {}; groups stream at {}",
                  impl->router->endpoint(), impl->pub->endpoint(), keys.workers.size(),
                  keys.shared_key_mode ? "shared-key" : "per-node key", config.control_path(),
                  impl->store->starts(), impl->groups->seq());
  return std::unique_ptr<Master>(new Master(std::move(impl)));
}

Status Master::Run(int stop_fd) {
  Impl& m = *impl_;
  ControlServer::Handler answers = [&m](const schemas::Message& request) {
    return m.Control(request);
  };
  for (;;) {
    auto now = SteadyClock::now();
    m.sessions.Expire(now);
    m.Rescan(now);
    m.Heartbeat(now);
    auto wake = std::min(m.next_heartbeat, m.next_rescan);
    if (auto next = m.sessions.NextExpiry()) wake = std::min(wake, *next);
    auto timeout = std::max(std::chrono::milliseconds(0),
                            std::chrono::ceil<std::chrono::milliseconds>(wake - now));
    std::vector<bus::PollItem> items{{&m.router->socket(), -1, false},
                                     {&m.control->socket(), -1, false},
                                     {nullptr, stop_fd, false},
                                     {nullptr, m.watcher ? m.watcher->fd() : -1, false}};
    ZC_RETURN_IF_ERROR(bus::Poll(items, timeout));
    if (items[2].readable) {
      m.log.Info("Main", "Stopping");
      return Status::Ok();
    }
    if (items[0].readable) {
      // Bounded so that the control socket and expiry are served under a flood.
      for (int budget = 1000; budget > 0; --budget) {
        Result<std::optional<bus::Envelope>> env = m.router->Receive();
        if (!env.ok()) return env.status();
        if (!env->has_value()) break;
        m.HandleWorker(**env);
      }
    }
    if (items[1].readable) m.control->ServePending(answers, m.log);
    if (items[3].readable) m.next_rescan = std::min(m.next_rescan, SteadyClock::now());
  }
}

}  // namespace zcluster::nodes
