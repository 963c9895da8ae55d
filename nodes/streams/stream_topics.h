// The topics of the master's streams: the type frames of the messages it publishes. Workers
// subscribe to exactly these, and the master's publisher stores no other subscription.
#pragma once

#include <string>
#include <vector>

#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

inline std::vector<std::string> StreamTopics() {
  return {schemas::Encode(schemas::GroupsDelta{})[0], schemas::Encode(schemas::FilesDelta{})[0],
          schemas::Encode(schemas::StreamHeartbeat{})[0]};
}

}  // namespace zcluster::nodes
