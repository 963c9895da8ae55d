// An agent → groups table with an order-independent digest, shared by the master (the truth)
// and workers (their copies), so that a keepalive can say in 8 bytes whether two tables agree.
//
// Digest: the sum, modulo 2^64, over agents of the first 8 bytes (little-endian) of
// BLAKE2b-256(agent id, 0x00, groups joined by ","). Kept up to date change by change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zcluster/schemas/groups.h"
#include "zcluster/schemas/status.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

std::uint64_t GroupRowDigest(std::string_view agent, const std::vector<std::string>& groups);

class GroupTable {
 public:
  // Sets an agent's groups; an empty list removes its row. Returns whether anything changed.
  bool Set(const std::string& agent, std::vector<std::string> groups);
  void Clear();
  // The agent's groups, or nullptr; valid until the next Set or Clear.
  const std::vector<std::string>* Find(const std::string& agent) const;
  // Every row, in id order, as the messages carry them (built on each call).
  schemas::GroupMap Rows() const;
  std::size_t size() const { return loaded_live_ + by_id_.size() + by_name_.size(); }
  std::size_t distinct_lists() const { return list_ids_.size(); }
  std::uint64_t digest() const { return digest_; }

  // Replaces the table with the groups table of `store`; DataLoss naming a corrupt row, and then
  // the table is left empty.
  Status Load(const store::NodeStore& store);

 private:
  // A million agents share a handful of group lists: each distinct list is held once, with the
  // number of agents that have it, and an agent's row is the list's number. Agent ids (digits)
  // are kept packed in an integer; any other key, in a map of its own.
  using ListId = std::uint32_t;
  // The rows a load found, sorted by packed id: 16 bytes an agent and no node to allocate, where
  // a hash map of a million agents took most of a master's start. A row removed since keeps its
  // place with kNoList, so that a later Set of the agent takes the place again.
  struct LoadedRow {
    std::uint64_t packed;
    ListId list;
  };
  static constexpr ListId kNoList = ~ListId{0};
  ListId Intern(std::vector<std::string> groups);
  void Release(ListId list);
  // The agent's loaded row, live or removed, or nullptr.
  template <typename Table>
  static auto LoadedSlot(Table& table, std::uint64_t packed) -> decltype(table.loaded_.data());
  // The agent's row, or nullptr; for a const table through a const one.
  template <typename Table>
  static auto Slot(Table& table, const std::string& agent)
      -> decltype(&table.by_id_.begin()->second);
  std::vector<LoadedRow> loaded_;
  std::size_t loaded_live_ = 0;
  std::unordered_map<std::uint64_t, ListId> by_id_;  // ids set since the load
  std::map<std::string, ListId> by_name_;
  std::deque<std::vector<std::string>> lists_;  // a deque: Find's pointers survive new lists
  std::vector<std::uint32_t> users_;            // agents per list; 0: free
  std::vector<ListId> free_;
  std::map<std::vector<std::string>, ListId> list_ids_;
  std::uint64_t digest_ = 0;
};

}  // namespace zcluster::nodes
