// Agent load for the scenarios: simulators reporting through every worker at once.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "zcluster/bench/deployment.h"
#include "zcluster/nodes/client_keys.h"

namespace zcluster::bench {

// Agents for W workers, N each: worker i's simulators drive entries [i*N, (i+1)*N) of the
// registry, and its probe is entry W*N + i (MakeAgents(W*N + W) makes them).
struct AgentSplit {
  std::vector<nodes::ClientKeys> slices;
  std::vector<nodes::ClientKey> probes;
};
AgentSplit SplitAgents(const nodes::ClientKeys& all, std::size_t workers, std::size_t per_worker);

struct SimRun {
  std::uint64_t acked = 0, errors = 0;
  double seconds = 0;
  Status status;  // not ok when a simulator failed, lost acks, or got reports refused
};

// How the simulators report, named at each call (designated initializers).
struct SimLoad {
  double rate = 0;                 // reports per second per worker (0: unpaced)
  double duration = 0;             // seconds of reporting after one round (0: one round)
  double churn = 0;                // share of reports that change more than the keepalive time
  bool churn_first_round = false;  // churn from the first report, not from the second round
  // Reports still unacknowledged this long after the end are counted lost.
  std::chrono::milliseconds drain = std::chrono::seconds(60);
  bool keep_truth = true;                   // keep each agent's last acked state, to compare
  const std::atomic<bool>* stop = nullptr;  // when set, ends the reporting before `duration`
  std::size_t relay = 1;  // reports per message (more than 1: agent_reports, as a relay sends)
};

// Runs one simulator per worker at once (worker i gets agents[i]).
SimRun Simulate(Deployment& d, const std::vector<std::string>& workers,
                const std::vector<nodes::ClientKeys>& agents, const SimLoad& load);

// Waits until every worker has handed everything to the master and the master has persisted at
// least `stored_at_least` records since it started; returns its count then.
Result<std::uint64_t> WaitForDrain(Deployment& d, const std::vector<std::string>& workers,
                                   std::uint64_t stored_at_least,
                                   std::chrono::milliseconds bound = std::chrono::seconds(120));

// Waits until the cluster's processes are quiet: less than a tenth of a core between them over a
// fifth of a second, so that a drain measured next does not share the machine with what the last
// phase left behind (RocksDB compacting its records, a freeze stopping that too). Returns the
// seconds waited; Unavailable after `bound`.
Result<double> WaitForQuiet(Deployment& d, const std::vector<std::string>& workers,
                            std::chrono::milliseconds bound = std::chrono::seconds(60));

}  // namespace zcluster::bench
