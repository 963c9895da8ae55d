// A tmpfs of a few MiB, mounted for the life of the object, onto which folders of a node's home
// are bound so that they share its space: a disk a test can fill, free and turn read-only.
// Mounting needs root (CAP_SYS_ADMIN); without it available() is false and error() says why.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace zcluster::testing {

class SmallDisk {
 public:
  explicit SmallDisk(std::size_t mib);
  ~SmallDisk();  // unbinds and unmounts
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool available() const { return mounted_; }
  const std::string& error() const { return error_; }
  // Moves what `folder` holds onto the disk and binds the disk's copy over it.
  bool Bind(const std::string& folder);
  // Writes a filler file until the disk refuses more (ENOSPC); returns whether it did.
  bool Fill();
  void Free();  // removes the filler
  // Remounts one bound folder. Linux refuses (EBUSY) while a file there is open for writing.
  bool SetReadOnly(const std::string& folder, bool on);

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
  std::vector<std::string> binds_;
};

}  // namespace zcluster::testing
