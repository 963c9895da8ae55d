#include "zcluster/nodes/client_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
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

namespace {

constexpr std::size_t kMaxField = 255;  // an entry keeps each field's length in a byte

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Up to five whitespace-separated fields of `line` (a fifth means too many).
std::size_t SplitFields(std::string_view line, std::string_view (&out)[5]) {
  std::size_t n = 0, i = 0;
  while (n < 5) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    out[n++] = line.substr(start, i - start);
  }
  return n;
}

// Ids already checked as agent ids.
std::uint64_t PackId(std::string_view id) { return *schemas::PackAgentId(id); }

}  // namespace

void ClientKeys::Problem(std::string what) {
  if (problems_.size() < kMaxProblems) problems_.push_back(std::move(what));
  ++skipped_;
}

Status ClientKeys::Append(std::string_view id, std::string_view name, std::string_view ip,
                          std::string_view key, bool removed) {
  std::size_t bytes = id.size() + name.size() + ip.size() + key.size();
  if (arena_.size() + bytes > UINT32_MAX) {
    return Status::InvalidArgument("client.keys holds more than 4 GiB of agents");
  }
  Entry e{static_cast<std::uint32_t>(arena_.size()),
          {static_cast<std::uint8_t>(id.size()), static_cast<std::uint8_t>(name.size()),
           static_cast<std::uint8_t>(ip.size()), static_cast<std::uint8_t>(key.size())},
          removed};
  arena_.append(id).append(name).append(ip).append(key);
  entries_.push_back(e);
  active_ += removed ? 0 : 1;
  return Status::Ok();
}

bool ClientKeys::AddLine(std::string_view line, std::size_t number) {
  std::string_view f[5];
  std::size_t n = SplitFields(line, f);
  auto refuse = [&](std::string why) {
    Problem(fmt::format("client.keys line {}: {}", number, why));
    return false;
  };
  if (n != 4) return refuse("expected 'ID NAME IP KEY'");
  if (!schemas::IsValidAgentId(f[0])) return refuse(fmt::format("bad id '{}'", f[0]));
  std::string_view name = f[1];
  bool removed = name[0] == '!' || name[0] == '#';
  if (removed) name.remove_prefix(1);
  if (name.size() > kMaxField || f[2].size() > kMaxField || f[3].size() > kMaxField) {
    return refuse(fmt::format("a field is longer than {} characters", kMaxField));
  }
  if (!Append(f[0], name, f[2], f[3], removed).ok()) return refuse("past 4 GiB of agents");
  line_of_.push_back(static_cast<std::uint32_t>(number));
  return true;
}

void ClientKeys::Index() {
  by_id_.clear();
  by_id_.reserve(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    by_id_.emplace_back(PackId(id(i)), static_cast<std::uint32_t>(i));
  }
  std::sort(by_id_.begin(), by_id_.end());
  // An id a line holds already: the later line is not an agent. Rare, so the entries are only
  // rebuilt when it happens.
  std::vector<bool> repeated(entries_.size(), false);
  bool any = false;
  for (std::size_t i = 1; i < by_id_.size(); ++i) {
    if (by_id_[i].first != by_id_[i - 1].first) continue;
    repeated[by_id_[i].second] = any = true;
  }
  if (any) {
    ClientKeys kept;
    kept.arena_.reserve(arena_.size());
    std::size_t other = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      for (; other < other_lines_.size() && other_lines_[other].first <= i; ++other) {
        kept.other_lines_.emplace_back(kept.entries_.size(), other_lines_[other].second);
      }
      std::uint32_t number = i < line_of_.size() ? line_of_[i] : 0;
      if (repeated[i]) {
        ClientKey k = entry(i);
        kept.Problem(fmt::format("client.keys line {}: id {} appears twice", number, k.id));
        kept.other_lines_.emplace_back(
            kept.entries_.size(),
            fmt::format("{} {}{} {} {}", k.id, k.removed ? "!" : "", k.name, k.ip, k.key));
        continue;
      }
      (void)kept.Append(id(i), name(i), ip(i), key(i), removed(i));
    }
    for (; other < other_lines_.size(); ++other) {
      kept.other_lines_.emplace_back(kept.entries_.size(), other_lines_[other].second);
    }
    // The repeated ids are named after the lines found while reading.
    std::vector<std::string> repeats = std::move(kept.problems_);
    std::size_t repeated_count = kept.skipped_;
    kept.problems_ = std::move(problems_);
    kept.skipped_ = skipped_;
    for (std::string& p : repeats) kept.Problem(std::move(p));
    kept.skipped_ += repeated_count - repeats.size();
    *this = std::move(kept);
    return Index();
  }
  line_of_.clear();
  line_of_.shrink_to_fit();
}

Result<ClientKeys> ClientKeys::Parse(std::string_view text) {
  ClientKeys keys;
  std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  keys.entries_.reserve(lines);
  keys.arena_.reserve(text.size());
  std::size_t number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#' || !keys.AddLine(line, number)) {
      keys.other_lines_.emplace_back(keys.entries_.size(), std::string(line));
    }
  }
  keys.Index();
  return keys;
}

Result<ClientKeys> ClientKeys::Load(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    if (errno == ENOENT) return ClientKeys{};
    return Status::Unavailable("cannot read '" + path + "': " + std::strerror(errno));
  }
  // Line by line into the arena: the file's text is never held whole beside it.
  ClientKeys keys;
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && st.st_size > 0) {
    if (static_cast<std::uint64_t>(st.st_size) > UINT32_MAX) {
      std::fclose(f);
      return Status::InvalidArgument("'" + path + "' is over 4 GiB");
    }
    keys.arena_.reserve(static_cast<std::size_t>(st.st_size));
    // About 90 bytes a line.
    keys.entries_.reserve(static_cast<std::size_t>(st.st_size) / 80 + 16);
  }
  char* buffer = nullptr;
  std::size_t capacity = 0;
  std::size_t number = 0;
  ssize_t got;
  errno = 0;
  while ((got = ::getline(&buffer, &capacity, f)) >= 0) {
    std::string_view line(buffer, static_cast<std::size_t>(got));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#' || !keys.AddLine(line, number)) {
      keys.other_lines_.emplace_back(keys.entries_.size(), std::string(line));
    }
  }
  int error = std::ferror(f) ? errno : 0;
  std::free(buffer);
  std::fclose(f);
  if (error != 0) {
    return Status::Unavailable("cannot read '" + path + "': " + std::strerror(error));
  }
  // No shrink_to_fit: the reserve was the file's size, and the part never written was never
  // backed by memory, while a copy to a tighter block would write the whole arena again.
  keys.Index();
  return keys;
}

std::string_view ClientKeys::Field(std::size_t i, int field) const {
  const Entry& e = entries_[i];
  std::size_t at = e.offset;
  for (int f = 0; f < field; ++f) at += e.length[f];
  return std::string_view(arena_).substr(at, e.length[field]);
}

ClientKey ClientKeys::entry(std::size_t i) const {
  return {std::string(id(i)), std::string(name(i)), std::string(ip(i)), std::string(key(i)),
          removed(i)};
}

std::size_t ClientKeys::memory() const {
  std::size_t other = 0;
  for (const auto& [before, line] : other_lines_) other += sizeof before + line.capacity();
  // Sizes, not capacities, of what Load reserved from the file's size: the part never written is
  // never backed by memory.
  return arena_.size() + entries_.size() * sizeof(Entry) + by_id_.capacity() * sizeof(by_id_[0]) +
         other;
}

std::string ClientKeys::Serialize() const {
  std::string out;
  out.reserve(arena_.size() + entries_.size() * 5);
  std::size_t other = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    for (; other < other_lines_.size() && other_lines_[other].first <= i; ++other) {
      out.append(other_lines_[other].second).push_back('\n');
    }
    out.append(id(i)).push_back(' ');
    if (removed(i)) out.push_back('!');
    out.append(name(i)).push_back(' ');
    out.append(ip(i)).push_back(' ');
    out.append(key(i)).push_back('\n');
  }
  for (; other < other_lines_.size(); ++other) {
    out.append(other_lines_[other].second).push_back('\n');
  }
  return out;
}

Status ClientKeys::Save(const std::string& path) const {
  return WriteFileAtomically(path, Serialize(), 0640);
}

std::size_t ClientKeys::IndexOf(std::string_view id) const {
  if (!schemas::IsValidAgentId(id)) return npos;
  std::uint64_t packed = PackId(id);
  auto it =
      std::lower_bound(by_id_.begin(), by_id_.end(), std::make_pair(packed, std::uint32_t{0}));
  if (it == by_id_.end() || it->first != packed || entries_[it->second].removed) return npos;
  return it->second;
}

std::optional<ClientKey> ClientKeys::Find(std::string_view id) const {
  std::size_t at = IndexOf(id);
  if (at == npos) return std::nullopt;
  return entry(at);
}

ClientKeys ClientKeys::Slice(std::size_t from, std::size_t to) const {
  ClientKeys part;
  for (std::size_t i = from; i < std::min(to, entries_.size()); ++i) {
    (void)part.Append(id(i), name(i), ip(i), key(i), removed(i));
  }
  part.Index();
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
  std::uint64_t next = 1;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (!removed(i) && this->name(i) == name) {
      return Status::AlreadyExists("an agent named '" + name + "' exists with id " +
                                   std::string(id(i)));
    }
    std::uint64_t value = schemas::PackedAgentIdValue(PackId(id(i)));
    next = std::max(next, value + 1);
  }
  ClientKey k{fmt::format("{:03d}", next), name, ip, NewKey(), false};
  if (!schemas::IsValidAgentId(k.id)) return Status::OutOfRange("no agent id is left");
  ZC_RETURN_IF_ERROR(Append(k.id, k.name, k.ip, k.key, false));
  std::pair<std::uint64_t, std::uint32_t> indexed{PackId(k.id),
                                                  static_cast<std::uint32_t>(entries_.size() - 1)};
  by_id_.insert(std::upper_bound(by_id_.begin(), by_id_.end(), indexed), indexed);
  return k;
}

Status ClientKeys::Remove(std::string_view id) {
  std::size_t at = IndexOf(id);
  if (at == npos) return Status::NotFound("no agent with id '" + std::string(id) + "'");
  entries_[at].removed = true;
  --active_;
  return Status::Ok();
}

}  // namespace zcluster::nodes
