#include "zcluster/nodes/client_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <optional>

#include "zcluster/schemas/agents.h"

#include "runtime/atomic_file.h"

namespace zcluster::nodes {
namespace {

// "any", or an IPv4 or IPv6 address with an optional prefix length (Wazuh's agent IP field):
// what inet_pton reads whole, so 999.1.1.1 and 10.0.0.0/99 are refused.
bool IsValidIp(const std::string& ip) {
  if (ip == "any") return true;
  if (ip.empty() || ip.size() > 64) return false;
  std::string address = ip;
  std::optional<int> prefix;
  if (auto slash = ip.find('/'); slash != std::string::npos) {
    address = ip.substr(0, slash);
    std::string bits = ip.substr(slash + 1);
    int n = -1;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size()) return false;
    prefix = n;
  }
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(AF_INET, address.c_str(), buf) == 1)
    return !prefix || (*prefix >= 0 && *prefix <= 32);
  if (::inet_pton(AF_INET6, address.c_str(), buf) == 1) {
    return !prefix || (*prefix >= 0 && *prefix <= 128);
  }
  return false;
}

std::string NewKey() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return hex;
}

}  // namespace

std::string FileChangeStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return fmt::format("{}:{}.{}:{}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino);
}

Result<ClientKeys> ClientKeys::Parse(const std::string& text) {
  ClientKeys keys;
  // One allocation for 100,000 entries instead of a doubling vector (the master's start-up
  // peak was the registry's growth: heaptrack, see bench/RESULTS.md).
  keys.entries_.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    ClientKey k;
    std::string extra;
    if (!(fields >> k.id >> k.name >> k.ip >> k.key) || (fields >> extra)) {
      return Status::InvalidArgument(
          fmt::format("client.keys line {}: expected 'ID NAME IP KEY'", number));
    }
    if (k.name[0] == '!' || k.name[0] == '#') {
      k.removed = true;
      k.name.erase(0, 1);
    }
    if (!schemas::IsValidAgentId(k.id)) {
      return Status::InvalidArgument(fmt::format("client.keys line {}: bad id '{}'", number, k.id));
    }
    if (keys.by_id_.count(k.id)) {
      return Status::InvalidArgument(
          fmt::format("client.keys line {}: id {} appears twice", number, k.id));
    }
    keys.by_id_[k.id] = keys.entries_.size();
    keys.entries_.push_back(std::move(k));
  }
  return keys;
}

Result<ClientKeys> ClientKeys::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return ClientKeys{};
    return Status::Unavailable("cannot read '" + path + "': " + std::strerror(errno));
  }
  // Read straight into one string (a stringstream would hold a second copy of a 10 MB file).
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Parse(text);
}

std::string ClientKeys::Serialize() const {
  std::string out;
  for (const ClientKey& k : entries_) {
    out += fmt::format("{} {}{} {} {}\n", k.id, k.removed ? "!" : "", k.name, k.ip, k.key);
  }
  return out;
}

Status ClientKeys::Save(const std::string& path) const {
  return WriteFileAtomically(path, Serialize(), 0640);
}

std::size_t ClientKeys::IndexOf(const std::string& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || entries_[it->second].removed) return npos;
  return it->second;
}

const ClientKey* ClientKeys::Find(const std::string& id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || entries_[it->second].removed) return nullptr;
  return &entries_[it->second];
}

ClientKeys ClientKeys::Slice(std::size_t from, std::size_t to) const {
  ClientKeys part;
  for (std::size_t i = from; i < std::min(to, entries_.size()); ++i) {
    part.by_id_[entries_[i].id] = part.entries_.size();
    part.entries_.push_back(entries_[i]);
  }
  return part;
}

Result<ClientKey> ClientKeys::Add(const std::string& name, const std::string& ip) {
  if (!schemas::IsValidAgentName(name)) {
    return Status::InvalidArgument("agent name must be 1-128 of A-Z a-z 0-9 . - _, got '" + name +
                                   "'");
  }
  if (!IsValidIp(ip)) {
    return Status::InvalidArgument(
        "agent IP must be 'any' or an IPv4/IPv6 address with an "
        "optional /prefix, got '" +
        ip + "'");
  }
  unsigned long next = 1;
  for (const ClientKey& k : entries_) {
    if (!k.removed && k.name == name) {
      return Status::AlreadyExists("an agent named '" + name + "' exists with id " + k.id);
    }
    next = std::max(next, std::stoul(k.id) + 1);
  }
  ClientKey k{fmt::format("{:03d}", next), name, ip, NewKey(), false};
  by_id_[k.id] = entries_.size();
  entries_.push_back(k);
  return k;
}

Status ClientKeys::Remove(const std::string& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || entries_[it->second].removed) {
    return Status::NotFound("no agent with id '" + id + "'");
  }
  entries_[it->second].removed = true;
  return Status::Ok();
}

std::size_t ClientKeys::active() const {
  std::size_t n = 0;
  for (const ClientKey& k : entries_) n += k.removed ? 0 : 1;
  return n;
}

}  // namespace zcluster::nodes
