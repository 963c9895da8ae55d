// Connection events of one socket (libzmq's socket monitor), as values the caller can act on:
// a worker says hello the moment its CURVE handshake succeeds instead of waiting for a retry
// timer, and learns that the master refused its key instead of hearing nothing.
#pragma once

#include <string>
#include <vector>

#include <zmq.hpp>

#include "zcluster/schemas/status.h"

namespace zcluster::bus {

enum class SocketEventKind {
  kHandshakeSucceeded,  // the connection is usable: CURVE done, ZAP said yes
  kDisconnected,        // the connection closed (the socket will reconnect by itself)
  kAuthRefused,         // the server's ZAP handler refused our key
  kHandshakeFailed,     // any other handshake failure (wrong server key, protocol error)
  kAccepted,            // a listening socket accepted a TCP connection
  kRetried,             // a connecting socket will try again after its reconnect interval
};

struct SocketEvent {
  SocketEventKind kind;
  std::string endpoint;
  int value = 0;  // libzmq's event value: for kAuthRefused, the ZAP status code (400)
};

// Watches one socket. Owned by the thread that owns that socket; must be destroyed before it.
class SocketEvents {
 public:
  static Result<SocketEvents> Watch(zmq::context_t& ctx, zmq::socket_t& socket);
  SocketEvents(SocketEvents&&) = default;
  SocketEvents& operator=(SocketEvents&&) = default;
  ~SocketEvents();

  // Every event queued so far, without blocking.
  std::vector<SocketEvent> Drain();
  zmq::socket_t& socket() { return pair_; }

 private:
  SocketEvents(zmq::socket_t* watched, zmq::socket_t pair)
      : watched_(watched), pair_(std::move(pair)) {}
  zmq::socket_t* watched_;
  zmq::socket_t pair_;
};

}  // namespace zcluster::bus
