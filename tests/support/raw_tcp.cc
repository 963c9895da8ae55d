#include "support/raw_tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace zcluster::testing {

int ConnectTcp(std::uint16_t port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
      (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool PeerEnded(int fd) {
  char buf[512];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

std::size_t CountPeerEnded(const std::vector<int>& fds) {
  std::size_t n = 0;
  for (int fd : fds) n += PeerEnded(fd) ? 1 : 0;
  return n;
}

std::string ReadUntilEnd(int fd, std::chrono::milliseconds bound) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return text;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return text;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return text;
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace zcluster::testing
