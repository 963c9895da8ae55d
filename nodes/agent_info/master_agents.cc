#include "agent_info/master_agents.h"

#include <fmt/format.h>

#include "zcluster/store/records.h"

namespace zcluster::nodes {
namespace {

// A new round when a worker has been quiet this long: its sync finished earlier.
constexpr auto kRoundGap = std::chrono::seconds(1);

// A full update's row. The name is the registry's, whatever was reported: a worker cannot rename
// an agent. The usual update (its state as EncodeAgentState writes it, under the registered
// name) is stored as its bytes came; any other is decoded and encoded again.
Result<std::string> RecordRow(const schemas::AgentUpdateView& u, std::string_view name,
                              std::string_view node, std::uint64_t counter) {
  if (u.state_as_is && u.name == name) {
    return store::EncodeAgentRowOfState(u.id, u.state, node, counter);
  }
  Result<schemas::AgentState> state = schemas::DecodeAgentState(u.state);
  if (!state.ok()) return state.status();
  return store::EncodeAgentRow(u.id, *state, name, node, counter);
}

}  // namespace

Result<std::unique_ptr<MasterAgents>> MasterAgents::Load(store::NodeStore& store,
                                                         std::string client_keys_path,
                                                         const Logger& log) {
  std::unique_ptr<MasterAgents> m(new MasterAgents(store, std::move(client_keys_path), log));
  ZC_RETURN_IF_ERROR(m->LoadRegistry(/*scan_records=*/false));
  return m;
}

Status MasterAgents::LoadRegistry(bool scan_records) {
  std::string stamp = FileChangeStamp(path_);
  Result<ClientKeys> keys = ClientKeys::Load(path_);
  if (!keys.ok()) return keys.status();
  if (keys->skipped() > 0) {
    log_.Warning("Main", "client.keys: {} lines are not agents and were skipped", keys->skipped());
    for (const std::string& problem : keys->problems()) log_.Warning("Main", "{}", problem);
  }
  registry_ = std::make_shared<const ClientKeys>(std::move(keys).value());
  registry_stamp_ = stamp;
  return LoadStatuses(scan_records);
}

Result<bool> MasterAgents::SeenLogIsWhole() const {
  Result<std::uint64_t> first = store_.Position(store::kSeenLogCompleteStream);
  if (!first.ok()) return first.status();
  if (*first == 0) return false;
  // Written by this zcluster's fold, which always writes the snapshot's first group: without it
  // (a store written by other code since), the records are scanned.
  Result<std::optional<std::string>> group =
      store_.Get(store::Table::kAgentSeenLog, store::EncodeU64(*first));
  if (!group.ok()) return group.status();
  return group->has_value() && store::IsWholeSnapshotGroup(**group);
}

void MasterAgents::Resize() {
  const std::size_t n = registry_->size();
  status_.resize(n, schemas::AgentStatus::kNeverConnected);
  counter_.resize(n, 0);
  last_keepalive_.resize(n, 0);
  disconnection_.resize(n, 0);
  node_of_.resize(n, 0);
  rows_.resize(n, 0);
}

Status MasterAgents::LoadStatuses(bool scan_records) {
  fold_.reset();  // positions may have moved: a fold in progress starts again when next due
  status_.clear();
  counter_.clear();
  last_keepalive_.clear();
  disconnection_.clear();
  node_of_.clear();
  rows_.clear();
  Resize();
  legacy_seen_rows_ = false;
  if (!scan_records) {
    Result<bool> whole = SeenLogIsWhole();
    if (!whole.ok()) return whole.status();
    // A whole log holds an entry for every record written since a snapshot of all of them: about
    // 18 bytes an agent to replay instead of every record (about 360 bytes) to read and decode.
    if (*whole) {
      statuses_from_log_ = true;
      return ReplaySeenLog(/*whole=*/true);
    }
  }
  statuses_from_log_ = false;
  // The record's fields, then an older store's last-seen rows over them, then the log over both:
  // each is newer than what comes before it. A row that does not decode is reported by the
  // listing; here it counts as never connected.
  bool any_record = false;
  ZC_RETURN_IF_ERROR(
      store_.ForEach(store::Table::kAgents, [&](std::string_view id, std::string_view row) {
        any_record = true;
        const std::size_t at = registry_->IndexOf(id);
        if (at == ClientKeys::npos) return Status::Ok();
        rows_[at] |= kRecordRow;
        if (auto s = store::SummarizeAgentRow(id, row); s.ok()) {
          status_[at] = s->status;
          counter_[at] = s->counter;
          last_keepalive_[at] = s->last_keepalive;
          node_of_[at] = NodeIndex(s->node);
        }
        return Status::Ok();
      }));
  ZC_RETURN_IF_ERROR(
      store_.ForEach(store::Table::kAgentSeen, [&](std::string_view id, std::string_view row) {
        legacy_seen_rows_ = true;
        const std::size_t at = registry_->IndexOf(id);
        if (at == ClientKeys::npos) return Status::Ok();
        if (auto s = store::DecodeAgentSeenRow(id, row); s.ok()) {
          rows_[at] |= kSeenRow;
          status_[at] = s->status;
          counter_[at] = s->counter;
          last_keepalive_[at] = s->last_keepalive;
          disconnection_[at] = s->disconnection_time;
          node_of_[at] = NodeIndex(s->node);
        }
        return Status::Ok();
      }));
  ZC_RETURN_IF_ERROR(ReplaySeenLog(/*whole=*/false));
  if (any_record || legacy_seen_rows_ || next_seen_seq_ != 1) return Status::Ok();
  // Nothing stored at all: the empty log is whole already. Marked as a fold would mark it, so
  // that the next start reads the log alone without waiting for a first fold.
  store::StoreBatch mark;
  AddSeenLogGroup(store::SeenLogGroup(/*snapshot=*/true), mark);
  MarkSeenLogWhole(next_seen_seq_, mark);
  ZC_RETURN_IF_ERROR(store_.Write(mark));
  ++next_seen_seq_;
  ++seen_log_groups_;
  return Status::Ok();
}

std::uint32_t MasterAgents::NodeIndex(std::string_view node) {
  // Few workers: a linear search of a short list.
  for (std::size_t i = 0; i < node_names_.size(); ++i) {
    if (node_names_[i] == node) return static_cast<std::uint32_t>(i);
  }
  node_names_.emplace_back(node);
  return static_cast<std::uint32_t>(node_names_.size() - 1);
}

std::map<std::string, MasterAgents::NodeAgents> MasterAgents::AgentsByNode() const {
  std::vector<NodeAgents> counts(node_names_.size());
  const ClientKeys& registry = *registry_;
  for (std::size_t i = 0; i < status_.size() && i < node_of_.size() && i < registry.size(); ++i) {
    if (registry.removed(i)) continue;
    ++counts[node_of_[i]].total;
    if (status_[i] == schemas::AgentStatus::kActive) ++counts[node_of_[i]].active;
  }
  std::map<std::string, NodeAgents> by_node;
  for (std::size_t n = 1; n < counts.size(); ++n) {
    if (counts[n].total > 0) by_node.emplace(node_names_[n], counts[n]);
  }
  return by_node;
}

Result<std::size_t> MasterAgents::MarkDisconnected(const std::string& node,
                                                   std::uint64_t unix_now) {
  const std::uint32_t n = NodeIndex(node);
  const ClientKeys& registry = *registry_;
  store::SeenLogGroup marks;
  std::vector<std::size_t> changed;
  // From what is kept by position: a worker that held 100,000 agents would otherwise hold the
  // loop for a read and a decode of each of their records.
  for (std::size_t i = 0; i < status_.size() && i < registry.size(); ++i) {
    if (node_of_[i] != n || status_[i] != schemas::AgentStatus::kActive || registry.removed(i) ||
        !(rows_[i] & kRecordRow)) {
      continue;
    }
    ZC_RETURN_IF_ERROR(
        marks.Add({registry.id(i), true, true, false, schemas::AgentStatus::kDisconnected,
                   last_keepalive_[i], unix_now, counter_[i], node}));
    changed.push_back(i);
  }
  if (changed.empty()) return std::size_t{0};
  store::StoreBatch writes;
  AddSeenLogGroup(marks, writes);
  ZC_RETURN_IF_ERROR(store_.Write(writes));
  ++next_seen_seq_;
  ++seen_log_groups_;
  seen_log_entries_ += marks.size();
  for (std::size_t i : changed) {
    status_[i] = schemas::AgentStatus::kDisconnected;
    disconnection_[i] = unix_now;
    rows_[i] |= kSeenRow;
  }
  return changed.size();
}

schemas::AgentStatusCounts MasterAgents::CountByStatus() const {
  schemas::AgentStatusCounts c{};
  const ClientKeys& registry = *registry_;
  for (std::size_t i = 0; i < registry.size() && i < status_.size(); ++i) {
    if (!registry.removed(i)) ++c[static_cast<std::size_t>(status_[i])];
  }
  return c;
}

Status MasterAgents::ReloadRegistryIfChanged() {
  if (FileChangeStamp(path_) == registry_stamp_) return Status::Ok();
  ZC_RETURN_IF_ERROR(LoadRegistry(/*scan_records=*/true));
  log_.Info("Main", "Reloaded client.keys: {} agents", registry_->active());
  return Status::Ok();
}

Result<std::vector<schemas::AgentInfoAck>> MasterAgents::ApplyAll(
    const std::vector<WorkerBatch>& batches, std::vector<std::string>* saved) {
  auto now = SteadyClock::now();
  std::vector<schemas::AgentInfoAck> acks;
  // By registry position; the registry can only have grown since they were last sized.
  Resize();
  // What each agent updated in this group will have once the group is written, by registry
  // position. The writes go in update order, so a later update of the same agent lands over an
  // earlier one. Taken into the by-position vectors only once the write is durable: after a
  // failed write they still say what the store holds, so the batch the worker sends again is
  // applied, not taken for a repeat.
  struct Staged {
    std::uint8_t rows;
    schemas::AgentStatus status;
    std::uint32_t node;
    std::uint64_t counter;
    std::uint64_t keepalive;
    std::uint64_t disconnection;
    bool full;  // a full record of the agent is in the group
  };
  std::unordered_map<std::size_t, Staged> staged;
  store::StoreBatch writes;
  // Every change to the agents' last-seen fields, in the order applied: one row of the log.
  store::SeenLogGroup seen;
  std::uint64_t written = 0, older = 0;
  for (const WorkerBatch& wb : batches) {
    const std::string& worker = *wb.worker;
    const std::uint32_t node = NodeIndex(worker);
    schemas::AgentInfoAck ack{wb.batch->batch, {}, {}};
    for (const schemas::AgentUpdateView& u : wb.batch->updates) {
      const std::size_t at = registry_->IndexOf(u.id);
      if (at == ClientKeys::npos) {
        ack.unknown.emplace_back(u.id);
        continue;
      }
      auto was = staged.find(at);
      std::uint8_t rows = was != staged.end() ? was->second.rows : rows_[at];
      const std::uint64_t applied = was != staged.end() ? was->second.counter : counter_[at];
      // A keepalive of the report already applied is a repeat (a worker sends its agents'
      // keepalives again after a restart): applying it could only undo what the master did
      // since, such as marking the agent disconnected.
      const bool repeat = !u.full && u.counter == applied && (rows & kRecordRow);
      if (u.counter != 0 && (u.counter < applied || repeat)) {
        ++older;  // acknowledged all the same: the worker has nothing newer to send
        continue;
      }
      const std::uint64_t counter = std::max(applied, u.counter);
      const store::SeenLogEntry entry{u.id,
                                      !u.full,
                                      /*record=*/true,
                                      /*first=*/rows == 0,
                                      u.status,
                                      u.last_keepalive,
                                      u.disconnection_time,
                                      counter,
                                      worker};
      if (u.full) {
        Result<std::string> row = RecordRow(u, registry_->name(at), worker, counter);
        if (!row.ok()) return row.status();
        writes.Put(store::Table::kAgents, std::string(u.id), std::move(*row));
        // Logged too: the log ends any overlay it holds, and is a start's summary of the record.
        ZC_RETURN_IF_ERROR(seen.Add(entry));
        rows = kRecordRow;
      } else if (!(rows & kRecordRow)) {
        // Nothing to update (the master lost its store): a blank record would hide the agent's
        // OS, version and labels, so the worker is asked for the whole state.
        ack.resend.emplace_back(u.id);
        continue;
      } else {
        // A few fields of the record change: an entry of the group's log row, without reading
        // or writing the record.
        ZC_RETURN_IF_ERROR(seen.Add(entry));
        rows |= kSeenRow;
      }
      const bool full_before = was != staged.end() && was->second.full;
      if (u.full && !full_before) saved->emplace_back(u.id);
      const Staged now_staged{rows,
                              u.status,
                              node,
                              counter,
                              u.last_keepalive,
                              u.disconnection_time,
                              u.full || full_before};
      if (was == staged.end()) {
        staged.emplace(at, now_staged);
      } else {
        was->second = now_staged;
      }
      ++written;
    }
    acks.push_back(std::move(ack));
  }
  if (!seen.empty()) AddSeenLogGroup(seen, writes);
  // Durable before the acks: the workers forget what we acknowledge. One synced write for every
  // batch that arrived together (group commit), not one per batch.
  ZC_RETURN_IF_ERROR(store_.Write(writes));
  if (!seen.empty()) {
    ++next_seen_seq_;
    ++seen_log_groups_;
    seen_log_entries_ += seen.superseding();
  }
  for (const auto& [at, s] : staged) {
    rows_[at] = s.rows;
    status_[at] = s.status;
    node_of_[at] = s.node;
    counter_[at] = s.counter;
    last_keepalive_[at] = s.keepalive;
    disconnection_[at] = s.disconnection;
  }
  stored_ += written;
  if (older > 0) {
    ignored_older_ += older;
    log_.Debug("Agent-info sync", "Ignored {} updates older than the reports already applied",
               older);
  }
  for (std::size_t i = 0; i < batches.size(); ++i) {
    NoteBatch(*batches[i].worker, *batches[i].batch, acks[i], now);
  }
  return acks;
}

void MasterAgents::NoteBatch(const std::string& worker, const schemas::AgentInfoView& batch,
                             const schemas::AgentInfoAck& ack, SteadyClock::time_point now) {
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
}

Result<schemas::AgentEntry> MasterAgents::Add(const std::string& name, const std::string& ip) {
  auto next = std::make_shared<ClientKeys>(*registry_);
  Result<ClientKey> added = next->Add(name, ip);
  if (!added.ok()) return added.status();
  ZC_RETURN_IF_ERROR(next->Save(path_));
  registry_ = std::move(next);
  registry_stamp_ = FileChangeStamp(path_);
  Resize();
  log_.Info("Main", "Agent {} '{}' registered", added->id, added->name);
  return schemas::AgentEntry{added->id, added->name, added->ip, added->key};
}

Result<schemas::AgentEntry> MasterAgents::Remove(const std::string& id) {
  const std::size_t at = registry_->IndexOf(id);
  if (at == ClientKeys::npos) return Status::NotFound("no agent with id '" + id + "'");
  const ClientKey k = registry_->entry(at);
  schemas::AgentEntry entry{k.id, k.name, k.ip, ""};
  auto next = std::make_shared<ClientKeys>(*registry_);
  ZC_RETURN_IF_ERROR(next->Remove(id));
  ZC_RETURN_IF_ERROR(next->Save(path_));
  registry_ = std::move(next);
  registry_stamp_ = FileChangeStamp(path_);
  // An id stays taken once removed; should an edit of client.keys bring it back, the agent
  // starts with nothing stored.
  store::StoreBatch erase;
  erase.Delete(store::Table::kAgents, id);
  store::SeenLogGroup ended;
  if (rows_[at] != 0) {
    if (legacy_seen_rows_) erase.Delete(store::Table::kAgentSeen, id);
    ZC_RETURN_IF_ERROR(ended.Add({id, false, /*record=*/false, /*first=*/false,
                                  schemas::AgentStatus::kNeverConnected, 0, 0, 0, ""}));
    AddSeenLogGroup(ended, erase);
  }
  ZC_RETURN_IF_ERROR(store_.Write(erase));
  if (!ended.empty()) {
    ++next_seen_seq_;
    ++seen_log_groups_;
    ++seen_log_entries_;
  }
  rows_[at] = 0;
  log_.Info("Main", "Agent {} '{}' removed", entry.id, entry.name);
  return entry;
}

MasterAgents::Listing MasterAgents::StartListing() const {
  // The registry is never changed in place: the listing keeps the one it started with.
  return Listing(registry_);
}

schemas::AgentRecord MasterAgents::NeverConnected(const ClientKeys& registry, std::size_t at) {
  schemas::AgentRecord rec{std::string(registry.id(at)), {}, "", {}};
  rec.state.name = registry.name(at);
  rec.state.ip = registry.ip(at);
  rec.state.status = schemas::AgentStatus::kNeverConnected;
  return rec;
}

Status MasterAgents::ContinueListing(Listing& listing, std::size_t n,
                                     const GroupsOf& groups_of) const {
  const ClientKeys& registry = *listing.registry_;
  for (; n > 0 && !listing.done(); --n) {
    const std::size_t at = listing.next_++;
    if (registry.removed(at)) continue;
    std::string id(registry.id(at));
    Result<std::optional<schemas::AgentRecord>> stored = Stored(id);
    if (!stored.ok()) return stored.status();
    schemas::AgentRecord rec =
        stored->has_value() ? std::move(**stored) : NeverConnected(registry, at);
    if (const std::vector<std::string>* g = groups_of(id)) rec.groups = *g;
    listing.writer_.Add(rec);
  }
  return Status::Ok();
}

Result<std::optional<schemas::AgentRecord>> MasterAgents::Stored(const std::string& id) const {
  Result<std::optional<std::string>> raw = store_.Get(store::Table::kAgents, id);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<schemas::AgentRecord>();
  Result<schemas::AgentRecord> rec = store::DecodeAgentRow(id, **raw);
  if (!rec.ok()) return rec.status();
  Overlay(*rec);
  return std::optional<schemas::AgentRecord>(std::move(rec).value());
}

Result<schemas::AgentList> MasterAgents::List(const std::vector<std::string>& ids) const {
  // The records live in the store only: a master with 100,000 agents keeps none of them in
  // memory between questions.
  const ClientKeys& registry = *registry_;
  std::unordered_map<std::string, schemas::AgentRecord> records;
  std::vector<std::size_t> positions;
  if (ids.empty()) {
    for (std::size_t i = 0; i < registry.size(); ++i) positions.push_back(i);
    ZC_RETURN_IF_ERROR(
        store_.ForEach(store::Table::kAgents, [&](std::string_view id, std::string_view value) {
          Result<schemas::AgentRecord> rec = store::DecodeAgentRow(id, value);
          if (!rec.ok()) return rec.status();
          Overlay(*rec);
          records.emplace(std::string(id), std::move(rec).value());
          return Status::Ok();
        }));
  } else {
    for (const std::string& id : ids) {
      std::size_t at = registry.IndexOf(id);
      if (at == ClientKeys::npos) continue;
      positions.push_back(at);
      Result<std::optional<schemas::AgentRecord>> rec = Stored(id);
      if (!rec.ok()) return rec.status();
      if (rec->has_value()) records.emplace(id, std::move(**rec));
    }
  }
  schemas::AgentList list;
  for (std::size_t at : positions) {
    if (registry.removed(at)) continue;
    auto it = records.find(std::string(registry.id(at)));
    list.agents.push_back(it != records.end() ? std::move(it->second)
                                              : NeverConnected(registry, at));
  }
  return list;
}

}  // namespace zcluster::nodes
