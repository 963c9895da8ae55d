// <home>/etc/client.keys in Wazuh's format: one agent per line, `ID NAME IP KEY`. An agent
// removed without purging stays as a line whose NAME starts with '!' (Wazuh also skips '#'), so
// its id is never reused. The master's copy is the registry of agents that exist.
//
// Held compactly, for a million agents: every field of every entry in one arena, an entry is
// twelve bytes of offset and lengths, and ids are found through a sorted vector of ids packed
// into integers. A line that is not an agent is named in problems() and kept as written, so
// that saving the registry never drops what an administrator wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

// One entry, copied out of the registry.
struct ClientKey {
  std::string id;    // "001"
  std::string name;  // without the removal mark
  std::string ip;    // "any", an address or a CIDR
  std::string key;   // the agent's secret, 64 hex characters when made here
  bool removed = false;
};

// Size, mtime and inode of a file ("missing" when absent): a change means "read it again".
std::string FileChangeStamp(const std::string& path);

class ClientKeys {
 public:
  // A missing file is an empty registry. Lines that are not agents (too few or too many fields,
  // a bad id, an id seen before, a field too long) are skipped and named in problems(); the rest
  // load. Unavailable when the file cannot be read, InvalidArgument when it is over 4 GiB.
  static Result<ClientKeys> Load(const std::string& path);
  static Result<ClientKeys> Parse(std::string_view text);
  std::string Serialize() const;
  // Writes to a temporary file in the same folder, fsyncs, renames over `path` (mode 0640):
  // a reader sees the old file or the new one, never a partial one.
  Status Save(const std::string& path) const;

  // "client.keys line 7: expected 'ID NAME IP KEY'", for the first kMaxProblems lines skipped.
  static constexpr std::size_t kMaxProblems = 20;
  const std::vector<std::string>& problems() const { return problems_; }
  std::size_t skipped() const { return skipped_; }  // every line skipped

  // The entries whose position is in [from, to), as a registry of their own (to hand parts of
  // one registry to several simulators).
  ClientKeys Slice(std::size_t from, std::size_t to) const;
  // The active (not removed) agent with this id.
  std::optional<ClientKey> Find(std::string_view id) const;
  // The position of the active agent with this id, or npos.
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t IndexOf(std::string_view id) const;
  // Registers a new agent with the next free id and a fresh key. AlreadyExists when an active
  // agent has this name; InvalidArgument for a bad name or IP.
  Result<ClientKey> Add(const std::string& name, const std::string& ip);
  // Marks the agent removed (its id stays taken). NotFound when no active agent has this id.
  Status Remove(std::string_view id);

  std::size_t active() const { return active_; }
  // Entries by position, in file order, removed ones included.
  std::size_t size() const { return entries_.size(); }
  std::string_view id(std::size_t i) const { return Field(i, 0); }
  std::string_view name(std::size_t i) const { return Field(i, 1); }
  std::string_view ip(std::size_t i) const { return Field(i, 2); }
  std::string_view key(std::size_t i) const { return Field(i, 3); }
  bool removed(std::size_t i) const { return entries_[i].removed; }
  ClientKey entry(std::size_t i) const;
  // Bytes the registry holds in memory (its arena, entries and index).
  std::size_t memory() const;

  // The entries as copies, for loops and tests: `for (const ClientKey& k : keys.entries())`.
  class Entries {
   public:
    class Iterator {
     public:
      using value_type = ClientKey;
      using difference_type = std::ptrdiff_t;
      ClientKey operator*() const { return keys_->entry(i_); }
      Iterator& operator++() {
        ++i_;
        return *this;
      }
      bool operator==(const Iterator& o) const { return i_ == o.i_; }

     private:
      friend class Entries;
      Iterator(const ClientKeys* keys, std::size_t i) : keys_(keys), i_(i) {}
      const ClientKeys* keys_;
      std::size_t i_;
    };
    std::size_t size() const { return keys_->size(); }
    ClientKey operator[](std::size_t i) const { return keys_->entry(i); }
    ClientKey front() const { return keys_->entry(0); }
    Iterator begin() const { return {keys_, 0}; }
    Iterator end() const { return {keys_, keys_->size()}; }

   private:
    friend class ClientKeys;
    explicit Entries(const ClientKeys* keys) : keys_(keys) {}
    const ClientKeys* keys_;
  };
  Entries entries() const { return Entries(this); }

 private:
  struct Entry {
    std::uint32_t offset;  // of the id in arena_; name, ip and key follow it
    std::uint8_t length[4];
    bool removed;
  };
  std::string_view Field(std::size_t i, int field) const;
  // Reads one line; false (and a problem) when it is not an agent.
  bool AddLine(std::string_view line, std::size_t number);
  void Problem(std::string what);
  Status Append(std::string_view id, std::string_view name, std::string_view ip,
                std::string_view key, bool removed);
  // Sorts the id index and drops entries whose id an earlier line holds.
  void Index();

  std::string arena_;
  std::vector<Entry> entries_;  // file order
  // Packed id → position, sorted by packed id.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_id_;
  // Lines that are not agents, as written, each with the number of entries before it.
  std::vector<std::pair<std::uint32_t, std::string>> other_lines_;
  std::vector<std::uint32_t> line_of_;  // while parsing: each entry's line number
  std::vector<std::string> problems_;
  std::size_t skipped_ = 0;
  std::size_t active_ = 0;
};

}  // namespace zcluster::nodes
