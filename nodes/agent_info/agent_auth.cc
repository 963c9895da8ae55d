#include "zcluster/nodes/agent_auth.h"

#include <sodium.h>

#include <algorithm>
#include <iterator>

namespace zcluster::nodes {
namespace {

constexpr char kLabel[] = "zcluster-agent-report-v1";

using Mac = std::array<unsigned char, crypto_auth_BYTES>;

// The MAC of id, a zero byte, the counter as 8 big-endian bytes and what the report signs (its
// state bytes, or KeepaliveTail), fed to the HMAC piece by piece rather than copied into one
// buffer first. `st` is initialised with the key.
Mac MacOf(crypto_auth_hmacsha512256_state& st, std::string_view id, std::uint64_t counter,
          std::string_view signed_part) {
  auto bytes = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  std::array<unsigned char, 9> middle{};  // the zero byte, then the counter
  for (int i = 0; i < 8; ++i) middle[8 - i] = static_cast<unsigned char>(counter >> (8 * i));
  crypto_auth_hmacsha512256_update(&st, bytes(id), id.size());
  crypto_auth_hmacsha512256_update(&st, middle.data(), middle.size());
  crypto_auth_hmacsha512256_update(&st, bytes(signed_part), signed_part.size());
  Mac mac;
  crypto_auth_hmacsha512256_final(&st, mac.data());
  return mac;
}

// What a keepalive-only report signs in place of state bytes: 0xc1, the one byte msgpack never
// writes, so that no state (a msgpack map) reads as the same bytes, then the time as 8
// big-endian bytes.
using KeepaliveTail = std::array<char, 9>;
KeepaliveTail TailOf(std::uint64_t last_keepalive) {
  KeepaliveTail tail{};
  tail[0] = static_cast<char>(0xc1);
  for (int i = 0; i < 8; ++i) tail[8 - i] = static_cast<char>(last_keepalive >> (8 * i));
  return tail;
}

// An HMAC state just after its two key pad blocks, for any key: its byte counts (one block
// each) and empty buffers are what every key's are then; only the chaining values differ.
const crypto_auth_hmacsha512256_state& AfterPadBlocks() {
  static const crypto_auth_hmacsha512256_state state = [] {
    crypto_auth_hmacsha512256_state st;
    AgentMacKey any{};
    crypto_auth_hmacsha512256_init(&st, any.data(), any.size());
    return st;
  }();
  return state;
}

crypto_auth_hmacsha512256_state StateFrom(const AgentMacPads& pads) {
  crypto_auth_hmacsha512256_state st = AfterPadBlocks();
  std::copy(pads.inner.begin(), pads.inner.end(), std::begin(st.ictx.state));
  std::copy(pads.outer.begin(), pads.outer.end(), std::begin(st.octx.state));
  return st;
}

AgentMacPads PadsOf(const crypto_auth_hmacsha512256_state& st) {
  AgentMacPads pads;
  std::copy(std::begin(st.ictx.state), std::end(st.ictx.state), pads.inner.begin());
  std::copy(std::begin(st.octx.state), std::end(st.octx.state), pads.outer.begin());
  return pads;
}

}  // namespace

AgentMacPads HashMacPads(const AgentMacKey& key) {
  crypto_auth_hmacsha512256_state st;
  crypto_auth_hmacsha512256_init(&st, key.data(), key.size());
  return PadsOf(st);
}

std::string SignState(const AgentMacPads& pads, std::string_view id, std::uint64_t counter,
                      std::string_view state) {
  crypto_auth_hmacsha512256_state st = StateFrom(pads);
  Mac mac = MacOf(st, id, counter, state);
  return std::string(mac.begin(), mac.end());
}

std::string SignKeepalive(const AgentMacPads& pads, std::string_view id, std::uint64_t counter,
                          std::uint64_t last_keepalive) {
  KeepaliveTail tail = TailOf(last_keepalive);
  return SignState(pads, id, counter, std::string_view(tail.data(), tail.size()));
}

AgentMacKey DeriveAgentMacKey(const std::string& client_key) {
  AgentMacKey key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(kLabel),
                     sizeof kLabel - 1, reinterpret_cast<const unsigned char*>(client_key.data()),
                     client_key.size());
  return key;
}

schemas::AgentReport SignReport(const std::string& id, std::uint64_t counter,
                                const schemas::AgentState& state, const AgentMacKey& key) {
  schemas::AgentReport r{id, counter, schemas::EncodeAgentState(state), "", std::nullopt};
  r.mac = SignState(HashMacPads(key), id, counter, r.state);
  return r;
}

void ReportVerifier::SetKeys(ClientKeys keys) {
  // Counters follow their agents to their new positions; agents no longer registered lose them.
  std::vector<std::uint64_t> counters(keys.size(), 0);
  for (std::size_t i = 0; i < counters_.size() && i < keys_.size(); ++i) {
    if (counters_[i] == 0) continue;
    std::size_t at = keys.IndexOf(keys_.id(i));
    if (at != ClientKeys::npos) counters[at] = counters_[i];
  }
  counters_ = std::move(counters);
  window_.assign(keys.size(), 0);
  in_window_.assign(keys.size(), 0);
  // Released before the new keys are derived: a reload holds two registries, not two of all.
  mac_keys_.clear();
  mac_keys_.shrink_to_fit();
  pads_.clear();
  pads_at_.assign(keys.size(), 0);
  keys_ = std::move(keys);
  mac_keys_.resize(keys_.size());
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (!keys_.removed(i)) mac_keys_[i] = DeriveAgentMacKey(std::string(keys_.key(i)));
  }
}

std::optional<std::string> ReportVerifier::Contradiction(const std::string& id,
                                                         const schemas::AgentState& state) const {
  std::size_t at = keys_.IndexOf(id);
  if (at == ClientKeys::npos) return "unknown agent id " + id;
  std::string_view name = keys_.name(at), ip = keys_.ip(at);
  if (state.name != name) {
    return "agent " + id + " is registered as '" + std::string(name) + "', not '" + state.name +
           "'";
  }
  // A registration with one address pins it; "any" and a network leave it to the agent.
  bool single = ip != "any" && ip.find('/') == std::string_view::npos;
  if (single && !state.ip.empty() && state.ip != ip) {
    return "agent " + id + " is registered at " + std::string(ip) + ", not " + state.ip;
  }
  return std::nullopt;
}

ReportVerdict ReportVerifier::Verify(const schemas::AgentReport& report,
                                     SteadyClock::time_point now) {
  auto refuse = [](ReportRefusal why, std::string message) {
    return ReportVerdict{why, Status::PermissionDenied(std::move(message))};
  };
  std::size_t at = keys_.IndexOf(report.id);
  if (at == ClientKeys::npos) {
    return refuse(ReportRefusal::kUnknownAgent, "unknown agent id " + report.id);
  }
  if (report.mac.size() != crypto_auth_BYTES) {
    return refuse(ReportRefusal::kBadMac, "bad MAC from agent " + report.id);
  }
  crypto_auth_hmacsha512256_state st;
  const bool kept = pads_at_[at] != 0;
  if (kept) {
    st = StateFrom(pads_[pads_at_[at] - 1]);
  } else {
    crypto_auth_hmacsha512256_init(&st, mac_keys_[at].data(), mac_keys_[at].size());
  }
  // Of a key seen for the first time here, taken before the MAC moves the state on.
  const AgentMacPads pads = kept ? AgentMacPads{} : PadsOf(st);
  KeepaliveTail tail{};
  std::string_view signed_part = report.state;
  if (report.keepalive_only()) {
    tail = TailOf(*report.last_keepalive);
    signed_part = std::string_view(tail.data(), tail.size());
  }
  Mac mac = MacOf(st, report.id, report.counter, signed_part);
  if (crypto_verify_32(reinterpret_cast<const unsigned char*>(report.mac.data()), mac.data()) !=
      0) {
    return refuse(ReportRefusal::kBadMac, "bad MAC from agent " + report.id);
  }
  // Kept once the agent proved its key, so that nobody else can make this worker keep them.
  if (!kept) {
    pads_.push_back(pads);
    pads_at_[at] = static_cast<std::uint32_t>(pads_.size());
  }
  std::uint64_t& last = counters_[at];
  if (report.counter <= last) {
    return refuse(ReportRefusal::kReplayed, "replayed or stale report from agent " + report.id +
                                                " (counter " + std::to_string(report.counter) +
                                                " <= " + std::to_string(last) + ")");
  }
  if (rate_limit_ > 0) {
    auto second = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(now - epoch_).count());
    if (window_[at] != second) {
      window_[at] = second;
      in_window_[at] = 0;
    }
    if (in_window_[at] >= rate_limit_) {
      return ReportVerdict{
          ReportRefusal::kRateLimited,
          Status::Unavailable("agent " + report.id + " sent more than " +
                              std::to_string(rate_limit_) + " reports in a second; send it later")};
    }
    ++in_window_[at];
  }
  last = report.counter;
  return ReportVerdict{ReportRefusal::kNone, Status::Ok(), at};
}

void ReportVerifier::RestoreCounter(const std::string& id, std::uint64_t counter) {
  std::size_t at = keys_.IndexOf(id);
  if (at != ClientKeys::npos && counter > counters_[at]) counters_[at] = counter;
}

std::uint64_t ReportVerifier::counter(const std::string& id) const {
  std::size_t at = keys_.IndexOf(id);
  return at == ClientKeys::npos ? 0 : counters_[at];
}

}  // namespace zcluster::nodes
