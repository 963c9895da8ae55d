#include "support/small_disk.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace zcluster::testing {

namespace fs = std::filesystem;

SmallDisk::SmallDisk(std::size_t mib) {
  std::string options = "size=" + std::to_string(mib) + "m,mode=0755";
  if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    error_ = std::string("cannot mount a tmpfs: ") + std::strerror(errno);
    return;
  }
  mounted_ = true;
}

SmallDisk::~SmallDisk() {
  for (auto it = binds_.rbegin(); it != binds_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
}

bool SmallDisk::Bind(const std::string& folder) {
  if (!mounted_) return false;
  std::string copy = dir_ / std::to_string(binds_.size());
  std::error_code ec;
  fs::create_directories(folder, ec);
  fs::copy(folder, copy, fs::copy_options::recursive, ec);
  if (ec) {
    error_ = "cannot copy " + folder + ": " + ec.message();
    return false;
  }
  if (::mount(copy.c_str(), folder.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    error_ = "cannot bind " + folder + ": " + std::strerror(errno);
    return false;
  }
  binds_.push_back(folder);
  return true;
}

bool SmallDisk::Fill() {
  int fd = ::open((dir_ / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const std::string block(64 << 10, 'f');
  bool full = false;
  for (;;) {
    if (::write(fd, block.data(), block.size()) > 0) continue;  // a short one: ENOSPC is next
    full = errno == ENOSPC;
    break;
  }
  ::close(fd);
  return full;
}

void SmallDisk::Free() { ::unlink((dir_ / "filler").c_str()); }

bool SmallDisk::SetReadOnly(const std::string& folder, bool on) {
  // The flags the tmpfs was mounted with are kept: a remount may not drop them.
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (on ? MS_RDONLY : 0);
  if (::mount(nullptr, folder.c_str(), nullptr, flags, nullptr) != 0) {
    error_ = "cannot remount " + folder + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace zcluster::testing
