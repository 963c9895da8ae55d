#include "zcluster/nodes/agent_auth.h"

#include <sodium.h>

namespace zcluster::nodes {
namespace {

constexpr char kLabel[] = "zcluster-agent-report-v1";

// id, a zero byte, the counter as 8 big-endian bytes, the state bytes.
std::string MacInput(const std::string& id, std::uint64_t counter, const std::string& state) {
  std::string in = id;
  in.push_back('\0');
  for (int i = 7; i >= 0; --i) in.push_back(static_cast<char>((counter >> (8 * i)) & 0xff));
  in += state;
  return in;
}

}  // namespace

AgentMacKey DeriveAgentMacKey(const std::string& client_key) {
  AgentMacKey key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(kLabel),
                     sizeof kLabel - 1, reinterpret_cast<const unsigned char*>(client_key.data()),
                     client_key.size());
  return key;
}

schemas::AgentReport SignReport(const std::string& id, std::uint64_t counter,
                                const schemas::AgentState& state, const AgentMacKey& key) {
  schemas::AgentReport r{id, counter, schemas::EncodeAgentState(state), ""};
  std::string in = MacInput(id, counter, r.state);
  r.mac.resize(crypto_auth_BYTES);
  crypto_auth(reinterpret_cast<unsigned char*>(r.mac.data()),
              reinterpret_cast<const unsigned char*>(in.data()), in.size(), key.data());
  return r;
}

void ReportVerifier::SetKeys(const ClientKeys& keys) {
  keys_.clear();
  registered_.clear();
  for (const ClientKey& k : keys.entries()) {
    if (k.removed) continue;
    keys_[k.id] = DeriveAgentMacKey(k.key);
    registered_[k.id] = {k.name, k.ip};
  }
  std::erase_if(counters_, [this](const auto& kv) { return !keys_.count(kv.first); });
}

std::optional<std::string> ReportVerifier::Contradiction(const std::string& id,
                                                         const schemas::AgentState& state) const {
  auto it = registered_.find(id);
  if (it == registered_.end()) return "unknown agent id " + id;
  const auto& [name, ip] = it->second;
  if (state.name != name) {
    return "agent " + id + " is registered as '" + name + "', not '" + state.name + "'";
  }
  // A registration with one address pins it; "any" and a network leave it to the agent.
  bool single = ip != "any" && ip.find('/') == std::string::npos;
  if (single && !state.ip.empty() && state.ip != ip) {
    return "agent " + id + " is registered at " + ip + ", not " + state.ip;
  }
  return std::nullopt;
}

ReportVerdict ReportVerifier::Verify(const schemas::AgentReport& report) {
  auto refuse = [](ReportRefusal why, std::string message) {
    return ReportVerdict{why, Status::PermissionDenied(std::move(message))};
  };
  auto key = keys_.find(report.id);
  if (key == keys_.end()) {
    return refuse(ReportRefusal::kUnknownAgent, "unknown agent id " + report.id);
  }
  if (report.mac.size() != crypto_auth_BYTES) {
    return refuse(ReportRefusal::kBadMac, "bad MAC from agent " + report.id);
  }
  std::string in = MacInput(report.id, report.counter, report.state);
  if (crypto_auth_verify(reinterpret_cast<const unsigned char*>(report.mac.data()),
                         reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                         key->second.data()) != 0) {
    return refuse(ReportRefusal::kBadMac, "bad MAC from agent " + report.id);
  }
  std::uint64_t& last = counters_[report.id];
  if (report.counter <= last) {
    return refuse(ReportRefusal::kReplayed, "replayed or stale report from agent " + report.id +
                                                " (counter " + std::to_string(report.counter) +
                                                " <= " + std::to_string(last) + ")");
  }
  last = report.counter;
  return ReportVerdict{};
}

void ReportVerifier::RestoreCounter(const std::string& id, std::uint64_t counter) {
  std::uint64_t& last = counters_[id];
  if (counter > last) last = counter;
}

std::uint64_t ReportVerifier::counter(const std::string& id) const {
  auto it = counters_.find(id);
  return it == counters_.end() ? 0 : it->second;
}

}  // namespace zcluster::nodes
