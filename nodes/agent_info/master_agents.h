// The master's side of the agent-info flow: the registry (client.keys) says which agents exist;
// workers' batches update the agent table only for those, durably before the ack, and the ack
// names the ids the registry does not hold. Also serves the agent control requests.
//
// Threading: owned by the master's loop thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/agent_info_view.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"
#include "zcluster/store/records.h"

namespace zcluster::nodes {

// Per worker, the last agent-info sync as the master saw it (zcluster-control -i).
struct AgentSyncStats {
  double start = 0;        // unix time the current or last round began
  double end = 0;          // unix time of its last batch
  std::uint64_t sent = 0;  // agents received in that round
  std::uint64_t unknown = 0;
  std::uint64_t pending = 0;  // what the worker said it still held after its last batch
  SteadyClock::time_point last_batch{};
  SteadyClock::time_point last_info{};  // last INFO "Finished" line for this worker
};

class MasterAgents {
 public:
  // Loads client.keys from `client_keys_path` and the agent table from the store.
  static Result<std::unique_ptr<MasterAgents>> Load(store::NodeStore& store,
                                                    std::string client_keys_path,
                                                    const Logger& log);

  struct WorkerBatch {
    const std::string* worker;
    const schemas::AgentInfoView* batch;  // read in place from the worker's frame
  };
  // Several batches (from several workers) made durable by one synced write; acks in order.
  // `saved` gets the ids whose whole record was written: an agent seen for the first time is
  // among them (a keepalive-only update needs a record already there).
  Result<std::vector<schemas::AgentInfoAck>> ApplyAll(const std::vector<WorkerBatch>& batches,
                                                      std::vector<std::string>* saved);
  bool Registered(const std::string& id) const {
    return registry_->IndexOf(id) != ClientKeys::npos;
  }
  // Registers an agent: client.keys is rewritten atomically before the reply.
  Result<schemas::AgentEntry> Add(const std::string& name, const std::string& ip);
  // Removes an agent from client.keys and from the agent table.
  Result<schemas::AgentEntry> Remove(const std::string& id);
  // Every registered agent (or those of `ids` that are registered), with what its worker last
  // reported (never_connected if nothing).
  Result<schemas::AgentList> List(const std::vector<std::string>& ids = {}) const;
  // Every registered agent, listed a slice at a time so that the loop is never held for the
  // whole table: the registry as it was at StartListing, each agent with its stored record.
  class Listing {
   public:
    bool done() const { return next_ == registry_->size(); }
    // The agent_list message; only once done.
    schemas::Frames Finish() { return writer_.Finish(); }

   private:
    friend class MasterAgents;
    explicit Listing(std::shared_ptr<const ClientKeys> registry)
        : registry_(std::move(registry)),
          writer_(static_cast<std::uint32_t>(registry_->active())) {}
    std::shared_ptr<const ClientKeys> registry_;
    std::size_t next_ = 0;  // registry position
    schemas::AgentListWriter writer_;
  };
  Listing StartListing() const;
  // Adds up to `n` more agents, with their groups from `groups_of` (nullptr: none).
  using GroupsOf = std::function<const std::vector<std::string>*(const std::string& id)>;
  Status ContinueListing(Listing& listing, std::size_t n, const GroupsOf& groups_of) const;
  // Re-reads client.keys if it changed on disk (an administrator's edit).
  Status ReloadRegistryIfChanged();

  // Registered agents by the status of their stored record (never_connected without one).
  schemas::AgentStatusCounts CountByStatus() const;
  // Per worker that last reported at least one agent: how many it holds, and how many of them
  // the master shows as active.
  struct NodeAgents {
    std::size_t total = 0;
    std::size_t active = 0;
  };
  std::map<std::string, NodeAgents> AgentsByNode() const;
  // Marks every active agent last reported by `node` disconnected as of `unix_now`, in one
  // durable write, as Wazuh's monitord does for the agents of a worker that is gone: a report
  // through any worker makes an agent active again. Returns how many changed.
  Result<std::size_t> MarkDisconnected(const std::string& node, std::uint64_t unix_now);

  // Folds the last-seen log when it has grown past the registry's size: writes a snapshot of
  // every agent's overlay, `positions` registry entries per call, and once the snapshot is whole,
  // deletes the groups before it. The loop calls it often; it returns at once when there is
  // nothing to fold. A fold interrupted by a crash leaves a log that replays to the same state.
  Status ContinueFold(std::size_t positions);
  bool folding() const { return fold_.has_value(); }
  // Groups written to the last-seen log since start.
  std::uint64_t seen_log_groups() const { return seen_log_groups_; }
  // Entries counted towards the next fold: those written since the last fold began that made an
  // earlier entry obsolete (an agent's first record does not; a fold's snapshot does not count).
  // After a load: every such entry replayed outside a snapshot.
  std::uint64_t seen_log_entries() const { return seen_log_entries_; }
  // Whether the last load took every agent's status from the last-seen log alone, without
  // reading the records: true once a fold has written a whole snapshot, or once a master has
  // started on a store with no agent in it.
  bool statuses_from_log() const { return statuses_from_log_; }

  const std::map<std::string, AgentSyncStats>& sync_stats() const { return stats_; }
  std::uint64_t stored() const { return stored_; }  // agent records persisted since start
  // Updates ignored since start because the master held a newer report of the agent.
  std::uint64_t ignored_older() const { return ignored_older_; }

 private:
  MasterAgents(store::NodeStore& store, std::string path, const Logger& log)
      : store_(store), path_(std::move(path)), log_(log) {}
  // `scan_records`: read the records even when the log alone would do (LoadStatuses).
  Status LoadRegistry(bool scan_records);
  // Fills the by-position vectors: at start, from the last-seen log alone when it is whole;
  // otherwise (and after client.keys changed: an agent whose line an edit took out and put back
  // is not in the snapshots folded meanwhile) from every stored record's last-seen fields, with
  // the log replayed over them.
  Status LoadStatuses(bool scan_records);
  // Whether the log holds a whole snapshot and, after it, an entry for every record written.
  Result<bool> SeenLogIsWhole() const;
  // Replays the log over the vectors. `whole`: the log is all there is, and a group of an older
  // zcluster (which does not say which agents have records) is damage.
  Status ReplaySeenLog(bool whole);
  // The record as it stands with the agent's last-seen overlay, if it has one, laid over it.
  void Overlay(schemas::AgentRecord& record) const;
  // Appends `group` to `writes` as the next group of the last-seen log.
  void AddSeenLogGroup(const store::SeenLogGroup& group, store::StoreBatch& writes) const;
  // Adds to `writes` the mark that the log is whole from the snapshot group `first_seq` on: the
  // group must be in the store already or in `writes`.
  static void MarkSeenLogWhole(std::uint64_t first_seq, store::StoreBatch& writes);
  // The agent's record in the store, if it has one.
  Result<std::optional<schemas::AgentRecord>> Stored(const std::string& id) const;
  static schemas::AgentRecord NeverConnected(const ClientKeys& registry, std::size_t at);
  void NoteBatch(const std::string& worker, const schemas::AgentInfoView& batch,
                 const schemas::AgentInfoAck& ack, SteadyClock::time_point now);

  store::NodeStore& store_;
  std::string path_;
  Logger log_;
  // Replaced whole, never changed in place, so that a listing can hold on to the one it began.
  std::shared_ptr<const ClientKeys> registry_ = std::make_shared<const ClientKeys>();
  std::string registry_stamp_;  // size, mtime and inode of client.keys when last read
  std::map<std::string, AgentSyncStats> stats_;
  std::uint64_t stored_ = 0;
  // The stored status of each registry entry, by position: a byte per agent, counted on demand.
  std::vector<schemas::AgentStatus> status_;
  // The newest report counter applied for each registry entry, by position: an update carrying
  // an older one is ignored, whichever worker sends it and however late.
  std::vector<std::uint64_t> counter_;
  // The last keepalive time of each registry entry's stored record, by position: what marking a
  // lost worker's agents disconnected writes back, without reading each record.
  std::vector<std::uint64_t> last_keepalive_;
  std::vector<std::uint64_t> disconnection_;  // of the overlay, where there is one
  // The worker that last reported each registry entry, by position, as an index into
  // node_names_ (0: none): four bytes per agent rather than a name.
  std::vector<std::uint32_t> node_of_;
  std::vector<std::string> node_names_{""};
  // What each registry entry has in the store, by position: a keepalive-only update needs a
  // record to lay its fields over, and a full record's write ends an overlay, which the log must
  // then say.
  static constexpr std::uint8_t kRecordRow = 1;  // kAgents
  static constexpr std::uint8_t kSeenRow = 2;    // an overlay: in kAgentSeenLog or kAgentSeen
  std::vector<std::uint8_t> rows_;
  // The last-seen log: the next group's sequence number, the entries written since the last
  // fold began (after a load: those outside a snapshot), and whether an older store's kAgentSeen
  // rows are left.
  std::uint64_t next_seen_seq_ = 1;
  std::uint64_t seen_log_entries_ = 0;
  std::uint64_t seen_log_groups_ = 0;
  bool legacy_seen_rows_ = false;
  bool statuses_from_log_ = false;
  struct Fold {
    std::uint64_t first_seq;  // the snapshot's first group: the groups before it go at the end
    std::size_t next;         // registry position
  };
  std::optional<Fold> fold_;
  // Sizes the by-position vectors to the registry, new entries with nothing stored.
  void Resize();
  std::uint32_t NodeIndex(std::string_view node);
  std::uint64_t ignored_older_ = 0;
};

}  // namespace zcluster::nodes
