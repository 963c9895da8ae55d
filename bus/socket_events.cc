#include "zcluster/bus/socket_events.h"

#include <atomic>
#include <cstring>

namespace zcluster::bus {

Result<SocketEvents> SocketEvents::Watch(zmq::context_t& ctx, zmq::socket_t& socket) {
  static std::atomic<unsigned> counter{0};
  std::string endpoint = "inproc://zcluster-events-" + std::to_string(counter.fetch_add(1));
  constexpr int kEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_ACCEPTED |
                          ZMQ_EVENT_CONNECT_RETRIED;
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), kEvents) != 0) {
    return Status::Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
  }
  try {
    zmq::socket_t pair(ctx, zmq::socket_type::pair);
    pair.set(zmq::sockopt::linger, 0);
    pair.connect(endpoint);
    return SocketEvents(&socket, std::move(pair));
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("socket monitor: ") + e.what());
  }
}

SocketEvents::~SocketEvents() {
  // Moved-from objects have no pair socket and watch nothing.
  if (pair_.handle() != nullptr && watched_ != nullptr && watched_->handle() != nullptr) {
    zmq_socket_monitor(watched_->handle(), nullptr, 0);
  }
}

std::vector<SocketEvent> SocketEvents::Drain() {
  std::vector<SocketEvent> events;
  for (;;) {
    zmq::message_t head, address;
    try {
      if (!pair_.recv(head, zmq::recv_flags::dontwait)) break;
      if (!head.more() || !pair_.recv(address, zmq::recv_flags::none)) break;
    } catch (const zmq::error_t&) {
      break;
    }
    if (head.size() < 6) continue;
    std::uint16_t id = 0;
    std::int32_t value = 0;
    std::memcpy(&id, head.data(), 2);
    std::memcpy(&value, static_cast<const char*>(head.data()) + 2, 4);
    SocketEvent e{SocketEventKind::kHandshakeFailed, address.to_string(), value};
    switch (id) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        e.kind = SocketEventKind::kHandshakeSucceeded;
        break;
      case ZMQ_EVENT_DISCONNECTED:
        e.kind = SocketEventKind::kDisconnected;
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        e.kind = SocketEventKind::kAuthRefused;
        break;
      case ZMQ_EVENT_ACCEPTED:
        e.kind = SocketEventKind::kAccepted;
        break;
      case ZMQ_EVENT_CONNECT_RETRIED:
        e.kind = SocketEventKind::kRetried;
        break;
      default:
        break;
    }
    events.push_back(std::move(e));
  }
  return events;
}

}  // namespace zcluster::bus
