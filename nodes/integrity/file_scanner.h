// Walks the file set under <home> and hashes what changed. A file is rehashed (BLAKE2b-256,
// libsodium) only when its size, mtime or inode differ from the cached stat, so a rescan of
// thousands of unchanged files costs a stat each.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integrity/file_set.h"
#include "zcluster/schemas/files.h"

namespace zcluster::nodes {

struct FileStat {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  std::uint32_t mode = 0;  // permission bits on disk
  bool operator==(const FileStat&) const = default;
};

struct ScannedFile {
  schemas::FileEntry entry;  // mode: the file set's mode for it (what workers must have)
  FileStat stat;
};

// BLAKE2b-256 of a file's content as 64 hex characters.
Result<std::string> HashFile(const std::string& path);
// The same of bytes in memory.
std::string HashBytes(std::string_view bytes);
// An order-independent digest of a file table: the sum of each entry's first 8 hash-of-row bytes.
std::uint64_t FileTableDigest(const std::map<std::string, schemas::FileEntry>& files);
// One entry's part of that sum (its path must be the map key): a table that changes by a few
// rows updates its digest by subtracting the old rows' parts and adding the new ones'.
std::uint64_t FileRowDigest(const schemas::FileEntry& entry);

class FileScanner {
 public:
  FileScanner(std::string home, FileSet set) : home_(std::move(home)), set_(std::move(set)) {}

  // Seeds the cache (the master's store keeps it across restarts).
  void Remember(const ScannedFile& file) { cache_[file.entry.path] = file; }

  // The current files. Regular files only; symlinks and special files are skipped.
  // `settle_ns`: files modified more recently than this are reported in `unsettled` instead
  // (caught mid-write) with their previous state kept, if any.
  // A file in `closed` (absolute paths: its writer closed it) counts as settled at once.
  std::map<std::string, ScannedFile> Scan(std::int64_t settle_ns,
                                          std::vector<std::string>* unsettled,
                                          const std::set<std::string>* closed = nullptr);
  // One file its writer has just closed, looked at now whatever its mtime: nullopt when it is
  // gone, not a regular file, or not in the set.
  std::optional<ScannedFile> ScanOne(const std::string& rel);
  // Stray download files left by a killed process.
  std::vector<std::string> LeftoverDownloads() const;

  const FileSet& set() const { return set_; }
  const std::string& home() const { return home_; }

 private:
  void Walk(const std::string& rel_dir, std::vector<std::string>* out) const;

  std::string home_;
  FileSet set_;
  std::map<std::string, ScannedFile> cache_;
};

}  // namespace zcluster::nodes
