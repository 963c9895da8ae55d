#include "zcluster/nodes/agent_auth.h"

#include <sodium.h>

#include <catch2/catch.hpp>

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

ClientKeys TwoAgents() {
  return *ClientKeys::Parse(
      "001 web-1 any 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
      "002 db-1 any fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n");
}

schemas::AgentState State() {
  schemas::AgentState s;
  s.name = "web-1";
  s.ip = "10.0.0.1";
  s.labels = {{"env", "prod"}};
  s.last_keepalive = 1764000000;
  return s;
}

const std::string kKey1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("a report signed with the agent's key is accepted once", "[nodes][agents][auth]") {
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  schemas::AgentReport r = SignReport("001", 5, State(), DeriveAgentMacKey(kKey1));
  CHECK(v.Verify(r).ok());
  CHECK(v.counter("001") == 5);
  SECTION("the same report again is a replay") {
    ReportVerdict verdict = v.Verify(r);
    CHECK(verdict.refusal == ReportRefusal::kReplayed);
    CHECK(verdict.status.code() == Code::kPermissionDenied);
    CHECK(verdict.status.message().find("replayed") != std::string::npos);
  }
  SECTION("an older counter is a replay") {
    CHECK(v.Verify(SignReport("001", 4, State(), DeriveAgentMacKey(kKey1))).refusal ==
          ReportRefusal::kReplayed);
  }
  SECTION("a newer counter is fine") {
    CHECK(v.Verify(SignReport("001", 6, State(), DeriveAgentMacKey(kKey1))).ok());
  }
}

TEST_CASE("a report's MAC is crypto_auth over id, a zero byte, the counter and the state",
          "[nodes][agents][auth]") {
  // As SCHEMAS.md spells it, built in one buffer, for any agent written from it alone.
  const AgentMacKey key = DeriveAgentMacKey(kKey1);
  const std::uint64_t counter = 0x0102030405060708;
  schemas::AgentReport r = SignReport("001", counter, State(), key);
  std::string in = std::string("001") + '\0' + "\x01\x02\x03\x04\x05\x06\x07\x08" + r.state;
  std::string mac(crypto_auth_BYTES, '\0');
  crypto_auth(reinterpret_cast<unsigned char*>(mac.data()),
              reinterpret_cast<const unsigned char*>(in.data()), in.size(), key.data());
  CHECK(r.mac == mac);
}

TEST_CASE("a MAC signed from an agent's hashed key pads is the one its key gives",
          "[nodes][agents][auth]") {
  const AgentMacKey key = DeriveAgentMacKey(kKey1);
  const AgentMacPads pads = HashMacPads(key);
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  schemas::AgentState state = State();
  for (std::uint64_t counter : {1ull, 2ull, 0x0102030405060708ull}) {
    state.labels["n"] = std::to_string(counter);
    schemas::AgentReport r = SignReport("001", counter, state, key);
    CHECK(SignState(pads, "001", counter, r.state) == r.mac);
    CHECK(v.Verify(r).ok());
  }
  // Another agent's pads, another counter or other bytes give another MAC.
  schemas::AgentReport r = SignReport("001", 9, state, key);
  CHECK(SignState(HashMacPads(DeriveAgentMacKey(std::string(64, 'f'))), "001", 9, r.state) !=
        r.mac);
  CHECK(SignState(pads, "001", 10, r.state) != r.mac);
  CHECK(SignState(pads, "001", 9, r.state + " ") != r.mac);
  CHECK(SignState(pads, "002", 9, r.state) != r.mac);
}

TEST_CASE("bad MACs are refused", "[nodes][agents][auth]") {
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  schemas::AgentReport r = SignReport("001", 1, State(), DeriveAgentMacKey(kKey1));
  SECTION("state changed after signing") {
    schemas::AgentState other = State();
    other.labels["env"] = "dev";
    r.state = schemas::EncodeAgentState(other);
  }
  SECTION("counter changed after signing") { r.counter = 2; }
  SECTION("signed with another agent's key, sent as 001") {
    r = SignReport("001", 1, State(), DeriveAgentMacKey("wrong"));
  }
  SECTION("sent as another agent") { r.id = "002"; }
  SECTION("truncated MAC") { r.mac.pop_back(); }
  ReportVerdict verdict = v.Verify(r);
  CHECK(verdict.refusal == ReportRefusal::kBadMac);
  CHECK(verdict.status.code() == Code::kPermissionDenied);
  CHECK(verdict.status.message().find("bad MAC") == 0);
  // A refused report does not move the counter.
  CHECK(v.counter("001") == 0);
}

TEST_CASE("an agent's later reports are checked from its kept key pads as its first was",
          "[nodes][agents][auth]") {
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  const AgentMacKey key1 = DeriveAgentMacKey(kKey1);
  const AgentMacKey key2 =
      DeriveAgentMacKey("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
  schemas::AgentState other = State();
  other.labels["env"] = "dev";

  // Bad MACs, even for registered ids, leave nothing kept.
  CHECK(v.Verify(SignReport("001", 1, State(), key2)).refusal == ReportRefusal::kBadMac);
  CHECK(v.Verify(SignReport("002", 1, State(), key1)).refusal == ReportRefusal::kBadMac);
  CHECK(v.pads_kept() == 0);

  REQUIRE(v.Verify(SignReport("001", 1, State(), key1)).ok());
  CHECK(v.pads_kept() == 1);
  // Interleaved agents, each from its own pads.
  for (std::uint64_t counter = 2; counter < 6; ++counter) {
    CHECK(v.Verify(SignReport("002", counter, other, key2)).ok());
    CHECK(v.Verify(SignReport("001", counter, State(), key1)).ok());
  }
  CHECK(v.pads_kept() == 2);

  schemas::AgentReport tampered = SignReport("001", 6, State(), key1);
  tampered.state = schemas::EncodeAgentState(other);
  CHECK(v.Verify(tampered).refusal == ReportRefusal::kBadMac);
  CHECK(v.Verify(SignReport("001", 6, State(), key2)).refusal == ReportRefusal::kBadMac);
  CHECK(v.counter("001") == 5);

  // A new key for 001 in client.keys: its old key's reports no longer hold.
  v.SetKeys(*ClientKeys::Parse(
      "001 web-1 any 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
      "002 db-1 any fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n"));
  CHECK(v.pads_kept() == 0);
  CHECK(v.Verify(SignReport("001", 7, State(), key1)).refusal == ReportRefusal::kBadMac);
  const AgentMacKey renewed =
      DeriveAgentMacKey("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  CHECK(v.Verify(SignReport("001", 8, State(), renewed)).ok());
  CHECK(v.Verify(SignReport("001", 9, State(), key1)).refusal == ReportRefusal::kBadMac);
  CHECK(v.Verify(SignReport("001", 10, State(), renewed)).ok());
}

TEST_CASE("unknown and removed agents are refused", "[nodes][agents][auth]") {
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  ReportVerdict unknown = v.Verify(SignReport("003", 1, State(), DeriveAgentMacKey(kKey1)));
  CHECK(unknown.refusal == ReportRefusal::kUnknownAgent);
  CHECK(unknown.status.message() == "unknown agent id 003");
  REQUIRE(v.Verify(SignReport("001", 9, State(), DeriveAgentMacKey(kKey1))).ok());
  ClientKeys keys = TwoAgents();
  REQUIRE(keys.Remove("001").ok());
  v.SetKeys(keys);
  CHECK(v.Verify(SignReport("001", 10, State(), DeriveAgentMacKey(kKey1))).status.message() ==
        "unknown agent id 001");
}

TEST_CASE("restored counters survive a restart", "[nodes][agents][auth]") {
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  v.RestoreCounter("001", 100);
  CHECK_FALSE(v.Verify(SignReport("001", 100, State(), DeriveAgentMacKey(kKey1))).ok());
  CHECK(v.Verify(SignReport("001", 101, State(), DeriveAgentMacKey(kKey1))).ok());
}

TEST_CASE("an agent past its reports per second is refused until the next second, others not",
          "[nodes][agents][auth]") {
  ReportVerifier v;
  v.SetKeys(TwoAgents());
  v.SetRateLimit(3);
  const AgentMacKey key = DeriveAgentMacKey(kKey1);
  const auto t0 = SteadyClock::now() + std::chrono::seconds(5);
  std::uint64_t counter = 0;
  for (int i = 0; i < 3; ++i) CHECK(v.Verify(SignReport("001", ++counter, State(), key), t0).ok());
  ReportVerdict flooded = v.Verify(SignReport("001", ++counter, State(), key), t0);
  CHECK(flooded.refusal == ReportRefusal::kRateLimited);
  CHECK(flooded.status.code() == Code::kUnavailable);
  CHECK(flooded.status.message() ==
        "agent 001 sent more than 3 reports in a second; send it later");
  // Refused reports do not move the counter: the agent may send that report again.
  CHECK(v.counter("001") == 3);
  // Someone without the key cannot spend the agent's allowance: a forged report is a bad MAC.
  schemas::AgentState db = State();
  db.name = "db-1";
  const AgentMacKey other =
      DeriveAgentMacKey("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
  CHECK(v.Verify(SignReport("002", 1, db, other), t0).ok());
  CHECK(v.Verify(SignReport("001", 9, State(), other), t0).refusal == ReportRefusal::kBadMac);
  // The next second, the agent is heard again.
  CHECK(v.Verify(SignReport("001", counter, State(), key), t0 + std::chrono::seconds(1)).ok());
}
