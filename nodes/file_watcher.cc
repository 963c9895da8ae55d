#include "zcluster/nodes/file_watcher.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zcluster::nodes {

Result<FileWatcher> FileWatcher::Open() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::Unavailable(std::string("inotify_init1: ") + std::strerror(errno));
  return FileWatcher(fd);
}

FileWatcher::~FileWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

void FileWatcher::WatchTree(const std::string& abs) {
  constexpr std::uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                    IN_CREATE | IN_ATTRIB | IN_DONT_FOLLOW | IN_ONLYDIR;
  if (::inotify_add_watch(fd_, abs.c_str(), kEvents) < 0) return;  // gone: the rescan will see
  DIR* dir = ::opendir(abs.c_str());
  if (dir == nullptr) return;
  while (dirent* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    std::string child = abs + "/" + name;
    if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) WatchTree(child);
  }
  ::closedir(dir);
}

void FileWatcher::WatchAll(const std::string& home, const FileSet& set) {
  for (const FileSetEntry& e : set.entries()) {
    WatchTree(home + "/" + (e.folder ? e.path : e.path.substr(0, e.path.rfind('/'))));
  }
}

bool FileWatcher::Drain() {
  alignas(inotify_event) char buf[16384];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return any;
    any = true;
  }
}

}  // namespace zcluster::nodes
