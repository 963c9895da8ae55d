#include "integrity/file_watcher.h"

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
  int wd = ::inotify_add_watch(fd_, abs.c_str(), kEvents);
  if (wd < 0) return;  // gone: the rescan will see
  folders_[wd] = abs;
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

bool FileWatcher::Drain(std::set<std::string>* closed, bool* other) {
  alignas(inotify_event) char buf[16384];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return any;
    any = true;
    if (closed == nullptr) continue;
    for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      auto folder = folders_.find(e->wd);
      // A new file is followed by its close; anything else changes what a walk would find.
      bool new_file = (e->mask & IN_CREATE) && !(e->mask & IN_ISDIR);
      if ((e->mask & IN_CLOSE_WRITE) && e->len > 0 && folder != folders_.end()) {
        closed->insert(folder->second + "/" + e->name);
      } else if (!new_file && other != nullptr && !(e->mask & IN_IGNORED)) {
        *other = true;
      }
    }
  }
}

}  // namespace zcluster::nodes
