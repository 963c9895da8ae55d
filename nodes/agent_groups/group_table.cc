#include "agent_groups/group_table.h"

#include <sodium.h>

#include "zcluster/store/records.h"

namespace zcluster::nodes {

std::uint64_t GroupRowDigest(const std::string& agent, const std::vector<std::string>& groups) {
  std::string in = agent;
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

bool GroupTable::Set(const std::string& agent, std::vector<std::string> groups) {
  auto it = rows_.find(agent);
  if (it != rows_.end()) {
    if (it->second == groups) return false;
    digest_ -= GroupRowDigest(agent, it->second);
    if (groups.empty()) {
      rows_.erase(it);
      return true;
    }
    it->second = std::move(groups);
    digest_ += GroupRowDigest(agent, it->second);
    return true;
  }
  if (groups.empty()) return false;
  digest_ += GroupRowDigest(agent, groups);
  rows_.emplace(agent, std::move(groups));
  return true;
}

void GroupTable::Clear() {
  rows_.clear();
  digest_ = 0;
}

const std::vector<std::string>* GroupTable::Find(const std::string& agent) const {
  auto it = rows_.find(agent);
  return it == rows_.end() ? nullptr : &it->second;
}

Status GroupTable::Load(const store::NodeStore& store) {
  return store.ForEach(
      store::Table::kGroups, [this](std::string_view agent, std::string_view value) {
        Result<std::vector<std::string>> groups = store::DecodeGroupsRow(agent, value);
        if (!groups.ok()) return groups.status();
        Set(std::string(agent), std::move(groups).value());
        return Status::Ok();
      });
}

}  // namespace zcluster::nodes
