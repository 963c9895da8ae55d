// A node's durable state: one RocksDB database under <home>/var/, with column families per kind
// of data: the node's identity and stream positions, its agents, groups, files and the streams'
// delta logs.
//
// Thread-safety: the methods may be called from any thread (RocksDB is thread-safe).
// Durability: every write is synced before the call returns, so a position acknowledged to a
// peer survives a crash.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::store {

// Who a database belongs to. Written on first open; checked on every later one.
struct NodeIdentity {
  std::string cluster;  // <cluster><name>
  std::string node;     // <node_name>
  std::string type;     // "master" or "worker"
};

// The tables (RocksDB column families) of a node. Values are schemas/ encodings unless said.
enum class Table {
  kAgents,         // agent id → EncodeAgentRecord (master: the cluster's table; worker: its own)
  kAgentCounters,  // worker: agent id → last accepted report counter and its keepalive time
  kAgentPending,   // worker: agent id → change not yet acknowledged by the master
  kGroups,         // agent id → msgpack array of group names (master: the truth; worker: copy)
  kGroupsLog,      // master: sequence number (EncodeU64) → one change of the groups stream
  kFiles,          // path → file metadata (master: with its stat cache; worker: expected)
  kFilesLog,       // master: sequence number (EncodeU64) → one change of the files stream
  kAgentSeen,      // master, older stores: agent id → the fields a keepalive-only update changes
  kAgentSeenLog,   // master: sequence number (EncodeU64) → a group of last-seen changes
};

// Writes that commit together or not at all.
class StoreBatch {
 public:
  void Put(Table table, std::string key, std::string value) {
    ops_.push_back({table, std::move(key), std::move(value), Op::kPut});
  }
  void Delete(Table table, std::string key) {
    ops_.push_back({table, std::move(key), {}, Op::kDelete});
  }
  // Deletes every key in [begin, end).
  void DeleteRange(Table table, std::string begin, std::string end) {
    ops_.push_back({table, std::move(begin), std::move(end), Op::kDeleteRange});
  }
  // Records a stream position together with the batch's data (NodeStore::Position reads it).
  void SetPosition(const std::string& stream, std::uint64_t seq);
  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }

 private:
  friend class NodeStore;
  // Indexes of ops_ in the order they are written (node_store.cc says why).
  std::vector<std::uint32_t> WriteOrder() const;
  struct Op {
    Table table;
    std::string key, value;  // for kDeleteRange: begin, end
    enum Kind { kPut, kDelete, kDeleteRange, kPosition } kind;
  };
  std::vector<Op> ops_;
};

std::string EncodeU64(std::uint64_t value);  // 8 bytes, big-endian: sorts numerically
Result<std::uint64_t> DecodeU64(std::string_view bytes);

class NodeStore {
 public:
  // Layout version of the database; a database written by a newer layout is refused.
  static constexpr std::uint64_t kSchemaVersion = 1;

  // Opens (creating if absent) the database in `dir`. FailedPrecondition when it belongs to
  // another cluster, node name or node type (a node must not adopt another's state), Unavailable
  // when another process holds it (RocksDB's lock: one daemon per home).
  //
  // RocksDB's own warnings and errors go to `log` (nowhere when it is empty), never to a LOG
  // file beside the data: a full disk must not also fail the writing of its report.
  using LogSink = std::function<void(bool error, std::string_view line)>;
  static Result<std::unique_ptr<NodeStore>> Open(const std::string& dir,
                                                 const NodeIdentity& identity, LogSink log = {});
  ~NodeStore();
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  const NodeIdentity& identity() const { return identity_; }

  // Last sequence number applied (worker) or assigned (master) on `stream`; 0 when none.
  Result<std::uint64_t> Position(const std::string& stream) const;

  // Applies every write of `batch` atomically and syncs it before returning. A write that fails
  // (a full or read-only disk) stops RocksDB's writes; the next Write first asks it to resume,
  // so writing starts again by itself once the disk takes data.
  Status Write(const StoreBatch& batch);
  // The same, without waiting for the disk: for bookkeeping whose loss in a crash only means
  // work done again (a change sent twice), never a change lost. It becomes durable with the
  // next synced write, which syncs everything written before it.
  Status WriteUnsynced(const StoreBatch& batch);
  // False from a failed write until a write, or Recover, succeeds again.
  bool writable() const { return !write_failed_.load(); }
  // After a failed write: asks RocksDB to resume (at most once a second), so that a node whose
  // disk came back is writable, and says so, without waiting for its next write. Nodes call it
  // from a timer; Ok when writable.
  Status Recover();
  // What the failed write said ("" while writable), for health reports.
  std::string write_error() const;
  Result<std::optional<std::string>> Get(Table table, const std::string& key) const;
  // Calls `visit` for every key of `table` (from `from` on) in key order; stops at the first
  // error it returns.
  using Visitor = std::function<Status(std::string_view key, std::string_view value)>;
  Status ForEach(Table table, const Visitor& visit) const { return Scan(table, "", visit); }
  Status Scan(Table table, std::string_view from, const Visitor& visit) const;

  // Writes every memtable out, so that the next open has no log to replay: the log of a busy
  // node holds tens of megabytes that a restart would otherwise insert and write out again
  // before the node can start. Nodes call it at a clean stop. Everything was durable already, so
  // a failure loses nothing; the store flushes again, quietly, when it closes.
  Status Flush();

  // How many times this node has started on this database, this start included. A master hands
  // it to its workers so that they can tell a restarted master from a reconnect.
  std::uint64_t starts() const { return starts_; }

 private:
  struct Db;
  NodeStore(std::unique_ptr<Db> db, NodeIdentity identity);
  Status Apply(const StoreBatch& batch, bool sync);
  std::unique_ptr<Db> db_;
  NodeIdentity identity_;
  std::uint64_t starts_ = 0;
  std::atomic<bool> write_failed_{false};
  mutable std::mutex write_error_mu_;
  std::string write_error_;                      // guarded by write_error_mu_
  std::atomic<std::int64_t> last_resume_ms_{0};  // steady clock
};

}  // namespace zcluster::store
