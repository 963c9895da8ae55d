#include "agent_info/agent_info_sync.h"

#include "zcluster/nodes/clock.h"

namespace zcluster::nodes {

std::size_t AgentInfoSync::SendInFlightAgain() {
  std::size_t batches = agents_.in_flight();
  agents_.RequeueInFlight();
  return batches;
}

void AgentInfoSync::Pump(SteadyClock::time_point now, const Send& send) {
  while (std::optional<schemas::AgentInfoBatch> batch = agents_.NextBatch(now)) {
    if (!send(*batch)) {
      agents_.RequeueInFlight();  // nothing went out: all of it is pending again
      return;
    }
    if (!in_round_) {
      in_round_ = true;
      round_start_ = now;
      round_start_unix_ = UnixNow();
      round_sent_ = 0;
      // At INFO when this round's "Finished" line will be (at most one per kInfoEvery), as
      // Wazuh opens each task with "Starting.".
      log_.At(now - last_info_ >= kInfoEvery ? LogLevel::kInfo : LogLevel::kDebug,
              "Agent-info sync", "Starting.");
    }
    round_sent_ += batch->updates.size();
  }
}

Status AgentInfoSync::OnAck(const schemas::AgentInfoAck& ack, SteadyClock::time_point now) {
  ZC_RETURN_IF_ERROR(agents_.OnAck(ack));
  if (!ack.unknown.empty()) {
    log_.Warning("Agent-info sync",
                 "The master does not know {} agents (first: {}); holding "
                 "them back until client.keys changes",
                 ack.unknown.size(), ack.unknown.front());
  }
  if (in_round_ && agents_.in_flight() == 0 && agents_.pending() == agents_.held_back()) {
    in_round_ = false;
    // Under steady churn every change is a round of its own: one INFO line per kInfoEvery at
    // most, the rest at DEBUG, so cluster.log stays readable.
    double took = std::chrono::duration<double>(now - round_start_).count();
    last_round_ = Round{round_start_unix_, round_start_unix_ + took, round_sent_};
    ++rounds_since_info_;
    if (now - last_info_ >= kInfoEvery) {
      log_.Info("Agent-info sync",
                "Finished in {:.3f}s. Sent {} agents ({} rounds since the "
                "last line).",
                took, round_sent_, rounds_since_info_);
      last_info_ = now;
      rounds_since_info_ = 0;
    } else {
      log_.Debug("Agent-info sync", "Finished in {:.3f}s. Sent {} agents.", took, round_sent_);
    }
  }
  return Status::Ok();
}

Status AgentInfoSync::Housekeeping(SteadyClock::time_point now) {
  if (std::size_t stale = agents_.RequeueStale(now)) {
    log_.Warning("Agent-info sync", "{} batches unacknowledged for too long; sending them again",
                 stale);
  }
  return agents_.MarkSilent(now);
}

}  // namespace zcluster::nodes
