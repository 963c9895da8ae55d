#include "zcluster/nodes/agent_auth.h"

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
