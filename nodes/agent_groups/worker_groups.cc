#include "agent_groups/worker_groups.h"

#include <chrono>

#include "zcluster/store/records.h"

namespace zcluster::nodes {
namespace {
constexpr const char* kStream = "groups";
}

Result<std::unique_ptr<WorkerGroups>> WorkerGroups::Load(store::NodeStore& store,
                                                         const Logger& log) {
  Result<std::uint64_t> seq = store.Position(kStream);
  if (!seq.ok()) return seq.status();
  std::unique_ptr<WorkerGroups> g(new WorkerGroups(store, log, *seq));
  ZC_RETURN_IF_ERROR(g->table_.Load(store));
  return g;
}

Result<bool> WorkerGroups::Apply(StreamFollower<schemas::GroupChange>::Step step) {
  if (!step.apply.empty()) {
    auto start = std::chrono::steady_clock::now();
    store::StoreBatch batch;
    for (const schemas::GroupChange& c : step.apply) {
      if (c.groups.empty()) {
        batch.Delete(store::Table::kGroups, c.agent);
      } else {
        batch.Put(store::Table::kGroups, c.agent, store::EncodeGroupsRow(c.groups));
      }
    }
    batch.SetPosition(kStream, step.apply.back().seq);
    // Not synced: the rows and the position are one atomic write, so a power cut takes both
    // back together and the master, which holds every change, sends them again. A sync per
    // delta in each of many workers queued them behind each other on the disk.
    if (Status written = store_.WriteUnsynced(batch); !written.ok()) {
      follower_.Rewind(step.apply.front().seq - 1);  // the sync retry asks for them again
      return written;
    }
    for (const schemas::GroupChange& c : step.apply) table_.Set(c.agent, c.groups);
    log_.Debug("Agent-groups recv", "Applied {} changes up to {}. Finished in {:.3f}s.",
               step.apply.size(), step.apply.back().seq,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return step.request_sync;
}

Result<bool> WorkerGroups::Start() { return Apply(follower_.Start()); }

Result<bool> WorkerGroups::OnDelta(const schemas::GroupsDelta& delta) {
  return Apply(follower_.OnDelta(delta.changes));
}

Result<bool> WorkerGroups::OnHeartbeat(const schemas::StreamHeartbeat& heartbeat) {
  if (heartbeat.stream != kStream) return false;
  auto step = follower_.OnHeartbeat(heartbeat.seq);
  if (step.request_sync) {
    log_.Info("Agent-groups recv", "Master is at {}, we are at {}: resyncing", heartbeat.seq,
              follower_.applied());
  }
  return Apply(std::move(step));
}

Result<bool> WorkerGroups::Resync() {
  full_requested_ = true;
  log_.Warning("Agent-groups recv", "Group table differs from the master's at {}: full resync",
               follower_.applied());
  auto step = follower_.Start();
  return step.request_sync;
}

Result<bool> WorkerGroups::OnSync(const schemas::GroupsSync& sync) {
  auto start = std::chrono::steady_clock::now();
  store::StoreBatch batch;
  if (sync.full) {
    // Replace the whole table: delete every row, write the master's, in one write.
    batch.DeleteRange(store::Table::kGroups, "", std::string(1, '\xff'));
    for (const auto& [agent, groups] : sync.groups) {
      batch.Put(store::Table::kGroups, agent, store::EncodeGroupsRow(groups));
    }
  } else {
    for (const schemas::GroupChange& c : sync.changes) {
      if (c.groups.empty()) {
        batch.Delete(store::Table::kGroups, c.agent);
      } else {
        batch.Put(store::Table::kGroups, c.agent, store::EncodeGroupsRow(c.groups));
      }
    }
    if (!sync.changes.empty() && (sync.changes.front().seq != follower_.applied() + 1 ||
                                  sync.changes.back().seq != sync.seq)) {
      // Not the continuation of our table (it asked from another position): ask for all.
      full_requested_ = true;
      return true;
    }
  }
  batch.SetPosition(kStream, sync.seq);
  ZC_RETURN_IF_ERROR(store_.Write(batch));
  if (sync.full) {
    table_.Clear();
    for (const auto& [agent, groups] : sync.groups) table_.Set(agent, groups);
  } else {
    for (const schemas::GroupChange& c : sync.changes) table_.Set(c.agent, c.groups);
  }
  full_requested_ = false;
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (sync.full) {
    log_.Info("Agent-groups recv full",
              "Received the whole table: {} agents at {}. Finished in "
              "{:.3f}s.",
              sync.groups.size(), sync.seq, took);
  } else if (!sync.changes.empty()) {
    log_.Info("Agent-groups recv", "Caught up {} changes to {}. Finished in {:.3f}s.",
              sync.changes.size(), sync.seq, took);
  }
  return Apply(follower_.OnSynced(sync.seq));
}

}  // namespace zcluster::nodes
