// When a follower asks the master for a sync again: a request unanswered for kAfter was lost with
// a dying session, or the master restarted meanwhile.
#pragma once

#include <chrono>

#include "zcluster/nodes/clock.h"

namespace zcluster::nodes {

class SyncRetry {
 public:
  static constexpr std::chrono::seconds kAfter{5};
  void Sent(SteadyClock::time_point now) { sent_ = now; }
  // Whether to ask again, for a follower that is (still) `syncing`.
  bool Due(SteadyClock::time_point now, bool syncing) const {
    return syncing && now - sent_ > kAfter;
  }

 private:
  SteadyClock::time_point sent_{};
};

}  // namespace zcluster::nodes
