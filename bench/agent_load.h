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

// Runs one simulator per worker at once (worker i gets agents[i]); `rate` is per worker (0:
// unpaced), `duration` seconds after one round (0: one round). `churn` applies from the first
// report when `churn_first_round`. At the end, reports still unacknowledged after `drain` are
// counted lost. `stop`, when given and set, ends the reporting before `duration`. `relay`: reports
// per message (1: one agent_report each; more: agent_reports, as a relay sends them).
SimRun Simulate(Deployment& d, const std::vector<std::string>& workers,
                const std::vector<nodes::ClientKeys>& agents, double rate, double duration,
                double churn, bool churn_first_round = false,
                std::chrono::milliseconds drain = std::chrono::seconds(60), bool keep_truth = true,
                const std::atomic<bool>* stop = nullptr, std::size_t relay = 1);

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
