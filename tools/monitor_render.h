// What zcluster-monitor shows: the cluster_stats a node serves, as JSON for scripts (--once
// --json) and as the lines of the terminal view. Pure functions of two snapshots, so the view is
// tested without a terminal; zcluster-monitor only draws the lines.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "zcluster/schemas/messages.h"

namespace zcluster::monitor {

// The snapshot as one JSON object: the cluster_stats fields of SCHEMAS.md, by the same names.
std::string RenderJson(const schemas::ClusterStats& stats);

// Per-node figures over the interval between two snapshots.
struct NodeRates {
  std::string name, type, state;
  double msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0;  // per second
  double cpu_percent = 0;
  std::uint64_t groups_lag = 0, files_lag = 0, agents = 0, refused = 0;
  double last_keepalive = 0;
};
struct TypeRates {
  std::string type;
  double msgs = 0, bytes = 0;  // per second, as received by every node
  std::uint64_t total = 0;     // messages received since the nodes started
};
struct Rates {
  std::vector<NodeRates> nodes;
  std::vector<TypeRates> types;  // busiest first
};
// Rates from `before` to `now` (no `before`: totals only, rates 0).
Rates ComputeRates(const std::optional<schemas::ClusterStats>& before,
                   const schemas::ClusterStats& now);

enum class SortBy { kName, kMessages, kBytes, kLag };

struct ViewOptions {
  int width = 80, height = 24;
  SortBy sort = SortBy::kName;
  bool paused = false;
  double now = 0;  // unix time, for "last keepalive 2s ago"
};
inline constexpr int kMinWidth = 80, kMinHeight = 24;

// The terminal view: header, nodes table, message-type table and the latest events, each line
// at most `width` columns and at most `height` lines in all.
std::vector<std::string> RenderView(const std::optional<schemas::ClusterStats>& before,
                                    const schemas::ClusterStats& now, const ViewOptions& options);

// One tapped message (a tap header frame, then the message's frames) as one JSON line:
// {"time","node","direction","peer","type","bytes","body"}, the body decoded from msgpack with
// every bin value elided to {"bytes":N} (file contents, agent state blobs) and every "key" field
// hidden. nullopt when the frames are not a tap or `type`/`node` filter them out (`node` matches
// the node that saw the message or its peer).
struct DumpFilter {
  std::string type, node;  // empty: any
};
std::optional<std::string> RenderDumpLine(const std::vector<std::string>& frames,
                                          const DumpFilter& filter);

}  // namespace zcluster::monitor
