#include "zcluster/store/records.h"

#include <tuple>

#include <msgpack.hpp>

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

Result<schemas::AgentRecord> DecodeAgentRow(std::string_view id, std::string_view bytes) {
  Result<schemas::AgentRecord> rec = schemas::DecodeAgentRecord(bytes);
  if (!rec.ok()) {
    return Status::DataLoss("store: agent " + std::string(id) + ": " + rec.status().message());
  }
  return rec;
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
