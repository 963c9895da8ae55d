#include "zcluster/store/node_store.h"
#include "zcluster/store/records.h"

namespace zcluster::store {
namespace {

// [format][entry count, 4][node count, 2] then each node [length, 1][name], then the entries.
// Formats 3 (a group) and 4 (a snapshot's group): each entry is [id length, 1][id][overlay << 7 |
// record << 6 | first << 5 | status, 1] then the keepalive, disconnection time, report counter and
// node index as LEB128 varints (a keepalive entry of a seven-digit id takes about 18 bytes).
// Formats 1 and 2 are an older zcluster's: no record bit, fixed-width big-endian fields
// ([keepalive, 8] [disconnection, 8][counter, 8][node index, 2]), and no entry for a full record
// written over no overlay. An older zcluster refuses formats 3 and 4 as damaged rather than write
// kAgents rows that the log would not show.
constexpr char kOlderFormat = 1;
constexpr char kOlderSnapshotFormat = 2;
constexpr char kFormat = 3;
constexpr char kSnapshotFormat = 4;
constexpr std::size_t kHeader = 1 + 4 + 2;
constexpr std::size_t kOlderFields = 3 * 8 + 2;
constexpr unsigned char kOverlayBit = 0x80;
constexpr unsigned char kRecordBit = 0x40;
constexpr unsigned char kFirstBit = 0x20;

void PutBigEndian(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The caller has checked that `bytes` bytes are there.
std::uint64_t BigEndianAt(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(in[at + i]);
  return v;
}

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Why the varint at `at` cannot be read (nullptr when it was, `at` then past it).
const char* ReadVarint(std::string_view in, std::size_t& at, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at >= in.size()) return "entries cut short";
    const auto b = static_cast<unsigned char>(in[at++]);
    if (shift == 63 && b > 1) return "a number past 64 bits";
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return nullptr;
  }
  return "a number past 64 bits";
}

// What a group's header says about its entries.
struct GroupFormat {
  bool snapshot;
  bool knows_record;  // formats 3 and 4: varint fields and the record bit
  unsigned char flag_bits;
};

// Reads the entry at `at` into `e` (views into `in`) and moves `at` past it; why it is damaged,
// or nullptr.
const char* ReadEntry(std::string_view in, std::size_t& at, const GroupFormat& f,
                      const std::vector<std::string_view>& nodes, SeenLogEntry& e) {
  if (at >= in.size()) return "entries cut short";
  const std::size_t id_len = static_cast<unsigned char>(in[at]);
  if (in.size() - at - 1 < id_len + 1) return "entries cut short";
  e.id = in.substr(at + 1, id_len);
  at += 1 + id_len;
  const auto flags = static_cast<unsigned char>(in[at++]);
  if ((flags & ~f.flag_bits) > static_cast<unsigned char>(schemas::AgentStatus::kDisconnected)) {
    return "unknown status";
  }
  e.in_snapshot = f.snapshot;
  e.knows_record = f.knows_record;
  e.overlay = (flags & kOverlayBit) != 0;
  e.record = f.knows_record && (flags & kRecordBit) != 0;
  e.first = f.knows_record && (flags & kFirstBit) != 0;
  e.status = static_cast<schemas::AgentStatus>(flags & ~f.flag_bits);
  std::uint64_t node = 0;
  if (f.knows_record) {
    for (std::uint64_t* field : {&e.last_keepalive, &e.disconnection_time, &e.counter, &node}) {
      if (const char* why = ReadVarint(in, at, *field)) return why;
    }
  } else {
    if (in.size() - at < kOlderFields) return "entries cut short";
    e.last_keepalive = BigEndianAt(in, at, 8);
    e.disconnection_time = BigEndianAt(in, at + 8, 8);
    e.counter = BigEndianAt(in, at + 16, 8);
    node = BigEndianAt(in, at + 24, 2);
    at += kOlderFields;
  }
  if (node >= nodes.size()) return "unknown node index";
  e.node = nodes[node];
  return nullptr;
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
  entries_.push_back(
      static_cast<char>((entry.overlay ? kOverlayBit : 0) | (entry.record ? kRecordBit : 0) |
                        (entry.first ? kFirstBit : 0) | static_cast<unsigned char>(entry.status)));
  PutVarint(entries_, entry.last_keepalive);
  PutVarint(entries_, entry.disconnection_time);
  PutVarint(entries_, entry.counter);
  PutVarint(entries_, last_node_);
  ++count_;
  firsts_ += entry.first ? 1 : 0;
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
  GroupFormat f;
  f.snapshot = format == kSnapshotFormat || format == kOlderSnapshotFormat;
  f.knows_record = format == kFormat || format == kSnapshotFormat;
  f.flag_bits = f.knows_record ? kOverlayBit | kRecordBit | kFirstBit : kOverlayBit;
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
  // Checked whole first: a damaged group applies nothing rather than half of itself. Every entry
  // takes bytes, so a count larger than the row stops at its end.
  const std::size_t first = at;
  SeenLogEntry e;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (const char* why = ReadEntry(bytes, at, f, nodes, e)) return damaged(why);
  }
  if (at != bytes.size()) return damaged("bytes after the last entry");
  at = first;
  for (std::uint64_t i = 0; i < count; ++i) {
    (void)ReadEntry(bytes, at, f, nodes, e);
    ZC_RETURN_IF_ERROR(visit(e));
  }
  return Status::Ok();
}

bool IsWholeSnapshotGroup(std::string_view bytes) {
  return !bytes.empty() && bytes[0] == kSnapshotFormat;
}

}  // namespace zcluster::store
