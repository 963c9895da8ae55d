// How an agent proves a report is its own: an HMAC-SHA-512-256 (libsodium crypto_auth) over the
// agent id, a per-agent counter and the encoded state (or, keepalive-only, the time), keyed with
// a key derived from the agent's client.keys secret. The counter must grow with every report, so
// a captured report cannot be replayed. The agent port's CURVE encryption keeps reports private;
// this MAC is what authenticates them, per report, without one CURVE key per agent.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

using AgentMacKey = std::array<unsigned char, 32>;

// BLAKE2b-256 keyed with the client.keys secret over a fixed label.
AgentMacKey DeriveAgentMacKey(const std::string& client_key);

// A report signed as the agent would sign it (zcluster-agent-sim, tests).
schemas::AgentReport SignReport(const std::string& id, std::uint64_t counter,
                                const schemas::AgentState& state, const AgentMacKey& key);

// The SHA-512 chaining values after the HMAC's inner and outer pad blocks of one key: a MAC that
// starts from them skips two of its six or seven SHA-512 compressions. What one agent signs or
// one worker checks many reports with.
struct AgentMacPads {
  std::array<std::uint64_t, 8> inner;
  std::array<std::uint64_t, 8> outer;
};
AgentMacPads HashMacPads(const AgentMacKey& key);

// The MAC SignReport puts on a report of these encoded state bytes, from the key's hashed pads.
std::string SignState(const AgentMacPads& pads, std::string_view id, std::uint64_t counter,
                      std::string_view state);
// The MAC of a keepalive-only report: it signs the time where a full report signs its state,
// in a form no state's bytes can take, so that neither MAC stands for the other.
std::string SignKeepalive(const AgentMacPads& pads, std::string_view id, std::uint64_t counter,
                          std::uint64_t last_keepalive);

// Why a report was refused, for counters and replies.
enum class ReportRefusal { kNone, kUnknownAgent, kBadMac, kReplayed, kRateLimited };

struct ReportVerdict {
  ReportRefusal refusal = ReportRefusal::kNone;
  Status status;  // Ok, or PermissionDenied naming the agent and the reason
  // The agent's position in client.keys as last set (npos for an unknown id): what the caller
  // may index its own per-agent data by until the next SetKeys.
  std::size_t at = ClientKeys::npos;
  bool ok() const { return refusal == ReportRefusal::kNone; }
};

// Checks reports against the worker's copy of client.keys and the counters it has accepted.
// Not thread-safe: owned by the agent port's thread.
class ReportVerifier {
 public:
  // Replaces the registry (client.keys changed); counters of agents still present are kept.
  void SetKeys(ClientKeys keys);
  // Accepted, or why not: unknown id, bad MAC, replayed counter, or more than the agent's
  // reports in the second of `now`. When accepted the counter becomes the agent's latest.
  ReportVerdict Verify(const schemas::AgentReport& report,
                       SteadyClock::time_point now = SteadyClock::now());
  // Reports one agent may have accepted per second (0: no limit). Counted only once the MAC
  // holds, so that nobody but the agent can spend its allowance.
  void SetRateLimit(std::uint32_t reports_per_second) { rate_limit_ = reports_per_second; }
  // Counters persisted by the worker are restored with this after a restart (after SetKeys: an
  // agent the registry does not hold has no counter to keep).
  void RestoreCounter(const std::string& id, std::uint64_t counter);
  std::uint64_t counter(const std::string& id) const;
  // Agents whose HMAC key pads are kept hashed: those that sent a good MAC since SetKeys.
  std::size_t pads_kept() const { return pads_.size(); }
  // Why an accepted report's state contradicts the agent's registration (another name, or an IP
  // outside the one registered), or nullopt. An agent may only speak as itself.
  std::optional<std::string> Contradiction(const std::string& id,
                                           const schemas::AgentState& state) const;

 private:
  // By registry position: the MAC key derived from each agent's secret, and its last counter.
  ClientKeys keys_;
  std::vector<AgentMacKey> mac_keys_;
  // Pad hashes only for the agents that sent this worker a good MAC (128 bytes each), not for
  // every registered one: by registry position, 1 + the index in pads_, or 0 for none yet.
  std::vector<std::uint32_t> pads_at_;
  std::vector<AgentMacPads> pads_;
  std::vector<std::uint64_t> counters_;
  // By registry position: the second (since epoch_) of the agent's current window, and the
  // reports accepted in it.
  std::vector<std::uint32_t> window_;
  std::vector<std::uint32_t> in_window_;
  std::uint32_t rate_limit_ = 0;
  SteadyClock::time_point epoch_ = SteadyClock::now();
};

}  // namespace zcluster::nodes
