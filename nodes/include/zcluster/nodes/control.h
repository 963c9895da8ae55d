// The node's local control socket, ipc://<home>/queue/cluster/control.sock (mode 0660, like
// Wazuh's c-internal.sock), and the client zcluster-control uses to reach it. Requests and replies
// are ordinary schemas/ messages; access control is the socket file's mode.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>

#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

class TrafficMeter;

// What a handler does with a request: answers it now, answers it later through
// ControlServer::Reply (the work runs elsewhere or in slices), or does not serve it.
class ControlAnswer {
 public:
  // An answer now (any message), or (nullopt) "this node does not serve that request".
  template <typename M, typename = std::enable_if_t<std::is_constructible_v<schemas::Message, M&&>>>
  ControlAnswer(M&& now) : now_(schemas::Message(std::forward<M>(now))) {}
  ControlAnswer(std::optional<schemas::Message> now) : now_(std::move(now)) {}
  ControlAnswer(std::nullopt_t) {}
  static ControlAnswer Later() {
    ControlAnswer a{std::nullopt};
    a.later_ = true;
    return a;
  }
  bool later() const { return later_; }
  std::optional<schemas::Message>& now() { return now_; }

 private:
  std::optional<schemas::Message> now_;
  bool later_ = false;
};

// Answers control requests. Owned by the node's loop thread.
class ControlServer {
 public:
  // Answers one decoded request from `client` (the handle to Reply to when answering later).
  using Handler =
      std::function<ControlAnswer(const schemas::Message& request, const std::string& client)>;

  static Result<ControlServer> Bind(zmq::context_t& ctx, const std::string& path);
  // The same service on TCP with CURVE: only the keys `zap` lists for `zap_domain` get in.
  static Result<ControlServer> BindCurve(zmq::context_t& ctx, const bus::ZapAuthenticator& zap,
                                         const bus::CurveKeyPair& own, const std::string& endpoint,
                                         const bus::SocketOptions& options, const char* zap_domain);
  ControlServer(ControlServer&& other) noexcept;
  ControlServer& operator=(ControlServer&&) = delete;
  // Removes the socket file: a client then learns at once that the node is not running.
  ~ControlServer();
  // Answers every queued request without blocking.
  // Decides, before the handler sees it, whether this peer may make this request: an error
  // reply refuses it. For sockets whose peers differ in what they may do (the admin endpoint's
  // read and admin keys).
  using Gate = std::function<std::optional<schemas::ErrorReply>(const schemas::Message& request,
                                                                const bus::Envelope& peer)>;
  void ServePending(const Handler& handle, const Logger& log, const Gate& gate = nullptr);
  // The answer to a request its handler deferred. A client that gave up is not an error.
  void Reply(const std::string& client, bus::Frames reply);
  // Counts every request and reply as traffic with `peer` (nullptr: not counted).
  void CountTraffic(TrafficMeter* meter, std::string peer) {
    meter_ = meter;
    peer_ = std::move(peer);
  }
  zmq::socket_t& socket() { return router_.socket(); }
  // The bound endpoint (for TCP, with the real port).
  std::string endpoint() const { return router_.endpoint(); }

 private:
  ControlServer(bus::RouterSocket router, std::string path)
      : router_(std::move(router)), path_(std::move(path)) {}
  void Send(const std::string& client, bus::Frames reply);
  bus::RouterSocket router_;
  std::string path_;  // empty once moved from
  TrafficMeter* meter_ = nullptr;
  std::string peer_;
};

// Sends one request to the node whose control socket is `path` and waits up to `timeout` for the
// reply. Unavailable when no node answers (not running, or not this home); at once when nothing
// listens on the socket file.
Result<schemas::Message> ControlRequest(const std::string& path, const schemas::Message& request,
                                        std::chrono::milliseconds timeout);

// The same over TCP with CURVE, to a node's ControlServer::BindCurve at `endpoint` whose public
// key is `server_public_z85`, as `own`. PermissionDenied at once when the node refuses `own`;
// Unavailable when the handshake fails (not that node's key) or no reply comes within `timeout`.
Result<schemas::Message> RemoteControlRequest(const std::string& endpoint,
                                              const std::string& server_public_z85,
                                              const bus::CurveKeyPair& own,
                                              const schemas::Message& request,
                                              std::chrono::milliseconds timeout);

// Whether a process listens on the unix socket `path` (connect(2) is refused when none does).
bool SomethingListens(const std::string& path);

}  // namespace zcluster::nodes
