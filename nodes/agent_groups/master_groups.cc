#include "agent_groups/master_groups.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "zcluster/store/records.h"

namespace zcluster::nodes {
namespace {

constexpr const char* kStream = "groups";

}  // namespace

Result<std::unique_ptr<MasterGroups>> MasterGroups::Load(store::NodeStore& store,
                                                         std::string shared_dir,
                                                         const Logger& log) {
  Result<StreamLog> stream = StreamLog::Load(store, store::Table::kGroupsLog, kStream);
  if (!stream.ok()) return stream.status();
  std::unique_ptr<MasterGroups> g(
      new MasterGroups(store, std::move(shared_dir), log, std::move(stream).value()));
  std::error_code ec;
  std::filesystem::create_directories(g->shared_dir_ + "/" + kDefaultGroup, ec);
  if (ec)
    return Status::Unavailable("cannot create " + g->shared_dir_ + "/default: " + ec.message());
  ZC_RETURN_IF_ERROR(g->table_.Load(store));
  return g;
}

std::vector<std::string> MasterGroups::Defined() const {
  std::vector<std::string> groups;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(shared_dir_, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && schemas::IsValidGroupName(name)) groups.push_back(name);
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

Status MasterGroups::CheckGroupsExist(const std::vector<std::string>& groups) const {
  if (groups.empty()) return Status::InvalidArgument("no group given");
  for (const std::string& g : groups) {
    std::error_code ec;
    if (!schemas::IsValidGroupName(g) ||
        !std::filesystem::is_directory(shared_dir_ + "/" + g, ec)) {
      return Status::NotFound("group '" + g + "' does not exist (no folder " + shared_dir_ + "/" +
                              g + ")");
    }
  }
  return Status::Ok();
}

Result<MasterGroups::Changes> MasterGroups::Commit(
    std::vector<std::pair<std::string, std::vector<std::string>>> rows) {
  store::StoreBatch batch;
  Changes changes;
  std::vector<std::string> entries;
  std::uint64_t seq = log_.seq();
  // An agent named more than once (a request listing it a thousand times) is one change: its
  // last row, compared with what the table holds.
  std::map<std::string_view, std::size_t> last;
  for (std::size_t i = 0; i < rows.size(); ++i) last[rows[i].first] = i;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto& [agent, groups] = rows[i];
    if (last[agent] != i) continue;
    const std::vector<std::string>* now = table_.Find(agent);
    if ((now == nullptr && groups.empty()) || (now != nullptr && *now == groups)) continue;
    schemas::GroupChange c{++seq, agent, groups};
    if (groups.empty()) {
      batch.Delete(store::Table::kGroups, agent);
    } else {
      batch.Put(store::Table::kGroups, agent, store::EncodeGroupsRow(groups));
    }
    entries.push_back(store::EncodeGroupChangeRow(c));
    changes.push_back(std::move(c));
  }
  if (changes.empty()) return changes;
  log_.Stage(batch, entries);
  ZC_RETURN_IF_ERROR(store_.Write(batch));  // durable before anyone hears of it
  log_.Committed();
  for (const schemas::GroupChange& c : changes) table_.Set(c.agent, c.groups);
  logger_.Debug("Local agent-groups", "{} changes, stream at {}", changes.size(), log_.seq());
  return changes;
}

Result<MasterGroups::Changes> MasterGroups::Adopt(const schemas::GroupTable& worker_table) {
  if (worker_table.seq <= log_.seq()) return Changes{};
  std::vector<std::pair<std::string, std::vector<std::string>>> ours;
  for (const auto& [agent, groups] : table_.Rows()) {
    if (!worker_table.groups.count(agent)) ours.push_back({agent, groups});
  }
  store::StoreBatch batch;
  batch.DeleteRange(store::Table::kGroups, "", std::string(1, '\xff'));
  for (const auto& [agent, groups] : worker_table.groups) {
    if (!groups.empty()) batch.Put(store::Table::kGroups, agent, store::EncodeGroupsRow(groups));
  }
  log_.StageJump(batch, worker_table.seq);
  ZC_RETURN_IF_ERROR(store_.Write(batch));
  log_.Committed();
  table_.Clear();
  for (const auto& [agent, groups] : worker_table.groups) {
    if (!groups.empty()) table_.Set(agent, groups);
  }
  logger_.Info("Local agent-groups", "Took a worker's table: {} agents at {}",
               worker_table.groups.size(), worker_table.seq);
  return Commit(std::move(ours));
}

Result<MasterGroups::Changes> MasterGroups::EnsureAssigned(const std::vector<std::string>& agents) {
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  for (const std::string& a : agents) {
    if (table_.Find(a) == nullptr) rows.push_back({a, {kDefaultGroup}});
  }
  return Commit(std::move(rows));
}

Result<MasterGroups::Changes> MasterGroups::Assign(
    const schemas::GroupAssign& request, const std::function<bool(const std::string&)>& exists) {
  ZC_RETURN_IF_ERROR(CheckGroupsExist(request.groups));
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  for (const std::string& agent : request.agents) {
    if (!exists(agent)) return Status::NotFound("no agent with id '" + agent + "'");
    std::vector<std::string> groups;
    if (!request.replace) {
      if (const auto* now = table_.Find(agent)) groups = *now;
    }
    for (const std::string& g : request.groups) {
      if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    }
    if (groups.size() > schemas::kMaxGroups) {
      return Status::OutOfRange("agent " + agent + " would have more than 128 groups");
    }
    rows.push_back({agent, std::move(groups)});
  }
  return Commit(std::move(rows));
}

Result<MasterGroups::Changes> MasterGroups::Unassign(const schemas::GroupUnassign& request) {
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  for (const std::string& agent : request.agents) {
    const auto* now = table_.Find(agent);
    if (now == nullptr) continue;
    std::vector<std::string> groups;
    if (!request.groups.empty()) {
      for (const std::string& g : *now) {
        if (std::find(request.groups.begin(), request.groups.end(), g) == request.groups.end()) {
          groups.push_back(g);
        }
      }
    }
    if (groups.empty()) groups = {kDefaultGroup};  // as Wazuh: never no group at all
    rows.push_back({agent, std::move(groups)});
  }
  return Commit(std::move(rows));
}

Result<MasterGroups::Changes> MasterGroups::Forget(const std::string& agent) {
  return Commit({{agent, {}}});
}

Result<schemas::GroupsSync> MasterGroups::SyncFrom(std::uint64_t from) const {
  schemas::GroupsSync sync;
  sync.seq = log_.seq();
  if (from == sync.seq) return sync;
  if (log_.NeedsFull(from)) {
    sync.full = true;
    sync.groups = table_.Rows();
    return sync;
  }
  ZC_RETURN_IF_ERROR(log_.ReadAfter(from, [&](std::uint64_t seq, std::string_view entry) {
    Result<schemas::GroupChange> c = store::DecodeGroupChangeRow(seq, entry);
    if (!c.ok()) return c.status();
    sync.changes.push_back(std::move(c).value());
    return Status::Ok();
  }));
  return sync;
}

schemas::GroupTable MasterGroups::Table() const {
  return schemas::GroupTable{log_.seq(), table_.Rows(), Defined()};
}

}  // namespace zcluster::nodes
