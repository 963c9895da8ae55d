// File-integrity messages: the master's files stream (metadata of every synced file, numbered
// like the groups stream), the sync exchange, and chunked content fetches. Included by
// messages.h; SCHEMAS.md documents them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zcluster::schemas {

inline constexpr std::size_t kMaxPathLength = 4096;
inline constexpr std::size_t kMaxChunkBytes = 4 << 20;  // content bytes in one chunk
inline constexpr std::size_t kMaxFetchChunks = 4096;    // chunks in one fetch or reply

// A path relative to <home>: not empty, no leading '/', no "." or ".." or empty component, no
// NUL or backslash, at most 4096 bytes with components of at most 255. Where it may go on disk
// (its file-set entry, no symlinks) is checked by the node that writes it.
bool IsSafeRelativePath(std::string_view path);

struct FileEntry {
  std::string path;  // relative to <home>, e.g. "etc/rules/local_rules.xml"
  std::string hash;  // BLAKE2b-256 of the content, 64 lower-case hex characters
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // permission bits the worker gives the file, e.g. 0660
  bool operator==(const FileEntry&) const = default;
};

// One change of the files stream: the file is now `entry`, or (`deleted`) no longer exists.
inline constexpr std::size_t kMaxInlineBytes = 64 << 10;  // content a delta may carry

struct FileChange {
  std::uint64_t seq = 0;
  bool deleted = false;
  FileEntry entry;  // when deleted, only entry.path matters
  // Small files (at most kMaxInlineBytes) travel with their change, zstd-compressed, so a rule
  // edit needs no fetch round trip; empty when absent (larger files, log replays).
  std::string content;
  bool operator==(const FileChange&) const = default;
};

struct FilesDelta {
  static constexpr std::string_view kType = "files_delta";
  std::vector<FileChange> changes;  // consecutive seq, oldest first
  bool operator==(const FilesDelta&) const = default;
};

struct FilesSyncRequest {
  static constexpr std::string_view kType = "files_sync_request";
  std::uint64_t from = 0;
  bool operator==(const FilesSyncRequest&) const = default;
};

struct FilesSync {
  static constexpr std::string_view kType = "files_sync";
  std::uint64_t seq = 0;
  bool full = false;
  std::vector<FileChange> changes;  // !full
  std::vector<FileEntry> files;     // full: every file
  bool operator==(const FilesSync&) const = default;
};

struct ChunkRequest {
  std::string path;
  std::string hash;  // the version wanted
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool operator==(const ChunkRequest&) const = default;
};

// worker → master: content, by chunks.
struct FileFetch {
  static constexpr std::string_view kType = "file_fetch";
  std::vector<ChunkRequest> chunks;
  bool operator==(const FileFetch&) const = default;
};

struct FileChunk {
  std::string path;
  std::string hash;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // the whole file's size
  bool stale = false;      // the master no longer has this version: wait for the next change
  std::string data;        // zstd-compressed bytes of [offset, offset + raw_length)
  std::uint64_t raw_length = 0;
  bool operator==(const FileChunk&) const = default;
};

// master → worker.
struct FileData {
  static constexpr std::string_view kType = "file_data";
  std::vector<FileChunk> chunks;
  bool operator==(const FileData&) const = default;
};

// control → any node: its file table.
struct FileTableQuery {
  static constexpr std::string_view kType = "file_table_query";
  bool operator==(const FileTableQuery&) const = default;
};

struct FileTable {
  static constexpr std::string_view kType = "file_table";
  std::uint64_t seq = 0;
  std::vector<FileEntry> files;  // by path
  bool operator==(const FileTable&) const = default;
};

}  // namespace zcluster::schemas
