// Process plumbing for zclusterd: going to the background without losing start-up errors, the
// signals as a pollable descriptor, the PID file and the ports file.
#pragma once

#include <cstdint>
#include <string>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

// SIGTERM, SIGINT and SIGHUP make fd() readable (a self-pipe), so the node's poll loop wakes on
// them instead of polling a flag; ReadSignals says which came. Install once per process, before
// any thread starts.
class StopSignal {
 public:
  static Result<StopSignal> Install();
  int fd() const { return read_fd_; }

 private:
  explicit StopSignal(int fd) : read_fd_(fd) {}
  int read_fd_;
};

struct ReceivedSignals {
  bool stop = false;    // SIGTERM or SIGINT
  bool hangup = false;  // SIGHUP: reopen the log, re-read what can change at run time
};
// Takes what the handlers wrote to StopSignal::fd() since the last call (never blocks).
ReceivedSignals ReadSignals(int fd);

// Raises the soft limit on open files to the hard limit and returns the limit now in force. Every
// TCP peer holds a descriptor, and libzmq aborts the process when it cannot make one for its own
// use, so a node takes all the descriptors it is allowed before any peer arrives.
std::uint64_t RaiseOpenFileLimit();
// Whether this host can listen on <bind_addr> (binds a TCP socket to it on a free port): an
// address the host does not have is refused here, by -t, rather than at start.
Status CheckBindAddress(const std::string& bind_addr);
// The open-files limit in force (the soft limit); 0 when it cannot be read.
std::uint64_t OpenFileLimit();

// Forks into the background (setsid, stdio to /dev/null). Must run before any thread or ZeroMQ
// context exists. The parent waits until the child calls ReportStarted and exits 0, or prints the
// child's error and exits 1, so `zclusterd -c FILE` fails visibly when start-up fails. Returns
// the descriptor the child reports on.
Result<int> Daemonize();
// Tells a waiting parent how start-up went (no-op for fd < 0, as in foreground mode).
void ReportStarted(int fd, const Status& status);

// Writes the process id to `path` (folder created) and holds an flock on it while the process
// lives, so that a second daemon on the same home is refused with AlreadyExists "already running
// (pid N ...)" before it touches anything, and a file left by a killed daemon does not count.
// RemovePidFile removes it on the way out (only when this process wrote it).
Status WritePidFile(const std::string& path);
void RemovePidFile(const std::string& path);

// The TCP ports a node listens on once bound; 0 for a port that is not this node's.
struct ListeningPorts {
  std::uint16_t port = 0;          // the master's ROUTER
  std::uint16_t stream_port = 0;   // the master's PUB
  std::uint16_t agent_port = 0;    // a worker's agent port
  std::uint16_t metrics_port = 0;  // the master's Prometheus endpoint, when it serves one
  std::uint16_t monitor_port = 0;  // the TCP monitor endpoint, with <monitor><bind>
  std::uint16_t admin_port = 0;    // the master's remote administration, with <admin><bind>
};
// The port of a bound endpoint such as "tcp://127.0.0.1:40123" (0 when it has none).
std::uint16_t PortOf(const std::string& endpoint);
// Writes this node's ports as one JSON object, {"port":1516,"stream_port":1517} on a master (and
// "metrics_port" when it serves metrics, "monitor_port" with <monitor><bind>) and
// {"agent_port":1514} on a worker, whole or not at all. With <port>0 or <agent_port>0 the kernel
// chooses, and this file is how a script or a test learns its choice.
Status WritePortsFile(const std::string& path, const ListeningPorts& ports);

}  // namespace zcluster::nodes
