#include "agent_info/agent_profiles.h"

#include <functional>
#include <string_view>

namespace zcluster::nodes {

bool HasProfile(const schemas::AgentState& state, const AgentProfile& profile) {
  return state.version == profile.version && state.config_sum == profile.config_sum &&
         state.merged_sum == profile.merged_sum && state.os == profile.os &&
         state.labels == profile.labels;
}

std::size_t AgentProfiles::Hash::operator()(const AgentProfile& p) const {
  std::size_t h = 0;
  auto mix = [&h](std::string_view s) {
    // boost::hash_combine's mixing: the order of the fields matters, as it should.
    h ^= std::hash<std::string_view>{}(s) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  };
  for (const std::string* s :
       {&p.os.name, &p.os.version, &p.os.major, &p.os.minor, &p.os.codename, &p.os.platform,
        &p.os.build, &p.os.uname, &p.os.arch, &p.version, &p.config_sum, &p.merged_sum}) {
    mix(*s);
  }
  for (const auto& [key, value] : p.labels) {
    mix(key);
    mix(value);
  }
  return h;
}

const AgentProfile* AgentProfiles::Acquire(const schemas::AgentState& state) {
  auto [it, added] = users_.try_emplace(
      AgentProfile{state.os, state.version, state.config_sum, state.merged_sum, state.labels}, 0);
  ++it->second;
  return &it->first;
}

void AgentProfiles::Release(const AgentProfile* profile) {
  if (profile == nullptr) return;
  auto it = users_.find(*profile);
  if (it != users_.end() && --it->second == 0) users_.erase(it);
}

}  // namespace zcluster::nodes
