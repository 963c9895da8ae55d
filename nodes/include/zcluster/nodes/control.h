// The node's local control socket, ipc://<home>/queue/cluster/control.sock (mode 0660, like
// Wazuh's c-internal.sock), and the client zcluster-control uses to reach it. Requests and replies
// are ordinary schemas/ messages; access control is the socket file's mode.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

// Answers control requests. Owned by the node's loop thread.
class ControlServer {
 public:
  // Answers one decoded request; nullopt when this node does not serve that request.
  using Handler = std::function<std::optional<schemas::Message>(const schemas::Message& request)>;

  static Result<ControlServer> Bind(zmq::context_t& ctx, const std::string& path);
  // Answers every queued request without blocking.
  void ServePending(const Handler& handle, const Logger& log);
  zmq::socket_t& socket() { return router_.socket(); }

 private:
  explicit ControlServer(bus::RouterSocket router) : router_(std::move(router)) {}
  bus::RouterSocket router_;
};

// Sends one request to the node whose control socket is `path` and waits up to `timeout` for the
// reply. Unavailable when no node answers (not running, or not this home).
Result<schemas::Message> ControlRequest(const std::string& path, const schemas::Message& request,
                                        std::chrono::milliseconds timeout);

}  // namespace zcluster::nodes
