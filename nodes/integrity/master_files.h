// The master's file-integrity flows (Wazuh's "Local integrity" and the sending side of
// "Integrity sync"): rescans the file set (on inotify events and periodically), rehashes only
// what changed, numbers each change on the files stream and stores it with its number in one
// write (the stat cache too, so a restart does not rehash everything), and serves content to
// workers in compressed chunks, checked against the version they ask for.
//
// Threading: owned by the master's loop thread.
#pragma once

#include <memory>

#include "integrity/file_scanner.h"
#include "streams/stream_log.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

class MasterFiles {
 public:
  // A file modified less than this ago is left for the next scan: it may be mid-write.
  static constexpr std::int64_t kSettleNs = 100'000'000;

  static Result<std::unique_ptr<MasterFiles>> Load(store::NodeStore& store, FileScanner scanner,
                                                   const Logger& log);

  using Changes = std::vector<schemas::FileChange>;
  // Rescans; returns the durable changes to publish. `unsettled` counts files still being
  // written (rescan again soon).
  Result<Changes> Rescan(std::size_t* unsettled, const std::set<std::string>* closed = nullptr);
  // Looks at these files only (absolute paths, closed by their writer): an edit is published
  // without walking 10,000 files. Changes nothing else; the next full rescan catches the rest.
  Result<Changes> RescanFiles(const std::set<std::string>& closed);
  Result<schemas::FilesSync> SyncFrom(std::uint64_t from) const;
  schemas::FileData Serve(const schemas::FileFetch& fetch) const;
  schemas::FileTable Table() const;
  std::uint64_t seq() const { return log_.seq(); }
  std::uint64_t digest() const { return digest_; }
  // False until the first complete scan of this process is committed: before it the table may
  // lack files that exist (e.g. being written at start-up), and must not be handed to workers.
  bool ready() const { return ready_; }

 private:
  MasterFiles(store::NodeStore& store, FileScanner scanner, const Logger& log, StreamLog stream)
      : store_(store), scanner_(std::move(scanner)), logger_(log), log_(std::move(stream)) {}

  // Changes found by a scan, not yet durable.
  struct Pending {
    store::StoreBatch batch;
    Changes changes;
    std::vector<std::string> entries;  // encoded changes for the log
    std::vector<std::pair<std::string, std::string>> cache_writes;
  };
  // Compares one file (nullptr: gone) with the table and notes what differs.
  void Note(const std::string& path, const ScannedFile* file, Pending& pending);
  // Makes the noted changes durable and current; returns them for publishing.
  Result<Changes> Commit(Pending pending);

  store::NodeStore& store_;
  FileScanner scanner_;
  Logger logger_;
  StreamLog log_;
  std::map<std::string, schemas::FileEntry> files_;
  // What kFiles holds for each path (entry and stat cache): a rescan writes only what differs.
  std::unordered_map<std::string, std::string> stored_;
  std::uint64_t digest_ = 0;
  // Publishing waits for files being written to settle, but never longer than this.
  static constexpr std::chrono::seconds kMaxDefer{2};
  // Content carried inline by one scan's changes, at most.
  static constexpr std::size_t kInlineBudget = 1 << 20;
  SteadyClock::time_point deferring_since_{};
  bool ready_ = false;
};

}  // namespace zcluster::nodes
