#include "integrity/file_set.h"

#include <sys/stat.h>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/schemas/files.h"

namespace zcluster::nodes {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

FileSet FileSet::Default() {
  FileSet set;
  set.Add({"etc/client.keys", false, 0640, false, false});
  set.Add({"etc/shared", true, 0660, true, false});
  set.Add({"etc/rules", true, 0660, false, true});
  set.Add({"etc/decoders", true, 0660, false, true});
  set.Add({"etc/lists", true, 0660, false, true});
  return set;
}

FileSet FileSet::FromConfig(const ClusterConfig& config) {
  FileSet set = Default();
  for (const ClusterConfig::ExtraSync& x : config.sync_files) {
    set.Add({x.path, x.folder, x.mode, false, x.reload});
  }
  return set;
}

bool IsExcludedName(const std::string& name) {
  return name == "ossec.conf" || name == "ar.conf" || EndsWith(name, "~") ||
         EndsWith(name, ".tmp") || EndsWith(name, ".lock") || EndsWith(name, ".swp") ||
         EndsWith(name, kDownloadSuffix);
}

const FileSetEntry* FileSet::Match(const std::string& rel_path) const {
  if (!schemas::IsSafeRelativePath(rel_path)) return nullptr;
  std::string name = rel_path.substr(rel_path.rfind('/') + 1);
  if (IsExcludedName(name)) return nullptr;
  for (const FileSetEntry& e : entries_) {
    if (!e.folder && rel_path == e.path) return &e;
    if (e.folder && rel_path.size() > e.path.size() + 1 &&
        rel_path.compare(0, e.path.size(), e.path) == 0 && rel_path[e.path.size()] == '/') {
      return &e;
    }
  }
  return nullptr;
}

Status CheckWritablePath(const std::string& home, const std::string& rel_path, const FileSet& set) {
  if (set.Match(rel_path) == nullptr) {
    return Status::PermissionDenied("'" + rel_path + "' is outside the synced file set");
  }
  // Every existing component below home must be a real folder (or the file itself a regular
  // file): a symlink could send the write anywhere.
  std::string path = home;
  std::size_t start = 0;
  while (start < rel_path.size()) {
    std::size_t end = rel_path.find('/', start);
    if (end == std::string::npos) end = rel_path.size();
    path += "/" + rel_path.substr(start, end - start);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) break;  // does not exist yet: created by us
    if (S_ISLNK(st.st_mode)) {
      return Status::PermissionDenied("'" + rel_path + "' goes through a symlink at '" + path +
                                      "'");
    }
    bool last = end == rel_path.size();
    if (!last && !S_ISDIR(st.st_mode)) {
      return Status::PermissionDenied("'" + path + "' is not a folder");
    }
    if (last && !S_ISREG(st.st_mode)) {
      return Status::PermissionDenied("'" + path + "' is not a regular file");
    }
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace zcluster::nodes
