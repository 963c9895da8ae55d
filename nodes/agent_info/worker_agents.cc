#include "agent_info/worker_agents.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "zcluster/store/records.h"

namespace zcluster::nodes {
namespace {

std::uint64_t Now() { return static_cast<std::uint64_t>(UnixNow()); }

}  // namespace

WorkerAgents::WorkerAgents(store::NodeStore& store, WorkerAgentsParams params)
    : store_(store), params_(std::move(params)) {
  static_assert(sizeof digest_key_ == crypto_shorthash_KEYBYTES);
  randombytes_buf(digest_key_.data(), digest_key_.size());
}

std::uint64_t WorkerAgents::StateDigest(std::string_view state,
                                        const schemas::KeepaliveSpan& span) {
  // The bytes before and after the keepalive value, with the length of the first so that a
  // byte cannot move from one side to the other unseen.
  digest_input_.assign(state.substr(0, span.offset));
  digest_input_.append(state.substr(span.offset + span.size));
  digest_input_.append(reinterpret_cast<const char*>(&span.offset), sizeof span.offset);
  std::uint64_t digest = 0;
  static_assert(sizeof digest == crypto_shorthash_BYTES);
  crypto_shorthash(reinterpret_cast<unsigned char*>(&digest),
                   reinterpret_cast<const unsigned char*>(digest_input_.data()),
                   digest_input_.size(), digest_key_.data());
  return digest == 0 ? 1 : digest;
}

WorkerAgents::Handle WorkerAgents::Known(const std::string& id) {
  auto it = agents_.find(id);
  return Handle(it == agents_.end() ? nullptr : &*it);
}

bool WorkerAgents::Unchanged(Handle agent, std::uint64_t digest) const {
  return agent && agent.slot_->second.digest != 0 && agent.slot_->second.digest == digest;
}

void WorkerAgents::ForgetDigest(Handle agent) {
  if (agent) agent.slot_->second.digest = 0;
}

// Field by field rather than on a copy: it runs for every report an agent sends.
bool WorkerAgents::SameButKeepalive(const Entry& e, const schemas::AgentState& state) {
  return e.status == state.status && e.disconnection_time == state.disconnection_time &&
         e.name == state.name && e.ip == state.ip && HasProfile(state, *e.profile);
}

schemas::AgentState WorkerAgents::StateOf(const Entry& e) {
  const AgentProfile& p = *e.profile;
  return schemas::AgentState{
      e.name,       e.ip,     p.os,     p.version,        p.config_sum,
      p.merged_sum, p.labels, e.status, e.last_keepalive, e.disconnection_time};
}

void WorkerAgents::Hold(Entry& e, const schemas::AgentState& state) {
  // Acquired before the old one is released: a profile the agent keeps is not freed between.
  const AgentProfile* profile = profiles_.Acquire(state);
  profiles_.Release(e.profile);
  e.profile = profile;
  e.name = state.name;
  e.ip = state.ip;
  e.status = state.status;
  e.last_keepalive = state.last_keepalive;
  e.disconnection_time = state.disconnection_time;
}

Result<std::unique_ptr<WorkerAgents>> WorkerAgents::Load(store::NodeStore& store,
                                                         WorkerAgentsParams params) {
  std::unique_ptr<WorkerAgents> w(new WorkerAgents(store, std::move(params)));
  auto now = SteadyClock::now();
  ZC_RETURN_IF_ERROR(
      store.ForEach(store::Table::kAgents, [&](std::string_view id, std::string_view value) {
        Result<schemas::AgentRecord> rec = store::DecodeAgentRow(id, value);
        if (!rec.ok()) return rec.status();
        auto [slot, added] = w->agents_.try_emplace(std::string(id));
        if (!added) return Status::Ok();  // a store yields each key once
        Entry& e = slot->second;
        w->Hold(e, rec->state);
        e.version = e.full_version = e.acked_version = 1;
        ++w->counts_[static_cast<std::size_t>(e.status)];
        // Silence is counted from this start: the worker cannot know how long it was down.
        e.last_report = now;
        w->Watch(*slot);
        return Status::Ok();
      }));
  ZC_RETURN_IF_ERROR(
      store.ForEach(store::Table::kAgentCounters, [&](std::string_view id, std::string_view value) {
        auto it = w->agents_.find(std::string(id));
        Result<store::AgentCounterRow> row = store::DecodeAgentCounterRow(id, value);
        if (it == w->agents_.end() || !row.ok()) return Status::Ok();
        it->second.counter = row->counter;
        if (row->last_keepalive) {
          it->second.last_keepalive = *row->last_keepalive;
          it->second.version = 2;  // the master may not have it: a keepalive-only change
        }
        return Status::Ok();
      }));
  // Unacknowledged before the restart: the master may have none of it, so send it whole.
  ZC_RETURN_IF_ERROR(
      store.ForEach(store::Table::kAgentPending, [&](std::string_view id, std::string_view) {
        auto it = w->agents_.find(std::string(id));
        if (it == w->agents_.end()) return Status::Ok();
        it->second.acked_version = 0;
        it->second.pending_row = true;
        return Status::Ok();
      }));
  // Sent in id order, as the store holds them.
  std::vector<Slot*> pending;
  for (Slot& slot : w->agents_) {
    if (slot.second.version > slot.second.acked_version) pending.push_back(&slot);
  }
  std::sort(pending.begin(), pending.end(),
            [](const Slot* a, const Slot* b) { return a->first < b->first; });
  for (Slot* slot : pending) w->Enqueue(*slot);
  w->pending_ = pending.size();
  return w;
}

std::string WorkerAgents::Record(const std::string& id, const schemas::AgentState& state) const {
  return store::EncodeAgentRow({id, state, params_.node, {}});
}

void WorkerAgents::Watch(Slot& slot) {
  if (newest_ == &slot) return;
  Unwatch(slot);
  Entry& e = slot.second;
  e.older = newest_;
  if (newest_ != nullptr) newest_->second.newer = &slot;
  newest_ = &slot;
  if (oldest_ == nullptr) oldest_ = &slot;
}

void WorkerAgents::Unwatch(Slot& slot) {
  if (!Watched(slot)) return;
  Entry& e = slot.second;
  (e.older != nullptr ? e.older->second.newer : oldest_) = e.newer;
  (e.newer != nullptr ? e.newer->second.older : newest_) = e.older;
  e.older = e.newer = nullptr;
}

void WorkerAgents::Enqueue(Slot& slot) {
  Entry& e = slot.second;
  if (e.queued || e.in_flight || e.version <= e.acked_version || unknown_.count(slot.first)) {
    return;
  }
  e.queued = true;
  queue_.push_back(&slot);
}

Status WorkerAgents::Apply(const std::vector<Report>& reports, SteadyClock::time_point now) {
  store::StoreBatch batch;
  // Each report's agent as found before the write (nullptr: new), from its handle when the
  // caller found it already, so that it is looked up once at most, and whether the report changes
  // nothing of it but the keepalive time, so that it is compared once. An agent reported twice in
  // the burst is compared again after the write, with what its earlier report made of it.
  ++burst_;
  struct Seen {
    Slot* slot;
    bool keepalive_only;
  };
  std::vector<Seen> seen;
  seen.reserve(reports.size());
  for (const Report& r : reports) {
    // The counter row carries the keepalive time: a report that changes nothing else is this
    // one small write, and the whole record is written only when more than the time changed.
    batch.Put(store::Table::kAgentCounters, r.id,
              store::EncodeAgentCounterRow(r.counter, r.state.last_keepalive));
    Slot* slot = r.agent ? r.agent.slot_ : Known(r.id).slot_;
    if (r.unchanged && slot == nullptr) return Status::Internal("unchanged report of no agent");
    bool again = slot != nullptr && std::exchange(slot->second.burst, burst_) == burst_;
    // An unchanged report is compared by its digest, which ForgetDigest cleared for an agent
    // with a change earlier in the burst: so it holds again within the burst too.
    bool keepalive_only =
        r.unchanged || (slot != nullptr && !again && SameButKeepalive(slot->second, r.state));
    seen.push_back({slot, keepalive_only});
    if (!keepalive_only) {
      batch.Put(store::Table::kAgents, r.id,
                store::EncodeAgentRow(r.id, r.state, r.state.name, params_.node, 0));
      if (slot == nullptr || !slot->second.pending_row) {
        batch.Put(store::Table::kAgentPending, r.id, "");
      }
    }
  }
  // Durable first: an agent is acknowledged only for what a crash cannot take back.
  ZC_RETURN_IF_ERROR(store_.Write(batch));
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const Report& r = reports[i];
    // A new agent reported twice in one burst is found by the emplace of its first report.
    bool added = false;
    Slot* slot = seen[i].slot;
    if (slot == nullptr) {
      auto emplaced = agents_.try_emplace(r.id);
      slot = &*emplaced.first;
      added = emplaced.second;
    }
    Entry& e = slot->second;
    e.counter = r.counter;
    e.last_report = now;
    if (!r.unchanged) e.digest = r.digest;
    Watch(*slot);
    if (seen[i].keepalive_only) {
      // The state is the same but for its keepalive time: that is all there is to copy.
      if (e.last_keepalive == r.state.last_keepalive) continue;
      e.last_keepalive = r.state.last_keepalive;
    } else {
      if (!added && SameButKeepalive(e, r.state) && e.last_keepalive == r.state.last_keepalive) {
        continue;
      }
      e.pending_row = true;
      if (!added) --counts_[static_cast<std::size_t>(e.status)];
      ++counts_[static_cast<std::size_t>(r.state.status)];
      Hold(e, r.state);
      e.full_version = e.version + 1;
    }
    if (e.version <= e.acked_version) ++pending_;
    ++e.version;
    Enqueue(*slot);
  }
  return Status::Ok();
}

Status WorkerAgents::MarkSilent(SteadyClock::time_point now) {
  // Once a second is plenty for a limit counted in minutes.
  if (now < next_silence_check_) return Status::Ok();
  next_silence_check_ = now + std::chrono::seconds(1);
  auto limit = std::chrono::duration_cast<SteadyClock::duration>(params_.disconnection_time);
  // Oldest first: the walk ends at the first agent heard from within the limit.
  std::vector<Slot*> expired;
  for (Slot* s = oldest_; s != nullptr && now - s->second.last_report > limit;
       s = s->second.newer) {
    expired.push_back(s);
  }
  if (expired.empty()) return Status::Ok();
  const std::uint64_t when = Now();
  store::StoreBatch batch;
  for (Slot* s : expired) {
    if (s->second.status != schemas::AgentStatus::kActive) continue;
    schemas::AgentState state = StateOf(s->second);
    state.status = schemas::AgentStatus::kDisconnected;
    state.disconnection_time = when;
    batch.Put(store::Table::kAgents, s->first, Record(s->first, state));
    batch.Put(store::Table::kAgentPending, s->first, "");
  }
  // Left in the order when the write fails: the next check tries them again.
  if (!batch.empty()) ZC_RETURN_IF_ERROR(store_.Write(batch));
  for (Slot* s : expired) {
    // Out of the order until its next report: a silent agent is read once, not every second.
    Unwatch(*s);
    Entry& e = s->second;
    if (e.status != schemas::AgentStatus::kActive) continue;
    --counts_[static_cast<std::size_t>(schemas::AgentStatus::kActive)];
    ++counts_[static_cast<std::size_t>(schemas::AgentStatus::kDisconnected)];
    e.pending_row = true;
    e.digest = 0;  // its next report, however like its last, makes it active again
    e.status = schemas::AgentStatus::kDisconnected;
    e.disconnection_time = when;
    if (e.version <= e.acked_version) ++pending_;
    e.full_version = ++e.version;
    Enqueue(*s);
  }
  return Status::Ok();
}

std::optional<schemas::AgentInfoBatch> WorkerAgents::NextBatch(SteadyClock::time_point now) {
  if (queue_.empty() || in_flight_.size() >= params_.max_in_flight) return std::nullopt;
  schemas::AgentInfoBatch batch;
  batch.batch = next_batch_++;
  InFlight flight{now, {}};
  const std::size_t most = std::min(queue_.size(), params_.max_batch_updates);
  batch.updates.reserve(most);
  flight.versions.reserve(most);
  std::size_t bytes = 0;
  while (!queue_.empty() && batch.updates.size() < params_.max_batch_updates &&
         bytes < params_.max_batch_bytes) {
    Slot& slot = *queue_.front();
    queue_.pop_front();
    Entry& e = slot.second;
    e.queued = false;
    if (e.in_flight || e.version <= e.acked_version || unknown_.count(slot.first)) continue;
    schemas::AgentUpdate u{slot.first, e.full_version > e.acked_version, {}, e.counter};
    if (u.full) {
      u.state = StateOf(e);
    } else {
      // All a keepalive-only update carries: no copy of the rest of the state.
      u.state.last_keepalive = e.last_keepalive;
      u.state.status = e.status;
    }
    // A rough size: keepalive-only updates are a few dozen bytes, full ones a few hundred.
    bytes += u.full ? 256 + e.profile->labels.size() * 64 : 32;
    e.in_flight = true;
    flight.versions.emplace_back(&slot, e.version);
    batch.updates.push_back(std::move(u));
  }
  if (batch.updates.empty()) return std::nullopt;
  batch.pending = queue_.size();
  in_flight_.emplace(batch.batch, std::move(flight));
  return batch;
}

Status WorkerAgents::OnAck(const schemas::AgentInfoAck& ack) {
  auto it = in_flight_.find(ack.batch);
  if (it == in_flight_.end()) return Status::Ok();
  InFlight flight = std::move(it->second);
  in_flight_.erase(it);
  std::set<std::string> unknown(ack.unknown.begin(), ack.unknown.end());
  std::set<std::string> resend(ack.resend.begin(), ack.resend.end());
  store::StoreBatch batch;
  for (const auto& [slot, version] : flight.versions) {
    const std::string& id = slot->first;
    Entry& e = slot->second;
    if (unknown.count(id)) continue;  // stays pending, sent again once the registry changes
    if (resend.count(id)) {
      // The master has no record to update: the whole state becomes a change of its own.
      if (e.version <= e.acked_version) ++pending_;
      e.full_version = e.version = std::max(e.version, e.acked_version) + 1;
      continue;
    }
    bool was_pending = e.version > e.acked_version;
    e.acked_version = std::max(e.acked_version, version);
    if (e.version <= e.acked_version) {
      if (e.pending_row) batch.Delete(store::Table::kAgentPending, id);
      if (was_pending) --pending_;
    }
  }
  // Not synced: a mark a crash brings back only sends that agent whole once more.
  if (Status s = batch.empty() ? Status::Ok() : store_.WriteUnsynced(batch); !s.ok()) {
    Requeue(flight);  // not cleared: the changes are sent again
    return s;
  }
  for (const auto& [slot, version] : flight.versions) {
    Entry& e = slot->second;
    e.in_flight = false;
    if (e.version <= e.acked_version) e.pending_row = false;
    if (unknown.count(slot->first)) {
      unknown_.insert(slot->first);
    } else {
      Enqueue(*slot);  // changed again while in flight: back in the queue
    }
  }
  return Status::Ok();
}

void WorkerAgents::Requeue(InFlight& batch) {
  for (const auto& [slot, version] : batch.versions) {
    slot->second.in_flight = false;
    Enqueue(*slot);
  }
}

void WorkerAgents::RequeueInFlight() {
  for (auto& [n, batch] : in_flight_) Requeue(batch);
  in_flight_.clear();
}

std::size_t WorkerAgents::RequeueStale(SteadyClock::time_point now) {
  auto limit = std::chrono::duration_cast<SteadyClock::duration>(params_.ack_timeout);
  std::size_t n = 0;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (now - it->second.sent > limit) {
      Requeue(it->second);
      it = in_flight_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void WorkerAgents::RegistryChanged() {
  // A name or an address may have changed: every agent's next report is checked in full.
  for (auto& [id, e] : agents_) e.digest = 0;
  std::set<std::string> held = std::move(unknown_);
  unknown_.clear();
  for (const std::string& id : held) {
    auto a = agents_.find(id);
    if (a != agents_.end()) Enqueue(*a);
  }
}

std::vector<std::pair<std::string, std::uint64_t>> WorkerAgents::Counters() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  out.reserve(agents_.size());
  for (const auto& [id, e] : agents_) out.emplace_back(id, e.counter);
  return out;
}

std::optional<schemas::AgentState> WorkerAgents::Find(const std::string& id) const {
  auto it = agents_.find(id);
  if (it == agents_.end()) return std::nullopt;
  return StateOf(it->second);
}

}  // namespace zcluster::nodes
