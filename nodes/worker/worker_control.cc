// The worker's answers to control requests (zcluster-control on a worker).
#include "worker/worker_impl.h"

namespace zcluster::nodes {

ControlAnswer Worker::Impl::Control(const schemas::Message& request, const std::string& client) {
  if (std::holds_alternative<schemas::NodesQuery>(request)) return Nodes();
  if (std::holds_alternative<schemas::GroupTableQuery>(request)) return groups->Table();
  if (std::holds_alternative<schemas::FileTableQuery>(request)) {
    integrity->FileTable(client);  // the actor owns the files flow; it answers
    return ControlAnswer::Later();
  }
  if (std::holds_alternative<schemas::StatusQuery>(request)) {
    return schemas::NodeStatus{config.node_name,
                               "worker",
                               groups->applied(),
                               integrity->state().applied,
                               integrity->state().synced && integrity->state().downloading == 0,
                               integrity->state().downloading,
                               agent_port->counters().accepted,
                               agents->pending()};
  }
  return std::nullopt;
}

schemas::NodeList Worker::Impl::Nodes() const {
  schemas::NodeList list;
  if (link.state() == MasterLink::State::kConnected) {
    list.nodes.push_back(
        {link.master_name(), "master", schemas::SoftwareVersion(link.master_software()),
         config.nodes.front() + ":" + std::to_string(config.port), link.last_heard_unix()});
  }
  double now = UnixNow();
  list.nodes.push_back({config.node_name, "worker", ZCLUSTER_VERSION, "local", now});
  return list;
}

}  // namespace zcluster::nodes
