#include "runtime/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zcluster::nodes {

Fd::Fd(const std::string& path, int flags, mode_t mode)
    : fd_(::open(path.c_str(), flags | O_CLOEXEC, mode)) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Fd::Close() {
  if (fd_ < 0) return;
  int saved = errno;
  ::close(fd_);
  fd_ = -1;
  errno = saved;
}

Status SyncFolder(const std::string& dir) {
  Fd fd(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok() || ::fsync(fd.get()) != 0) {
    return Status::Unavailable("cannot sync folder '" + dir + "': " + std::strerror(errno));
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  std::string tmp = path + ".tmp";
  Fd fd(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (!fd.ok()) return Status::Unavailable("cannot create '" + tmp + "': " + std::strerror(errno));
  // fchmod: the mode must not depend on the umask.
  bool ok =
      ::fchmod(fd.get(), mode) == 0 &&
      ::write(fd.get(), content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd.get()) == 0;
  fd.Close();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot write '" + path + "': " + std::strerror(saved));
  }
  // The rename is durable only once the folder is synced.
  std::size_t slash = path.rfind('/');
  return SyncFolder(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

}  // namespace zcluster::nodes
