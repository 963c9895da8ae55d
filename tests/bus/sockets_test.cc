// CURVE ROUTER and DEALER on loopback inside one process: the ZAP allow-list decides who gets
// in, and the User-Id, not the routing id, names the peer.
#include "zcluster/bus/sockets.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/wait.h"

using namespace zcluster;
using namespace zcluster::bus;
using namespace std::chrono_literals;

namespace {

struct Server {
  zmq::context_t ctx{1};
  CurveKeyPair keys = *GenerateKeyPair();
  std::mutex mu;
  std::vector<ZapVerdict> refusals;
  std::unique_ptr<ZapAuthenticator> zap;
  std::optional<RouterSocket> router;

  explicit Server(AllowList allowed) {
    auto log = [this](const ZapVerdict& v, const ZapAuthenticator::RefusalNote& note) {
      std::lock_guard lock(mu);
      if (note.log) refusals.push_back(v);
    };
    zap = std::move(ZapAuthenticator::Start(ctx, std::move(allowed), log)).value();
    router.emplace(
        std::move(RouterSocket::BindCurve(ctx, *zap, keys, "tcp://127.0.0.1:*", SocketOptions{}))
            .value());
  }
  ~Server() {
    router.reset();
    zap.reset();
  }
  std::optional<Envelope> Next() {
    Result<std::optional<Envelope>> r = router->Receive();
    REQUIRE(r.ok());
    return *r;
  }
};

// An allow-list of one key, by this name.
AllowList Allowing(const CurveKeyPair& key, const std::string& name) {
  AllowList allowed;
  REQUIRE(allowed.Add(key.public_z85, name).ok());
  return allowed;
}

DealerSocket Client(zmq::context_t& ctx, const CurveKeyPair& client, const Server& server,
                    const std::string& routing_id) {
  return std::move(DealerSocket::ConnectCurve(ctx, client, server.keys.public_z85,
                                              server.router->endpoint(), routing_id,
                                              SocketOptions{}))
      .value();
}

// Sends until the connection is up (IMMEDIATE makes sends fail before the handshake).
bool SendWhenConnected(DealerSocket& d, const Frames& frames) {
  return testing::WaitFor([&] { return d.Send(frames).ok(); }, 5s);
}

}  // namespace

TEST_CASE("an allowed key gets through and is named by its User-Id", "[bus][sockets]") {
  CurveKeyPair w1 = *GenerateKeyPair();
  Server server(Allowing(w1, "w1"));
  zmq::context_t ctx(1);
  // The routing id claims to be someone else: it must not matter.
  DealerSocket dealer = Client(ctx, w1, server, "master");
  REQUIRE(SendWhenConnected(dealer, {"type", "body"}));

  std::optional<Envelope> env;
  REQUIRE(testing::WaitFor([&] { return (env = server.Next()).has_value(); }, 5s));
  CHECK(env->user_id == "w1");
  CHECK(env->routing_id == "master");
  CHECK(env->peer_address == "127.0.0.1");
  CHECK(env->frames == Frames{"type", "body"});

  REQUIRE(server.router->Send(env->routing_id, {"reply"}).ok());
  std::optional<Frames> reply;
  REQUIRE(testing::WaitFor(
      [&] {
        auto r = dealer.Receive();
        return r.ok() && (reply = *r).has_value();
      },
      5s));
  CHECK(*reply == Frames{"reply"});
  CHECK(server.zap->allowed() >= 1);
}

TEST_CASE("a server that stops reading for longer than a heartbeat timeout loses nothing",
          "[bus][sockets]") {
  // A busy node stops reading a peer whose queue is full; its connection must outlive that. The
  // client fills every queue on the way (its own, the kernel's both sides, the server's) until
  // a send is refused, and the server reads nothing for 12 s: with ZMTP heartbeats of 10 s
  // neither side could see the other's PINGs behind the stopped input, and libzmq 4.3 then
  // drops the connection, or aborts.
  CurveKeyPair w1 = *GenerateKeyPair();
  Server server(Allowing(w1, "w1"));
  zmq::context_t ctx(1);
  DealerSocket dealer = Client(ctx, w1, server, "w1");
  const std::string padding(1024, 'x');
  REQUIRE(SendWhenConnected(dealer, {"0", padding}));
  // Full everywhere once sends have been refused for half a second on end.
  std::size_t sent = 1;
  auto last_taken = std::chrono::steady_clock::now();
  while (sent < 1000000 && std::chrono::steady_clock::now() - last_taken < 500ms) {
    if (dealer.Send({std::to_string(sent), padding}).ok()) {
      ++sent;
      last_taken = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(1ms);  // a retry's pace, not a wait for an event
    }
  }
  REQUIRE(sent < 1000000);
  INFO(sent << " messages sent");
  std::this_thread::sleep_for(12s);  // the reader's stall is the condition under test
  std::size_t received = 0;
  bool in_order = true;
  REQUIRE(testing::WaitFor(
      [&] {
        while (std::optional<Envelope> env = server.Next()) {
          in_order = in_order && env->frames.front() == std::to_string(received);
          ++received;
        }
        return received >= sent;
      },
      10s));
  CHECK(received == sent);
  CHECK(in_order);
}

TEST_CASE("an unlisted key is refused and logged with its address and delivers nothing",
          "[bus][sockets]") {
  CurveKeyPair w1 = *GenerateKeyPair();
  CurveKeyPair stranger = *GenerateKeyPair();
  Server server(Allowing(w1, "w1"));
  zmq::context_t ctx(1);
  DealerSocket dealer = Client(ctx, stranger, server, "w1");

  REQUIRE(testing::WaitFor([&] { return server.zap->refused() > 0; }, 5s));
  {
    std::lock_guard lock(server.mu);
    REQUIRE_FALSE(server.refusals.empty());
    CHECK(server.refusals.front().address == "127.0.0.1");
    CHECK(server.refusals.front().public_z85 == stranger.public_z85);
  }
  // The handshake failed, so the connection never completed and IMMEDIATE refuses to queue.
  CHECK_FALSE(dealer.Send({"sneaky"}).ok());
  CHECK_FALSE(server.Next().has_value());
  CHECK(server.zap->allowed() == 0);
}

TEST_CASE("fresh keys from one address make one log line, not one each", "[bus][sockets]") {
  Server server(AllowList{});
  zmq::context_t ctx(1);
  std::vector<DealerSocket> strangers;
  for (int i = 0; i < 30; ++i) {
    strangers.push_back(Client(ctx, *GenerateKeyPair(), server, "s" + std::to_string(i)));
  }
  REQUIRE(testing::WaitFor([&] { return server.zap->refused() >= 30; }, 10s));
  std::lock_guard lock(server.mu);
  CHECK(server.refusals.size() == 1);
}

TEST_CASE("a reply to a peer that is not connected is reported and not dropped", "[bus][sockets]") {
  Server server(AllowList{});
  Status s = server.router->Send("nobody", {"x"});
  CHECK(s.code() == Code::kUnavailable);
}

TEST_CASE("the control socket is a local file with mode 0660", "[bus][sockets]") {
  zmq::context_t ctx(1);
  std::string path = "/tmp/zct-ctl-" + std::to_string(::getpid()) + ".sock";
  {
    Result<RouterSocket> r = RouterSocket::BindLocal(ctx, path);
    REQUIRE(r.ok());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0660);
    Result<DealerSocket> d = DealerSocket::ConnectLocal(ctx, path);
    REQUIRE(d.ok());
    REQUIRE(d->Send({"ping"}).ok());
    std::optional<Envelope> env;
    REQUIRE(testing::WaitFor(
        [&] {
          auto got = r->Receive();
          return got.ok() && (env = *got).has_value();
        },
        5s));
    CHECK(env->user_id.empty());
    CHECK(env->frames == Frames{"ping"});
  }
  ::unlink(path.c_str());
}

TEST_CASE(
    "frames handed over to libzmq arrive whole, large and small, and copies leave the "
    "sender's frames as they were",
    "[bus][sockets]") {
  zmq::context_t ctx(1);
  std::string path = "/tmp/zct-big-" + std::to_string(::getpid()) + ".sock";
  {
    Result<RouterSocket> r = RouterSocket::BindLocal(ctx, path);
    REQUIRE(r.ok());
    Result<DealerSocket> d = DealerSocket::ConnectLocal(ctx, path);
    REQUIRE(d.ok());
    std::string large(700 << 10, '\0');  // under the control socket's 1 MiB limit
    for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 % 251);
    const Frames sent{"type", large, "small", std::string(64 << 10, 'x')};
    Frames moved = sent;
    REQUIRE(d->Send(std::move(moved)).ok());
    REQUIRE(d->Send(sent).ok());  // the copying overload: `sent` stays as it was
    CHECK(sent[1] == large);
    std::vector<Envelope> got;
    REQUIRE(testing::WaitFor(
        [&] {
          auto e = r->Receive();
          if (e.ok() && e->has_value()) got.push_back(std::move(**e));
          return got.size() == 2;
        },
        5s));
    CHECK(got[0].frames == sent);
    CHECK(got[1].frames == sent);
    // And back through the ROUTER's handing-over overload.
    Frames reply = sent;
    REQUIRE(r->Send(got[0].routing_id, std::move(reply)).ok());
    std::optional<Frames> back;
    REQUIRE(testing::WaitFor(
        [&] {
          auto b = d->Receive();
          return b.ok() && (back = *b).has_value();
        },
        5s));
    CHECK(*back == sent);
  }
  ::unlink(path.c_str());
}

TEST_CASE("an idle TCP connection that never handshakes is closed by the server",
          "[bus][sockets]") {
  zmq::context_t ctx(1);
  auto zap = std::move(ZapAuthenticator::Start(ctx, AllowList{}, nullptr)).value();
  SocketOptions options;
  options.handshake_timeout = 300ms;
  CurveKeyPair keys = *GenerateKeyPair();
  Result<RouterSocket> router =
      RouterSocket::BindCurve(ctx, *zap, keys, "tcp://127.0.0.1:*", options);
  REQUIRE(router.ok());
  std::string endpoint = router->endpoint();
  int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  // Read whatever greeting the server sends; the end of the stream is the server closing.
  bool closed = testing::WaitFor(
      [&] {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) return false;
        char buf[256];
        return ::recv(fd, buf, sizeof buf, 0) <= 0;
      },
      5s);
  ::close(fd);
  CHECK(closed);
}

TEST_CASE("the publisher stores listed topics only and drops every other subscription",
          "[bus][sockets]") {
  CurveKeyPair worker = *GenerateKeyPair();
  AllowList allowed;
  REQUIRE(allowed.Add(worker.public_z85, "w1").ok());
  zmq::context_t ctx(1);
  auto zap = std::move(ZapAuthenticator::Start(ctx, std::move(allowed), nullptr)).value();
  CurveKeyPair keys = *GenerateKeyPair();
  Result<PublisherSocket> pub = PublisherSocket::BindCurve(ctx, *zap, keys, "tcp://127.0.0.1:*",
                                                           SocketOptions{}, 1000, {"delta"});
  REQUIRE(pub.ok());
  auto subscriber = [&](const std::vector<std::string>& prefixes) {
    return std::move(SubscriberSocket::ConnectCurve(ctx, worker, keys.public_z85, pub->endpoint(),
                                                    SocketOptions{}, 1000, prefixes))
        .value();
  };
  // Everything, and a kilobyte of junk: neither is stored, so this one hears nothing.
  SubscriberSocket greedy = subscriber({"", std::string(1024, 'j')});
  std::size_t dropped = 0;
  REQUIRE(testing::WaitFor(
      [&] {
        dropped += pub->ServeSubscriptions();
        return dropped >= 2;
      },
      10s));
  SubscriberSocket honest = subscriber({"delta"});
  bool heard = testing::WaitFor(
      [&] {
        pub->ServeSubscriptions();
        REQUIRE(pub->Send({"delta", "1"}).ok());
        Result<std::optional<Frames>> got = honest.Receive();
        return got.ok() && got->has_value();
      },
      10s);
  CHECK(heard);
  REQUIRE(pub->Send({"other", "2"}).ok());
  Result<std::optional<Frames>> nothing = greedy.Receive();
  REQUIRE(nothing.ok());
  CHECK_FALSE(nothing->has_value());
  CHECK(dropped == 2);
}
