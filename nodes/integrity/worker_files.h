// The worker's file-integrity flows (Wazuh's "Integrity check" and "Integrity sync"): keeps the
// master's file table as the expected state (from the files stream, with StreamFollower's
// rules), scans its own copy, and repairs every difference: fetches missing or changed files in
// chunks, deletes extra ones (and empty subfolders where the entry says so), fixes modes. A file
// is written to a hidden temporary name in its folder, fsynced, checked against its hash, given
// its mode, and renamed over the old one, so a reader never sees a partial file; a killed worker
// leaves only temporary files, removed at the next start. Paths leaving their entry's folder
// (absolute, "..", symlinks) are refused and logged.
//
// Threading: owned by the worker's loop thread.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "integrity/file_scanner.h"
#include "streams/stream_follower.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

struct WorkerFilesParams {
  std::size_t chunk_bytes = 1 << 20;  // content asked for per chunk
  std::size_t fetch_bytes = 8 << 20;  // content asked for per fetch message
  std::size_t max_in_flight = 4;      // fetch messages awaiting their data
  std::string reload_command;         // run after rules/decoders/lists changed ("": none)
};

// Counts of the last repair round, for logs and zcluster-control -i.
struct IntegritySyncStats {
  double start = 0, end = 0;  // unix times
  std::uint64_t created = 0, updated = 0, deleted = 0;
};

class WorkerFiles {
 public:
  static Result<std::unique_ptr<WorkerFiles>> Load(store::NodeStore& store, FileScanner scanner,
                                                   const Logger& log, WorkerFilesParams params);

  // The stream, as for groups: each returns whether to send FilesSyncRequest{sync_from()}.
  Result<bool> Start();
  Result<bool> OnDelta(const schemas::FilesDelta& delta);
  Result<bool> OnHeartbeat(const schemas::StreamHeartbeat& heartbeat);
  Result<bool> OnSync(const schemas::FilesSync& sync);
  std::uint64_t applied() const { return follower_.applied(); }
  std::uint64_t sync_from() const { return full_requested_ ? 0 : follower_.applied(); }
  bool syncing() const { return follower_.syncing(); }

  // Compares the expected table with the disk (rescanned when `rescan`) and plans the repairs.
  // The `inline_*` counts of files already installed from their changes join the log line.
  Status Reconcile(bool rescan, std::size_t inline_created = 0, std::size_t inline_updated = 0);
  // The next fetch to send, while the window has room.
  std::optional<schemas::FileFetch> NextFetch();
  Status OnData(const schemas::FileData& data);
  // Fetches in flight will not be answered (new session): forget them and plan again.
  void SessionLost();

  schemas::FileTable Table() const;  // what is on disk
  std::uint64_t digest() const { return actual_digest_; }
  const IntegritySyncStats& last_sync() const { return last_sync_; }
  bool busy() const { return !downloads_.empty(); }
  std::size_t downloading() const { return downloads_.size(); }
  // True once a sync with the master has been applied in this process: before it, the expected
  // table may be stale or empty and must not be used to delete anything.
  bool synced() const { return synced_; }

 private:
  struct Download {
    schemas::FileEntry entry;
    std::uint64_t received = 0;
    bool update = false;   // replaces an existing file
    bool checked = false;  // content, size and mode already verified on the temp file
  };
  WorkerFiles(store::NodeStore& store, FileScanner scanner, const Logger& log,
              WorkerFilesParams params)
      : store_(store),
        scanner_(std::move(scanner)),
        log_(log),
        params_(std::move(params)),
        follower_(0) {}
  Result<bool> Apply(StreamFollower<schemas::FileChange>::Step step);
  Status StoreExpected(const std::vector<schemas::FileChange>& changes, std::uint64_t seq,
                       bool replace_all);
  // Installs the complete downloads among `paths`: checked, made durable, renamed into place.
  Status FinishAll(const std::vector<std::string>& paths);
  static constexpr std::size_t kFsyncEachUpTo = 8;  // more files than this: one syncfs
  // Writes a small file that came with its change, if it is still the expected version.
  Status InstallInline(const schemas::FileChange& change);
  // Writes the chunks of downloads still wanted; completes, drops or keeps each download.
  Status WriteChunks(const schemas::FileData& data);
  void Delete(const std::string& path);
  void DropDownload(const std::string& path);
  void DropOrphans();
  std::string Abs(const std::string& rel) const { return scanner_.home() + "/" + rel; }
  static std::string TempName(const std::string& abs);
  void MaybeFinishRound();
  void RunReloadHook();

  store::NodeStore& store_;
  FileScanner scanner_;
  Logger log_;
  WorkerFilesParams params_;
  StreamFollower<schemas::FileChange> follower_;
  bool full_requested_ = false;
  std::map<std::string, schemas::FileEntry> expected_;
  // What is on disk, and its FileTableDigest kept up to date row by row: the state the loop is
  // told after every event carries it, and a whole-table sum there cost 5,000 hashes each time.
  std::map<std::string, schemas::FileEntry> actual_;
  std::uint64_t actual_digest_ = 0;
  void SetActual(const std::string& path, schemas::FileEntry entry);
  void EraseActual(const std::string& path);
  std::map<std::string, Download> downloads_;
  std::deque<schemas::ChunkRequest> queue_;
  std::size_t in_flight_ = 0;
  bool reload_due_ = false;
  bool synced_ = false;
  bool scanned_ = false;  // actual_ holds what is on disk (a rescan has run since the load)
  bool in_round_ = false;
  IntegritySyncStats round_, last_sync_;
  std::size_t round_dropped_ = 0;  // downloads of this round dropped unfinished
  SteadyClock::time_point last_start_line_{};
  void StartRound();
  // Drops a download of this round that will not complete, and counts it for the round's line.
  void AbandonDownload(const std::string& path);
};

}  // namespace zcluster::nodes
