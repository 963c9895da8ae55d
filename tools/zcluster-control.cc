// zcluster-control: the admin CLI, like Wazuh's cluster_control. Talks to the local node through
// its control socket (<home>/queue/cluster/control.sock, found from the config).
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "control_render.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/control.h"

using namespace zcluster;

namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "zcluster-control: %s\n", s.message().c_str());
  return 1;
}

// Wazuh's cluster_control spells its filters -fn and -fs (CLI11 takes one letter after a dash)
// and takes `-i more` for the detailed health view.
std::vector<std::string> WazuhSpellings(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-fn") args[i] = "--filter-node";
    if (args[i] == "-fs") args[i] = "--filter-agent-status";
    if ((args[i] == "-i" || args[i] == "--health") && i + 1 < args.size() &&
        args[i + 1] == "more") {
      args[i + 1] = "--more";
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11's parse(vector) takes them reversed
  return args;
}

// Wazuh's agent statuses, as -fs takes them (any case; "never connected" with a space or dash).
Result<std::vector<std::string>> AgentStatuses(std::vector<std::string> given) {
  for (std::string& s : given) {
    for (char& c : s) c = (c == ' ' || c == '-') ? '_' : static_cast<char>(std::tolower(c));
    if (s != "active" && s != "disconnected" && s != "never_connected" && s != "pending") {
      return Status::InvalidArgument("-fs: unknown agent status '" + s +
                                     "'; give active, disconnected, never_connected or pending");
    }
  }
  return given;
}

// The request over CURVE to a master's <admin><bind> endpoint, as the admin key PREFIX.
Result<schemas::Message> AskRemote(const std::string& host, const std::string& key_prefix,
                                   const std::string& server_key, const schemas::Message& request,
                                   int timeout_ms) {
  if (key_prefix.empty() || server_key.empty()) {
    return Status::InvalidArgument("--host needs --key PREFIX and --server-key FILE");
  }
  const bool has_port = host.find(':') != std::string::npos;
  const std::string endpoint = "tcp://" + host + (has_port ? "" : ":1519");
  Result<std::string> secret = bus::ReadSecretKeyFile(key_prefix + ".key");
  if (!secret.ok()) return secret.status();
  Result<std::string> own_public = bus::ReadPublicKeyFile(key_prefix + ".pub");
  if (!own_public.ok()) return own_public.status();
  Result<std::string> master_public = bus::ReadPublicKeyFile(server_key);
  if (!master_public.ok()) return master_public.status();
  return nodes::RemoteControlRequest(endpoint, *master_public, {*own_public, *secret}, request,
                                     std::chrono::milliseconds(timeout_ms));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zcluster-control: inspect and command a zcluster node"};
  std::string config_path = "/var/ossec/etc/ossec.conf", name, ip = "any", id, local, group;
  bool list_nodes = false, list_agents = false, health = false, json = false, replace = false;
  std::vector<std::string> nodes, statuses, groups;
  int timeout_ms = 10000;
  app.add_option("-c,--config", config_path, "the node's ossec.conf")->capture_default_str();
  bool more = false;
  app.add_flag("-l,--list,--list-nodes", list_nodes, "list the connected nodes");
  app.add_flag("-a,--agents,--list-agents", list_agents, "list the agents");
  app.add_option("--filter-node", nodes,
                 "with -l, -a or -i: only these nodes, or the agents of these nodes (also -fn)");
  app.add_option("--filter-agent-status,--filter-status", statuses,
                 "with -a: only agents in these statuses: active, disconnected, never_connected, "
                 "pending (also -fs)");
  app.add_flag("-i,--health", health,
               "every node's health; exits 2 when a worker is lost or out of sync or a disk "
               "fails (-i more: the last sync rounds too)");
  app.add_flag("--more", more, "with -i: the last sync rounds' details");
  bool status = false;
  app.add_flag("--status", status, "this node's stream positions and agent counters");
  app.add_flag("--json", json, "print JSON instead of a table");
  app.add_option("--local", local, "this node's own table: 'groups' or 'files'")
      ->check(CLI::IsMember({"groups", "files"}));
  std::string host, key_prefix, server_key;
  app.add_option("--host", host,
                 "a master's remote administration endpoint, HOST[:PORT] (port 1519 by default), "
                 "instead of the local node");
  app.add_option("--key", key_prefix, "with --host: this admin's key pair, PREFIX.key/PREFIX.pub");
  app.add_option("--server-key", server_key, "with --host: the master's public key file");
  app.add_option("--timeout", timeout_ms, "milliseconds to wait for the node")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  CLI::App* agent = app.add_subcommand("agent", "register or remove agents (master)");
  CLI::App* add = agent->add_subcommand("add", "register an agent in client.keys");
  add->add_option("NAME", name)->required();
  add->add_option("IP", ip)->capture_default_str();
  add->add_option("-g,--group", groups, "its first groups (default: 'default' when first seen)");
  CLI::App* remove = agent->add_subcommand("remove", "remove an agent from client.keys");
  remove->add_option("ID", id)->required();
  agent->require_subcommand(1);
  CLI::App* grp = app.add_subcommand("group", "agent groups (master)");
  CLI::App* assign = grp->add_subcommand("assign", "add groups to an agent, in order");
  assign->add_option("AGENT", id)->required();
  assign->add_option("GROUP", groups)->required();
  assign->add_flag("--replace", replace, "the agent's groups become exactly these");
  CLI::App* unassign = grp->add_subcommand("unassign", "take groups (all if none) from an agent");
  unassign->add_option("AGENT", id)->required();
  unassign->add_option("GROUP", groups);
  CLI::App* glist = grp->add_subcommand("list", "groups and their agents");
  glist->add_option("GROUP", group, "only this group's agents");
  grp->require_subcommand(1);
  try {
    app.parse(WazuhSpellings(argc, argv));
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  const int actions =
      list_nodes + list_agents + health + status + !local.empty() + agent->parsed() + grp->parsed();
  if (actions > 1) {
    return Fail(Status::InvalidArgument(
        "-l, -a, -i, --status, --local, agent and group cannot be combined: give one"));
  }
  if (!nodes.empty() && !list_nodes && !list_agents && !health) {
    return Fail(Status::InvalidArgument("-fn filters -l, -a or -i: give one of them"));
  }
  if (!statuses.empty() && !list_agents) {
    return Fail(Status::InvalidArgument("-fs filters agents: give it with -a"));
  }
  if (more && !health) return Fail(Status::InvalidArgument("'more' goes with -i"));
  Result<std::vector<std::string>> wanted_statuses = AgentStatuses(statuses);
  if (!wanted_statuses.ok()) return Fail(wanted_statuses.status());

  schemas::Message request;
  if (list_nodes)
    request = schemas::NodesQuery{};
  else if (list_agents)
    request = schemas::AgentsQuery{};
  else if (health)
    request = schemas::HealthQuery{};
  else if (status)
    request = schemas::StatusQuery{};
  else if (local == "files")
    request = schemas::FileTableQuery{};
  else if (!local.empty() || glist->parsed())
    request = schemas::GroupTableQuery{};
  else if (add->parsed())
    request = schemas::AgentAdd{name, ip, groups};
  else if (remove->parsed())
    request = schemas::AgentRemove{id};
  else if (assign->parsed())
    request = schemas::GroupAssign{{id}, groups, replace};
  else if (unassign->parsed())
    request = schemas::GroupUnassign{{id}, groups};
  else
    return Fail(Status::InvalidArgument(
        "nothing to do: give -l, -a, -i, --status, --local, agent or group"));

  Result<schemas::Message> reply = Status::Internal("no request made");
  if (!host.empty()) {
    Result<schemas::Message> remote = AskRemote(host, key_prefix, server_key, request, timeout_ms);
    if (!remote.ok()) return Fail(remote.status());
    reply = std::move(remote);
  } else {
    Result<nodes::ClusterConfig> config = nodes::LoadClusterConfig(config_path);
    if (!config.ok()) return Fail(config.status());
    reply = nodes::ControlRequest(config->control_path(), request,
                                  std::chrono::milliseconds(timeout_ms));
  }
  if (!reply.ok()) return Fail(reply.status());
  std::string out;
  int exit_code = 0;
  if (const auto* e = std::get_if<schemas::ErrorReply>(&*reply)) {
    return Fail(Status(e->code, e->message));
  } else if (const auto* list = std::get_if<schemas::NodeList>(&*reply)) {
    schemas::NodeList shown = nodes::FilterNodes(*list, nodes);
    out = json ? nodes::RenderNodesJson(shown) : nodes::RenderNodesTable(shown);
  } else if (const auto* agents = std::get_if<schemas::AgentList>(&*reply)) {
    schemas::AgentList shown = nodes::FilterAgents(*agents, nodes, *wanted_statuses);
    out = json ? nodes::RenderAgentsJson(shown) : nodes::RenderAgentsTable(shown);
  } else if (const auto* h = std::get_if<schemas::Health>(&*reply)) {
    schemas::Health shown = nodes::FilterHealth(*h, nodes);
    out = json ? nodes::RenderHealthJson(shown) : nodes::RenderHealthTable(shown, more);
    // A Nagios-style check reads the status: 2 when something needs a person.
    exit_code = nodes::HealthProblems(shown).empty() ? 0 : 2;
  } else if (const auto* table = std::get_if<schemas::GroupTable>(&*reply)) {
    out = glist->parsed() ? nodes::RenderGroupList(*table, group, json)
          : json          ? nodes::RenderGroupTableJson(*table)
                          : nodes::RenderGroupTable(*table);
  } else if (const auto* st = std::get_if<schemas::NodeStatus>(&*reply)) {
    out = json ? nodes::RenderStatusJson(*st) : nodes::RenderStatus(*st);
  } else if (const auto* ft = std::get_if<schemas::FileTable>(&*reply)) {
    out = json ? nodes::RenderFileTableJson(*ft) : nodes::RenderFileTable(*ft);
  } else if (const auto* changed = std::get_if<schemas::GroupsChanged>(&*reply)) {
    out = fmt::format("{} agents changed; groups stream at {}.\n", changed->changed, changed->seq);
  } else if (const auto* entry = std::get_if<schemas::AgentEntry>(&*reply)) {
    out = entry->key.empty()
              ? fmt::format("Agent {} '{}' removed.\n", entry->id, entry->name)
              : fmt::format("Agent {} '{}' added. Key: {}\n", entry->id, entry->name, entry->key);
  } else {
    return Fail(Status::Internal("unexpected reply"));
  }
  std::fputs(out.c_str(), stdout);
  return exit_code;
}
