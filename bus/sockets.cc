#include "zcluster/bus/sockets.h"

#include <algorithm>

#include "frames.h"

#include <sys/stat.h>

namespace zcluster::bus {
namespace {

std::string What(const zmq::error_t& e) { return e.what(); }

// Options every TCP socket gets, server or client.
void ApplyTcpOptions(zmq::socket_t& s, const SocketOptions& o) {
  // A frame larger than this closes the connection before it is buffered: memory stays bounded
  // whatever a peer sends.
  s.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
  // Half-open connections are closed by TCP keepalive (SocketOptions says why not ZMTP's).
  s.set(zmq::sockopt::tcp_keepalive, 1);
  s.set(zmq::sockopt::tcp_keepalive_idle, static_cast<int>(o.keepalive_idle.count()));
  s.set(zmq::sockopt::tcp_keepalive_intvl, static_cast<int>(o.keepalive_interval.count()));
  s.set(zmq::sockopt::tcp_keepalive_cnt, o.keepalive_probes);
  s.set(zmq::sockopt::handshake_ivl, static_cast<int>(o.handshake_timeout.count()));
  // Nothing we send matters after close: the protocol acknowledges what must arrive.
  s.set(zmq::sockopt::linger, 0);
}

// A message property, "" when absent (ipc peers have no User-Id).
std::string Property(zmq::message_t& msg, const char* name) {
  const char* value = zmq_msg_gets(msg.handle(), name);
  return value != nullptr ? value : "";
}

}  // namespace

Result<RouterSocket> RouterSocket::BindCurve(zmq::context_t& ctx, const ZapAuthenticator& zap,
                                             const CurveKeyPair& server,
                                             const std::string& endpoint,
                                             const SocketOptions& options, const char* zap_domain) {
  (void)zap;  // its existence is the point: the handler is bound before this socket is
  try {
    zmq::socket_t s(ctx, zmq::socket_type::router);
    ApplyTcpOptions(s, options);
    s.set(zmq::sockopt::curve_server, true);
    s.set(zmq::sockopt::curve_secretkey, server.secret_z85);
    // A domain makes libzmq consult the ZAP handler for every handshake.
    s.set(zmq::sockopt::zap_domain, zap_domain);
    // Report an unroutable reply (peer gone) as EHOSTUNREACH instead of dropping it silently.
    s.set(zmq::sockopt::router_mandatory, true);
    // A peer that reconnects with a routing id still held by its half-open old connection takes
    // the id over instead of being refused.
    s.set(zmq::sockopt::router_handover, true);
    s.set(zmq::sockopt::backlog, options.backlog);
    s.bind(endpoint);
    return RouterSocket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind " + endpoint + ": " + What(e));
  }
}

Result<RouterSocket> RouterSocket::BindLocal(zmq::context_t& ctx, const std::string& ipc_path) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::router);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::router_mandatory, true);
    s.set(zmq::sockopt::maxmsgsize, std::int64_t{1} << 20);
    // A stale socket file from a killed daemon would make bind fail; the database lock (store/)
    // already guarantees no live daemon owns this home.
    ::unlink(ipc_path.c_str());
    s.bind("ipc://" + ipc_path);
    // Like Wazuh's c-internal.sock: owner and group may command the node, nobody else.
    if (::chmod(ipc_path.c_str(), 0660) != 0) {
      return Status::PermissionDenied("cannot chmod 0660 '" + ipc_path + "'");
    }
    return RouterSocket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind ipc://" + ipc_path + ": " + What(e));
  }
}

Result<std::optional<Envelope>> RouterSocket::Receive() {
  try {
    zmq::message_t id;
    if (!socket_.recv(id, zmq::recv_flags::dontwait)) return std::optional<Envelope>();
    Envelope env;
    env.routing_id = id.to_string();
    if (!id.more()) return std::optional<Envelope>(std::move(env));
    zmq::message_t first;
    if (!socket_.recv(first, zmq::recv_flags::none)) return std::optional<Envelope>();
    // Metadata set by the ZAP handler travels on every frame the peer sent.
    env.user_id = Property(first, "User-Id");
    env.peer_address = Property(first, "Peer-Address");
    env.frames = TakeFrames(socket_, first, &env.too_many_frames);
    return std::optional<Envelope>(std::move(env));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("receive: " + What(e));
  }
}

Status RouterSocket::Send(const std::string& routing_id, const Frames& frames) {
  return SendFrames(socket_, &routing_id, frames);
}

Status RouterSocket::Send(const std::string& routing_id, Frames&& frames) {
  return SendFrames(socket_, &routing_id, std::move(frames));
}

std::string RouterSocket::endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }

Result<DealerSocket> DealerSocket::ConnectCurve(zmq::context_t& ctx, const CurveKeyPair& client,
                                                const std::string& server_public_z85,
                                                const std::string& endpoint,
                                                const std::string& routing_id,
                                                const SocketOptions& options) {
  Result<DealerSocket> d = CreateCurve(ctx, client, server_public_z85, routing_id, options);
  if (!d.ok()) return d.status();
  ZC_RETURN_IF_ERROR(d->Connect(endpoint));
  return d;
}

Result<DealerSocket> DealerSocket::CreateCurve(zmq::context_t& ctx, const CurveKeyPair& client,
                                               const std::string& server_public_z85,
                                               const std::string& routing_id,
                                               const SocketOptions& options) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    ApplyTcpOptions(s, options);
    s.set(zmq::sockopt::curve_serverkey, server_public_z85);
    s.set(zmq::sockopt::curve_publickey, client.public_z85);
    s.set(zmq::sockopt::curve_secretkey, client.secret_z85);
    if (!routing_id.empty()) s.set(zmq::sockopt::routing_id, routing_id);
    s.set(zmq::sockopt::reconnect_ivl, static_cast<int>(options.reconnect_interval.count()));
    s.set(zmq::sockopt::reconnect_ivl_max,
          static_cast<int>(options.reconnect_interval_max.count()));
    // Queue nothing for a connection whose handshake has not completed: a send then fails at
    // once and the caller decides (retry hello with backoff) instead of piling up stale messages.
    s.set(zmq::sockopt::immediate, true);
    return DealerSocket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot make a CURVE dealer: " + What(e));
  }
}

Status DealerSocket::Connect(const std::string& endpoint) {
  try {
    socket_.connect(endpoint);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect " + endpoint + ": " + What(e));
  }
}

Result<DealerSocket> DealerSocket::ConnectLocal(zmq::context_t& ctx, const std::string& ipc_path) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect("ipc://" + ipc_path);
    return DealerSocket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect ipc://" + ipc_path + ": " + What(e));
  }
}

Status DealerSocket::Send(const Frames& frames) { return SendFrames(socket_, nullptr, frames); }

Status DealerSocket::Send(Frames&& frames) {
  return SendFrames(socket_, nullptr, std::move(frames));
}

Result<std::optional<Frames>> DealerSocket::Receive() {
  try {
    zmq::message_t first;
    if (!socket_.recv(first, zmq::recv_flags::dontwait)) return std::optional<Frames>();
    bool too_many = false;
    Frames frames = TakeFrames(socket_, first, &too_many);
    if (too_many) return Status::InvalidArgument("reply has more than 16 frames");
    return std::optional<Frames>(std::move(frames));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("receive: " + What(e));
  }
}

Result<PublisherSocket> PublisherSocket::BindCurve(zmq::context_t& ctx, const ZapAuthenticator& zap,
                                                   const CurveKeyPair& server,
                                                   const std::string& endpoint,
                                                   const SocketOptions& options, int send_hwm,
                                                   std::vector<std::string> topics) {
  (void)zap;  // as for the ROUTER: its existence is the point
  try {
    zmq::socket_t s(ctx, zmq::socket_type::xpub);
    ApplyTcpOptions(s, options);
    s.set(zmq::sockopt::curve_server, true);
    s.set(zmq::sockopt::curve_secretkey, server.secret_z85);
    s.set(zmq::sockopt::zap_domain, ZapAuthenticator::kDomain);
    // Subscriptions reach ServeSubscriptions instead of the subscription table.
    s.set(zmq::sockopt::xpub_manual, true);
    // Messages queued per subscriber before PUB drops for it; a burst of batched deltas fits.
    s.set(zmq::sockopt::sndhwm, send_hwm);
    s.set(zmq::sockopt::backlog, options.backlog);
    s.bind(endpoint);
    return PublisherSocket(std::move(s), std::move(topics));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind " + endpoint + ": " + What(e));
  }
}

std::size_t PublisherSocket::ServeSubscriptions() {
  std::size_t dropped = 0;
  for (int budget = 1000; budget > 0; --budget) {
    zmq::message_t m;
    try {
      if (!socket_.recv(m, zmq::recv_flags::dontwait)) break;
    } catch (const zmq::error_t&) {
      break;
    }
    // Byte 0: 1 subscribe, 0 unsubscribe; the rest is the topic. In manual mode a call to
    // (un)subscribe applies to the peer whose message was read last.
    std::string_view body(static_cast<const char*>(m.data()), m.size());
    bool listed = !body.empty() && (body[0] == 0 || body[0] == 1) &&
                  std::find(topics_.begin(), topics_.end(), body.substr(1)) != topics_.end();
    if (!listed) {
      ++dropped;
      continue;
    }
    try {
      std::string topic(body.substr(1));
      if (body[0] == 1) {
        socket_.set(zmq::sockopt::subscribe, topic);
      } else {
        socket_.set(zmq::sockopt::unsubscribe, topic);
      }
    } catch (const zmq::error_t&) {
      ++dropped;  // the peer went away meanwhile
    }
  }
  return dropped;
}

Status PublisherSocket::Send(const Frames& frames) { return SendFrames(socket_, nullptr, frames); }

Status PublisherSocket::Send(Frames&& frames) {
  return SendFrames(socket_, nullptr, std::move(frames));
}

Result<SubscriberSocket> SubscriberSocket::ConnectCurve(
    zmq::context_t& ctx, const CurveKeyPair& client, const std::string& server_public_z85,
    const std::string& endpoint, const SocketOptions& options, int receive_hwm,
    const std::vector<std::string>& prefixes) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::sub);
    ApplyTcpOptions(s, options);
    s.set(zmq::sockopt::curve_serverkey, server_public_z85);
    s.set(zmq::sockopt::curve_publickey, client.public_z85);
    s.set(zmq::sockopt::curve_secretkey, client.secret_z85);
    s.set(zmq::sockopt::reconnect_ivl, static_cast<int>(options.reconnect_interval.count()));
    s.set(zmq::sockopt::reconnect_ivl_max,
          static_cast<int>(options.reconnect_interval_max.count()));
    // Incoming messages queued before we read them; past it libzmq drops (a gap, then a resync).
    s.set(zmq::sockopt::rcvhwm, receive_hwm);
    for (const std::string& p : prefixes) s.set(zmq::sockopt::subscribe, p);
    s.connect(endpoint);
    return SubscriberSocket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect " + endpoint + ": " + What(e));
  }
}

Result<TapSocket> TapSocket::BindLocal(zmq::context_t& ctx, const std::string& ipc_path) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::xpub);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, 10000);
    // Listeners send nothing but subscriptions, and those are one topic long.
    s.set(zmq::sockopt::maxmsgsize, std::int64_t{256});
    ::unlink(ipc_path.c_str());  // a stale file from a killed daemon, as for the control socket
    s.bind("ipc://" + ipc_path);
    if (::chmod(ipc_path.c_str(), 0660) != 0) {
      return Status::PermissionDenied("cannot chmod 0660 '" + ipc_path + "'");
    }
    return TapSocket(std::move(s), ipc_path);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot bind ipc://" + ipc_path + ": " + What(e));
  }
}

TapSocket::~TapSocket() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Status TapSocket::Send(Frames&& frames) { return SendFrames(socket_, nullptr, std::move(frames)); }

bool TapSocket::UpdateListening() {
  // Without XPUB_VERBOSE libzmq passes on the first subscription to a topic and the last
  // unsubscription from it, so one counter per topic tells whether anyone listens.
  for (int budget = 100; budget > 0; --budget) {
    zmq::message_t m;
    try {
      if (!socket_.recv(m, zmq::recv_flags::dontwait)) break;
    } catch (const zmq::error_t&) {
      break;
    }
    if (m.size() == 0) continue;
    std::uint8_t what = *static_cast<const std::uint8_t*>(m.data());
    if (what == 1) ++listeners_;
    if (what == 0 && listeners_ > 0) --listeners_;
  }
  return listening();
}

Result<SubscriberSocket> SubscriberSocket::ConnectLocal(zmq::context_t& ctx,
                                                        const std::string& ipc_path) {
  try {
    zmq::socket_t s(ctx, zmq::socket_type::sub);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvhwm, 10000);
    s.set(zmq::sockopt::subscribe, "");
    s.connect("ipc://" + ipc_path);
    return SubscriberSocket(std::move(s));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot connect to ipc://" + ipc_path + ": " + What(e));
  }
}

Result<std::optional<Frames>> SubscriberSocket::Receive() {
  try {
    zmq::message_t first;
    if (!socket_.recv(first, zmq::recv_flags::dontwait)) return std::optional<Frames>();
    bool too_many = false;
    Frames frames = TakeFrames(socket_, first, &too_many);
    if (too_many) return Status::InvalidArgument("message has more than 16 frames");
    return std::optional<Frames>(std::move(frames));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("receive: " + What(e));
  }
}

Status Poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) {
  std::vector<zmq::pollitem_t> raw;
  raw.reserve(items.size());
  for (const PollItem& i : items) {
    raw.push_back({i.socket != nullptr ? i.socket->handle() : nullptr, i.fd, ZMQ_POLLIN, 0});
  }
  try {
    zmq::poll(raw.data(), raw.size(), timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) {
      for (PollItem& i : items) i.readable = false;
      return Status::Ok();
    }
    return Status::Unavailable("poll: " + What(e));
  }
  for (std::size_t n = 0; n < items.size(); ++n) items[n].readable = raw[n].revents & ZMQ_POLLIN;
  return Status::Ok();
}

}  // namespace zcluster::bus
