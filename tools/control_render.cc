#include "control_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace zcluster::nodes {
namespace {

std::string UtcTime(double unix_seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

schemas::NodeList MasterFirst(schemas::NodeList list) {
  std::stable_sort(list.nodes.begin(), list.nodes.end(),
                   [](const schemas::NodeInfo& a, const schemas::NodeInfo& b) {
                     if ((a.type == "master") != (b.type == "master")) return a.type == "master";
                     return a.name < b.name;
                   });
  return list;
}

// Columns padded to their widest cell, two spaces apart; the last column unpadded.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    }
    out += "\n";
  }
  return out;
}

// "in sync", "behind by N", or "differs" (same position, another table: a resync is under way).
std::string GroupsState(const schemas::WorkerHealth& w) {
  if (w.groups_seq == w.master_groups_seq) return w.groups_digest_match ? "in sync" : "differs";
  if (w.groups_seq < w.master_groups_seq) {
    return fmt::format("behind by {}", w.master_groups_seq - w.groups_seq);
  }
  return "ahead";
}

// "in sync" when the worker's files equal the master's table, else how far behind or "differs".
std::string FilesState(const schemas::WorkerHealth& w) {
  if (w.files_digest_match) return "in sync";
  if (w.files_seq < w.master_files_seq) {
    return fmt::format("behind by {}", w.master_files_seq - w.files_seq);
  }
  return "differs";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

std::string When(double unix_seconds) {
  return unix_seconds <= 0 ? "-" : UtcTime(unix_seconds, "%Y/%m/%d %H:%M:%S");
}

// Every time in the JSON of -l, -a and -i: ISO 8601 in UTC, or null for "never".
nlohmann::json IsoTime(double unix_seconds) {
  if (unix_seconds <= 0) return nullptr;
  return UtcTime(unix_seconds, "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace

std::string RenderAgentsTable(const schemas::AgentList& list) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "NAME", "IP", "STATUS", "VERSION", "NODE", "GROUPS"}};
  for (const schemas::AgentRecord& a : list.agents) {
    rows.push_back({a.id, a.state.name, a.state.ip,
                    std::string(schemas::AgentStatusName(a.state.status)),
                    a.state.version.empty() ? "-" : a.state.version, a.node.empty() ? "-" : a.node,
                    Join(a.groups)});
  }
  return Table(rows);
}

std::string RenderAgentsJson(const schemas::AgentList& list) {
  nlohmann::json agents = nlohmann::json::array();
  for (const schemas::AgentRecord& a : list.agents) {
    const schemas::AgentOs& os = a.state.os;
    agents.push_back(
        {{"id", a.id},
         {"name", a.state.name},
         {"ip", a.state.ip},
         {"status", schemas::AgentStatusName(a.state.status)},
         {"version", a.state.version},
         {"node", a.node},
         {"groups", a.groups},
         {"os",
          {{"name", os.name},
           {"version", os.version},
           {"major", os.major},
           {"minor", os.minor},
           {"codename", os.codename},
           {"platform", os.platform},
           {"build", os.build},
           {"uname", os.uname},
           {"arch", os.arch}}},
         {"labels", a.state.labels},
         {"config_sum", a.state.config_sum},
         {"merged_sum", a.state.merged_sum},
         {"last_keepalive", IsoTime(static_cast<double>(a.state.last_keepalive))},
         {"disconnection_time", IsoTime(static_cast<double>(a.state.disconnection_time))}});
  }
  return nlohmann::json{{"agents", agents}}.dump() + "\n";
}

schemas::AgentList FilterAgents(schemas::AgentList list, const std::vector<std::string>& nodes,
                                const std::vector<std::string>& statuses) {
  auto keep = [&](const schemas::AgentRecord& a) {
    bool node_ok = nodes.empty() || std::find(nodes.begin(), nodes.end(), a.node) != nodes.end();
    std::string status(schemas::AgentStatusName(a.state.status));
    bool status_ok =
        statuses.empty() || std::find(statuses.begin(), statuses.end(), status) != statuses.end();
    return node_ok && status_ok;
  };
  std::erase_if(list.agents, [&](const schemas::AgentRecord& a) { return !keep(a); });
  return list;
}

std::string RenderHealthTable(const schemas::Health& health, bool more) {
  std::vector<std::vector<std::string>> rows;
  if (more) {
    rows.push_back({"NODE", "TYPE", "VERSION", "ADDRESS", "ACTIVE-AGENTS", "LAST-KEEPALIVE",
                    "AGENT-SYNC-START", "AGENT-SYNC-END", "AGENTS-SENT", "UNKNOWN", "PENDING",
                    "GROUPS", "FILES", "LAST-INTEGRITY-SYNC"});
  } else {
    rows.push_back({"NODE", "TYPE", "VERSION", "ADDRESS", "ACTIVE-AGENTS", "LAST-KEEPALIVE",
                    "AGENT-SYNC-END", "GROUPS", "FILES"});
  }
  rows.push_back(more
                     ? std::vector<std::string>{health.master_name, "master", health.master_version,
                                                health.master_address, "-", "-", "-", "-", "-", "-",
                                                "-", "-", "-", "-"}
                     : std::vector<std::string>{health.master_name, "master", health.master_version,
                                                health.master_address, "-", "-", "-", "-", "-"});
  for (const schemas::WorkerHealth& w : health.workers) {
    if (more) {
      rows.push_back({w.name, "worker", w.version.empty() ? "-" : w.version,
                      w.address.empty() ? "-" : w.address, std::to_string(w.active_agents),
                      When(w.last_keepalive), When(w.agent_sync_start), When(w.agent_sync_end),
                      std::to_string(w.agents_sent), std::to_string(w.agents_unknown),
                      std::to_string(w.agents_pending), GroupsState(w), FilesState(w),
                      w.integrity_end > 0
                          ? fmt::format("{} (+{} ~{} -{})", When(w.integrity_end), w.files_created,
                                        w.files_updated, w.files_deleted)
                          : "-"});
    } else {
      rows.push_back({w.name, "worker", w.version.empty() ? "-" : w.version,
                      w.address.empty() ? "-" : w.address, std::to_string(w.active_agents),
                      When(w.last_keepalive), When(w.agent_sync_end), GroupsState(w),
                      FilesState(w)});
    }
  }
  // Below the table, where an operator on call sees it: what is wrong, and where.
  std::string problems;
  for (const std::string& p : HealthProblems(health)) problems += p + "\n";
  return Table(rows) + problems;
}

std::vector<std::string> HealthProblems(const schemas::Health& health) {
  std::vector<std::string> problems;
  for (const std::string& name : health.lost) {
    problems.push_back("Lost: " + name + " is not connected to the master");
  }
  if (!health.master_store_error.empty()) {
    problems.push_back("Disk problem on the master: " + health.master_store_error);
  }
  for (const schemas::WorkerHealth& w : health.workers) {
    if (!w.store_error.empty())
      problems.push_back("Disk problem on " + w.name + ": " + w.store_error);
    if (GroupsState(w) != "in sync") {
      problems.push_back("Out of sync: " + w.name + "'s groups are " + GroupsState(w));
    }
    if (FilesState(w) != "in sync") {
      problems.push_back("Out of sync: " + w.name + "'s files are " + FilesState(w));
    }
  }
  return problems;
}

schemas::Health FilterHealth(schemas::Health health, const std::vector<std::string>& nodes) {
  if (nodes.empty()) return health;
  auto wanted = [&](const std::string& name) {
    return std::find(nodes.begin(), nodes.end(), name) != nodes.end();
  };
  std::erase_if(health.workers, [&](const schemas::WorkerHealth& w) { return !wanted(w.name); });
  std::erase_if(health.lost, [&](const std::string& name) { return !wanted(name); });
  return health;
}

schemas::NodeList FilterNodes(schemas::NodeList list, const std::vector<std::string>& nodes) {
  if (nodes.empty()) return list;
  std::erase_if(list.nodes, [&](const schemas::NodeInfo& n) {
    return std::find(nodes.begin(), nodes.end(), n.name) == nodes.end();
  });
  return list;
}

std::string RenderGroupTable(const schemas::GroupTable& table) {
  std::vector<std::vector<std::string>> rows{{"AGENT", "GROUPS"}};
  for (const auto& [agent, groups] : table.groups) rows.push_back({agent, Join(groups)});
  return fmt::format("seq {}\n", table.seq) + Table(rows);
}

std::string RenderGroupTableJson(const schemas::GroupTable& table) {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [agent, list] : table.groups) groups[agent] = list;
  return nlohmann::json{{"seq", table.seq}, {"groups", groups}}.dump() + "\n";
}

std::string RenderFileTable(const schemas::FileTable& table) {
  std::vector<std::vector<std::string>> rows{{"PATH", "SIZE", "MODE", "HASH"}};
  for (const schemas::FileEntry& f : table.files) {
    rows.push_back({f.path, std::to_string(f.size), fmt::format("{:04o}", f.mode), f.hash});
  }
  return fmt::format("seq {}\n", table.seq) + Table(rows);
}

std::string RenderFileTableJson(const schemas::FileTable& table) {
  nlohmann::json files = nlohmann::json::array();
  for (const schemas::FileEntry& f : table.files) {
    files.push_back({{"path", f.path}, {"hash", f.hash}, {"size", f.size}, {"mode", f.mode}});
  }
  return nlohmann::json{{"seq", table.seq}, {"files", files}}.dump() + "\n";
}

std::string RenderStatus(const schemas::NodeStatus& s) {
  return fmt::format(
      "node: {} ({})\ngroups stream: {}\nfiles stream: {} ({})\n"
      "agent records: {} {}\n",
      s.name, s.type, s.groups_seq, s.files_seq,
      s.type == "master"
          ? (s.files_synced ? "first scan done" : "first scan running")
          : (s.files_synced ? "in sync" : fmt::format("{} files to fetch", s.files_pending)),
      s.agents_stored,
      s.type == "master" ? "persisted since start"
                         : fmt::format("reports accepted since start, {} not yet "
                                       "acknowledged by the master",
                                       s.agents_pending));
}

std::string RenderStatusJson(const schemas::NodeStatus& s) {
  return nlohmann::json{{"name", s.name},
                        {"type", s.type},
                        {"groups_seq", s.groups_seq},
                        {"files_seq", s.files_seq},
                        {"files_synced", s.files_synced},
                        {"files_pending", s.files_pending},
                        {"agents_stored", s.agents_stored},
                        {"agents_pending", s.agents_pending}}
             .dump() +
         "\n";
}

std::string RenderGroupList(const schemas::GroupTable& table, const std::string& group, bool json) {
  std::map<std::string, std::vector<std::string>> members;
  for (const std::string& g : table.defined) members[g];
  for (const auto& [agent, groups] : table.groups) {
    for (const std::string& g : groups) members[g].push_back(agent);
  }
  if (!group.empty()) {
    auto it = members.find(group);
    std::vector<std::string> agents = it == members.end() ? std::vector<std::string>{} : it->second;
    if (json) return nlohmann::json{{"groups", {{group, agents}}}}.dump() + "\n";
    std::string out;
    for (const std::string& a : agents) out += a + "\n";
    return out;
  }
  if (json) return nlohmann::json{{"groups", members}}.dump() + "\n";
  std::vector<std::vector<std::string>> rows{{"GROUP", "AGENTS"}};
  for (const auto& [g, agents] : members) rows.push_back({g, std::to_string(agents.size())});
  return Table(rows);
}

std::string RenderHealthJson(const schemas::Health& health) {
  nlohmann::json workers = nlohmann::json::array();
  for (const schemas::WorkerHealth& w : health.workers) {
    workers.push_back(
        {{"name", w.name},
         {"type", "worker"},
         {"version", w.version},
         {"address", w.address},
         {"active_agents", w.active_agents},
         {"last_keepalive", IsoTime(w.last_keepalive)},
         {"agent_info_sync",
          {{"start", IsoTime(w.agent_sync_start)},
           {"end", IsoTime(w.agent_sync_end)},
           {"agents_sent", w.agents_sent},
           {"agents_unknown", w.agents_unknown},
           {"pending", w.agents_pending}}},
         {"groups",
          {{"seq", w.groups_seq}, {"master_seq", w.master_groups_seq}, {"state", GroupsState(w)}}},
         {"files",
          {{"seq", w.files_seq},
           {"master_seq", w.master_files_seq},
           {"state", FilesState(w)},
           {"integrity_sync",
            {{"start", IsoTime(w.integrity_start)},
             {"end", IsoTime(w.integrity_end)},
             {"created", w.files_created},
             {"updated", w.files_updated},
             {"deleted", w.files_deleted}}}}},
         {"store_error", w.store_error}});
  }
  return nlohmann::json{{"master",
                         {{"name", health.master_name},
                          {"type", "master"},
                          {"version", health.master_version},
                          {"address", health.master_address},
                          {"store_error", health.master_store_error}}},
                        {"workers", workers},
                        {"lost", health.lost},
                        {"problems", HealthProblems(health)}}
             .dump() +
         "\n";
}

std::string RenderNodesTable(const schemas::NodeList& unsorted) {
  schemas::NodeList list = MasterFirst(unsorted);
  std::vector<std::vector<std::string>> rows{
      {"NAME", "TYPE", "VERSION", "ADDRESS", "LAST-KEEPALIVE (UTC)"}};
  for (const schemas::NodeInfo& n : list.nodes) {
    rows.push_back(
        {n.name, n.type, n.version, n.address, UtcTime(n.last_keepalive, "%Y/%m/%d %H:%M:%S")});
  }
  return Table(rows);
}

std::string RenderNodesJson(const schemas::NodeList& unsorted) {
  schemas::NodeList list = MasterFirst(unsorted);
  nlohmann::json nodes = nlohmann::json::array();
  for (const schemas::NodeInfo& n : list.nodes) {
    nodes.push_back({{"name", n.name},
                     {"type", n.type},
                     {"version", n.version},
                     {"address", n.address},
                     {"last_keepalive", UtcTime(n.last_keepalive, "%Y-%m-%dT%H:%M:%SZ")}});
  }
  return nlohmann::json{{"nodes", nodes}}.dump() + "\n";
}

}  // namespace zcluster::nodes
