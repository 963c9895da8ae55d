#include "zcluster/nodes/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/atomic_file.h"

namespace zcluster::nodes {
namespace {

int g_signal_write_fd = -1;

extern "C" void OnStopSignal(int signo) {
  int saved = errno;
  char c = signo == SIGHUP ? 'h' : 's';
  // Async-signal-safe; a full pipe already says "stop".
  [[maybe_unused]] ssize_t n = ::write(g_signal_write_fd, &c, 1);
  errno = saved;
}

}  // namespace

Result<StopSignal> StopSignal::Install() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Internal(std::string("pipe2: ") + std::strerror(errno));
  }
  g_signal_write_fd = fds[1];
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return StopSignal(fds[0]);
}

ReceivedSignals ReadSignals(int fd) {
  ReceivedSignals got;
  char buf[64];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == 'h') {
        got.hangup = true;
      } else {
        got.stop = true;
      }
    }
  }
  return got;
}

std::uint64_t RaiseOpenFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

Status CheckBindAddress(const std::string& bind_addr) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (bind_addr != "*" && ::inet_pton(AF_INET, bind_addr.c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument("config: <cluster><bind_addr> '" + bind_addr +
                                   "' is not an IPv4 address");
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(std::string("socket: ") + std::strerror(errno));
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int error = errno;
  ::close(fd);
  if (bound != 0) {
    return Status::InvalidArgument("config: <cluster><bind_addr> '" + bind_addr +
                                   "' cannot be listened on here: " + std::strerror(error));
  }
  return Status::Ok();
}

std::uint64_t OpenFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  return lim.rlim_cur;
}

Result<int> Daemonize() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Internal("pipe2 failed");
  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid > 0) {
    ::close(fds[1]);
    std::string report;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) report.append(buf, static_cast<size_t>(n));
    if (report == "ok") std::_Exit(0);
    if (report.empty()) report = "zclusterd: the daemon exited during start-up (see cluster.log)";
    std::fprintf(stderr, "%s\n", report.c_str());
    std::_Exit(1);
  }
  ::close(fds[0]);
  ::setsid();
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  return fds[1];
}

void ReportStarted(int fd, const Status& status) {
  if (fd < 0) return;
  std::string text = status.ok() ? "ok" : "zclusterd: " + status.ToString();
  [[maybe_unused]] ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
}

namespace {
int g_pid_fd = -1;  // held, and its lock with it, until RemovePidFile or the process ends
}  // namespace

Status WritePidFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(folder, ec);
  if (ec) return Status::Unavailable("cannot create '" + folder.string() + "': " + ec.message());
  // Not truncated before the lock is ours: the file may be a running daemon's.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Unavailable("cannot open pid file '" + path + "': " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (saved != EWOULDBLOCK) {
      return Status::Unavailable("cannot lock pid file '" + path + "': " + std::strerror(saved));
    }
    std::string pid(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::AlreadyExists("already running (pid " + (pid.empty() ? "unknown" : pid) +
                                 "; pid file " + path + ")");
  }
  const std::string text = std::to_string(::getpid()) + "\n";
  const bool written =
      ::ftruncate(fd, 0) == 0 &&
      ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()) &&
      ::fsync(fd) == 0;
  if (!written) {
    const int saved = errno;
    ::close(fd);
    return Status::Unavailable("cannot write pid file '" + path + "': " + std::strerror(saved));
  }
  g_pid_fd = fd;
  return Status::Ok();
}

void RemovePidFile(const std::string& path) {
  if (g_pid_fd < 0) return;  // not ours: another daemon's, or never written
  ::unlink(path.c_str());
  ::close(g_pid_fd);
  g_pid_fd = -1;
}

std::uint16_t PortOf(const std::string& endpoint) {
  std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return 0;
  unsigned port = 0;
  const char* begin = endpoint.data() + colon + 1;
  auto [end, ec] = std::from_chars(begin, endpoint.data() + endpoint.size(), port);
  if (ec != std::errc() || end != endpoint.data() + endpoint.size() || port > 65535) return 0;
  return static_cast<std::uint16_t>(port);
}

Status WritePortsFile(const std::string& path, const ListeningPorts& ports) {
  nlohmann::json json = nlohmann::json::object();
  if (ports.port != 0) json["port"] = ports.port;
  if (ports.stream_port != 0) json["stream_port"] = ports.stream_port;
  if (ports.agent_port != 0) json["agent_port"] = ports.agent_port;
  if (ports.metrics_port != 0) json["metrics_port"] = ports.metrics_port;
  if (ports.monitor_port != 0) json["monitor_port"] = ports.monitor_port;
  if (ports.admin_port != 0) json["admin_port"] = ports.admin_port;
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  return WriteFileAtomically(path, json.dump() + "\n", 0644);
}

}  // namespace zcluster::nodes
