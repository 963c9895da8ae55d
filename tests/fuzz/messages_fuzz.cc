// Any bytes as the two frames of a message: the first byte says how long frame 0 is. Whatever
// decodes must encode again and decode to what encodes the same (bytes, not ==: NaN is a value
// a peer may send). The agent state inside a report and
// the monitor tap's header are decoded too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "zcluster/schemas/agents.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/schemas/monitor.h"

using namespace zcluster::schemas;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t first = std::min<std::size_t>(data[0], size - 1);
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  Frames frames{std::string(bytes, first), std::string(bytes + first, size - 1 - first)};
  zcluster::Result<Message> m = Decode(frames);
  if (m.ok()) {
    const Frames encoded = Encode(*m);
    zcluster::Result<Message> again = Decode(encoded);
    if (!again.ok() || Encode(*again) != encoded) std::abort();  // decoded must round-trip
  }
  DecodeAgentState(frames[1]).status().IgnoreError();
  DecodeTapHeader(frames[1]).status().IgnoreError();
  return 0;
}
