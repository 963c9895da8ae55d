#include "zcluster/bus/connection_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>

namespace zcluster::bus {
namespace {

struct Endpoint {
  std::string ip;
  std::uint16_t port = 0;
};

std::optional<Endpoint> EndpointOf(const sockaddr_storage& sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
    if (::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text) == nullptr) return std::nullopt;
    return Endpoint{text, ntohs(in.sin_port)};
  }
  if (sa.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
    if (::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text) == nullptr) return std::nullopt;
    return Endpoint{text, ntohs(in6.sin6_port)};
  }
  return std::nullopt;  // ipc and anything else is not a TCP peer
}

std::optional<Endpoint> PeerOf(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return std::nullopt;
  return EndpointOf(sa);
}

std::optional<std::uint16_t> LocalPortOf(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return std::nullopt;
  std::optional<Endpoint> e = EndpointOf(sa);
  if (!e) return std::nullopt;
  return e->port;
}

}  // namespace

std::size_t DescriptorBudget::ForOpenFileLimit(std::uint64_t open_files_limit) {
  const std::uint64_t reserve = std::max(kMinReserve, open_files_limit / 4);
  const std::uint64_t rest = open_files_limit > reserve ? open_files_limit - reserve : 0;
  return static_cast<std::size_t>(std::max<std::uint64_t>(rest, 16));
}

ConnectionGuard::ConnectionGuard(DescriptorBudget& budget, std::size_t per_address, RefusalLog log)
    : budget_(budget), per_address_(per_address), log_(std::move(log)) {}

ConnectionGuard::~ConnectionGuard() {
  for (std::size_t i = 0; i < by_fd_.size(); ++i) budget_.Give();
}

void ConnectionGuard::Observe(const std::vector<SocketEvent>& events, Clock::time_point now) {
  for (const SocketEvent& e : events) {
    if (e.kind == SocketEventKind::kAccepted) {
      Accepted(e.value, now);
    } else if (e.kind == SocketEventKind::kDisconnected) {
      Closed(e.value);
    }
  }
}

std::size_t ConnectionGuard::OpenFrom(const std::string& address) const {
  auto it = per_ip_.find(address);
  return it == per_ip_.end() ? 0 : it->second;
}

void ConnectionGuard::Accepted(int fd, Clock::time_point now) {
  // A descriptor already on record was closed without an event and reused: the old record goes.
  if (auto old = by_fd_.find(fd); old != by_fd_.end()) Forget(old);
  std::optional<Endpoint> peer = PeerOf(fd);
  std::optional<std::uint16_t> local = LocalPortOf(fd);
  // Gone already (its "disconnected" follows): nothing holds a descriptor for it any more.
  if (!peer || !local) return;
  Connection c{peer->ip, peer->ip + "|" + std::to_string(peer->port), *local};
  std::size_t& from_ip = per_ip_[c.address];
  ++from_ip;
  const bool within_budget = budget_.Take();
  by_fd_.emplace(fd, c);
  std::optional<Cause> cause;
  if (per_address_ != 0 && from_ip > per_address_) {
    cause = Cause::kPerAddress;
  } else if (!within_budget) {
    cause = Cause::kDescriptors;
  }
  if (!cause) return;
  // Before refusing, forget what closed unannounced; that may make room after all.
  Reconcile(now);
  std::size_t held = OpenFrom(c.address);
  if (*cause == Cause::kPerAddress && held <= per_address_) return;
  if (*cause == Cause::kDescriptors) {
    held = budget_.in_use();
    if (held <= budget_.limit()) return;
  }
  // The descriptor is libzmq's: it is only shut down, never closed here, and only while it still
  // holds this very connection.
  if (StillHolds(fd, c)) ::shutdown(fd, SHUT_RDWR);
  ++refused_;
  if (log_) log_({*cause, c.address, held, lines_.Take(c.address, now)});
}

void ConnectionGuard::Closed(int fd) {
  auto it = by_fd_.find(fd);
  if (it != by_fd_.end()) Forget(it);
}

void ConnectionGuard::Forget(std::unordered_map<int, Connection>::iterator it) {
  auto ip = per_ip_.find(it->second.address);
  if (ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  by_fd_.erase(it);
  budget_.Give();
}

void ConnectionGuard::Reconcile(Clock::time_point now) {
  if (now - reconciled_ < std::chrono::seconds(1)) return;
  reconciled_ = now;
  for (auto it = by_fd_.begin(); it != by_fd_.end();) {
    auto next = std::next(it);
    if (!StillHolds(it->first, it->second)) Forget(it);
    it = next;
  }
}

bool ConnectionGuard::StillHolds(int fd, const Connection& c) const {
  std::optional<Endpoint> peer = PeerOf(fd);
  std::optional<std::uint16_t> local = LocalPortOf(fd);
  return peer && local && *local == c.local_port &&
         peer->ip + "|" + std::to_string(peer->port) == c.peer;
}

}  // namespace zcluster::bus
