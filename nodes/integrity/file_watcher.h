// inotify on the folders of the file set: any event makes the master rescan soon, so a rule edit
// is published within milliseconds; the periodic rescan stays as the safety net (inotify queues
// can overflow, and network filesystems send no events).
#pragma once

#include <map>
#include <set>
#include <string>

#include "integrity/file_set.h"
#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

class FileWatcher {
 public:
  static Result<FileWatcher> Open();
  FileWatcher(FileWatcher&& other) noexcept : fd_(other.fd_), folders_(std::move(other.folders_)) {
    other.fd_ = -1;
  }
  FileWatcher& operator=(FileWatcher&&) = delete;
  ~FileWatcher();

  // Watches every existing folder of the set (again after each scan: new subfolders).
  void WatchAll(const std::string& home, const FileSet& set);
  // Reads every pending event; true when there was any. The absolute paths of files closed after
  // writing (a writer is done with them) are added to `closed`; `other` is set when anything else
  // happened (deletes, moves, new folders, attribute changes, a queue overflow), which only a
  // full rescan can follow.
  bool Drain(std::set<std::string>* closed = nullptr, bool* other = nullptr);
  int fd() const { return fd_; }

 private:
  explicit FileWatcher(int fd) : fd_(fd) {}
  void WatchTree(const std::string& abs);
  int fd_;
  std::map<int, std::string> folders_;  // watch descriptor → absolute folder
};

}  // namespace zcluster::nodes
