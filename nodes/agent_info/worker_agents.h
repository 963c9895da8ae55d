// The worker's side of the agent-info flow (Wazuh's "Agent-info sync" thread, done right): the
// state each agent last reported, which changes the master has not acknowledged, and the batches
// in flight. A change is forgotten only when a master ack covers it; an unacknowledged change
// survives a worker restart (it is persisted with the report that caused it) and a lost session
// (in-flight batches are requeued).
//
// Versions: every change to an agent bumps its version; the master has acknowledged up to
// acked_version. The agent is pending while version > acked_version. The update sent is the
// whole state if anything but the keepalive time changed since the last ack, else a cheap
// keepalive-only update.
//
// A report whose state bytes differ from those that set its agent's state only in the keepalive
// time (a keyed digest says so) is not decoded at all; a keepalive-only report carries no state
// bytes, and stands for the state that digest marks.
//
// A keepalive-only report is one small write (the counter row, with the keepalive time); only a
// full change also marks the agent pending in the store. So after a restart every agent's
// keepalive is sent again (a few dozen bytes each, and the master ignores what it has), and an
// agent marked pending is sent whole.
//
// Threading: owned by the worker's loop thread.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent_info/agent_profiles.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/schemas/agent_info_view.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

struct WorkerAgentsParams {
  std::string node;                               // this worker's name, stored in each row
  std::size_t max_batch_updates = 2000;           // updates in one batch
  std::size_t max_batch_bytes = 1 << 20;          // encoded size of one batch, about
  std::size_t max_in_flight = 8;                  // batches sent but not yet acknowledged
  std::chrono::duration<double> ack_timeout{10};  // an unacknowledged batch is resent after it
  std::chrono::duration<double> disconnection_time{600};  // silent agents become disconnected
};

class WorkerAgents {
  struct Entry;
  using Slot = std::pair<const std::string, Entry>;  // an element of agents_: its address is stable

 public:
  // Loads the table and the unacknowledged changes from the store.
  static Result<std::unique_ptr<WorkerAgents>> Load(store::NodeStore& store,
                                                    WorkerAgentsParams params);

  // An agent this worker holds, found once for a report (Known) and handed on to Unchanged,
  // ForgetDigest and Apply, so that a report costs one lookup in the agent table. Entries are
  // never erased, so a handle stays valid for the table's life. Empty: not held (yet).
  class Handle {
   public:
    Handle() = default;
    explicit operator bool() const { return slot_ != nullptr; }

   private:
    friend class WorkerAgents;
    explicit Handle(Slot* slot) : slot_(slot) {}
    Slot* slot_ = nullptr;
  };
  Handle Known(const std::string& id);

  struct Report {
    std::string id;
    std::uint64_t counter = 0;
    // With `unchanged`, only its last_keepalive is read: the rest is the agent's current state.
    schemas::AgentState state;
    bool unchanged = false;  // Unchanged(agent, digest) held: nothing but the keepalive time moved
    std::uint64_t digest = 0;  // StateDigest of the report's state bytes (0: none)
    Handle agent{};            // Known(id), or empty: Apply looks the id up itself
  };
  // A digest of a report's state bytes without its keepalive time (`span`), keyed with a secret
  // of this process so that no agent can aim at a collision; never 0.
  std::uint64_t StateDigest(std::string_view state, const schemas::KeepaliveSpan& span);
  // Whether the agent's state is the one a report with this digest set: then another such
  // report changes nothing but the keepalive time, and need not be decoded.
  bool Unchanged(Handle agent, std::uint64_t digest) const;
  // Whether a keepalive-only report of the agent may stand for its state: this process accepted
  // a whole state from it, checked against the current client.keys, and nothing changed it since
  // (not a later report, not the silence check). After a restart it holds for no agent.
  bool HoldsCheckedState(Handle agent) const { return agent && agent.slot_->second.digest != 0; }
  // The agent's next reports are decoded and compared in full: one before them in the same
  // burst changes more than its keepalive time, or was refused.
  void ForgetDigest(Handle agent);
  // Records verified reports: one synced store write (state, counter, pending mark), then the
  // in-memory view. Safe to acknowledge to the agents once it returns Ok.
  Status Apply(const std::vector<Report>& reports, SteadyClock::time_point now);
  // Agents silent for longer than disconnection_time become disconnected (a full change).
  Status MarkSilent(SteadyClock::time_point now);

  // The next batch to send, if changes are pending, not held back, and the window has room.
  std::optional<schemas::AgentInfoBatch> NextBatch(SteadyClock::time_point now);
  // Clears what `ack` covered (unless changed again since) and holds back the unknown ids until
  // RegistryChanged(). Unknown batch numbers are ignored (a duplicate ack).
  Status OnAck(const schemas::AgentInfoAck& ack);
  // Every batch in flight is lost (new session with the master): its changes are pending again.
  void RequeueInFlight();
  // Batches unacknowledged for longer than ack_timeout are requeued; returns how many.
  std::size_t RequeueStale(SteadyClock::time_point now);
  // client.keys changed: ids the master called unknown may be sent again.
  void RegistryChanged();

  std::size_t pending() const { return pending_; }  // agents with unacknowledged changes
  std::size_t in_flight() const { return in_flight_.size(); }
  std::size_t held_back() const { return unknown_.size(); }
  std::size_t size() const { return agents_.size(); }
  schemas::AgentStatusCounts CountByStatus() const { return counts_; }
  // Counters restored from the store, for the report verifier.
  std::vector<std::pair<std::string, std::uint64_t>> Counters() const;
  // The state an agent last reported, if it reported.
  std::optional<schemas::AgentState> Find(const std::string& id) const;
  // Distinct profiles (OS, version, checksums, labels) the agents' states share.
  std::size_t profiles() const { return profiles_.size(); }

 private:
  struct Entry {
    // The state the agent last reported, its shared part held once for all the agents that
    // have it (agent_profiles.h): about a fifth of the memory of a whole AgentState.
    std::string name;
    std::string ip;
    const AgentProfile* profile = nullptr;
    schemas::AgentStatus status = schemas::AgentStatus::kActive;
    std::uint64_t last_keepalive = 0;
    std::uint64_t disconnection_time = 0;
    std::uint64_t counter = 0;
    std::uint64_t version = 0;       // bumped by every change
    std::uint64_t full_version = 0;  // version of the last change beyond the keepalive time
    std::uint64_t acked_version = 0;
    bool queued = false;
    bool in_flight = false;
    bool pending_row = false;  // a kAgentPending row says a full change is unacknowledged
    std::uint64_t burst = 0;   // the last burst of reports (Apply) that held one of this agent
    // StateDigest of the report that set the state (0: none, or the worker changed it since).
    std::uint64_t digest = 0;
    SteadyClock::time_point last_report{};
    // Neighbours in the silence order (both null for the only agent in it, and for one not in it).
    Slot* older = nullptr;
    Slot* newer = nullptr;
  };
  struct InFlight {
    SteadyClock::time_point sent;
    std::vector<std::pair<Slot*, std::uint64_t>> versions;  // agent → version sent
  };

  WorkerAgents(store::NodeStore& store, WorkerAgentsParams params);
  void Enqueue(Slot& slot);
  void Requeue(InFlight& batch);
  std::string Record(const std::string& id, const schemas::AgentState& state) const;
  static schemas::AgentState StateOf(const Entry& e);
  void Hold(Entry& e, const schemas::AgentState& state);
  // Equal but for the keepalive time: such a change travels as a keepalive-only update.
  static bool SameButKeepalive(const Entry& e, const schemas::AgentState& state);
  // The silence order: agents by last report, oldest first. A report moves its agent to the
  // newest end, and the silence check takes agents off the oldest end, so it reads only the
  // agents that fell silent instead of every agent each second. The steady clock never goes
  // back, so appending keeps the order.
  void Watch(Slot& slot);
  void Unwatch(Slot& slot);
  bool Watched(const Slot& slot) const { return slot.second.older != nullptr || oldest_ == &slot; }

  store::NodeStore& store_;
  WorkerAgentsParams params_;
  AgentProfiles profiles_;
  // Never erased from: queue_, in_flight_ and the silence order hold its elements' addresses.
  std::unordered_map<std::string, Entry> agents_;
  std::deque<Slot*> queue_;                      // pending agents waiting for a batch
  std::map<std::uint64_t, InFlight> in_flight_;  // by batch number
  std::set<std::string> unknown_;                // held back: the master does not know them
  std::uint64_t next_batch_ = 1;
  std::uint64_t burst_ = 0;  // Apply calls so far
  std::size_t pending_ = 0;  // agents whose version is above their acknowledged version
  SteadyClock::time_point next_silence_check_{};
  Slot* oldest_ = nullptr;
  Slot* newest_ = nullptr;
  schemas::AgentStatusCounts counts_{};         // kept as statuses change: asked for every second
  std::array<unsigned char, 16> digest_key_{};  // SipHash key, random at each start
  std::string digest_input_;                    // StateDigest's buffer, reused
};

}  // namespace zcluster::nodes
