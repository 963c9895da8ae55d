// The worker's agent-info flow toward the master: sends batches from WorkerAgents while a
// session is up (several in flight, so changes that arrive meanwhile form the next batch: no
// timer, no poll), feeds acks back, requeues on a new session or a stale batch, and writes
// Wazuh's "Agent-info sync" lines: "Starting." and "Finished in X.XXXs. Sent N agents."
//
// Threading: owned by the worker's loop thread.
#pragma once

#include <functional>

#include "agent_info/worker_agents.h"
#include "zcluster/nodes/cluster_log.h"

namespace zcluster::nodes {

class AgentInfoSync {
 public:
  // `send` queues one encoded batch to the master; false when it cannot (no connection).
  using Send = std::function<bool(const schemas::AgentInfoBatch&)>;

  AgentInfoSync(WorkerAgents& agents, const Logger& log) : agents_(agents), log_(log) {}

  // The batches in flight may never be acknowledged: a new session began (the old one's acks
  // will not come), or a new connection replaced one that dropped under the session (what was
  // written to it may be lost with it). They are all sent again, the master applying a batch
  // twice as once; returns how many.
  std::size_t SendInFlightAgain();
  // Sends what is due while the window has room.
  void Pump(SteadyClock::time_point now, const Send& send);
  Status OnAck(const schemas::AgentInfoAck& ack, SteadyClock::time_point now);
  // Requeues stale batches and marks silent agents disconnected; call about once a second.
  Status Housekeeping(SteadyClock::time_point now);

  // The last finished round, as its "Finished" line told it: what the keepalive carries to the
  // master, so that -i shows the same round and count as this worker's log.
  struct Round {
    double start = 0, end = 0;  // unix times; 0: none yet
    std::uint64_t sent = 0;
  };
  const Round& last_round() const { return last_round_; }

 private:
  WorkerAgents& agents_;
  Logger log_;
  bool in_round_ = false;
  SteadyClock::time_point round_start_{};
  std::uint64_t round_sent_ = 0;
  double round_start_unix_ = 0;
  Round last_round_;
  static constexpr std::chrono::seconds kInfoEvery{10};
  SteadyClock::time_point last_info_{};
  std::uint64_t rounds_since_info_ = 0;
};

}  // namespace zcluster::nodes
