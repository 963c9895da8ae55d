// Simulated agents for the demo, the bench and the tests: N agents from a client.keys file report
// to a worker's agent port over CURVE, each report signed with the agent's key, with status and
// label churn; one report to a message, or many to one as a relay sends them. It remembers the last
// state of each agent that the worker acknowledged: the truth the master must end up holding.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "zcluster/nodes/client_keys.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

struct AgentSimOptions {
  std::string endpoint;            // tcp://HOST:PORT of the worker's agent port
  std::string server_public_z85;   // the worker's public key
  std::size_t count = 0;           // agents to simulate, the first N active ones (0: all)
  double rate = 0;                 // reports per second in all (0: as fast as acks allow)
  double churn = 0.1;              // chance that a report changes labels or version
  bool churn_first_round = false;  // the first report of each agent may change too
  double duration = 0;             // seconds of reporting after the first round (0: one round)
  std::size_t connections = 8;     // sockets the agents share
  std::size_t window = 256;        // unacknowledged reports per connection (at least 4 × relay)
  // Reports per message: 1 sends each as its own agent_report, as an agent does; more sends
  // them as a relay does, up to this many in one agent_reports, flushed at least every 10 ms.
  // As a relay, an agent whose whole state the worker acknowledged sends keepalive-only reports
  // until its state changes. One report to a message always carries the state: agents share
  // the simulator's connections, and an error reply does not say whose report it answers.
  std::size_t relay = 1;
  // How long without a report sent or acknowledged before the run ends: the wait for the last
  // acks, for a first connection, and for acks lost with a killed worker.
  std::chrono::milliseconds drain{10000};
  // Remember each agent's last acknowledged state in `truth` (a million agents' states are a few
  // hundred MB: the scale bench does without).
  bool keep_truth = true;
  // When given, reporting also ends once it is set (after the first round): `duration` is then
  // the longest a run reports.
  const std::atomic<bool>* stop = nullptr;
};

struct AgentSimResult {
  std::uint64_t sent = 0;
  std::uint64_t keepalive_only = 0;  // of them, reports that carried the keepalive time alone
  std::uint64_t acked = 0;
  std::uint64_t errors = 0;  // error replies from the worker
  // Keepalive-only reports the worker answered "send your state whole" (each agent then did).
  std::uint64_t asked = 0;
  std::uint64_t lost = 0;  // sent but never acknowledged when the run gave up waiting
  std::map<std::string, schemas::AgentState> truth;  // id → last acknowledged state
};

// The state the n-th simulated agent starts with: a typical Ubuntu agent with two labels.
schemas::AgentState SimulatedAgentState(const std::string& name, std::size_t n);

// Runs the simulation to the end. Unavailable when no connection is made, or no report is
// acknowledged, within `drain`.
Result<AgentSimResult> RunAgentSimulation(const ClientKeys& keys, const AgentSimOptions& options);

}  // namespace zcluster::nodes
