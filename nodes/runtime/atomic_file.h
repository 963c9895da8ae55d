// Files that are never seen half-written, and descriptors that are never leaked: an RAII Fd, a
// folder fsync, and the temp-write-fsync-rename-fsync-folder sequence in one place.
//
// Thread-safety: plain functions; an Fd belongs to whoever holds it.
#pragma once

#include <sys/types.h>
#include <string>
#include <string_view>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

// Owns one file descriptor; closed when it goes away.
class Fd {
 public:
  Fd() = default;
  // ::open(path, flags, mode); check ok(), and errno when it is not.
  Fd(const std::string& path, int flags, mode_t mode = 0);
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  bool ok() const { return fd_ >= 0; }
  int get() const { return fd_; }
  // Closes now (errno is kept as it was, so a failure before it can still be reported).
  void Close();

 private:
  int fd_ = -1;
};

// Makes the entries of folder `dir` (a rename into it) durable. Unavailable naming the folder.
Status SyncFolder(const std::string& dir);

// Replaces `path` with `content` so that a reader, or a crash, sees the old file or the new one
// whole: written to "<path>.tmp" with `mode`, fsynced, renamed over `path`, and the folder
// fsynced. Unavailable naming the file and the reason; the temporary file is removed on failure.
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode);

}  // namespace zcluster::nodes
