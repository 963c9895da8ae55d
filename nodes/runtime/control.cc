#include "zcluster/nodes/control.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "monitor/traffic_meter.h"
#include "zcluster/bus/socket_events.h"

namespace zcluster::nodes {
namespace {

// A connection event that ends a request: the node refused our key, or the handshake failed.
Status HandshakeProblem(const bus::SocketEvent& e, const std::string& where) {
  if (e.kind == bus::SocketEventKind::kAuthRefused) {
    return Status::PermissionDenied("'" + where + "' refused this key (not one of its admins)");
  }
  if (e.kind == bus::SocketEventKind::kHandshakeFailed) {
    return Status::Unavailable("the CURVE handshake with '" + where +
                               "' failed: is the server key that node's public key?");
  }
  return Status::Ok();
}

using Deadline = std::chrono::steady_clock::time_point;

// What is left until `deadline`: zero or less once it has passed.
std::chrono::milliseconds Left(Deadline deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now());
}

// Waits until `deadline` (`timeout` after the request) for the reply to the request already
// sent on `dealer`. `events` (when given) watches the dealer's connection, to tell a refused key
// from a silent node.
Result<schemas::Message> AwaitReply(bus::DealerSocket& dealer, bus::SocketEvents* events,
                                    const std::string& where, Deadline deadline,
                                    std::chrono::milliseconds timeout) {
  std::vector<bus::PollItem> items{{&dealer.socket(), -1, false}};
  if (events != nullptr) items.push_back({&events->socket(), -1, false});
  for (;;) {
    std::chrono::milliseconds left = Left(deadline);
    if (left.count() <= 0) {
      return Status::Unavailable("no reply from '" + where + "' within " +
                                 std::to_string(timeout.count()) + " ms");
    }
    ZC_RETURN_IF_ERROR(bus::Poll(items, left));
    if (events != nullptr && items[1].readable) {
      for (const bus::SocketEvent& e : events->Drain()) {
        ZC_RETURN_IF_ERROR(HandshakeProblem(e, where));
      }
    }
    if (!items[0].readable) continue;
    Result<std::optional<bus::Frames>> frames = dealer.Receive();
    if (!frames.ok()) return frames.status();
    if (!frames->has_value()) continue;
    Result<schemas::Message> reply = schemas::Decode(**frames);
    if (!reply.ok()) {
      return Status(reply.status().code(), "'" + where +
                                               "' answered in a form this tool cannot read "
                                               "(another protocol version?): " +
                                               reply.status().message());
    }
    return reply;
  }
}

}  // namespace

bool SomethingListens(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return true;  // let libzmq report it
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  bool refused = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
                 (errno == ECONNREFUSED || errno == ENOENT);
  ::close(fd);
  return !refused;
}

Result<ControlServer> ControlServer::Bind(zmq::context_t& ctx, const std::string& path) {
  Result<bus::RouterSocket> router = bus::RouterSocket::BindLocal(ctx, path);
  if (!router.ok()) return router.status();
  return ControlServer(std::move(router).value(), path);
}

Result<ControlServer> ControlServer::BindCurve(
    zmq::context_t& ctx, const bus::ZapAuthenticator& zap, const bus::CurveKeyPair& own,
    const std::string& endpoint, const bus::SocketOptions& options, const char* zap_domain) {
  Result<bus::RouterSocket> router =
      bus::RouterSocket::BindCurve(ctx, zap, own, endpoint, options, zap_domain);
  if (!router.ok()) return router.status();
  return ControlServer(std::move(router).value(), "");
}

ControlServer::ControlServer(ControlServer&& other) noexcept
    : router_(std::move(other.router_)),
      path_(std::exchange(other.path_, {})),
      meter_(other.meter_),
      peer_(std::move(other.peer_)) {}

ControlServer::~ControlServer() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

void ControlServer::ServePending(const Handler& handle, const Logger& log, const Gate& gate) {
  for (int budget = 100; budget > 0; --budget) {
    Result<std::optional<bus::Envelope>> got = router_.Receive();
    if (!got.ok()) {
      log.Warning("Main", "Control socket: {}", got.status().ToString());
      return;
    }
    if (!got->has_value()) return;
    const bus::Envelope& env = **got;
    if (meter_ != nullptr) meter_->In(peer_, env.frames);
    schemas::Message reply = schemas::ErrorReply{Code::kInvalidArgument, "", ""};
    Result<schemas::Message> request = schemas::Decode(env.frames);
    std::optional<schemas::ErrorReply> refused;
    if (!request.ok()) {
      reply = schemas::ErrorReply{Code::kInvalidArgument, request.status().message(), ""};
    } else if (gate && (refused = gate(*request, env))) {
      reply = std::move(*refused);
    } else if (ControlAnswer answer = handle(*request, env.routing_id); answer.later()) {
      continue;
    } else if (answer.now()) {
      reply = std::move(*answer.now());
    } else {
      reply =
          schemas::ErrorReply{Code::kInvalidArgument,
                              "this node does not serve " + std::string(schemas::TypeOf(*request)),
                              std::string(schemas::TypeOf(*request))};
    }
    Send(env.routing_id, schemas::Encode(reply));
  }
}

void ControlServer::Reply(const std::string& client, bus::Frames reply) {
  Send(client, std::move(reply));
}

void ControlServer::Send(const std::string& client, bus::Frames reply) {
  if (meter_ != nullptr) meter_->Out(peer_, reply);
  // A client that gave up before the reply is not an error worth a line.
  router_.Send(client, std::move(reply)).IgnoreError();
}

Result<schemas::Message> ControlRequest(const std::string& path, const schemas::Message& request,
                                        std::chrono::milliseconds timeout) {
  if (::access(path.c_str(), F_OK) != 0) {
    return Status::Unavailable("no socket at '" + path + "': is zclusterd running?");
  }
  // A file left by a node that was killed: libzmq would retry it in silence until the timeout.
  if (!SomethingListens(path)) {
    return Status::Unavailable("nothing listens at '" + path + "': is zclusterd running?");
  }
  zmq::context_t ctx(1);
  Result<bus::DealerSocket> dealer = bus::DealerSocket::ConnectLocal(ctx, path);
  if (!dealer.ok()) return dealer.status();
  ZC_RETURN_IF_ERROR(dealer->Send(schemas::Encode(request)));
  return AwaitReply(*dealer, nullptr, path, std::chrono::steady_clock::now() + timeout, timeout);
}

Result<schemas::Message> RemoteControlRequest(const std::string& endpoint,
                                              const std::string& server_public_z85,
                                              const bus::CurveKeyPair& own,
                                              const schemas::Message& request,
                                              std::chrono::milliseconds timeout) {
  zmq::context_t ctx(1);
  bus::SocketOptions options;
  options.max_message_bytes = 64ll << 20;  // a cluster's view of a thousand workers is large
  Result<bus::DealerSocket> dealer =
      bus::DealerSocket::CreateCurve(ctx, own, server_public_z85, "", options);
  if (!dealer.ok()) return dealer.status();
  // Watched before it connects, so that not even the first refusal can go unseen.
  Result<bus::SocketEvents> events = bus::SocketEvents::Watch(ctx, dealer->socket());
  if (!events.ok()) return events.status();
  ZC_RETURN_IF_ERROR(dealer->Connect(endpoint));
  // The dealer queues nothing before its handshake (ZMQ_IMMEDIATE): wait for it, so that a
  // refused key is told as such rather than as silence.
  Deadline deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<bus::PollItem> items{{&events->socket(), -1, false}};
  for (bool ready = false; !ready;) {
    std::chrono::milliseconds left = Left(deadline);
    if (left.count() <= 0) {
      return Status::Unavailable("no CURVE handshake with '" + endpoint + "' within " +
                                 std::to_string(timeout.count()) + " ms: is a node listening?");
    }
    ZC_RETURN_IF_ERROR(bus::Poll(items, left));
    if (!items[0].readable) continue;
    for (const bus::SocketEvent& e : events->Drain()) {
      ZC_RETURN_IF_ERROR(HandshakeProblem(e, endpoint));
      // Before the handshake, a retry means the TCP connection was refused, and a disconnection
      // that the server could not decrypt our hello (a CURVE server drops it without a word).
      if (!ready && e.kind == bus::SocketEventKind::kRetried) {
        return Status::Unavailable("nothing accepts connections at '" + endpoint +
                                   "': is the node running, with <monitor><bind>?");
      }
      if (!ready && e.kind == bus::SocketEventKind::kDisconnected) {
        return Status::Unavailable("'" + endpoint +
                                   "' closed the connection during the CURVE handshake: is the "
                                   "server key that node's public key?");
      }
      ready = ready || e.kind == bus::SocketEventKind::kHandshakeSucceeded;
    }
  }
  ZC_RETURN_IF_ERROR(dealer->Send(schemas::Encode(request)));
  return AwaitReply(*dealer, &*events, endpoint, deadline, timeout);
}

}  // namespace zcluster::nodes
