#include "zcluster/store/records.h"

#include <tuple>

#include <msgpack.hpp>

#include "zcluster/store/node_store.h"

namespace zcluster::store {
namespace {

template <typename T>
std::string Pack(const T& value) {
  msgpack::sbuffer b;
  msgpack::pack(b, value);
  return {b.data(), b.size()};
}

// Unpacks a row as T; DataLoss naming `what` when it is not one. A damaged row's header may claim
// any count, and msgpack-c allocates what a count claims before reading: no container may claim
// more entries than the row has bytes.
template <typename T>
Result<T> Unpack(std::string_view bytes, const std::string& what) {
  try {
    const msgpack::unpack_limit limits(/*array=*/bytes.size(), /*map=*/bytes.size() / 2,
                                       /*str=*/bytes.size(), /*bin=*/bytes.size(), /*ext=*/0,
                                       /*depth=*/16);
    msgpack::object_handle h =
        msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, limits);
    return h.get().as<T>();
  } catch (const std::exception& e) {
    return Status::DataLoss("store: " + what + ": " + e.what());
  }
}

}  // namespace

std::string EncodeAgentRow(const schemas::AgentRecord& record) {
  return schemas::EncodeAgentRecord(record);
}

std::string EncodeAgentRow(std::string_view id, const schemas::AgentState& state,
                           std::string_view name, std::string_view node, std::uint64_t counter) {
  return schemas::EncodeAgentRecord(id, state, name, node, counter);
}

std::string EncodeAgentRowOfState(std::string_view id, std::string_view state,
                                  std::string_view node, std::uint64_t counter) {
  return schemas::EncodeAgentRecordOfState(id, state, node, counter);
}

Result<schemas::AgentRecord> DecodeAgentRow(std::string_view id, std::string_view bytes) {
  Result<schemas::AgentRecord> rec = schemas::DecodeAgentRecord(bytes);
  if (!rec.ok()) {
    return Status::DataLoss("store: agent " + std::string(id) + ": " + rec.status().message());
  }
  return rec;
}

namespace {

constexpr char kSeenRowFormat = 1;
constexpr std::size_t kSeenRowFixed = 2 + 3 * 8;  // format, status, three integers
constexpr std::size_t kMaxNodeName = 256;

// The caller has checked the size: eight bytes are there.
std::uint64_t U64At(std::string_view bytes, std::size_t at) {
  return *DecodeU64(bytes.substr(at, 8));
}

}  // namespace

std::string EncodeAgentSeenRow(const AgentSeenRow& row) {
  std::string out;
  out.reserve(kSeenRowFixed + row.node.size());
  out.push_back(kSeenRowFormat);
  out.push_back(static_cast<char>(row.status));
  out += EncodeU64(row.last_keepalive);
  out += EncodeU64(row.disconnection_time);
  out += EncodeU64(row.counter);
  out += row.node;
  return out;
}

Result<AgentSeenRow> DecodeAgentSeenRow(std::string_view id, std::string_view bytes) {
  auto damaged = [&](const char* why) {
    return Status::DataLoss("store: last seen of agent " + std::string(id) + ": " + why);
  };
  if (bytes.size() < kSeenRowFixed || bytes.size() > kSeenRowFixed + kMaxNodeName) {
    return damaged("wrong size");
  }
  if (bytes[0] != kSeenRowFormat) return damaged("unknown format");
  auto status = static_cast<unsigned char>(bytes[1]);
  if (status > static_cast<unsigned char>(schemas::AgentStatus::kDisconnected)) {
    return damaged("unknown status");
  }
  AgentSeenRow row;
  row.status = static_cast<schemas::AgentStatus>(status);
  row.last_keepalive = U64At(bytes, 2);
  row.disconnection_time = U64At(bytes, 10);
  row.counter = U64At(bytes, 18);
  row.node = std::string(bytes.substr(kSeenRowFixed));
  return row;
}

void ApplySeen(const AgentSeenRow& seen, schemas::AgentRecord& record) {
  record.state.status = seen.status;
  record.state.last_keepalive = seen.last_keepalive;
  record.state.disconnection_time = seen.disconnection_time;
  record.counter = seen.counter;
  record.node = seen.node;
}

std::string EncodeAgentCounterRow(std::uint64_t counter, std::uint64_t last_keepalive) {
  std::string out;
  out.reserve(16);
  out += EncodeU64(counter);
  out += EncodeU64(last_keepalive);
  return out;
}

Result<AgentCounterRow> DecodeAgentCounterRow(std::string_view id, std::string_view bytes) {
  if (bytes.size() == 8) return AgentCounterRow{U64At(bytes, 0), std::nullopt};
  if (bytes.size() == 16) return AgentCounterRow{U64At(bytes, 0), U64At(bytes, 8)};
  return Status::DataLoss("store: counter of agent " + std::string(id) + ": wrong size");
}

Result<schemas::AgentRecordSummary> SummarizeAgentRow(std::string_view id, std::string_view bytes) {
  Result<schemas::AgentRecordSummary> summary = schemas::SummarizeAgentRecord(bytes);
  if (!summary.ok()) {
    return Status::DataLoss("store: agent " + std::string(id) + ": " + summary.status().message());
  }
  return summary;
}

std::string EncodeGroupsRow(const std::vector<std::string>& groups) { return Pack(groups); }

Result<std::vector<std::string>> DecodeGroupsRow(std::string_view agent, std::string_view bytes) {
  return Unpack<std::vector<std::string>>(bytes, "groups of agent " + std::string(agent));
}

std::string EncodeGroupChangeRow(const schemas::GroupChange& c) {
  return Pack(std::make_tuple(c.agent, c.groups));
}

Result<schemas::GroupChange> DecodeGroupChangeRow(std::uint64_t seq, std::string_view bytes) {
  auto row = Unpack<std::tuple<std::string, std::vector<std::string>>>(
      bytes, "groups log entry " + std::to_string(seq));
  if (!row.ok()) return row.status();
  auto& [agent, groups] = *row;
  return schemas::GroupChange{seq, std::move(agent), std::move(groups)};
}

std::string EncodeMasterFileRow(const MasterFileRow& r) {
  return Pack(std::make_tuple(r.entry.hash, r.entry.size, r.entry.mode, r.stat.size,
                              r.stat.mtime_ns, r.stat.inode));
}

Result<MasterFileRow> DecodeMasterFileRow(std::string_view path, std::string_view bytes) {
  auto row =
      Unpack<std::tuple<std::string, std::uint64_t, std::uint32_t, std::uint64_t, std::int64_t,
                        std::uint64_t>>(bytes, "files table entry '" + std::string(path) + "'");
  if (!row.ok()) return row.status();
  auto& [hash, size, mode, stat_size, mtime_ns, inode] = *row;
  return MasterFileRow{{std::string(path), std::move(hash), size, mode},
                       {stat_size, mtime_ns, inode}};
}

std::string EncodeExpectedFileRow(const schemas::FileEntry& e) {
  return Pack(std::make_tuple(e.hash, e.size, e.mode));
}

Result<schemas::FileEntry> DecodeExpectedFileRow(std::string_view path, std::string_view bytes) {
  auto row = Unpack<std::tuple<std::string, std::uint64_t, std::uint32_t>>(
      bytes, "files table entry '" + std::string(path) + "'");
  if (!row.ok()) return row.status();
  auto& [hash, size, mode] = *row;
  return schemas::FileEntry{std::string(path), std::move(hash), size, mode};
}

std::string EncodeFileChangeRow(const schemas::FileChange& c) {
  return Pack(std::make_tuple(c.deleted, c.entry.path, c.entry.hash, c.entry.size, c.entry.mode));
}

Result<schemas::FileChange> DecodeFileChangeRow(std::uint64_t seq, std::string_view bytes) {
  auto row = Unpack<std::tuple<bool, std::string, std::string, std::uint64_t, std::uint32_t>>(
      bytes, "files log entry " + std::to_string(seq));
  if (!row.ok()) return row.status();
  auto& [deleted, path, hash, size, mode] = *row;
  return schemas::FileChange{seq, deleted, {std::move(path), std::move(hash), size, mode}, ""};
}

}  // namespace zcluster::store
