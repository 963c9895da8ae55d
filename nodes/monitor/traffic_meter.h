// Messages and bytes per peer, message type and direction, counted where a node sends and
// receives. Cheap enough to stay on: a message's type is found by comparing its first frame with
// the encoded names of the known types (no decode, no allocation), and a peer's row is allocated
// once, the first time that peer is seen. Peers are bounded: past kMaxPeers, new ones share the
// row "other", so a flood of names cannot grow the table.
//
// Threading: owned by the node's loop thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/bus/sockets.h"
#include "zcluster/schemas/monitor.h"

namespace zcluster::nodes {

class TrafficMeter {
 public:
  static constexpr std::size_t kMaxPeers = 1024;
  // A tapped message larger than this (past its type frame) is copied as its type alone, with
  // its size in the header: a dump stays cheap for the node while batches of megabytes pass.
  static constexpr std::size_t kTapSnapBytes = 64 << 10;

  // While set and someone listens on it, every counted message is also copied to `tap`, with a
  // header naming `node`, the peer and the direction. Unset, or with nobody listening, a tap
  // costs one test per message.
  void Tap(bus::TapSocket* tap, std::string node) {
    tap_ = tap;
    node_ = std::move(node);
  }

  void In(std::string_view peer, const bus::Frames& frames) { Count(peer, frames, false); }
  void Out(std::string_view peer, const bus::Frames& frames) { Count(peer, frames, true); }
  // Every non-zero counter, by peer then type.
  std::vector<schemas::TrafficRow> Rows() const;

  // The index of a message's type among the known types; unknown frames share the last index.
  static std::size_t TypeIndex(const bus::Frames& frames);
  static std::string_view TypeName(std::size_t index);
  static std::size_t TypeCount();

 private:
  struct Cell {
    std::uint64_t messages = 0, bytes = 0;
  };
  // [type][direction]
  using Row = std::vector<std::array<Cell, 2>>;
  void Count(std::string_view peer, const bus::Frames& frames, bool out);

  void Copy(std::string_view peer, const bus::Frames& frames, bool out);

  std::map<std::string, Row, std::less<>> peers_;
  bus::TapSocket* tap_ = nullptr;
  std::string node_;
};

}  // namespace zcluster::nodes
