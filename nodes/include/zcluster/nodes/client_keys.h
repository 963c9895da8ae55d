// <home>/etc/client.keys in Wazuh's format: one agent per line, `ID NAME IP KEY`. An agent
// removed without purging stays as a line whose NAME starts with '!' (Wazuh also skips '#'), so
// its id is never reused. The master's copy is the registry of agents that exist.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

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
  // A missing file is an empty registry; a malformed line is InvalidArgument naming the line.
  static Result<ClientKeys> Load(const std::string& path);
  static Result<ClientKeys> Parse(const std::string& text);
  std::string Serialize() const;
  // Writes to a temporary file in the same folder, fsyncs, renames over `path` (mode 0640):
  // a reader sees the old file or the new one, never a partial one.
  Status Save(const std::string& path) const;

  // The entries whose position is in [from, to), as a registry of their own (to hand parts of
  // one registry to several simulators).
  ClientKeys Slice(std::size_t from, std::size_t to) const;
  // The active (not removed) agent with this id, or nullptr.
  const ClientKey* Find(const std::string& id) const;
  // The position in entries() of the active agent with this id, or npos.
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t IndexOf(const std::string& id) const;
  // Registers a new agent with the next free id and a fresh key. AlreadyExists when an active
  // agent has this name; InvalidArgument for a bad name or IP.
  Result<ClientKey> Add(const std::string& name, const std::string& ip);
  // Marks the agent removed (its id stays taken). NotFound when no active agent has this id.
  Status Remove(const std::string& id);

  std::size_t active() const;
  const std::vector<ClientKey>& entries() const { return entries_; }

 private:
  std::vector<ClientKey> entries_;            // file order
  std::map<std::string, std::size_t> by_id_;  // id → index in entries_
};

}  // namespace zcluster::nodes
