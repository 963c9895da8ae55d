// How zcluster-control shows control replies: an aligned table by default (as Wazuh's
// cluster_control does), JSON with --json.
#pragma once

#include <string>

#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

// NAME TYPE VERSION ADDRESS LAST-KEEPALIVE, one row per node, master first.
std::string RenderNodesTable(const schemas::NodeList& list);
// {"nodes":[{"name":…,"type":…,"version":…,"address":…,"last_keepalive":"…Z"},…]}
std::string RenderNodesJson(const schemas::NodeList& list);

}  // namespace zcluster::nodes
