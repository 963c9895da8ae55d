// The sockets of a node, each configured on purpose (every option is explained where it is set,
// in sockets.cc). bus/ moves frames and knows peers and keys; it never decodes a message type.
//
// Threading: a socket belongs to the thread that uses it (ZeroMQ sockets are not thread-safe).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/zap_authenticator.h"
#include "zcluster/schemas/status.h"

namespace zcluster::bus {

using Frames = std::vector<std::string>;

// Tunables shared by every TCP socket.
struct SocketOptions {
  // Largest frame accepted; a larger one closes the connection (ZMQ_MAXMSGSIZE). Default 64 MiB.
  std::int64_t max_message_bytes = 64ll << 20;
  // TCP keepalive: probes after this long without traffic, this far apart, and how many
  // unanswered before the kernel closes the connection, so that a half-open one (peer powered
  // off, cable pulled) is noticed. Default 10 s, 2 s, 5: about 20 s. Not ZMTP heartbeats: libzmq
  // 4.3 aborts when a heartbeat times out on a connection whose input is stopped by a full
  // receive queue (zeromq/libzmq#3937, #4364), which a busy node's is by design; the kernel
  // answers probes whatever the process is doing. A live peer that stopped talking is the
  // application's keepalive to notice.
  std::chrono::seconds keepalive_idle{10};
  std::chrono::seconds keepalive_interval{2};
  int keepalive_probes = 5;
  // Clients reconnect after this, doubling up to the maximum; libzmq adds a random part of the
  // base interval to each wait so that workers restarted together do not reconnect in lockstep.
  // Default 250 ms up to 5 s.
  std::chrono::milliseconds reconnect_interval{250};
  std::chrono::milliseconds reconnect_interval_max{5000};
  // A connection whose ZMTP/CURVE handshake has not completed after this is closed, so that idle
  // TCP connections from strangers give their descriptors back (ZMQ_HANDSHAKE_IVL; libzmq's
  // default is 30 s). Default 10 s, ample for a thousand workers reconnecting at once.
  std::chrono::milliseconds handshake_timeout{10000};
  // Pending connections the kernel queues for a listening socket (ZMQ_BACKLOG). Default 1024, so
  // a thousand workers restarting at once are not refused.
  int backlog = 1024;
};

// One message as a server socket received it.
struct Envelope {
  std::string routing_id;  // chosen by libzmq or the peer: an address for replies, not an identity
  std::string user_id;     // from the ZAP handler: the only identity to trust ("" on ipc)
  std::string peer_address;      // the peer's IP as libzmq saw it
  Frames frames;                 // the payload frames, routing id removed
  bool too_many_frames = false;  // more than kMaxFrames arrived; only the first were kept
};

inline constexpr std::size_t kMaxFrames = 16;

// A ROUTER that binds. Made with CURVE (TCP, needs the running ZAP handler) or on a local ipc
// path (the control socket; access is the file's mode).
class RouterSocket {
 public:
  // `zap_domain` picks the ZAP policy: ZapAuthenticator::kDomain (listed keys only) unless said.
  static Result<RouterSocket> BindCurve(zmq::context_t& ctx, const ZapAuthenticator& zap,
                                        const CurveKeyPair& server, const std::string& endpoint,
                                        const SocketOptions& options,
                                        const char* zap_domain = ZapAuthenticator::kDomain);
  static Result<RouterSocket> BindLocal(zmq::context_t& ctx, const std::string& ipc_path);

  // Next queued message without blocking; nullopt when none is queued.
  Result<std::optional<Envelope>> Receive();
  // Unavailable when the peer is not (or no longer) connected: ROUTER_MANDATORY reports it
  // instead of dropping the message silently.
  Status Send(const std::string& routing_id, const Frames& frames);
  Status Send(const std::string& routing_id, Frames&& frames);  // large frames not copied
  // The bound endpoint with the real port (for binds to port 0 or '*').
  std::string endpoint() const;
  zmq::socket_t& socket() { return socket_; }

 private:
  explicit RouterSocket(zmq::socket_t s) : socket_(std::move(s)) {}
  zmq::socket_t socket_;
};

// A DEALER that connects: to a master over CURVE, or to a local control socket.
class DealerSocket {
 public:
  // `routing_id` names this connection to the server (ROUTER_HANDOVER lets a reconnect with the
  // same id take over a half-open old connection); empty, libzmq picks one.
  static Result<DealerSocket> ConnectCurve(zmq::context_t& ctx, const CurveKeyPair& client,
                                           const std::string& server_public_z85,
                                           const std::string& endpoint,
                                           const std::string& routing_id,
                                           const SocketOptions& options);
  // The same, configured but not connected yet: a caller that watches its connection events
  // (SocketEvents) starts watching before Connect, so that no event can come before the watch.
  static Result<DealerSocket> CreateCurve(zmq::context_t& ctx, const CurveKeyPair& client,
                                          const std::string& server_public_z85,
                                          const std::string& routing_id,
                                          const SocketOptions& options);
  Status Connect(const std::string& endpoint);
  static Result<DealerSocket> ConnectLocal(zmq::context_t& ctx, const std::string& ipc_path);

  // Unavailable when the message cannot be queued now (no connection yet, queue full).
  Status Send(const Frames& frames);
  Status Send(Frames&& frames);  // large frames not copied
  Result<std::optional<Frames>> Receive();
  zmq::socket_t& socket() { return socket_; }

 private:
  explicit DealerSocket(zmq::socket_t s) : socket_(std::move(s)) {}
  zmq::socket_t socket_;
};

// A PUB that binds with CURVE (cluster ZAP domain: only listed keys may subscribe) and stores
// only subscriptions to its `topics`: libzmq would keep whatever prefixes a peer sends, a
// gigabyte of them if asked, so the socket is an XPUB in manual mode and the owner applies the
// listed ones (ServeSubscriptions, whenever socket() is readable) and drops the rest unstored.
// A send never blocks: past the high-water mark a subscriber's copy is dropped, which the
// sequence numbers of the streams turn into a resync.
class PublisherSocket {
 public:
  static Result<PublisherSocket> BindCurve(zmq::context_t& ctx, const ZapAuthenticator& zap,
                                           const CurveKeyPair& server, const std::string& endpoint,
                                           const SocketOptions& options, int send_hwm,
                                           std::vector<std::string> topics);
  Status Send(const Frames& frames);
  Status Send(Frames&& frames);  // large frames not copied
  // Applies the queued (un)subscriptions to listed topics, without blocking; returns how many
  // other ones were dropped.
  std::size_t ServeSubscriptions();
  std::string endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }
  zmq::socket_t& socket() { return socket_; }

 private:
  PublisherSocket(zmq::socket_t s, std::vector<std::string> topics)
      : socket_(std::move(s)), topics_(std::move(topics)) {}
  zmq::socket_t socket_;
  std::vector<std::string> topics_;
};

// An XPUB on a local ipc path (mode 0660) that knows whether anyone listens: the taps of a
// node's traffic, which cost nothing while nobody subscribes. A send never blocks; past the
// high-water mark a slow listener's copies are dropped.
class TapSocket {
 public:
  static Result<TapSocket> BindLocal(zmq::context_t& ctx, const std::string& ipc_path);
  TapSocket(TapSocket&& other) noexcept
      : socket_(std::move(other.socket_)),
        path_(std::exchange(other.path_, {})),
        listeners_(other.listeners_) {}
  TapSocket& operator=(TapSocket&&) = delete;
  ~TapSocket();  // removes the socket file
  Status Send(Frames&& frames);
  // Reads the queued (un)subscriptions; true while at least one listener is subscribed.
  bool UpdateListening();
  bool listening() const { return listeners_ > 0; }
  zmq::socket_t& socket() { return socket_; }

 private:
  TapSocket(zmq::socket_t s, std::string path) : socket_(std::move(s)), path_(std::move(path)) {}
  zmq::socket_t socket_;
  std::string path_;  // empty once moved from
  int listeners_ = 0;
};

// A SUB that connects with CURVE and subscribes to frames starting with any of `prefixes`.
class SubscriberSocket {
 public:
  // A SUB to a local TapSocket, subscribed to everything.
  static Result<SubscriberSocket> ConnectLocal(zmq::context_t& ctx, const std::string& ipc_path);
  static Result<SubscriberSocket> ConnectCurve(zmq::context_t& ctx, const CurveKeyPair& client,
                                               const std::string& server_public_z85,
                                               const std::string& endpoint,
                                               const SocketOptions& options, int receive_hwm,
                                               const std::vector<std::string>& prefixes);
  Result<std::optional<Frames>> Receive();
  zmq::socket_t& socket() { return socket_; }

 private:
  explicit SubscriberSocket(zmq::socket_t s) : socket_(std::move(s)) {}
  zmq::socket_t socket_;
};

// Waits until one of the sockets or file descriptors is readable, or `timeout` passes.
struct PollItem {
  zmq::socket_t* socket = nullptr;  // either a socket...
  int fd = -1;                      // ...or a plain file descriptor
  bool readable = false;            // set by Poll
};
Status Poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout);

}  // namespace zcluster::bus
