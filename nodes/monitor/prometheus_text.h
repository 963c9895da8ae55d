// The cluster-wide counters in Prometheus' text exposition format (version 0.0.4): one HELP and
// one TYPE line per metric family, then its samples. Counters end in _total.
#pragma once

#include <string>

#include "zcluster/schemas/monitor.h"

namespace zcluster::nodes {

std::string RenderPrometheus(const schemas::ClusterStats& stats);

}  // namespace zcluster::nodes
