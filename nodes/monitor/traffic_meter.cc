#include "monitor/traffic_meter.h"

#include <utility>

#include "zcluster/nodes/clock.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {
namespace {

// The first frame of every known message type as it travels, and its name; "other" last.
struct TypeTable {
  std::vector<std::string> frames;
  std::vector<std::string_view> names;
};

template <std::size_t... I>
TypeTable MakeTable(std::index_sequence<I...>) {
  TypeTable t;
  (
      [&t] {
        schemas::Message m(std::in_place_index<I>);
        t.frames.push_back(schemas::Encode(m)[0]);
        t.names.push_back(schemas::TypeOf(m));
      }(),
      ...);
  t.names.push_back("other");
  return t;
}

const TypeTable& Types() {
  static const TypeTable table =
      MakeTable(std::make_index_sequence<std::variant_size_v<schemas::Message>>());
  return table;
}

}  // namespace

std::size_t TrafficMeter::TypeIndex(const bus::Frames& frames) {
  const TypeTable& t = Types();
  if (frames.empty()) return t.frames.size();
  const std::string& head = frames[0];
  for (std::size_t i = 0; i < t.frames.size(); ++i) {
    if (t.frames[i] == head) return i;
  }
  return t.frames.size();
}

std::string_view TrafficMeter::TypeName(std::size_t index) { return Types().names.at(index); }

std::size_t TrafficMeter::TypeCount() { return Types().names.size(); }

void TrafficMeter::Count(std::string_view peer, const bus::Frames& frames, bool out) {
  if (tap_ != nullptr && tap_->listening()) Copy(peer, frames, out);
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    std::string_view key = peers_.size() < kMaxPeers ? peer : std::string_view("other");
    it = peers_.find(key);
    if (it == peers_.end()) it = peers_.emplace(std::string(key), Row(TypeCount())).first;
  }
  std::uint64_t bytes = 0;
  for (const std::string& f : frames) bytes += f.size();
  Cell& cell = it->second[TypeIndex(frames)][out ? 1 : 0];
  ++cell.messages;
  cell.bytes += bytes;
}

void TrafficMeter::Copy(std::string_view peer, const bus::Frames& frames, bool out) {
  std::uint64_t body = 0;
  for (std::size_t i = 1; i < frames.size(); ++i) body += frames[i].size();
  bool whole = body <= kTapSnapBytes;
  bus::Frames copy;
  copy.reserve(whole ? frames.size() + 1 : 2);
  copy.push_back(
      schemas::EncodeTapHeader({node_, std::string(peer), out, UnixNow(), whole ? 0 : body}));
  if (whole) {
    copy.insert(copy.end(), frames.begin(), frames.end());
  } else if (!frames.empty()) {
    copy.push_back(frames[0]);
  }
  tap_->Send(std::move(copy)).IgnoreError();  // a slow listener loses copies, never the node
}

std::vector<schemas::TrafficRow> TrafficMeter::Rows() const {
  std::vector<schemas::TrafficRow> rows;
  for (const auto& [peer, row] : peers_) {
    for (std::size_t type = 0; type < row.size(); ++type) {
      for (int dir = 0; dir < 2; ++dir) {
        const Cell& c = row[type][dir];
        if (c.messages == 0) continue;
        rows.push_back({peer, std::string(TypeName(type)), dir == 1, c.messages, c.bytes});
      }
    }
  }
  if (rows.size() > schemas::kMaxTrafficRows) rows.resize(schemas::kMaxTrafficRows);
  return rows;
}

}  // namespace zcluster::nodes
