// The master's last-seen log (store::Table::kAgentSeenLog): how keepalive-only updates, marks of a
// lost worker's agents, full records and removals reach the store as one row per group, how the
// log is replayed at start, and how it is folded so that a start replays little more than one
// entry per agent.
#include "agent_info/master_agents.h"

#include <fmt/format.h>

namespace zcluster::nodes {
namespace {

// The log is folded once the entries written since the last fold began outnumber this or the
// registry's agents, whichever is more: a start then replays at most about two entries per agent.
constexpr std::uint64_t kFoldAtLeast = 65536;

}  // namespace

Status MasterAgents::ReplaySeenLog(bool whole) {
  seen_log_entries_ = 0;
  next_seen_seq_ = 1;
  return store_.ForEach(store::Table::kAgentSeenLog, [&](std::string_view key,
                                                         std::string_view group) {
    Result<std::uint64_t> seq = store::DecodeU64(key);
    if (!seq.ok()) return Status::DataLoss("store: seen log: a key is not a sequence number");
    ZC_RETURN_IF_ERROR(store::ForEachSeenLogEntry(*seq, group, [&](const store::SeenLogEntry& e) {
      if (whole && !e.knows_record) {
        return Status::DataLoss(fmt::format(
            "store: seen log group {}: written by an older zcluster after a whole snapshot", *seq));
      }
      if (!e.in_snapshot && !e.first) ++seen_log_entries_;
      const std::size_t at = registry_->IndexOf(e.id);
      if (at == ClientKeys::npos) return Status::Ok();
      if (e.knows_record) {
        rows_[at] = (e.record ? kRecordRow : 0) | (e.overlay ? kSeenRow : 0);
      } else {
        rows_[at] = e.overlay ? rows_[at] | kSeenRow : rows_[at] & ~kSeenRow;
      }
      status_[at] = e.status;
      counter_[at] = e.counter;
      last_keepalive_[at] = e.last_keepalive;
      disconnection_[at] = e.disconnection_time;
      node_of_[at] = NodeIndex(e.node);
      return Status::Ok();
    }));
    next_seen_seq_ = *seq + 1;
    return Status::Ok();
  });
}

void MasterAgents::Overlay(schemas::AgentRecord& record) const {
  const std::size_t at = registry_->IndexOf(record.id);
  if (at == ClientKeys::npos || at >= rows_.size() || !(rows_[at] & kSeenRow)) return;
  record.state.status = status_[at];
  record.state.last_keepalive = last_keepalive_[at];
  record.state.disconnection_time = disconnection_[at];
  record.counter = counter_[at];
  record.node = node_names_[node_of_[at]];
}

void MasterAgents::AddSeenLogGroup(const store::SeenLogGroup& group,
                                   store::StoreBatch& writes) const {
  writes.Put(store::Table::kAgentSeenLog, store::EncodeU64(next_seen_seq_), group.Finish());
}

void MasterAgents::MarkSeenLogWhole(std::uint64_t first_seq, store::StoreBatch& writes) {
  // From here on the log alone is a start's summary of every record.
  writes.SetPosition(store::kSeenLogCompleteStream, first_seq);
}

Status MasterAgents::ContinueFold(std::size_t positions) {
  if (!fold_) {
    const std::uint64_t due = std::max<std::uint64_t>(kFoldAtLeast, registry_->active());
    if (seen_log_entries_ < due && !legacy_seen_rows_) return Status::Ok();
    fold_ = Fold{next_seen_seq_, 0};
    seen_log_entries_ = 0;
  }
  Resize();
  const ClientKeys& registry = *registry_;
  // The snapshot: every agent with a record or an overlay, as it stands now. Groups that land
  // between two of its slices are newer than the slices before them and older than those after;
  // replayed in order, every agent ends at its newest entry either way.
  const std::size_t end = std::min(registry.size(), fold_->next + positions);
  store::SeenLogGroup snapshot(/*snapshot=*/true);
  for (std::size_t i = fold_->next; i < end; ++i) {
    if (rows_[i] == 0 || registry.removed(i)) continue;
    ZC_RETURN_IF_ERROR(
        snapshot.Add({registry.id(i), (rows_[i] & kSeenRow) != 0, (rows_[i] & kRecordRow) != 0,
                      false, status_[i], last_keepalive_[i], disconnection_[i], counter_[i],
                      node_names_[node_of_[i]]}));
  }
  // The first slice is written even when empty: the mark of a whole log names it, and a start
  // trusts the mark only when that group is there.
  if (!snapshot.empty() || fold_->next == 0) {
    store::StoreBatch writes;
    AddSeenLogGroup(snapshot, writes);
    // Not synced: the write that deletes what the snapshot replaces is, and it syncs this one
    // with it. Lost in a crash before then, the groups it would replace are all still there.
    ZC_RETURN_IF_ERROR(store_.WriteUnsynced(writes));
    // Not counted towards the next fold: what the log holds past one snapshot decides it, or
    // every fold would be due again as soon as it ended.
    ++next_seen_seq_;
    ++seen_log_groups_;
  }
  fold_->next = end;
  if (end < registry.size()) return Status::Ok();
  store::StoreBatch replaced;
  replaced.DeleteRange(store::Table::kAgentSeenLog, store::EncodeU64(0),
                       store::EncodeU64(fold_->first_seq));
  MarkSeenLogWhole(fold_->first_seq, replaced);
  // An older store's rows are in the snapshot now. Agent ids are digits: every key sorts below.
  if (legacy_seen_rows_) {
    replaced.DeleteRange(store::Table::kAgentSeen, "", std::string(1, '\xff'));
  }
  ZC_RETURN_IF_ERROR(store_.Write(replaced));
  legacy_seen_rows_ = false;
  fold_.reset();
  return Status::Ok();
}

}  // namespace zcluster::nodes
