#include "integrity/worker_files.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "zcluster/store/records.h"

#include "runtime/atomic_file.h"
#include "zcluster/nodes/clock.h"

extern char** environ;

namespace zcluster::nodes {
namespace {

constexpr const char* kStream = "files";

}  // namespace

std::string WorkerFiles::TempName(const std::string& abs) {
  std::size_t slash = abs.rfind('/');
  return abs.substr(0, slash + 1) + "." + abs.substr(slash + 1) + kDownloadSuffix;
}

Result<std::unique_ptr<WorkerFiles>> WorkerFiles::Load(store::NodeStore& store, FileScanner scanner,
                                                       const Logger& log,
                                                       WorkerFilesParams params) {
  std::unique_ptr<WorkerFiles> w(
      new WorkerFiles(store, std::move(scanner), log, std::move(params)));
  Result<std::uint64_t> seq = store.Position(kStream);
  if (!seq.ok()) return seq.status();
  w->follower_ = StreamFollower<schemas::FileChange>(*seq);
  ZC_RETURN_IF_ERROR(
      store.ForEach(store::Table::kFiles, [&](std::string_view path, std::string_view value) {
        Result<schemas::FileEntry> entry = store::DecodeExpectedFileRow(path, value);
        if (!entry.ok()) return entry.status();
        w->expected_[std::string(path)] = std::move(entry).value();
        return Status::Ok();
      }));
  // A killed worker leaves its downloads behind under temporary names: never a synced file.
  for (const std::string& stray : w->scanner_.LeftoverDownloads()) {
    ::unlink(w->Abs(stray).c_str());
    log.Info("Integrity sync", "Removed an unfinished download: {}", stray);
  }
  return w;
}

Status WorkerFiles::StoreExpected(const std::vector<schemas::FileChange>& changes,
                                  std::uint64_t seq, bool replace_all) {
  store::StoreBatch batch;
  if (replace_all) batch.DeleteRange(store::Table::kFiles, "", std::string(1, '\xff'));
  for (const schemas::FileChange& c : changes) {
    if (c.deleted) {
      batch.Delete(store::Table::kFiles, c.entry.path);
    } else {
      batch.Put(store::Table::kFiles, c.entry.path, store::EncodeExpectedFileRow(c.entry));
    }
  }
  batch.SetPosition(kStream, seq);
  // Not synced: the rows and the position are one atomic write, so a power cut takes both back
  // together and the master sends the changes again. The files themselves are synced before
  // they are renamed into place.
  ZC_RETURN_IF_ERROR(store_.WriteUnsynced(batch));
  if (replace_all) expected_.clear();
  for (const schemas::FileChange& c : changes) {
    if (c.deleted) {
      expected_.erase(c.entry.path);
    } else {
      expected_[c.entry.path] = c.entry;
    }
  }
  return Status::Ok();
}

Result<bool> WorkerFiles::Apply(StreamFollower<schemas::FileChange>::Step step) {
  if (!step.apply.empty()) {
    if (Status stored = StoreExpected(step.apply, step.apply.back().seq, false); !stored.ok()) {
      follower_.Rewind(step.apply.front().seq - 1);  // the sync retry asks for them again
      return stored;
    }
    std::size_t created = 0, updated = 0;
    Status installed;
    for (const schemas::FileChange& c : step.apply) {
      if (c.deleted || c.content.empty()) continue;
      bool existed = actual_.count(c.entry.path) != 0;
      // A file that cannot be written now is planned again by the next integrity check.
      if (Status s = InstallInline(c); !s.ok() && installed.ok()) installed = s;
      auto now = actual_.find(c.entry.path);
      if (now != actual_.end() && now->second.hash == c.entry.hash) (existed ? updated : created)++;
    }
    ZC_RETURN_IF_ERROR(Reconcile(false, created, updated));
    ZC_RETURN_IF_ERROR(installed);
  }
  return step.request_sync;
}

Status WorkerFiles::InstallInline(const schemas::FileChange& change) {
  const std::string& path = change.entry.path;
  if (expected_.count(path) == 0 || expected_.at(path) != change.entry) return Status::Ok();
  auto have = actual_.find(path);
  if (have != actual_.end() && have->second.hash == change.entry.hash) return Status::Ok();
  // As a one-chunk download, so it takes the same checks, temp file, hash test and rename.
  DropDownload(path);
  downloads_[path] = Download{change.entry, 0, have != actual_.end()};
  if (!in_round_) StartRound();
  log_.Debug("Integrity sync", "{} arrived with its change", path);
  return WriteChunks(schemas::FileData{
      {{path, change.entry.hash, 0, change.entry.size, false, change.content, change.entry.size}}});
}

Result<bool> WorkerFiles::Start() { return Apply(follower_.Start()); }

Result<bool> WorkerFiles::OnDelta(const schemas::FilesDelta& delta) {
  return Apply(follower_.OnDelta(delta.changes));
}

Result<bool> WorkerFiles::OnHeartbeat(const schemas::StreamHeartbeat& heartbeat) {
  if (heartbeat.stream != kStream) return false;
  return Apply(follower_.OnHeartbeat(heartbeat.seq));
}

Result<bool> WorkerFiles::OnSync(const schemas::FilesSync& sync) {
  if (sync.full) {
    std::vector<schemas::FileChange> all;
    for (const schemas::FileEntry& e : sync.files) all.push_back({0, false, e, ""});
    ZC_RETURN_IF_ERROR(StoreExpected(all, sync.seq, true));
  } else {
    if (!sync.changes.empty() && (sync.changes.front().seq != follower_.applied() + 1 ||
                                  sync.changes.back().seq != sync.seq)) {
      full_requested_ = true;
      return true;
    }
    ZC_RETURN_IF_ERROR(StoreExpected(sync.changes, sync.seq, false));
  }
  full_requested_ = false;
  synced_ = true;
  ZC_RETURN_IF_ERROR(Reconcile(true));
  return Apply(follower_.OnSynced(sync.seq));
}

void WorkerFiles::AbandonDownload(const std::string& path) {
  if (downloads_.count(path) != 0 && in_round_) ++round_dropped_;
  DropDownload(path);
}

void WorkerFiles::DropDownload(const std::string& path_ref) {
  const std::string path = path_ref;  // may be a download's own key, erased below
  if (downloads_.erase(path)) ::unlink(TempName(Abs(path)).c_str());
  std::erase_if(queue_, [&](const schemas::ChunkRequest& q) { return q.path == path; });
}

void WorkerFiles::Delete(const std::string& path) {
  const FileSetEntry* entry = scanner_.set().Match(path);
  Status ok = CheckWritablePath(scanner_.home(), path, scanner_.set());
  if (!ok.ok()) {
    log_.Warning("Integrity sync", "Not deleting {}: {}", path, ok.message());
    return;
  }
  ::unlink(Abs(path).c_str());
  EraseActual(path);
  ++round_.deleted;
  if (entry == nullptr || !entry->remove_empty_subfolders) return;
  // Empty subfolders go too, up to (not including) the entry's own folder.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  while (dir.string().size() > entry->path.size()) {
    if (::rmdir(Abs(dir.string()).c_str()) != 0) break;
    dir = dir.parent_path();
  }
}

void WorkerFiles::SetActual(const std::string& path, schemas::FileEntry entry) {
  auto [it, added] = actual_.try_emplace(path);
  if (!added) actual_digest_ -= FileRowDigest(it->second);  // wraps, as the sum does
  actual_digest_ += FileRowDigest(entry);
  it->second = std::move(entry);
}

void WorkerFiles::EraseActual(const std::string& path) {
  auto it = actual_.find(path);
  if (it == actual_.end()) return;
  actual_digest_ -= FileRowDigest(it->second);
  actual_.erase(it);
}

Status WorkerFiles::Reconcile(bool rescan, std::size_t inline_created, std::size_t inline_updated) {
  if (rescan) {
    std::map<std::string, ScannedFile> scanned = scanner_.Scan(0, nullptr);
    actual_.clear();
    actual_digest_ = 0;
    for (auto& [path, f] : scanned) {
      schemas::FileEntry e = f.entry;
      e.mode = f.stat.mode;  // what is on disk, not what it should be
      SetActual(path, std::move(e));
    }
    scanned_ = true;
  }
  std::size_t create = inline_created, update = inline_updated, remove = 0;
  std::vector<std::string> empty;  // nothing to fetch: finished at once
  for (const auto& [path, want] : expected_) {
    auto have = actual_.find(path);
    if (have != actual_.end() && have->second.hash == want.hash) {
      if (have->second.mode != want.mode && ::chmod(Abs(path).c_str(), want.mode) == 0) {
        have->second.mode = want.mode;
      }
      // Planned before the disk was known, or fetched meanwhile by other means: not needed.
      if (downloads_.count(path) != 0) DropDownload(path);
      continue;
    }
    auto d = downloads_.find(path);
    if (d != downloads_.end() && d->second.entry.hash == want.hash) continue;
    DropDownload(path);
    Status ok = CheckWritablePath(scanner_.home(), path, scanner_.set());
    if (!ok.ok()) {
      log_.Warning("Integrity sync", "Refused {}: {}", path, ok.message());
      continue;
    }
    bool is_update = have != actual_.end();
    (is_update ? update : create)++;
    downloads_[path] = Download{want, 0, is_update};
    if (want.size == 0) {
      empty.push_back(path);
      continue;
    }
    for (std::uint64_t off = 0; off < want.size; off += params_.chunk_bytes) {
      queue_.push_back(
          {path, want.hash, off, std::min<std::uint64_t>(params_.chunk_bytes, want.size - off)});
    }
  }
  ZC_RETURN_IF_ERROR(FinishAll(empty));
  std::vector<std::string> extra;
  for (const auto& [path, have] : actual_) {
    if (!expected_.count(path)) extra.push_back(path);
  }
  if (create + update + extra.size() > 0 && !in_round_) StartRound();
  for (const std::string& path : extra) {
    Delete(path);
    ++remove;
  }
  if (create + update + remove > 0) {
    log_.Info("Integrity sync", "Files to create: {} | Files to update: {} | Files to delete: {}",
              create, update, remove);
  }
  MaybeFinishRound();
  return Status::Ok();
}

std::optional<schemas::FileFetch> WorkerFiles::NextFetch() {
  if (queue_.empty() || in_flight_ >= params_.max_in_flight) return std::nullopt;
  schemas::FileFetch fetch;
  std::size_t bytes = 0;
  while (!queue_.empty() && bytes < params_.fetch_bytes &&
         fetch.chunks.size() < schemas::kMaxFetchChunks) {
    bytes += queue_.front().length;
    fetch.chunks.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  ++in_flight_;
  return fetch;
}

Status WorkerFiles::OnData(const schemas::FileData& data) {
  if (in_flight_ > 0) --in_flight_;
  return WriteChunks(data);
}

Status WorkerFiles::WriteChunks(const schemas::FileData& data) {
  std::vector<std::string> complete;
  std::set<std::string> made_folders;
  Status failed;
  for (const schemas::FileChunk& c : data.chunks) {
    auto it = downloads_.find(c.path);
    if (it == downloads_.end() || it->second.entry.hash != c.hash) continue;  // superseded
    Download& d = it->second;
    if (c.stale) {
      // The master moved on: its next change brings the new version.
      AbandonDownload(c.path);
      continue;
    }
    std::string raw(c.raw_length, '\0');
    std::size_t n = ZSTD_decompress(raw.data(), raw.size(), c.data.data(), c.data.size());
    if (ZSTD_isError(n) || n != c.raw_length || c.offset + n > d.entry.size) {
      log_.Warning("Integrity sync", "Bad chunk of {} at {}: dropped", c.path, c.offset);
      AbandonDownload(c.path);
      continue;
    }
    std::string abs = Abs(c.path);
    std::string folder = std::filesystem::path(abs).parent_path().string();
    if (made_folders.insert(folder).second) {
      std::error_code ec;
      std::filesystem::create_directories(folder, ec);
      if (ec && failed.ok()) {
        failed = Status::Unavailable("cannot create " + folder + ": " + ec.message());
      }
    }
    // Checked again now that the folders exist: nothing created may be a symlink.
    Status ok = CheckWritablePath(scanner_.home(), c.path, scanner_.set());
    if (!ok.ok()) {
      log_.Warning("Integrity sync", "Refused {}: {}", c.path, ok.message());
      AbandonDownload(c.path);
      continue;
    }
    Fd fd(TempName(abs), O_WRONLY | O_CREAT | O_NOFOLLOW, 0600);
    bool written = fd.ok() && ::pwrite(fd.get(), raw.data(), n, static_cast<off_t>(c.offset)) ==
                                  static_cast<ssize_t>(n);
    // A whole file in one chunk (most rules): checked from memory and given its mode now, so
    // FinishAll need not read it back.
    bool whole = written && c.offset == 0 && n == d.entry.size;
    if (whole) {
      d.checked = HashBytes(raw) == d.entry.hash &&
                  ::ftruncate(fd.get(), static_cast<off_t>(n)) == 0 &&
                  ::fchmod(fd.get(), d.entry.mode) == 0;
    }
    const int write_errno = errno;
    fd.Close();
    if (!written) {
      // The other chunks of this reply still go where they can: a full disk fails them all
      // alike, but a file refused its folder must not stop the rest.
      if (failed.ok()) {
        failed = Status::Unavailable("cannot write " + TempName(abs) + ": " +
                                     std::strerror(write_errno));
      }
      AbandonDownload(c.path);
      continue;
    }
    d.received += n;
    if (d.received >= d.entry.size) complete.push_back(c.path);
  }
  Status finished = FinishAll(complete);
  DropOrphans();
  MaybeFinishRound();
  return failed.ok() ? finished : failed;
}

void WorkerFiles::DropOrphans() {
  // With no fetch in flight and none queued, a download still open waits for a chunk nothing
  // will bring: a reply left it out, or its write failed. Dropped, it is planned again by the
  // next integrity check instead of keeping the worker busy for ever.
  if (in_flight_ > 0 || !queue_.empty() || downloads_.empty()) return;
  log_.Warning("Integrity sync", "{} downloads did not complete: planned again at the next check",
               downloads_.size());
  while (!downloads_.empty()) AbandonDownload(downloads_.begin()->first);
}

Status WorkerFiles::FinishAll(const std::vector<std::string>& paths) {
  // Size, mode and hash of every complete temp file first; then one syncfs for the whole batch
  // instead of an fsync per file (10,000 small rules are 10,000 fsyncs otherwise); then the
  // renames, and one fsync per folder. A rename never exposes content that is not on disk.
  std::vector<std::string> ready;
  for (const std::string& path : paths) {
    auto it = downloads_.find(path);
    if (it == downloads_.end()) continue;
    const Download& d = it->second;
    if (d.checked) {
      ready.push_back(path);
      continue;
    }
    std::string tmp = TempName(Abs(path));
    Fd fd(tmp, O_WRONLY | O_CREAT | O_NOFOLLOW, 0600);
    bool ok = fd.ok() && ::ftruncate(fd.get(), static_cast<off_t>(d.entry.size)) == 0 &&
              ::fchmod(fd.get(), d.entry.mode) == 0;
    fd.Close();
    Result<std::string> hash = ok ? HashFile(tmp) : Result<std::string>(Status::Unavailable("io"));
    if (!hash.ok() || *hash != d.entry.hash) {
      log_.Warning("Integrity sync", "{} did not match its hash after download: fetching again",
                   path);
      schemas::FileEntry want = d.entry;
      AbandonDownload(path);
      expected_[path] = want;  // unchanged; the next reconcile plans it again
      continue;
    }
    ready.push_back(path);
  }
  if (ready.empty()) return Status::Ok();
  if (ready.size() <= kFsyncEachUpTo) {
    // A rule edit: its own fsync is cheaper than flushing a filesystem that others write to.
    for (const std::string& path : ready) {
      Fd fd(TempName(Abs(path)), O_RDONLY | O_NOFOLLOW);
      bool synced = fd.ok() && ::fsync(fd.get()) == 0;
      fd.Close();
      if (!synced) return Status::Unavailable("fsync " + path + ": " + std::strerror(errno));
    }
  } else {
    Fd home(scanner_.home(), O_RDONLY | O_DIRECTORY);
    bool synced = home.ok() && ::syncfs(home.get()) == 0;
    home.Close();
    if (!synced) return Status::Unavailable(std::string("syncfs: ") + std::strerror(errno));
  }
  std::set<std::string> folders;
  for (const std::string& path : ready) {
    Download& d = downloads_.at(path);
    std::string abs = Abs(path), tmp = TempName(abs);
    if (::rename(tmp.c_str(), abs.c_str()) != 0) {
      int saved = errno;
      AbandonDownload(path);
      return Status::Unavailable("cannot rename " + tmp + ": " + std::strerror(saved));
    }
    folders.insert(std::filesystem::path(abs).parent_path().string());
    SetActual(path, d.entry);
    (d.update ? round_.updated : round_.created)++;
    const FileSetEntry* entry = scanner_.set().Match(path);
    if (entry != nullptr && entry->reload) reload_due_ = true;
    downloads_.erase(path);
  }
  for (const std::string& folder : folders) {
    if (Status s = SyncFolder(folder); !s.ok()) log_.Error("Integrity sync", "{}", s.message());
  }
  return Status::Ok();
}

void WorkerFiles::StartRound() {
  in_round_ = true;
  round_ = IntegritySyncStats{UnixNow(), 0, 0, 0, 0};
  round_dropped_ = 0;
  // Wazuh opens each sync task with "Starting."; bounded like the other lines of a busy stream.
  const auto now = SteadyClock::now();
  const bool info = now - last_start_line_ >= std::chrono::seconds(10);
  if (info) last_start_line_ = now;
  log_.At(info ? LogLevel::kInfo : LogLevel::kDebug, "Integrity sync", "Starting.");
}

void WorkerFiles::MaybeFinishRound() {
  if (!in_round_ || !downloads_.empty()) return;
  in_round_ = false;
  round_.end = UnixNow();
  last_sync_ = round_;
  // What was planned and did not happen is said here too, so the counts add up with the
  // "Files to create" line above.
  log_.Info(
      "Integrity sync", "Created {}, updated {}, deleted {}{}. Finished in {:.3f}s.",
      round_.created, round_.updated, round_.deleted,
      round_dropped_ > 0
          ? fmt::format("; {} did not complete (planned again at the next check)", round_dropped_)
          : "",
      round_.end - round_.start);
  if (reload_due_) RunReloadHook();
}

void WorkerFiles::RunReloadHook() {
  reload_due_ = false;
  if (params_.reload_command.empty()) return;
  const char* argv[] = {"/bin/sh", "-c", params_.reload_command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  if (rc != 0) {
    log_.Error("Integrity sync", "Cannot run the reload command: {}", std::strerror(rc));
    return;
  }
  // Not waited for here: the worker's loop reaps it (SIGCHLD is left at its default).
  log_.Info("Integrity sync", "Rules, decoders or lists changed: started reload command (pid {})",
            pid);
}

void WorkerFiles::SessionLost() {
  for (auto it = downloads_.begin(); it != downloads_.end();) {
    ::unlink(TempName(Abs(it->first)).c_str());
    it = downloads_.erase(it);
  }
  queue_.clear();
  in_flight_ = 0;
  // Planned again from what is on disk, once that is known. Right after a start it is not: the
  // sync that follows rescans, and planning now would fetch every file again.
  if (!scanned_) return;
  if (Status s = Reconcile(false); !s.ok()) log_.Error("Integrity sync", "{}", s.ToString());
}

schemas::FileTable WorkerFiles::Table() const {
  schemas::FileTable t{follower_.applied(), {}};
  for (const auto& [path, e] : actual_) t.files.push_back(e);
  return t;
}

}  // namespace zcluster::nodes
