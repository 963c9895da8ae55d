// The worker's agent-groups flow (Wazuh's "Agent-groups recv" and "recv full"): applies the
// master's groups stream to its copy of the table, each delta or sync in one durable write with
// the stream position, following the sequence rules of StreamFollower. Logs Wazuh's subtags.
//
// Threading: owned by the worker's loop thread.
#pragma once

#include <memory>

#include "agent_groups/group_table.h"
#include "streams/stream_follower.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

class WorkerGroups {
 public:
  static Result<std::unique_ptr<WorkerGroups>> Load(store::NodeStore& store, const Logger& log);

  // Each returns whether a sync must be requested (GroupsSyncRequest{applied()}).
  Result<bool> Start();  // a new session with the master
  Result<bool> OnDelta(const schemas::GroupsDelta& delta);
  Result<bool> OnHeartbeat(const schemas::StreamHeartbeat& heartbeat);
  Result<bool> OnSync(const schemas::GroupsSync& sync);
  // The master says our table differs at the same position: drop it and take the master's.
  Result<bool> Resync();
  bool syncing() const { return follower_.syncing(); }
  // The `from` of the next GroupsSyncRequest: 0 (everything) after a divergence.
  std::uint64_t sync_from() const { return full_requested_ ? 0 : follower_.applied(); }

  std::uint64_t applied() const { return follower_.applied(); }
  std::uint64_t digest() const { return table_.digest(); }
  const std::vector<std::string>* Of(const std::string& agent) const { return table_.Find(agent); }
  schemas::GroupTable Table() const { return {applied(), table_.Rows(), {}}; }

 private:
  WorkerGroups(store::NodeStore& store, const Logger& log, std::uint64_t applied)
      : store_(store), log_(log), follower_(applied) {}
  Result<bool> Apply(StreamFollower<schemas::GroupChange>::Step step);

  store::NodeStore& store_;
  Logger log_;
  GroupTable table_;
  StreamFollower<schemas::GroupChange> follower_;
  bool full_requested_ = false;  // the next sync asks from 0
};

}  // namespace zcluster::nodes
