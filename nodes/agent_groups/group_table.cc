#include "agent_groups/group_table.h"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <optional>

#include "zcluster/schemas/agents.h"
#include "zcluster/store/records.h"

namespace zcluster::nodes {

std::uint64_t GroupRowDigest(std::string_view agent, const std::vector<std::string>& groups) {
  std::string in(agent);
  in.push_back('\0');
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i) in.push_back(',');
    in += groups[i];
  }
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                     nullptr, 0);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | h[i];
  return v;
}

using schemas::PackAgentId;
using schemas::UnpackAgentId;

GroupTable::ListId GroupTable::Intern(std::vector<std::string> groups) {
  auto known = list_ids_.find(groups);
  if (known != list_ids_.end()) {
    ++users_[known->second];
    return known->second;
  }
  ListId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    lists_[id] = groups;
    users_[id] = 1;
  } else {
    id = static_cast<ListId>(lists_.size());
    lists_.push_back(groups);
    users_.push_back(1);
  }
  list_ids_.emplace(std::move(groups), id);
  return id;
}

void GroupTable::Release(ListId list) {
  if (--users_[list] > 0) return;
  list_ids_.erase(lists_[list]);
  lists_[list].clear();
  free_.push_back(list);
}

template <typename Table>
auto GroupTable::LoadedSlot(Table& table, std::uint64_t packed) -> decltype(table.loaded_.data()) {
  auto it = std::lower_bound(table.loaded_.begin(), table.loaded_.end(), packed,
                             [](const LoadedRow& row, std::uint64_t p) { return row.packed < p; });
  return it == table.loaded_.end() || it->packed != packed ? nullptr : &*it;
}

template <typename Table>
auto GroupTable::Slot(Table& table, const std::string& agent)
    -> decltype(&table.by_id_.begin()->second) {
  if (std::optional<std::uint64_t> packed = PackAgentId(agent)) {
    if (auto* row = LoadedSlot(table, *packed); row != nullptr && row->list != kNoList) {
      return &row->list;
    }
    auto it = table.by_id_.find(*packed);
    return it == table.by_id_.end() ? nullptr : &it->second;
  }
  auto it = table.by_name_.find(agent);
  return it == table.by_name_.end() ? nullptr : &it->second;
}

bool GroupTable::Set(const std::string& agent, std::vector<std::string> groups) {
  std::optional<std::uint64_t> packed = PackAgentId(agent);
  LoadedRow* loaded = packed ? LoadedSlot(*this, *packed) : nullptr;
  if (ListId* slot = Slot(*this, agent)) {
    if (lists_[*slot] == groups) return false;
    digest_ -= GroupRowDigest(agent, lists_[*slot]);
    Release(*slot);
    if (groups.empty()) {
      if (loaded != nullptr && slot == &loaded->list) {
        loaded->list = kNoList;
        --loaded_live_;
      } else if (packed) {
        by_id_.erase(*packed);
      } else {
        by_name_.erase(agent);
      }
      return true;
    }
    digest_ += GroupRowDigest(agent, groups);
    *slot = Intern(std::move(groups));
    return true;
  }
  if (groups.empty()) return false;
  digest_ += GroupRowDigest(agent, groups);
  ListId list = Intern(std::move(groups));
  if (loaded != nullptr) {
    loaded->list = list;
    ++loaded_live_;
  } else if (packed) {
    by_id_.emplace(*packed, list);
  } else {
    by_name_.emplace(agent, list);
  }
  return true;
}

void GroupTable::Clear() {
  loaded_.clear();
  loaded_.shrink_to_fit();
  loaded_live_ = 0;
  by_id_.clear();
  by_name_.clear();
  lists_.clear();
  users_.clear();
  free_.clear();
  list_ids_.clear();
  digest_ = 0;
}

const std::vector<std::string>* GroupTable::Find(const std::string& agent) const {
  const ListId* slot = Slot(*this, agent);
  return slot == nullptr ? nullptr : &lists_[*slot];
}

schemas::GroupMap GroupTable::Rows() const {
  schemas::GroupMap rows;
  for (const LoadedRow& row : loaded_) {
    if (row.list != kNoList) rows.emplace(UnpackAgentId(row.packed), lists_[row.list]);
  }
  for (const auto& [packed, list] : by_id_) rows.emplace(UnpackAgentId(packed), lists_[list]);
  for (const auto& [name, list] : by_name_) rows.emplace(name, lists_[list]);
  return rows;
}

Status GroupTable::Load(const store::NodeStore& store) {
  Clear();
  // Most agents share one of a few group lists, stored as the same bytes: each distinct row is
  // decoded and interned once (a million rows through msgpack took a third of a master's start).
  // Only the first rows seen are remembered, so that a table of all-different rows costs no more.
  constexpr std::size_t kKnownRowsKept = 1024;
  std::map<std::string, ListId, std::less<>> known_rows;
  Status loaded =
      store.ForEach(store::Table::kGroups, [&](std::string_view agent, std::string_view value) {
        std::optional<std::uint64_t> packed = PackAgentId(agent);
        if (!packed) {  // a key that is not an agent id is rare: it takes the general path
          Result<std::vector<std::string>> groups = store::DecodeGroupsRow(agent, value);
          if (!groups.ok()) return groups.status();
          Set(std::string(agent), std::move(groups).value());
          return Status::Ok();
        }
        ListId list;
        if (auto known = known_rows.find(value); known != known_rows.end()) {
          list = known->second;
          ++users_[list];
        } else {
          Result<std::vector<std::string>> groups = store::DecodeGroupsRow(agent, value);
          if (!groups.ok()) return groups.status();
          if (groups->empty()) return Status::Ok();  // no groups is no row
          list = Intern(std::move(groups).value());
          if (known_rows.size() < kKnownRowsKept) known_rows.emplace(value, list);
        }
        loaded_.push_back({*packed, list});
        digest_ += GroupRowDigest(agent, lists_[list]);
        return Status::Ok();
      });
  if (!loaded.ok()) {
    Clear();
    return loaded;
  }
  // The store orders ids as strings ("0100" before "042"), packing by length first.
  auto by_packed = [](const LoadedRow& a, const LoadedRow& b) { return a.packed < b.packed; };
  if (!std::is_sorted(loaded_.begin(), loaded_.end(), by_packed)) {
    std::sort(loaded_.begin(), loaded_.end(), by_packed);
  }
  loaded_live_ = loaded_.size();
  return Status::Ok();
}

}  // namespace zcluster::nodes
