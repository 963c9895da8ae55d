#include "integrity/master_files.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include "zcluster/store/records.h"

namespace zcluster::nodes {
namespace {

constexpr const char* kStream = "files";

std::string EncodeCached(const ScannedFile& f) {
  return store::EncodeMasterFileRow({f.entry, {f.stat.size, f.stat.mtime_ns, f.stat.inode}});
}

Result<ScannedFile> DecodeCached(std::string_view path, std::string_view bytes) {
  Result<store::MasterFileRow> row = store::DecodeMasterFileRow(path, bytes);
  if (!row.ok()) return row.status();
  // The mode on disk was the entry's when the stat was taken.
  return ScannedFile{row->entry,
                     {row->stat.size, row->stat.mtime_ns, row->stat.inode, row->entry.mode}};
}

// The zstd-compressed content of a small file; "" if it cannot be read whole (it changed since
// the scan: the next scan publishes it again).
std::string Compressed(const std::string& path, std::uint64_t size) {
  std::string raw(size, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n = fd < 0 ? -1 : ::pread(fd, raw.data(), size, 0);
  if (fd >= 0) ::close(fd);
  if (n != static_cast<ssize_t>(size)) return "";
  std::string out(ZSTD_compressBound(size), '\0');
  std::size_t z = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  if (ZSTD_isError(z)) return "";
  out.resize(z);
  return out;
}

}  // namespace

Result<std::unique_ptr<MasterFiles>> MasterFiles::Load(store::NodeStore& store, FileScanner scanner,
                                                       const Logger& log) {
  Result<StreamLog> stream = StreamLog::Load(store, store::Table::kFilesLog, kStream);
  if (!stream.ok()) return stream.status();
  std::unique_ptr<MasterFiles> m(
      new MasterFiles(store, std::move(scanner), log, std::move(stream).value()));
  ZC_RETURN_IF_ERROR(
      store.ForEach(store::Table::kFiles, [&](std::string_view path, std::string_view value) {
        Result<ScannedFile> f = DecodeCached(path, value);
        if (!f.ok()) return f.status();
        m->scanner_.Remember(*f);
        m->files_.emplace(f->entry.path, f->entry);
        m->stored_.emplace(f->entry.path, std::string(value));
        return Status::Ok();
      }));
  m->digest_ = FileTableDigest(m->files_);
  return m;
}

Result<MasterFiles::Changes> MasterFiles::Rescan(std::size_t* unsettled,
                                                 const std::set<std::string>* closed) {
  std::vector<std::string> busy;
  std::map<std::string, ScannedFile> now = scanner_.Scan(kSettleNs, &busy, closed);
  if (unsettled != nullptr) *unsettled = busy.size();
  // While files are being written the table is not published at all (for up to kMaxDefer):
  // a table without a file that is merely mid-write would make workers delete their copy.
  auto mono = SteadyClock::now();
  if (!busy.empty()) {
    if (deferring_since_ == SteadyClock::time_point{}) deferring_since_ = mono;
    if (mono - deferring_since_ < kMaxDefer) return Changes{};
  }
  deferring_since_ = {};
  ready_ = true;
  Pending pending;
  for (const auto& [path, f] : now) Note(path, &f, pending);
  for (const auto& [path, entry] : files_) {
    if (!now.count(path)) Note(path, nullptr, pending);
  }
  return Commit(std::move(pending));
}

Result<MasterFiles::Changes> MasterFiles::RescanFiles(const std::set<std::string>& closed) {
  const std::string prefix = scanner_.home() + "/";
  Pending pending;
  for (const std::string& abs : closed) {
    if (abs.rfind(prefix, 0) != 0) continue;
    std::string rel = abs.substr(prefix.size());
    std::optional<ScannedFile> f = scanner_.ScanOne(rel);
    if (f || files_.count(rel)) Note(rel, f ? &*f : nullptr, pending);
  }
  return Commit(std::move(pending));
}

void MasterFiles::Note(const std::string& path, const ScannedFile* f, Pending& p) {
  if (f == nullptr) {  // gone
    p.changes.push_back({log_.seq() + p.changes.size() + 1, true, {path, "", 0, 0}, ""});
    p.batch.Delete(store::Table::kFiles, path);
    p.entries.push_back(store::EncodeFileChangeRow(p.changes.back()));
    return;
  }
  auto it = files_.find(path);
  std::string cached = EncodeCached(*f);  // the stat cache follows the disk
  auto stored = stored_.find(path);
  if (stored == stored_.end() || stored->second != cached) {
    p.batch.Put(store::Table::kFiles, path, cached);
    p.cache_writes.emplace_back(path, std::move(cached));
  }
  if (it != files_.end() && it->second == f->entry) return;
  p.changes.push_back({log_.seq() + p.changes.size() + 1, false, f->entry, ""});
  p.entries.push_back(store::EncodeFileChangeRow(p.changes.back()));
}

Result<MasterFiles::Changes> MasterFiles::Commit(Pending p) {
  // Only stat-cache refreshes, if any: worth a write only when something moved.
  if (p.changes.empty()) return std::move(p.changes);
  // Small files ride with their change (the log keeps metadata only: a replay fetches), up to
  // kInlineBudget in all: an edit arrives in one message, while a first scan of 10,000 files does
  // not hold 40 MB of content in memory for workers that fetch in bulk anyway.
  std::size_t inlined = 0;
  for (schemas::FileChange& c : p.changes) {
    if (c.deleted || c.entry.size == 0 || c.entry.size > schemas::kMaxInlineBytes) continue;
    if (inlined + c.entry.size > kInlineBudget) break;
    c.content = Compressed(scanner_.home() + "/" + c.entry.path, c.entry.size);
    inlined += c.entry.size;
  }
  log_.Stage(p.batch, p.entries);
  ZC_RETURN_IF_ERROR(store_.Write(p.batch));
  log_.Committed();
  for (auto& [path, cached] : p.cache_writes) stored_[path] = std::move(cached);
  for (const schemas::FileChange& c : p.changes) {
    auto old = files_.find(c.entry.path);
    if (old != files_.end()) digest_ -= FileRowDigest(old->second);  // wraps, as the sum does
    if (c.deleted) {
      files_.erase(c.entry.path);
      stored_.erase(c.entry.path);
    } else {
      files_[c.entry.path] = c.entry;
      digest_ += FileRowDigest(c.entry);
    }
  }
  return std::move(p.changes);
}

Result<schemas::FilesSync> MasterFiles::SyncFrom(std::uint64_t from) const {
  schemas::FilesSync sync;
  sync.seq = log_.seq();
  if (from == sync.seq) return sync;
  if (log_.NeedsFull(from)) {
    sync.full = true;
    for (const auto& [path, e] : files_) sync.files.push_back(e);
    return sync;
  }
  ZC_RETURN_IF_ERROR(log_.ReadAfter(from, [&](std::uint64_t seq, std::string_view entry) {
    Result<schemas::FileChange> c = store::DecodeFileChangeRow(seq, entry);
    if (!c.ok()) return c.status();
    sync.changes.push_back(std::move(c).value());
    return Status::Ok();
  }));
  return sync;
}

schemas::FileData MasterFiles::Serve(const schemas::FileFetch& fetch) const {
  schemas::FileData data;
  std::size_t budget = 16 << 20;  // raw bytes per reply, within ZMQ_MAXMSGSIZE
  for (const schemas::ChunkRequest& q : fetch.chunks) {
    schemas::FileChunk c{q.path, q.hash, q.offset, 0, false, "", 0};
    auto it = files_.find(q.path);
    if (it == files_.end() || it->second.hash != q.hash) {
      c.stale = true;
      data.chunks.push_back(std::move(c));
      continue;
    }
    c.size = it->second.size;
    std::uint64_t length = std::min<std::uint64_t>(q.length, schemas::kMaxChunkBytes);
    length = std::min<std::uint64_t>(length, c.size - std::min(q.offset, c.size));
    // A chunk travels whole or not at all: one over the budget is left out, for the worker to
    // ask again, never cut short.
    if (length > budget) continue;
    std::string raw(length, '\0');
    int fd = ::open((scanner_.home() + "/" + q.path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n = fd < 0 ? -1 : ::pread(fd, raw.data(), length, static_cast<off_t>(q.offset));
    if (fd >= 0) ::close(fd);
    if (n != static_cast<ssize_t>(length)) {
      c.stale = true;  // changed or vanished since the last scan: the next change will say
      data.chunks.push_back(std::move(c));
      continue;
    }
    // Compressed: rules and lists are text; level 1 costs little CPU.
    c.data.resize(ZSTD_compressBound(raw.size()));
    std::size_t z = ZSTD_compress(c.data.data(), c.data.size(), raw.data(), raw.size(), 1);
    if (ZSTD_isError(z)) {
      c.stale = true;
      c.data.clear();
    } else {
      c.data.resize(z);
      c.raw_length = length;
    }
    budget -= length;
    data.chunks.push_back(std::move(c));
  }
  return data;
}

schemas::FileTable MasterFiles::Table() const {
  schemas::FileTable t{log_.seq(), {}};
  for (const auto& [path, e] : files_) t.files.push_back(e);
  return t;
}

}  // namespace zcluster::nodes
