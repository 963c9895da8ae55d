// How zcluster-control shows control replies: an aligned table by default (as Wazuh's
// cluster_control does), JSON with --json.
#pragma once

#include <string>
#include <vector>

#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

// NAME TYPE VERSION ADDRESS LAST-KEEPALIVE, one row per node, master first.
std::string RenderNodesTable(const schemas::NodeList& list);
// {"nodes":[{"name":…,"type":…,"version":…,"address":…,"last_keepalive":"…Z"},…]}
std::string RenderNodesJson(const schemas::NodeList& list);

// ID NAME IP STATUS VERSION NODE GROUPS, by id.
std::string RenderAgentsTable(const schemas::AgentList& list);
// {"agents":[{"id":…,"name":…,"ip":…,"status":…,"version":…,"node":…,"os":{…},"labels":{…},
// "last_keepalive":…,"disconnection_time":…},…]}; times in ISO 8601 UTC, null for never.
std::string RenderAgentsJson(const schemas::AgentList& list);
// Wazuh's cluster_control -a filters: keep agents reporting to one of `nodes` (if any) and in
// one of `statuses` (if any).
schemas::AgentList FilterAgents(schemas::AgentList list, const std::vector<std::string>& nodes,
                                const std::vector<std::string>& statuses);

// Every node, the master first: version, address, active agents, last keepalive, agent-info,
// groups and files state; `more` adds the last sync rounds' details. Problems follow the table.
std::string RenderHealthTable(const schemas::Health& health, bool more = false);
// {"master":{name,type,version,address,store_error},"workers":[…],"lost":[…],"problems":[…]};
// times in ISO 8601 UTC, null for never.
std::string RenderHealthJson(const schemas::Health& health);
// What an operator must hear of: lost workers, workers out of sync, disk problems. -i exits 2
// when there is any.
std::vector<std::string> HealthProblems(const schemas::Health& health);
// Wazuh's -fn for -i and -l: only these nodes (all when empty; the master's own row stays).
schemas::Health FilterHealth(schemas::Health health, const std::vector<std::string>& nodes);
schemas::NodeList FilterNodes(schemas::NodeList list, const std::vector<std::string>& nodes);

// A node's own group table: AGENT GROUPS rows; JSON {"seq":N,"groups":{"001":["default"],…}}.
std::string RenderGroupTable(const schemas::GroupTable& table);
std::string RenderGroupTableJson(const schemas::GroupTable& table);
// A node's file table: PATH SIZE MODE HASH rows; JSON {"seq":N,"files":[{"path","hash","size",
// "mode"},…]} with mode as an integer (0660 is 432).
std::string RenderFileTable(const schemas::FileTable& table);
// A node's own counters (--status): "field: value" lines, or one JSON object with the
// node_status fields.
std::string RenderStatus(const schemas::NodeStatus& status);
std::string RenderStatusJson(const schemas::NodeStatus& status);
std::string RenderFileTableJson(const schemas::FileTable& table);
// `group list`: GROUP AGENTS rows for every group (defined or in use); with `group`, the ids of
// its agents, one per line. JSON: {"groups":{"default":["001",…],…}}.
std::string RenderGroupList(const schemas::GroupTable& table, const std::string& group, bool json);

}  // namespace zcluster::nodes
