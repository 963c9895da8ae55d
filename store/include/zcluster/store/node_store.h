// A node's durable state: one RocksDB database under <home>/var/, with column families per kind
// of data. This issue holds the node's identity and its stream positions; later flows add their
// families (agents, groups, files, delta logs) beside them.
//
// Thread-safety: the methods may be called from any thread (RocksDB is thread-safe).
// Durability: every write is synced before the call returns, so a position acknowledged to a
// peer survives a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "zcluster/schemas/status.h"

namespace zcluster::store {

// Who a database belongs to. Written on first open; checked on every later one.
struct NodeIdentity {
  std::string cluster;  // <cluster><name>
  std::string node;     // <node_name>
  std::string type;     // "master" or "worker"
};

class NodeStore {
 public:
  // Layout version of the database; a database written by a newer layout is refused.
  static constexpr std::uint64_t kSchemaVersion = 1;

  // Opens (creating if absent) the database in `dir`. FailedPrecondition when it belongs to
  // another cluster, node name or node type (a node must not adopt another's state), Unavailable
  // when another process holds it (RocksDB's lock: one daemon per home).
  static Result<std::unique_ptr<NodeStore>> Open(const std::string& dir,
                                                 const NodeIdentity& identity);
  ~NodeStore();
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  const NodeIdentity& identity() const { return identity_; }

  // Last sequence number applied (worker) or assigned (master) on `stream`; 0 when none.
  Result<std::uint64_t> Position(const std::string& stream) const;
  Status SetPosition(const std::string& stream, std::uint64_t seq);

  // How many times this node has started on this database, this start included. A master hands
  // it to its workers so that they can tell a restarted master from a reconnect.
  std::uint64_t starts() const { return starts_; }

 private:
  struct Db;
  NodeStore(std::unique_ptr<Db> db, NodeIdentity identity);
  std::unique_ptr<Db> db_;
  NodeIdentity identity_;
  std::uint64_t starts_ = 0;
};

}  // namespace zcluster::store
