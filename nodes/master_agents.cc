#include "zcluster/nodes/master_agents.h"

#include <fmt/format.h>

namespace zcluster::nodes {
namespace {

// A new round when a worker has been quiet this long: its sync finished earlier.
constexpr auto kRoundGap = std::chrono::seconds(1);

}  // namespace

Result<std::unique_ptr<MasterAgents>> MasterAgents::Load(store::NodeStore& store,
                                                        std::string client_keys_path,
                                                        const Logger& log) {
  std::unique_ptr<MasterAgents> m(new MasterAgents(store, std::move(client_keys_path), log));
  ZC_RETURN_IF_ERROR(m->LoadRegistry());
  ZC_RETURN_IF_ERROR(store.ForEach(store::Table::kAgents, [&](std::string_view id,
                                                              std::string_view value) {
    Result<schemas::AgentRecord> rec = schemas::DecodeAgentRecord(value);
    if (!rec.ok()) {
      return Status::DataLoss("store: agent " + std::string(id) + ": " + rec.status().message());
    }
    m->agents_.emplace(std::string(id), std::move(rec).value());
    return Status::Ok();
  }));
  return m;
}

Status MasterAgents::LoadRegistry() {
  std::string stamp = FileChangeStamp(path_);
  Result<ClientKeys> keys = ClientKeys::Load(path_);
  if (!keys.ok()) return keys.status();
  registry_ = std::move(keys).value();
  registry_stamp_ = stamp;
  return Status::Ok();
}

Status MasterAgents::ReloadRegistryIfChanged() {
  if (FileChangeStamp(path_) == registry_stamp_) return Status::Ok();
  ZC_RETURN_IF_ERROR(LoadRegistry());
  log_.Info("Main", "Reloaded client.keys: {} agents", registry_.active());
  return Status::Ok();
}

Result<schemas::AgentInfoAck> MasterAgents::Apply(const std::string& worker,
                                                  const schemas::AgentInfoBatch& batch,
                                                  std::vector<std::string>* saved) {
  auto now = SteadyClock::now();
  schemas::AgentInfoAck ack{batch.batch, {}};
  store::StoreBatch writes;
  std::vector<schemas::AgentRecord> changed;
  changed.reserve(batch.updates.size());
  for (const schemas::AgentUpdate& u : batch.updates) {
    if (registry_.Find(u.id) == nullptr) {
      ack.unknown.push_back(u.id);
      continue;
    }
    schemas::AgentRecord rec;
    auto it = agents_.find(u.id);
    if (u.full || it == agents_.end()) {
      rec = {u.id, u.state, worker, {}};
      if (!u.full) rec.state.name = registry_.Find(u.id)->name;
    } else {
      rec = it->second;
      rec.state.last_keepalive = u.state.last_keepalive;
      rec.state.status = u.state.status;
      rec.node = worker;
    }
    writes.Put(store::Table::kAgents, u.id, schemas::EncodeAgentRecord(rec));
    changed.push_back(std::move(rec));
  }
  // Durable before the ack: the worker forgets what we acknowledge.
  ZC_RETURN_IF_ERROR(store_.Write(writes));
  stored_ += changed.size();
  for (schemas::AgentRecord& rec : changed) {
    saved->push_back(rec.id);
    agents_[rec.id] = std::move(rec);
  }

  AgentSyncStats& s = stats_[worker];
  double unix_now = UnixNow();
  Logger worker_log = log_.WithTag("Worker " + worker);
  if (s.last_batch == SteadyClock::time_point{} || now - s.last_batch > kRoundGap) {
    s = AgentSyncStats{unix_now, unix_now, 0, 0, 0, now, s.last_info};
    worker_log.Debug("Agent-info sync", "Starting.");
  }
  s.sent += batch.updates.size();
  s.unknown += ack.unknown.size();
  s.pending = batch.pending;
  s.end = unix_now;
  s.last_batch = now;
  if (!ack.unknown.empty()) {
    worker_log.Warning("Agent-info sync", "{} agents are not registered on the master (first: {})",
                       ack.unknown.size(), ack.unknown.front());
  }
  if (batch.pending == 0) {
    // At most one INFO line per worker every 10 s; the rest at DEBUG (see AgentInfoSync).
    bool info = now - s.last_info >= std::chrono::seconds(10);
    worker_log.At(info ? LogLevel::kInfo : LogLevel::kDebug, "Agent-info sync",
                  "Finished in {:.3f}s. Updated {} agents, {} unknown.", s.end - s.start,
                  s.sent - s.unknown, s.unknown);
    if (info) s.last_info = now;
  }
  return ack;
}

Result<schemas::AgentEntry> MasterAgents::Add(const std::string& name, const std::string& ip) {
  ClientKeys next = registry_;
  Result<ClientKey> added = next.Add(name, ip);
  if (!added.ok()) return added.status();
  ZC_RETURN_IF_ERROR(next.Save(path_));
  registry_ = std::move(next);
  registry_stamp_ = FileChangeStamp(path_);
  log_.Info("Main", "Agent {} '{}' registered", added->id, added->name);
  return schemas::AgentEntry{added->id, added->name, added->ip, added->key};
}

Result<schemas::AgentEntry> MasterAgents::Remove(const std::string& id) {
  const ClientKey* k = registry_.Find(id);
  if (k == nullptr) return Status::NotFound("no agent with id '" + id + "'");
  schemas::AgentEntry entry{k->id, k->name, k->ip, ""};
  ClientKeys next = registry_;
  ZC_RETURN_IF_ERROR(next.Remove(id));
  ZC_RETURN_IF_ERROR(next.Save(path_));
  registry_ = std::move(next);
  registry_stamp_ = FileChangeStamp(path_);
  store::StoreBatch erase;
  erase.Delete(store::Table::kAgents, id);
  ZC_RETURN_IF_ERROR(store_.Write(erase));
  agents_.erase(id);
  log_.Info("Main", "Agent {} '{}' removed", entry.id, entry.name);
  return entry;
}

schemas::AgentList MasterAgents::List(const std::vector<std::string>& ids) const {
  schemas::AgentList list;
  std::vector<const ClientKey*> keys;
  if (ids.empty()) {
    for (const ClientKey& k : registry_.entries()) keys.push_back(&k);
  } else {
    for (const std::string& id : ids) {
      if (const ClientKey* k = registry_.Find(id)) keys.push_back(k);
    }
  }
  for (const ClientKey* key : keys) {
    const ClientKey& k = *key;
    if (k.removed) continue;
    auto it = agents_.find(k.id);
    if (it != agents_.end()) {
      list.agents.push_back(it->second);
    } else {
      schemas::AgentRecord rec{k.id, {}, "", {}};
      rec.state.name = k.name;
      rec.state.ip = k.ip;
      rec.state.status = schemas::AgentStatus::kNeverConnected;
      list.agents.push_back(std::move(rec));
    }
  }
  return list;
}

}  // namespace zcluster::nodes
