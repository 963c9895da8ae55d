// Which files the cluster keeps identical, as Wazuh's cluster.json: etc/client.keys (0640),
// etc/shared/** (0660, empty subfolders removed), etc/rules, etc/decoders, etc/lists (0660);
// never ossec.conf, ar.conf, names ending in ~, .tmp, .lock, .swp, nor our own temporary files.
// Paths are relative to <home>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

struct FileSetEntry {
  std::string path;  // a file, or a folder whose files (recursively) are synced
  bool folder = true;
  std::uint32_t mode = 0660;
  bool remove_empty_subfolders = false;
  bool reload = false;  // a change here runs the reload hook (rules, decoders, lists)
};

// The suffix of a worker's file being downloaded; never synced, removed at start.
inline constexpr const char* kDownloadSuffix = ".zc-tmp";

class FileSet {
 public:
  static FileSet Default();
  // Wazuh's set plus the config's <sync_files>.
  static FileSet FromConfig(const struct ClusterConfig& config);
  void Add(FileSetEntry entry) { entries_.push_back(std::move(entry)); }

  // The entry a relative path belongs to, or nullopt (not synced, or excluded).
  const FileSetEntry* Match(const std::string& rel_path) const;
  const std::vector<FileSetEntry>& entries() const { return entries_; }

 private:
  std::vector<FileSetEntry> entries_;
};

// True for names never synced: ossec.conf, ar.conf, *~, *.tmp, *.lock, *.swp, our temp files.
bool IsExcludedName(const std::string& name);

// Ok when writing `rel_path` under `home` stays inside its file-set entry's folder: the path is
// safe (no "..", not absolute) and no existing component between home and it is a symlink.
Status CheckWritablePath(const std::string& home, const std::string& rel_path, const FileSet& set);

}  // namespace zcluster::nodes
