// Any bytes as the two frames of a message: the first byte says how long frame 0 is. Whatever
// decodes must encode again and decode to what encodes the same (bytes, not ==: NaN is a value
// a peer may send). The agent state inside a report and
// the monitor tap's header are decoded too, and where a state's keepalive time is found in place
// it must be the one its decode reads. An agent_info body Decode accepts must read in place
// (ReadAgentInfo, the master's path) to the same updates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "zcluster/schemas/agent_info_view.h"
#include "zcluster/schemas/agents.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/schemas/monitor.h"

using namespace zcluster::schemas;

namespace {

void CheckReadInPlace(const AgentInfoBatch& batch, std::string_view body) {
  zcluster::Result<AgentInfoView> view = ReadAgentInfo(body);
  if (!view.ok() || view->batch != batch.batch || view->pending != batch.pending ||
      view->updates.size() != batch.updates.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < batch.updates.size(); ++i) {
    const AgentUpdate& u = batch.updates[i];
    const AgentUpdateView& v = view->updates[i];
    if (v.id != u.id || v.full != u.full || v.counter != u.counter || v.status != u.state.status ||
        v.last_keepalive != u.state.last_keepalive) {
      std::abort();
    }
    if (!u.full) continue;
    zcluster::Result<AgentState> state = DecodeAgentState(v.state);
    if (!state.ok() || !(*state == u.state)) std::abort();
    if (v.state_as_is && v.name != u.state.name) std::abort();
  }
}

// Where FindKeepalive says a state's keepalive time lies, it lies inside the bytes, and it is
// the time the full decode reads.
void CheckKeepaliveSpan(std::string_view state) {
  std::optional<KeepaliveSpan> span = FindKeepalive(state);
  if (!span.has_value()) return;
  if (span->size == 0 || span->offset > state.size() || span->size > state.size() - span->offset) {
    std::abort();
  }
  zcluster::Result<AgentState> decoded = DecodeAgentState(state);
  if (decoded.ok() && decoded->last_keepalive != span->value) std::abort();
}

}  // namespace

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
    if (const auto* batch = std::get_if<AgentInfoBatch>(&*m)) CheckReadInPlace(*batch, frames[1]);
    if (const auto* report = std::get_if<AgentReport>(&*m)) CheckKeepaliveSpan(report->state);
  }
  CheckKeepaliveSpan(frames[1]);
  DecodeTapHeader(frames[1]).status().IgnoreError();
  return 0;
}
