// An agent_info batch read where it lies, for the master: each update's fields point into the
// body, and a full update's state is kept as the bytes that came, so that the stored record can
// carry them unchanged instead of being decoded into strings and encoded again. What it accepts
// is what Decode accepts for the same body, but for the object budget (codec.h), which guards
// the objects Decode builds: this reader builds none, and applies the budget only to a state it
// must decode in full. SCHEMAS.md documents the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "zcluster/schemas/agents.h"
#include "zcluster/schemas/status.h"

namespace zcluster::schemas {

struct AgentUpdateView {
  std::string_view id;
  bool full = true;
  std::uint64_t counter = 0;
  AgentStatus status = AgentStatus::kActive;
  std::uint64_t last_keepalive = 0;
  std::uint64_t disconnection_time = 0;  // full updates only; 0 otherwise
  // Full updates: the state map's bytes as they came.
  std::string_view state;
  // Full updates: whether `state` holds exactly the fields EncodeAgentState writes, each once
  // and nothing else, so that a record may carry the bytes as they are. Otherwise the state is
  // valid all the same, but must be decoded (DecodeAgentState) and encoded again.
  bool state_as_is = false;
  std::string_view name;  // the state's name, when state_as_is
};

struct AgentInfoView {
  std::uint64_t batch = 0;
  std::uint64_t pending = 0;
  std::vector<AgentUpdateView> updates;
};

// Whether a message's type frame is agent_info as Encode writes it (a msgpack fixstr).
// Another spelling of the type still decodes, by Decode.
bool IsAgentInfoType(std::string_view type_frame);

// Reads an agent_info body (frame 1). The body must outlive the view. InvalidArgument, naming
// the field, for anything Decode refuses.
Result<AgentInfoView> ReadAgentInfo(std::string_view body);

// The record {id, state, node, no groups, counter} for state bytes that are as-is (see
// AgentUpdateView::state_as_is): what EncodeAgentRecord makes of the decoded state, with the
// state's bytes copied rather than encoded again.
std::string EncodeAgentRecordOfState(std::string_view id, std::string_view state,
                                     std::string_view node, std::uint64_t counter);

// Where an agent state's keepalive time lies in its bytes (EncodeAgentState's map), so that a
// worker can tell a report that changes nothing else without decoding it. nullopt unless the
// bytes are one map, every key a string, holding last_keepalive once as a non-negative integer;
// it checks nothing else of the state, which the full decode does.
struct KeepaliveSpan {
  std::size_t offset = 0;  // of the value's bytes
  std::size_t size = 0;
  std::uint64_t value = 0;
};
std::optional<KeepaliveSpan> FindKeepalive(std::string_view state);

// Writes `value` over the keepalive time at `span` (FindKeepalive's, of these bytes), so that an
// agent re-sends its state with a new time without encoding it again. Done only when the value
// takes as many bytes as the old one, so the bytes are those EncodeAgentState would make; false,
// and `state` untouched, otherwise.
bool ReplaceKeepalive(std::string& state, KeepaliveSpan& span, std::uint64_t value);

}  // namespace zcluster::schemas
