#include "zcluster/store/node_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <vector>

namespace zcluster::store {
namespace {

constexpr const char* kMeta = "meta";  // identity, schema version, stream positions
// Column family names by Table, in enum order; handle i + 2 (after default and meta).
constexpr const char* kTables[] = {"agents",    "agent_counters", "agent_pending",
                                   "groups",    "log.groups",     "files",
                                   "log.files", "agents.seen",    "log.agents.seen"};

// The agent tables: a row per agent, written thousands at a time, never by a range deletion.
// Their memtables keep an insert hint. Debian's RocksDB (7.8) asserts inside the skip list when
// a range deletion lands in a memtable that keeps one, so range deletions are refused there.
bool KeepsInsertHint(Table t) {
  return t == Table::kAgents || t == Table::kAgentCounters || t == Table::kAgentPending;
}

// A table's memtable. The master's agent table and its last-seen log take nearly every write:
// they get room for 8 MiB so that they are not flushed and compacted every few thousand records.
constexpr std::size_t kMemtableBytes = 2 << 20;
std::size_t MemtableBytes(Table t) {
  return t == Table::kAgents || t == Table::kAgentSeenLog ? 4 * kMemtableBytes : kMemtableBytes;
}

Result<std::uint64_t> DecodeU64(const std::string& s, const std::string& what) {
  Result<std::uint64_t> v = store::DecodeU64(s);
  if (!v.ok()) return Status::DataLoss("store: " + what + " is not an 8-byte integer");
  return v;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Status::Unavailable(what + ": database in use by another process (" + s.ToString() +
                               ")");
  }
  if (s.IsCorruption()) return Status::DataLoss(what + ": " + s.ToString());
  return Status::Unavailable(what + ": " + s.ToString());
}

// Hands RocksDB's warnings and errors to the node's log.
class SinkLogger : public rocksdb::Logger {
 public:
  explicit SinkLogger(NodeStore::LogSink sink)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), sink_(std::move(sink)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}  // unlevelled lines are informational
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || !sink_) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    sink_(level >= rocksdb::InfoLogLevel::ERROR_LEVEL, line);
  }

 private:
  NodeStore::LogSink sink_;
};

}  // namespace

std::string EncodeU64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

Result<std::uint64_t> DecodeU64(std::string_view s) {
  if (s.size() != 8) return Status::DataLoss("not an 8-byte integer");
  std::uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

void StoreBatch::SetPosition(const std::string& stream, std::uint64_t seq) {
  ops_.push_back({Table::kAgents, "position/" + stream, EncodeU64(seq), Op::kPosition});
}

struct NodeStore::Db {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // [default, meta]
  rocksdb::ColumnFamilyHandle* meta() const { return handles[1]; }
  rocksdb::ColumnFamilyHandle* table(Table t) const {
    return handles[2 + static_cast<std::size_t>(t)];
  }
  Status Flush() {
    rocksdb::FlushOptions wait;
    rocksdb::Status s = db->Flush(wait, handles);
    return s.ok() ? Status::Ok() : Status::Unavailable("store flush: " + s.ToString());
  }
  ~Db() {
    // A store its owner did not flush (a test, a tool) is flushed here, for the same reason as
    // NodeStore::Flush; with nobody left to tell, a failure is dropped.
    if (db) Flush().IgnoreError();
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    if (db) db->Close().PermitUncheckedError();  // nothing left to do with a failed close
  }
};

NodeStore::NodeStore(std::unique_ptr<Db> db, NodeIdentity identity)
    : db_(std::move(db)), identity_(std::move(identity)) {}

NodeStore::~NodeStore() = default;

Result<std::unique_ptr<NodeStore>> NodeStore::Open(const std::string& dir,
                                                   const NodeIdentity& identity, LogSink log) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Debian's RocksDB asserts when its own LOG file fails a write, so a full disk would abort
  // the node while RocksDB reports that very error: it gets no LOG file at all.
  options.info_log = std::make_shared<SinkLogger>(std::move(log));
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Memory is sized for a node that shares a small machine with a manager: RocksDB's defaults
  // (64 MiB of memtable and a block cache per table, nine tables) would let a master with
  // 100,000 agents grow past 400 MiB. All memtables together stay under 16 MiB (MemtableBytes
  // sizes each table's), and every table shares one 8 MiB cache.
  // No compression: the data is a few dozen MB at most, and snappy cost the master's write path
  // more than the disk space is worth.
  options.db_write_buffer_size = 16 << 20;
  options.max_background_jobs = 2;
  // Tables kept open at once. The node's data is a few dozen tables at most; bounded so that the
  // store always fits in the descriptors a node keeps out of its peers' reach.
  options.max_open_files = 128;
  static const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(8 << 20);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  rocksdb::ColumnFamilyOptions family;
  family.write_buffer_size = kMemtableBytes;
  family.max_write_buffer_number = 2;
  family.compression = rocksdb::kNoCompression;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, family}, {kMeta, family}};
  for (std::size_t t = 0; t < std::size(kTables); ++t) {
    const Table table_id = static_cast<Table>(t);
    rocksdb::ColumnFamilyOptions table_options = family;
    table_options.write_buffer_size = MemtableBytes(table_id);
    // A write's keys arrive sorted (WriteOrder), so each insert starts its search where the
    // last one landed and climbs only as far as the gap between them, rather than from the top
    // of a list of a hundred thousand keys. One hint per table: its prefix is empty.
    if (KeepsInsertHint(table_id)) {
      table_options.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(0));
    }
    families.emplace_back(kTables[t], table_options);
  }
  auto db = std::make_unique<Db>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, families, &db->handles, &raw);
  ZC_RETURN_IF_ERROR(FromRocks(s, "store: open '" + dir + "'"));
  db->db.reset(raw);

  // Identity: adopt on first open, compare on every later one.
  struct Field {
    const char* key;
    const std::string& want;
  };
  const Field fields[] = {{"identity/cluster", identity.cluster},
                          {"identity/node", identity.node},
                          {"identity/type", identity.type}};
  rocksdb::WriteBatch batch;
  for (const Field& f : fields) {
    std::string have;
    s = db->db->Get(rocksdb::ReadOptions(), db->meta(), f.key, &have);
    if (s.IsNotFound()) {
      ZC_RETURN_IF_ERROR(FromRocks(batch.Put(db->meta(), f.key, f.want), "store"));
      continue;
    }
    ZC_RETURN_IF_ERROR(FromRocks(s, "store: read identity"));
    if (have != f.want) {
      return Status::FailedPrecondition("store: database '" + dir + "' belongs to " +
                                        std::string(f.key + 9) + " '" + have + "', not '" + f.want +
                                        "'; move it away to start this node afresh");
    }
  }
  std::string version;
  s = db->db->Get(rocksdb::ReadOptions(), db->meta(), "schema_version", &version);
  if (s.ok()) {
    Result<std::uint64_t> v = DecodeU64(version, "schema_version");
    if (!v.ok()) return v.status();
    if (*v > kSchemaVersion) {
      return Status::FailedPrecondition("store: database schema " + std::to_string(*v) +
                                        " is newer than this build's " +
                                        std::to_string(kSchemaVersion));
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "store: read schema_version");
  }
  std::uint64_t starts = 0;
  std::string starts_raw;
  s = db->db->Get(rocksdb::ReadOptions(), db->meta(), "starts", &starts_raw);
  if (s.ok()) {
    Result<std::uint64_t> v = DecodeU64(starts_raw, "starts");
    if (!v.ok()) return v.status();
    starts = *v;
  }
  ++starts;
  ZC_RETURN_IF_ERROR(
      FromRocks(batch.Put(db->meta(), "schema_version", EncodeU64(kSchemaVersion)), "store"));
  ZC_RETURN_IF_ERROR(FromRocks(batch.Put(db->meta(), "starts", EncodeU64(starts)), "store"));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ZC_RETURN_IF_ERROR(FromRocks(db->db->Write(sync, &batch), "store: write identity"));

  std::unique_ptr<NodeStore> store(new NodeStore(std::move(db), identity));
  store->starts_ = starts;
  return store;
}

Result<std::uint64_t> NodeStore::Position(const std::string& stream) const {
  std::string raw;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), db_->meta(), "position/" + stream, &raw);
  if (s.IsNotFound()) return std::uint64_t{0};
  ZC_RETURN_IF_ERROR(FromRocks(s, "store: read position of " + stream));
  return DecodeU64(raw, "position of " + stream);
}

Status NodeStore::Write(const StoreBatch& batch) { return Apply(batch, true); }

Status NodeStore::WriteUnsynced(const StoreBatch& batch) { return Apply(batch, false); }

// The order in which a batch's operations go into the write: by table, then by key. The agent
// tables' memtables keep an insert hint (where the last insert landed), so keys in ascending
// order are each found near their predecessor instead of from the top of a list that can hold a
// hundred thousand keys; that search is the larger part of a write of many small rows. Stable, so
// that two operations on one key keep their order. A range deletion covers other keys than its own,
// so a batch with one keeps the order it was given in.
std::vector<std::uint32_t> StoreBatch::WriteOrder() const {
  const std::vector<Op>& ops = ops_;
  std::vector<std::uint32_t> order(ops.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const bool ranges =
      std::any_of(ops.begin(), ops.end(), [](const Op& op) { return op.kind == Op::kDeleteRange; });
  // One or two operations, as most of a worker's writes are, need no order of their own.
  if (ranges || ops.size() < 3) return order;
  // A position goes to the meta family, whatever table its op names.
  auto family = [](const Op& op) {
    return op.kind == Op::kPosition ? -1 : static_cast<int>(op.table);
  };
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const int fa = family(ops[a]), fb = family(ops[b]);
    return fa != fb ? fa < fb : ops[a].key < ops[b].key;
  });
  return order;
}

Status NodeStore::Apply(const StoreBatch& batch, bool sync) {
  rocksdb::WriteBatch wb;
  auto add = [&](const StoreBatch::Op& op) {
    rocksdb::Status s;
    switch (op.kind) {
      case StoreBatch::Op::kPut:
        s = wb.Put(db_->table(op.table), op.key, op.value);
        break;
      case StoreBatch::Op::kDelete:
        s = wb.Delete(db_->table(op.table), op.key);
        break;
      case StoreBatch::Op::kDeleteRange:
        if (KeepsInsertHint(op.table)) {
          return Status::InvalidArgument("store: batch: a range deletion in an agent table");
        }
        s = wb.DeleteRange(db_->table(op.table), op.key, op.value);
        break;
      case StoreBatch::Op::kPosition:
        s = wb.Put(db_->meta(), op.key, op.value);
        break;
    }
    return FromRocks(s, "store: batch");
  };
  for (std::uint32_t i : batch.WriteOrder()) ZC_RETURN_IF_ERROR(add(batch.ops_[i]));
  if (write_failed_.load()) ZC_RETURN_IF_ERROR(Recover());
  rocksdb::WriteOptions options;
  options.sync = sync;
  Status s = FromRocks(db_->db->Write(options, &wb), "store: write");
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(write_error_mu_);
    write_error_ = s.message();
    write_failed_ = true;
  }
  return s;
}

Status NodeStore::Flush() { return db_->Flush(); }

Status NodeStore::Recover() {
  if (!write_failed_.load()) return Status::Ok();
  // Resume() retries what failed (a flush, the WAL) and clears the error once the disk takes
  // data again. Once a second at most: each attempt costs a flush and lines in the log.
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = last_resume_ms_.load();
  if (now - last < 1000 || !last_resume_ms_.compare_exchange_strong(last, now)) {
    return Status::Unavailable("store: write: stopped after a failed write, resuming");
  }
  rocksdb::Status resumed = db_->db->Resume();
  if (!resumed.ok()) return FromRocks(resumed, "store: write (stopped after a failed write)");
  write_failed_ = false;
  return Status::Ok();
}

std::string NodeStore::write_error() const {
  if (writable()) return "";
  std::lock_guard<std::mutex> lock(write_error_mu_);
  return write_error_;
}

Result<std::optional<std::string>> NodeStore::Get(Table table, const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), db_->table(table), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  ZC_RETURN_IF_ERROR(FromRocks(s, "store: read"));
  return std::optional<std::string>(std::move(value));
}

Status NodeStore::Scan(Table table, std::string_view from, const Visitor& visit) const {
  // A scan reads a table through once (a start reading every agent, a log replay): read ahead,
  // and leave the block cache to the point lookups that come back to the same blocks.
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(options, db_->table(table)));
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    ZC_RETURN_IF_ERROR(visit(std::string_view(it->key().data(), it->key().size()),
                             std::string_view(it->value().data(), it->value().size())));
  }
  return FromRocks(it->status(), "store: scan");
}

}  // namespace zcluster::store
