// The worker's answers to control requests (zcluster-control on a worker).
#include "worker/worker_impl.h"

namespace zcluster::nodes {

ControlAnswer Worker::Impl::Control(const schemas::Message& request, const std::string& client) {
  if (std::holds_alternative<schemas::NodesQuery>(request) ||
      std::holds_alternative<schemas::AgentsQuery>(request) ||
      std::holds_alternative<schemas::HealthQuery>(request)) {
    return Forward(request, client);
  }
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

ControlAnswer Worker::Impl::Forward(const schemas::Message& request, const std::string& client) {
  const std::string type(schemas::TypeOf(request));
  if (link.state() != MasterLink::State::kConnected) {
    // Without the master, -l still shows what this worker knows: itself.
    if (std::holds_alternative<schemas::NodesQuery>(request)) return Nodes();
    return schemas::ErrorReply{Code::kUnavailable,
                               "not connected to the master, which answers this on a worker", type};
  }
  std::deque<std::string>& waiting = forwarded[type];
  if (waiting.size() >= kMaxForwarded) {
    return schemas::ErrorReply{
        Code::kUnavailable,
        fmt::format("busy: {} such requests wait for the master", waiting.size()), type};
  }
  if (Status sent = SendToMaster(schemas::Encode(request)); !sent.ok()) {
    if (std::holds_alternative<schemas::NodesQuery>(request)) return Nodes();
    return schemas::ErrorReply{
        Code::kUnavailable,
        "not connected to the master, which answers this on a worker (" + sent.message() + ")",
        type};
  }
  waiting.push_back(client);
  return ControlAnswer::Later();
}

bool Worker::Impl::RelayForwarded(const schemas::Message& m) {
  std::string type;
  if (std::holds_alternative<schemas::NodeList>(m)) {
    type = std::string(schemas::TypeOf(schemas::NodesQuery{}));
  } else if (std::holds_alternative<schemas::Health>(m)) {
    type = std::string(schemas::TypeOf(schemas::HealthQuery{}));
  } else if (std::holds_alternative<schemas::AgentList>(m)) {
    type = std::string(schemas::TypeOf(schemas::AgentsQuery{}));
  } else if (const auto* e = std::get_if<schemas::ErrorReply>(&m)) {
    type = e->in_reply_to;
  }
  auto waiting = forwarded.find(type);
  if (waiting == forwarded.end() || waiting->second.empty()) return false;
  control->Reply(waiting->second.front(), schemas::Encode(m));
  waiting->second.pop_front();
  return true;
}

void Worker::Impl::FailForwarded(std::string_view why) {
  for (auto& [type, clients] : forwarded) {
    for (const std::string& client : clients) {
      control->Reply(
          client, schemas::Encode(schemas::ErrorReply{Code::kUnavailable, std::string(why), type}));
    }
  }
  forwarded.clear();
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
