// Process plumbing for zclusterd: going to the background without losing start-up errors, the
// stop signal as a pollable descriptor, and the PID file.
#pragma once

#include <string>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

// SIGTERM and SIGINT make fd() readable (a self-pipe), so the node's poll loop wakes on them
// instead of polling a flag. Install once per process, before any thread starts.
class StopSignal {
 public:
  static Result<StopSignal> Install();
  int fd() const { return read_fd_; }

 private:
  explicit StopSignal(int fd) : read_fd_(fd) {}
  int read_fd_;
};

// Forks into the background (setsid, stdio to /dev/null). Must run before any thread or ZeroMQ
// context exists. The parent waits until the child calls ReportStarted and exits 0, or prints the
// child's error and exits 1, so `zclusterd -c FILE` fails visibly when start-up fails. Returns
// the descriptor the child reports on.
Result<int> Daemonize();
// Tells a waiting parent how start-up went (no-op for fd < 0, as in foreground mode).
void ReportStarted(int fd, const Status& status);

// Writes the process id to `path` (folder created); RemovePidFile on clean exit.
Status WritePidFile(const std::string& path);
void RemovePidFile(const std::string& path);

}  // namespace zcluster::nodes
