#include "zcluster/nodes/master.h"

#include "zcluster/bus/sockets.h"
#include "zcluster/bus/zap_authenticator.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/master_agents.h"
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
  std::optional<ControlServer> control;
  WorkerSessions sessions;
  std::unique_ptr<MasterAgents> agents;

  Impl(const ClusterConfig& c, ClusterLog& l)
      : config(c),
        log(l, "Master"),
        sessions(HelloPolicy{c.name, schemas::kProtocolVersion, true}, c.node_name,
                 std::chrono::duration<double>(c.intervals.max_allowed_time_without_keepalive),
                 l) {}

  ~Impl() {
    // Sockets close before the ZAP handler stops, and all before the context terminates.
    control.reset();
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
      if (auto r = sessions.OnMessage(env, m, SteadyClock::now(), still_connected)) reply(*r);
      return;
    }
    Result<std::string> worker = sessions.Authenticate(env, SteadyClock::now());
    std::string type(schemas::TypeOf(m));
    if (!worker.ok()) {
      return reply(schemas::ErrorReply{worker.status().code(), worker.status().message(), type});
    }
    if (const auto* batch = std::get_if<schemas::AgentInfoBatch>(&m)) {
      Result<schemas::AgentInfoAck> ack = agents->Apply(*worker, *batch);
      if (ack.ok()) return reply(*ack);
      log.Error("Agent-info sync", "Cannot save a batch from {}: {}", *worker,
                ack.status().ToString());
      return reply(schemas::ErrorReply{Code::kUnavailable, ack.status().message(), type});
    }
    reply(schemas::ErrorReply{Code::kInvalidArgument, "a worker may not send " + type, type});
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
      return agents->List();
    }
    if (const auto* add = std::get_if<schemas::AgentAdd>(&request)) {
      return result(agents->Add(add->name, add->ip));
    }
    if (const auto* remove = std::get_if<schemas::AgentRemove>(&request)) {
      return result(agents->Remove(remove->id));
    }
    if (std::holds_alternative<schemas::HealthQuery>(request)) return HealthReport();
    return std::nullopt;
  }

  schemas::Health HealthReport() const {
    schemas::Health health;
    for (const schemas::NodeInfo& n : sessions.Connected()) {
      schemas::WorkerHealth h{n.name, n.last_keepalive, 0, 0, 0, 0, 0};
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

  Result<ControlServer> control = ControlServer::Bind(impl->ctx, config.control_path());
  if (!control.ok()) return control.status();
  impl->control.emplace(std::move(control).value());

  master_log.Info("Main", "Listening on {} ({} keys, {} mode); control socket {}; start {}",
                  impl->router->endpoint(), keys.workers.size(),
                  keys.shared_key_mode ? "shared-key" : "per-node key", config.control_path(),
                  impl->store->starts());
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
    std::chrono::milliseconds timeout(-1);
    if (auto next = m.sessions.NextExpiry()) {
      timeout = std::max(std::chrono::milliseconds(0),
                         std::chrono::ceil<std::chrono::milliseconds>(*next - now));
    }
    std::vector<bus::PollItem> items{
        {&m.router->socket(), -1, false}, {&m.control->socket(), -1, false}, {nullptr, stop_fd, false}};
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
  }
}

}  // namespace zcluster::nodes
