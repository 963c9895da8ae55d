// A folder under /tmp that is removed with everything in it when the object goes away. Short
// paths on purpose: the control socket's path must fit in a sockaddr_un.
#pragma once

#include <string>

namespace zcluster::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `text` to `path`, creating folders; fails the test on error.
void WriteFile(const std::string& path, const std::string& text);
std::string ReadFile(const std::string& path);

}  // namespace zcluster::testing
