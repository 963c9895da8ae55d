// zcluster-control: the admin CLI, like Wazuh's cluster_control. Talks to the local node through
// its control socket (<home>/queue/cluster/control.sock, found from the config).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/control_render.h"

using namespace zcluster;

namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "zcluster-control: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zcluster-control: inspect and command a zcluster node"};
  std::string config_path = "/var/ossec/etc/ossec.conf";
  bool list_nodes = false, json = false;
  int timeout_ms = 5000;
  app.add_option("-c,--config", config_path, "the node's ossec.conf")->capture_default_str();
  app.add_flag("-l,--list", list_nodes, "list the connected nodes");
  app.add_flag("--json", json, "print JSON instead of a table");
  app.add_option("--timeout", timeout_ms, "milliseconds to wait for the node")
      ->check(CLI::Range(1, 600000))->capture_default_str();
  app.require_option(1, 0);
  CLI11_PARSE(app, argc, argv);
  if (!list_nodes) return Fail(Status::InvalidArgument("nothing to do: give -l"));

  Result<nodes::ClusterConfig> config = nodes::LoadClusterConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  Result<schemas::Message> reply = nodes::ControlRequest(
      config->control_path(), schemas::NodesQuery{}, std::chrono::milliseconds(timeout_ms));
  if (!reply.ok()) return Fail(reply.status());
  if (const auto* e = std::get_if<schemas::ErrorReply>(&*reply)) {
    return Fail(Status(e->code, e->message));
  }
  const auto* list = std::get_if<schemas::NodeList>(&*reply);
  if (list == nullptr) return Fail(Status::Internal("unexpected reply to nodes_query"));
  std::fputs((json ? nodes::RenderNodesJson(*list) : nodes::RenderNodesTable(*list)).c_str(),
             stdout);
  return 0;
}
