// The simulated agents end their run when the worker does not answer: no connection, or no ack.
#include "zcluster/agent_sim/agent_simulator.h"

#include <catch2/catch.hpp>

#include "zcluster/bus/sockets.h"
#include "zcluster/bus/zap_authenticator.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace std::chrono_literals;

namespace {

ClientKeys TwoAgents() {
  ClientKeys keys;
  REQUIRE(keys.Add("web", "any").ok());
  REQUIRE(keys.Add("db", "any").ok());
  return keys;
}

}  // namespace

TEST_CASE("the simulator gives up on a worker it cannot reach", "[agent_sim]") {
  // A port that was free a moment ago: bound, its number read, closed.
  zmq::context_t ctx(1);
  std::string endpoint;
  {
    zmq::socket_t probe(ctx, zmq::socket_type::router);
    probe.bind("tcp://127.0.0.1:*");
    endpoint = probe.get(zmq::sockopt::last_endpoint);
  }
  AgentSimOptions o;
  o.endpoint = endpoint;
  o.server_public_z85 = bus::GenerateKeyPair()->public_z85;
  o.duration = 3600;  // never reached: the run must end on its own
  o.drain = 300ms;
  Result<AgentSimResult> r = RunAgentSimulation(TwoAgents(), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message() == "no connection to " + endpoint + " within 300 ms");
}

TEST_CASE("the simulator gives up on reports that are never acknowledged", "[agent_sim]") {
  // A worker that takes reports and never answers, as one killed with them in flight.
  zmq::context_t ctx(1);
  bus::AllowList open;
  REQUIRE(open.OpenDomain(bus::ZapAuthenticator::kAgentDomain, "agent").ok());
  auto zap = std::move(bus::ZapAuthenticator::Start(ctx, std::move(open), nullptr)).value();
  bus::CurveKeyPair keys = *bus::GenerateKeyPair();
  Result<bus::RouterSocket> silent =
      bus::RouterSocket::BindCurve(ctx, *zap, keys, "tcp://127.0.0.1:*", bus::SocketOptions{},
                                   bus::ZapAuthenticator::kAgentDomain);
  REQUIRE(silent.ok());
  AgentSimOptions o;
  o.endpoint = silent->endpoint();
  o.server_public_z85 = keys.public_z85;
  o.connections = 1;
  o.window = 1;       // full after one report: nothing more can be sent
  o.duration = 3600;  // still in its reporting time when the acks stop
  o.drain = 300ms;
  Result<AgentSimResult> r = RunAgentSimulation(TwoAgents(), o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "the worker acknowledged no report");
}
