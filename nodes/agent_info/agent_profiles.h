// What the agents of a fleet share: the OS, the agent version, the configuration checksums and
// the labels. A worker holds each distinct profile once, counted by the agents that use it, so
// that its memory grows with each agent's own fields (name, address, status, times) and not with
// a dozen strings an agent: a million agents running a few dozen builds hold a few dozen
// profiles. A profile is freed with its last user, so an agent that changes its labels with
// every report leaves one profile behind, not one a report.
//
// Threading: owned by the worker's loop thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>

#include "zcluster/schemas/agents.h"

namespace zcluster::nodes {

struct AgentProfile {
  schemas::AgentOs os;
  std::string version;
  std::string config_sum;
  std::string merged_sum;
  std::map<std::string, std::string> labels;
  bool operator==(const AgentProfile&) const = default;
};

// Whether `state` has this profile, compared field by field without building one.
bool HasProfile(const schemas::AgentState& state, const AgentProfile& profile);

class AgentProfiles {
 public:
  // The profile of `state`, with one user more. Valid until its last user releases it.
  const AgentProfile* Acquire(const schemas::AgentState& state);
  // One user fewer; the profile is freed with its last. nullptr is ignored.
  void Release(const AgentProfile* profile);
  std::size_t size() const { return users_.size(); }

 private:
  struct Hash {
    std::size_t operator()(const AgentProfile& p) const;
  };
  // Elements of an unordered_map keep their address while others come and go.
  std::unordered_map<AgentProfile, std::size_t, Hash> users_;
};

}  // namespace zcluster::nodes
