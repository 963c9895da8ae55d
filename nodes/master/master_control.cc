// The master's answers to control requests (zcluster-control): nodes, agents, groups, files,
// health.
#include "master/master_impl.h"

namespace zcluster::nodes {

ControlAnswer Master::Impl::Control(const schemas::Message& request, const std::string& client) {
  auto result = [](auto r) -> schemas::Message {
    if (!r.ok()) return schemas::ErrorReply{r.status().code(), r.status().message(), ""};
    return *r;
  };
  if (std::holds_alternative<schemas::NodesQuery>(request)) return Nodes();
  if (const auto* query = std::get_if<schemas::AgentsQuery>(&request)) {
    return AgentsAnswer(*query, client, false);
  }
  if (const auto* add = std::get_if<schemas::AgentAdd>(&request)) {
    if (!add->groups.empty()) {
      schemas::GroupAssign check{{}, add->groups, true};
      Result<MasterGroups::Changes> none =
          groups->Assign(check, [](const std::string&) { return true; });
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
  if (std::holds_alternative<schemas::FileTableQuery>(request)) {
    integrity->FileTable(client);  // the actor owns the table; it answers
    return ControlAnswer::Later();
  }
  if (std::holds_alternative<schemas::HealthQuery>(request)) return HealthReport();
  if (std::holds_alternative<schemas::StatusQuery>(request)) {
    return schemas::NodeStatus{
        config.node_name,         "master", groups->seq(),    integrity->state().seq,
        integrity->state().ready, 0,        agents->stored(), 0};
  }
  return std::nullopt;
}

ControlAnswer Master::Impl::AgentsAnswer(const schemas::AgentsQuery& query,
                                         const std::string& client, bool for_worker) {
  if (Status s = agents->ReloadRegistryIfChanged(); !s.ok()) {
    return schemas::ErrorReply{s.code(), s.message(), "agents_query"};
  }
  if (query.ids.empty()) {
    if (listings.size() >= kMaxListings) {
      return schemas::ErrorReply{Code::kUnavailable,
                                 fmt::format("busy: {} agent listings in progress", kMaxListings),
                                 "agents_query"};
    }
    listings.push_back({client, agents->StartListing(), for_worker});
    reactor->Wake(listing_timer, reactor->now());
    return ControlAnswer::Later();
  }
  Result<schemas::AgentList> list = agents->List(query.ids);
  if (!list.ok()) {
    return schemas::ErrorReply{list.status().code(), list.status().message(), "agents_query"};
  }
  for (schemas::AgentRecord& a : list->agents) {
    if (const auto* g = groups->Of(a.id)) a.groups = *g;
  }
  return *list;
}

bool Master::Impl::AnswerForwarded(const bus::Envelope& env, const schemas::Message& m) {
  std::optional<schemas::Message> answer;
  if (std::holds_alternative<schemas::NodesQuery>(m)) {
    answer = Nodes();
  } else if (std::holds_alternative<schemas::HealthQuery>(m)) {
    answer = HealthReport();
  } else if (const auto* query = std::get_if<schemas::AgentsQuery>(&m)) {
    ControlAnswer a = AgentsAnswer(*query, env.routing_id, true);
    if (a.later()) return true;
    answer = std::move(a.now());
  } else {
    return false;
  }
  SendToWorker(env.routing_id, schemas::Encode(*answer)).IgnoreError();  // gone: nothing to do
  return true;
}

void Master::Impl::ReplyToControl(const std::string& client, bus::Frames frames) {
  if (admin && client.starts_with(kAdminClient)) {
    admin->Reply(client.substr(kAdminClient.size()), std::move(frames));
  } else {
    control->Reply(client, std::move(frames));
  }
}

std::optional<schemas::ErrorReply> Master::Impl::AdminGate(const schemas::Message& request,
                                                           const bus::Envelope& peer) {
  const std::string type(schemas::TypeOf(request));
  const bool changes = std::holds_alternative<schemas::AgentAdd>(request) ||
                       std::holds_alternative<schemas::AgentRemove>(request) ||
                       std::holds_alternative<schemas::GroupAssign>(request) ||
                       std::holds_alternative<schemas::GroupUnassign>(request);
  if (!changes) return std::nullopt;
  if (peer.user_id.starts_with("admin:")) {
    log.Info("Admin", "{} by key '{}' from {}", type, peer.user_id, peer.peer_address);
    return std::nullopt;
  }
  // Bounded like every refusal a peer can repeat: a line per address per 30 s, 20 in all.
  bus::LineBudget::Verdict note = admin_refusals.Take(peer.peer_address, SteadyClock::now());
  if (note.log) {
    log.Warning("Admin", "Refused {} from key '{}' at {}: its role is read{}", type, peer.user_id,
                peer.peer_address,
                note.unlogged ? fmt::format("; {} more from there not logged", note.unlogged) : "");
  }
  return schemas::ErrorReply{Code::kPermissionDenied,
                             "this key's role is read: it may not change agents or groups", type};
}

std::optional<SteadyClock::time_point> Master::Impl::ServeListings(SteadyClock::time_point now) {
  if (listings.empty()) return std::nullopt;
  PendingListing& job = listings.front();
  // Bounded by time, not by count: what an agent costs (a store lookup) varies with the cache
  // and the machine, and the loop's other work waits for the whole slice.
  auto until = SteadyClock::now() + kListingSlice;
  Status s;
  do {
    s = agents->ContinueListing(job.listing, kListingStep,
                                [this](const std::string& id) { return groups->Of(id); });
  } while (s.ok() && !job.listing.done() && SteadyClock::now() < until);
  auto answer = [this, &job](bus::Frames frames) {
    if (job.for_worker) {
      SendToWorker(job.client, std::move(frames)).IgnoreError();  // gone: nothing to do
    } else {
      ReplyToControl(job.client, std::move(frames));
    }
  };
  if (!s.ok()) {
    answer(schemas::Encode(schemas::ErrorReply{s.code(), s.message(), "agents_query"}));
    listings.pop_front();
  } else if (job.listing.done()) {
    answer(job.listing.Finish());
    listings.pop_front();
  }
  // Due again at once: the reactor drains every socket before the next slice.
  return listings.empty() ? std::nullopt : std::optional(now);
}

schemas::Message Master::Impl::GroupsResult(const Result<MasterGroups::Changes>& changes) {
  if (!changes.ok()) {
    return schemas::ErrorReply{changes.status().code(), changes.status().message(), ""};
  }
  Publish(changes);
  return schemas::GroupsChanged{groups->seq(), changes->size()};
}

schemas::Health Master::Impl::HealthReport() const {
  schemas::Health health;
  health.master_store_error = store->write_error().substr(0, schemas::kMaxTextLength);
  health.master_name = config.node_name;
  health.master_version = ZCLUSTER_VERSION;
  health.master_address = config.nodes.empty() ? config.bind_addr : config.nodes.front();
  const std::map<std::string, MasterAgents::NodeAgents> by_node = agents->AgentsByNode();
  std::set<std::string> connected;
  for (const schemas::NodeInfo& n : sessions.Connected()) {
    connected.insert(n.name);
    schemas::WorkerHealth h{};
    h.name = n.name;
    h.last_keepalive = n.last_keepalive;
    h.version = n.version;
    h.address = n.address;
    if (auto held = by_node.find(n.name); held != by_node.end())
      h.active_agents = held->second.active;
    h.master_groups_seq = groups->seq();
    h.master_files_seq = integrity->state().seq;
    if (auto k = worker_state.find(n.name); k != worker_state.end()) {
      const schemas::Keepalive& ka = k->second;
      h.groups_seq = ka.groups_seq;
      h.groups_digest_match =
          ka.groups_seq == groups->seq() && ka.groups_digest == groups->digest();
      h.files_seq = ka.files_seq;
      h.files_digest_match = ka.files_digest == integrity->state().digest;
      h.integrity_start = ka.integrity_start;
      h.integrity_end = ka.integrity_end;
      h.files_created = ka.files_created;
      h.files_updated = ka.files_updated;
      h.files_deleted = ka.files_deleted;
      h.store_error = ka.store_error;
    }
    auto s = agents->sync_stats().find(n.name);
    if (s != agents->sync_stats().end()) {
      h.agent_sync_start = s->second.start;
      h.agent_sync_end = s->second.end;
      h.agents_sent = s->second.sent;
      h.agents_unknown = s->second.unknown;
      h.agents_pending = s->second.pending;
    }
    // The round as the worker counted and logged it, when its keepalive says: its log line and
    // -i then tell the same round.
    if (auto k = worker_state.find(n.name);
        k != worker_state.end() && k->second.agent_sync_end > 0) {
      h.agent_sync_start = k->second.agent_sync_start;
      h.agent_sync_end = k->second.agent_sync_end;
      h.agents_sent = k->second.agents_sent;
    }
    health.workers.push_back(std::move(h));
  }
  std::set<std::string> known = seen_workers;
  for (const auto& [node, held] : by_node) known.insert(node);
  for (const std::string& name : known) {
    if (!connected.count(name) && health.lost.size() < schemas::kMaxNodes)
      health.lost.push_back(name);
  }
  return health;
}

schemas::NodeList Master::Impl::Nodes() const {
  schemas::NodeList list;
  std::string address = config.nodes.empty() ? config.bind_addr : config.nodes.front();
  double now = UnixNow();
  list.nodes.push_back({config.node_name, "master", ZCLUSTER_VERSION,
                        address + ":" + std::to_string(config.port), now});
  for (schemas::NodeInfo& n : sessions.Connected()) list.nodes.push_back(std::move(n));
  return list;
}

}  // namespace zcluster::nodes
