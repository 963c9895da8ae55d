// Time as the flows use it: steady time for timers and deadlines (immune to clock changes), wall
// time only for what a person reads.
#pragma once

#include <chrono>

namespace zcluster::nodes {

using SteadyClock = std::chrono::steady_clock;

// Unix time in seconds, with fractions.
inline double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace zcluster::nodes
