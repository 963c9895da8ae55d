// A last-seen log group as an older zcluster wrote it (formats 1 and 2: no record bit,
// fixed-width big-endian fields), for tests that read such a store. This build never writes one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "zcluster/store/node_store.h"

namespace zcluster::testing {

// One entry from one node: [format][count 1, 4][one node, 2][node name], then [id length][id]
// [flags][keepalive, 8][disconnection, 8][counter, 8][node index 0, 2].
inline std::string OlderSeenLogGroup(char format, std::string_view id, std::string_view node,
                                     unsigned char flags, std::uint64_t keepalive,
                                     std::uint64_t disconnection, std::uint64_t counter) {
  std::string row{format, 0, 0, 0, 1, 0, 1, static_cast<char>(node.size())};
  row += node;
  row.push_back(static_cast<char>(id.size()));
  row += id;
  row.push_back(static_cast<char>(flags));
  for (std::uint64_t v : {keepalive, disconnection, counter}) row += store::EncodeU64(v);
  row += std::string(2, '\0');
  return row;
}

}  // namespace zcluster::testing
