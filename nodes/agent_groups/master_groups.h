// The master's agent-groups flows (Wazuh's "Local agent-groups" and "Agent-groups send"): the
// group table is the truth; every change gets the next number of the groups stream (StreamLog)
// in the same durable write as the rows it changes.
//
// Publishing is the caller's (it owns the PUB socket): every mutating call returns the changes
// to publish, already durable.
// Threading: owned by the master's loop thread.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent_groups/group_table.h"
#include "streams/stream_log.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

class MasterGroups {
 public:
  static constexpr const char* kDefaultGroup = "default";

  // `shared_dir` is <home>/etc/shared: its folders are the groups ("default" is created).
  static Result<std::unique_ptr<MasterGroups>> Load(store::NodeStore& store, std::string shared_dir,
                                                    const Logger& log);

  using Changes = std::vector<schemas::GroupChange>;
  // Agents seen for the first time get "default".
  Result<Changes> EnsureAssigned(const std::vector<std::string>& agents);
  // Control requests; `exists` says whether an agent id is registered.
  Result<Changes> Assign(const schemas::GroupAssign& request,
                         const std::function<bool(const std::string&)>& exists);
  Result<Changes> Unassign(const schemas::GroupUnassign& request);
  // A removed agent loses its row.
  Result<Changes> Forget(const std::string& agent);

  // A worker's table at a position beyond this master's: this master lost its store (or was
  // restored from an older one), and the worker holds the newer truth. Its rows replace ours,
  // the stream jumps to its position, and rows only we hold (agents first seen since) are
  // committed again after it. Returns those changes, to publish.
  Result<Changes> Adopt(const schemas::GroupTable& worker_table);

  // What a worker that has applied up to `from` needs.
  Result<schemas::GroupsSync> SyncFrom(std::uint64_t from) const;
  schemas::GroupTable Table() const;
  std::vector<std::string> Defined() const;  // the folders of etc/shared
  std::uint64_t seq() const { return log_.seq(); }
  std::uint64_t digest() const { return table_.digest(); }
  const std::vector<std::string>* Of(const std::string& agent) const { return table_.Find(agent); }

 private:
  MasterGroups(store::NodeStore& store, std::string shared_dir, const Logger& log, StreamLog stream)
      : store_(store), shared_dir_(std::move(shared_dir)), logger_(log), log_(std::move(stream)) {}
  // Numbers, stores and applies the new rows; skips rows that do not change anything.
  Result<Changes> Commit(std::vector<std::pair<std::string, std::vector<std::string>>> rows);
  Status CheckGroupsExist(const std::vector<std::string>& groups) const;

  store::NodeStore& store_;
  std::string shared_dir_;
  Logger logger_;
  GroupTable table_;
  StreamLog log_;
};

}  // namespace zcluster::nodes
