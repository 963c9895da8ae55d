// An agent → groups table with an order-independent digest, shared by the master (the truth)
// and workers (their copies), so that a keepalive can say in 8 bytes whether two tables agree.
//
// Digest: the sum, modulo 2^64, over agents of the first 8 bytes (little-endian) of
// BLAKE2b-256(agent id, 0x00, groups joined by ","). Kept up to date change by change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zcluster/schemas/groups.h"
#include "zcluster/schemas/status.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

std::uint64_t GroupRowDigest(const std::string& agent, const std::vector<std::string>& groups);

class GroupTable {
 public:
  // Sets an agent's groups; an empty list removes its row. Returns whether anything changed.
  bool Set(const std::string& agent, std::vector<std::string> groups);
  void Clear();
  const std::vector<std::string>* Find(const std::string& agent) const;
  const schemas::GroupMap& rows() const { return rows_; }
  std::uint64_t digest() const { return digest_; }

  // Fills an empty table with the groups table of `store`; DataLoss naming a corrupt row.
  Status Load(const store::NodeStore& store);

 private:
  schemas::GroupMap rows_;
  std::uint64_t digest_ = 0;
};

}  // namespace zcluster::nodes
