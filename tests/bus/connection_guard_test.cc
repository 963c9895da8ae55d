// The connection guard: caps per address and a process budget, on real TCP connections from
// several loopback addresses (127.0.0.2, 127.0.0.3, ...), both behind a libzmq listener and
// behind a plain one whose accept events the test writes itself.
#include "zcluster/bus/connection_guard.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "support/raw_tcp.h"
#include "support/wait.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/bus/zap_authenticator.h"

using namespace zcluster;
using namespace zcluster::bus;
using zcluster::testing::ConnectTcp;
using zcluster::testing::CountPeerEnded;
using zcluster::testing::PeerEnded;
using namespace std::chrono_literals;

namespace {

int Connect(std::uint16_t port, const std::string& source) {
  int fd = ConnectTcp(port, source);
  REQUIRE(fd >= 0);
  return fd;
}

// A plain listening socket on 127.0.0.1; the test accepts and tells the guard.
struct PlainListener {
  int fd = -1;
  std::uint16_t port = 0;
  PlainListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~PlainListener() { ::close(fd); }
  int Accept() {
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(c >= 0);
    return c;
  }
};

SocketEvent AcceptedEvent(int fd) { return {SocketEventKind::kAccepted, "", fd}; }
SocketEvent ClosedEvent(int fd) { return {SocketEventKind::kDisconnected, "", fd}; }

}  // namespace

TEST_CASE("a libzmq listener's connections past one address's cap are closed, others are kept",
          "[bus][guard]") {
  zmq::context_t ctx(1);
  auto zap = std::move(ZapAuthenticator::Start(ctx, AllowList{}, nullptr)).value();
  SocketOptions options;
  options.handshake_timeout = 60s;  // only the guard closes anything here
  Result<RouterSocket> router =
      RouterSocket::BindCurve(ctx, *zap, *GenerateKeyPair(), "tcp://127.0.0.1:*", options);
  REQUIRE(router.ok());
  Result<SocketEvents> events = SocketEvents::Watch(ctx, router->socket());
  REQUIRE(events.ok());
  const std::string endpoint = router->endpoint();
  const auto port = static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));

  DescriptorBudget budget(1000);
  std::vector<ConnectionGuard::Refusal> refusals;
  ConnectionGuard guard(budget, 3,
                        [&](const ConnectionGuard::Refusal& r) { refusals.push_back(r); });
  std::vector<int> crowd, other;
  for (int i = 0; i < 5; ++i) crowd.push_back(Connect(port, "127.0.0.2"));
  for (int i = 0; i < 2; ++i) other.push_back(Connect(port, "127.0.0.3"));
  REQUIRE(testing::WaitFor(
      [&] {
        guard.Observe(events->Drain());
        return guard.refused() == 2 && guard.OpenFrom("127.0.0.3") == 2;
      },
      10s));
  // The two past the cap end; the three within it and the other address's two do not.
  CHECK(testing::WaitFor([&] { return CountPeerEnded(crowd) == 2; }, 10s));
  CHECK(CountPeerEnded(other) == 0);
  REQUIRE(refusals.size() == 2);
  CHECK(refusals[0].cause == ConnectionGuard::Cause::kPerAddress);
  CHECK(refusals[0].address == "127.0.0.2");
  CHECK(refusals[0].note.log);
  CHECK_FALSE(refusals[1].note.log);  // one line per address per interval
  // libzmq closes what was shut down, and the guard hears of it: the address holds 3 again.
  CHECK(testing::WaitFor(
      [&] {
        guard.Observe(events->Drain());
        return guard.OpenFrom("127.0.0.2") == 3 && budget.in_use() == 5;
      },
      10s));
  for (int fd : crowd) ::close(fd);
  for (int fd : other) ::close(fd);
  CHECK(testing::WaitFor(
      [&] {
        guard.Observe(events->Drain());
        return guard.open() == 0 && budget.in_use() == 0;
      },
      10s));
}

TEST_CASE("the budget closes connections past it from any address and takes more once some close",
          "[bus][guard]") {
  PlainListener listener;
  DescriptorBudget budget(4);
  std::vector<ConnectionGuard::Refusal> refusals;
  ConnectionGuard guard(budget, 0,
                        [&](const ConnectionGuard::Refusal& r) { refusals.push_back(r); });
  std::vector<int> clients, accepted;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(Connect(listener.port, "127.0.0." + std::to_string(10 + i)));
    accepted.push_back(listener.Accept());
    guard.Observe({AcceptedEvent(accepted.back())});
  }
  CHECK(guard.refused() == 2);
  CHECK(budget.in_use() == 6);  // shut down, but each holds a descriptor until it is closed
  REQUIRE(refusals.size() == 2);
  CHECK(refusals[0].cause == ConnectionGuard::Cause::kDescriptors);
  CHECK(refusals[0].address == "127.0.0.14");
  CHECK(refusals[1].address == "127.0.0.15");
  CHECK(testing::WaitFor([&] { return PeerEnded(clients[4]) && PeerEnded(clients[5]); }, 5s));
  for (int i = 0; i < 4; ++i) CHECK_FALSE(PeerEnded(clients[i]));

  // The owner closes the two it was told to end and one more; two new connections then fit.
  for (int i : {5, 4, 0}) {
    ::close(accepted[i]);
    guard.Observe({ClosedEvent(accepted[i])});
  }
  CHECK(budget.in_use() == 3);
  int late_client = Connect(listener.port, "127.0.0.30");
  int late = listener.Accept();
  guard.Observe({AcceptedEvent(late)});
  CHECK(guard.refused() == 2);
  CHECK(budget.in_use() == 4);
  ::close(late);
  ::close(late_client);
  for (int i : {1, 2, 3}) ::close(accepted[i]);
  for (int fd : clients) ::close(fd);
}

TEST_CASE("a connection closed without an event is forgotten before anyone is refused for it",
          "[bus][guard]") {
  PlainListener listener;
  DescriptorBudget budget(100);
  ConnectionGuard guard(budget, 2, nullptr);
  auto now = ConnectionGuard::Clock::now();
  int c1 = Connect(listener.port, "127.0.0.2");
  int c2 = Connect(listener.port, "127.0.0.2");
  int a1 = listener.Accept(), a2 = listener.Accept();
  guard.Observe({AcceptedEvent(a1), AcceptedEvent(a2)}, now);
  CHECK(guard.OpenFrom("127.0.0.2") == 2);
  // Its owner closes one with no "disconnected" (as libzmq does when a socket ends a session).
  // dup2 keeps the number taken, by a file that is no connection, so the next accept cannot
  // reuse it and only the check before a refusal can find the record stale.
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(::dup2(devnull, a2) == a2);
  ::close(c2);
  int c3 = Connect(listener.port, "127.0.0.2");
  int a3 = listener.Accept();
  guard.Observe({AcceptedEvent(a3)}, now + 2s);
  CHECK(guard.refused() == 0);
  CHECK(guard.OpenFrom("127.0.0.2") == 2);
  CHECK(budget.in_use() == 2);
  CHECK_FALSE(PeerEnded(c3));
  for (int fd : {a1, a2, a3, c1, c3, devnull}) ::close(fd);
}

TEST_CASE("the budget leaves a quarter of the open-files limit, at least 256, to the node",
          "[bus][guard]") {
  CHECK(DescriptorBudget::ForOpenFileLimit(1024) == 768);
  CHECK(DescriptorBudget::ForOpenFileLimit(20000) == 15000);
  CHECK(DescriptorBudget::ForOpenFileLimit(300) == 44);
  CHECK(DescriptorBudget::ForOpenFileLimit(100) == 16);
}
