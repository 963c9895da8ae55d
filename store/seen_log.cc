#include "zcluster/store/node_store.h"
#include "zcluster/store/records.h"

namespace zcluster::store {
namespace {

// [format][entry count, 4][node count, 2] then each node [length, 1][name], then each entry [id
// length, 1][id][overlay << 7 | record << 6 | status, 1][keepalive, 8][disconnection, 8]
// [counter, 8][node index, 2]. Integers are big-endian. Formats 1 (a group) and 2 (a snapshot's
// group) are an older zcluster's: no record bit, and no entry for a full record written over no
// overlay. Formats 3 and 4 have both; an older zcluster refuses them as damaged rather than
// write kAgents rows that the log would not show.
constexpr char kOlderFormat = 1;
constexpr char kOlderSnapshotFormat = 2;
constexpr char kFormat = 3;
constexpr char kSnapshotFormat = 4;
constexpr std::size_t kHeader = 1 + 4 + 2;
constexpr std::size_t kEntryFixed = 1 + 1 + 3 * 8 + 2;  // with an empty id
constexpr unsigned char kOverlayBit = 0x80;
constexpr unsigned char kRecordBit = 0x40;

void PutBigEndian(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The caller has checked that `bytes` bytes are there.
std::uint64_t BigEndianAt(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(in[at + i]);
  return v;
}

}  // namespace

Status SeenLogGroup::Add(const SeenLogEntry& entry) {
  if (entry.id.size() > 0xff) return Status::InvalidArgument("store: seen log: agent id too long");
  if (entry.node.size() > 0xff)
    return Status::InvalidArgument("store: seen log: node name too long");
  if (last_node_ >= nodes_.size() || nodes_[last_node_] != entry.node) {
    std::size_t i = 0;
    while (i < nodes_.size() && nodes_[i] != entry.node) ++i;
    if (i == nodes_.size()) {
      if (i > 0xffff) return Status::InvalidArgument("store: seen log: too many node names");
      nodes_.emplace_back(entry.node);
    }
    last_node_ = i;
  }
  entries_.push_back(static_cast<char>(entry.id.size()));
  entries_ += entry.id;
  entries_.push_back(static_cast<char>((entry.overlay ? kOverlayBit : 0) |
                                       (entry.record ? kRecordBit : 0) |
                                       static_cast<unsigned char>(entry.status)));
  PutBigEndian(entries_, entry.last_keepalive, 8);
  PutBigEndian(entries_, entry.disconnection_time, 8);
  PutBigEndian(entries_, entry.counter, 8);
  PutBigEndian(entries_, last_node_, 2);
  ++count_;
  return Status::Ok();
}

std::string SeenLogGroup::Finish() const {
  std::string out;
  std::size_t names = 0;
  for (const std::string& n : nodes_) names += 1 + n.size();
  out.reserve(kHeader + names + entries_.size());
  out.push_back(snapshot_ ? kSnapshotFormat : kFormat);
  PutBigEndian(out, count_, 4);
  PutBigEndian(out, nodes_.size(), 2);
  for (const std::string& n : nodes_) {
    out.push_back(static_cast<char>(n.size()));
    out += n;
  }
  out += entries_;
  return out;
}

Status ForEachSeenLogEntry(std::uint64_t seq, std::string_view bytes, const SeenLogVisitor& visit) {
  auto damaged = [&](const char* why) {
    return Status::DataLoss("store: seen log group " + std::to_string(seq) + ": " + why);
  };
  if (bytes.size() < kHeader) return damaged("too short");
  const char format = bytes[0];
  if (format < kOlderFormat || format > kSnapshotFormat) return damaged("unknown format");
  const bool snapshot = format == kSnapshotFormat || format == kOlderSnapshotFormat;
  const bool knows_record = format == kFormat || format == kSnapshotFormat;
  const unsigned char flag_bits = knows_record ? kOverlayBit | kRecordBit : kOverlayBit;
  const std::uint64_t count = BigEndianAt(bytes, 1, 4);
  const std::size_t node_count = BigEndianAt(bytes, 5, 2);
  std::size_t at = kHeader;
  // Names are kept as views into the row: at most 65,535 of them, each at least its length byte.
  if (node_count > bytes.size() - at) return damaged("more node names than bytes");
  std::vector<std::string_view> nodes;
  nodes.reserve(node_count);
  for (std::size_t i = 0; i < node_count; ++i) {
    if (at >= bytes.size()) return damaged("node names cut short");
    const std::size_t len = static_cast<unsigned char>(bytes[at++]);
    if (len > bytes.size() - at) return damaged("node names cut short");
    nodes.push_back(bytes.substr(at, len));
    at += len;
  }
  // Checked whole first: a damaged group applies nothing rather than half of itself.
  const std::size_t first = at;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (bytes.size() - at < kEntryFixed) return damaged("entries cut short");
    const std::size_t id_len = static_cast<unsigned char>(bytes[at]);
    if (bytes.size() - at < kEntryFixed + id_len) return damaged("entries cut short");
    const auto flags = static_cast<unsigned char>(bytes[at + 1 + id_len]);
    if ((flags & ~flag_bits) > static_cast<unsigned char>(schemas::AgentStatus::kDisconnected)) {
      return damaged("unknown status");
    }
    if (BigEndianAt(bytes, at + kEntryFixed + id_len - 2, 2) >= nodes.size()) {
      return damaged("unknown node index");
    }
    at += kEntryFixed + id_len;
  }
  if (at != bytes.size()) return damaged("bytes after the last entry");
  at = first;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t id_len = static_cast<unsigned char>(bytes[at]);
    SeenLogEntry e;
    e.in_snapshot = snapshot;
    e.knows_record = knows_record;
    e.id = bytes.substr(at + 1, id_len);
    at += 1 + id_len;
    const auto flags = static_cast<unsigned char>(bytes[at]);
    e.overlay = (flags & kOverlayBit) != 0;
    e.record = knows_record && (flags & kRecordBit) != 0;
    e.status = static_cast<schemas::AgentStatus>(flags & ~flag_bits);
    e.last_keepalive = BigEndianAt(bytes, at + 1, 8);
    e.disconnection_time = BigEndianAt(bytes, at + 9, 8);
    e.counter = BigEndianAt(bytes, at + 17, 8);
    e.node = nodes[BigEndianAt(bytes, at + 25, 2)];
    at += kEntryFixed - 1;
    ZC_RETURN_IF_ERROR(visit(e));
  }
  return Status::Ok();
}

bool IsWholeSnapshotGroup(std::string_view bytes) {
  return !bytes.empty() && bytes[0] == kSnapshotFormat;
}

}  // namespace zcluster::store
