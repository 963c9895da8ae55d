// The worker's agent port (<agent_port>, default 1514): a CURVE ROUTER in the ZAP agent domain
// (any key may connect: CURVE keeps reports private; each report's HMAC proves its agent).
// Reports, one to a message from an agent or many to one from a relay (agent_reports), are
// verified against the worker's copy of client.keys, written to the agent table in one durable
// write per burst, then acknowledged. Unknown ids, bad MACs, replays and malformed
// reports get an error reply, are counted, logged at most once a second, and never reach the
// master.
//
// Threading: owned by the worker's loop thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent_info/worker_agents.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/agent_auth.h"
#include "zcluster/nodes/cluster_log.h"

namespace zcluster::nodes {

class TrafficMeter;

struct AgentPortCounters {
  std::uint64_t accepted = 0;
  std::uint64_t unknown = 0;  // id not in client.keys
  std::uint64_t bad_mac = 0;
  std::uint64_t replayed = 0;  // counter not above the last accepted one
  std::uint64_t malformed = 0;
  std::uint64_t mismatched = 0;    // signed, but contradicting client.keys (another name or IP)
  std::uint64_t rate_limited = 0;  // past <tuning><agent_reports_per_second> for its agent
  // Keepalive-only reports answered "send your state whole": the worker holds none of the
  // agent's checked since it started, since client.keys changed, or since the agent fell silent.
  std::uint64_t state_asked = 0;
};

class AgentPort {
 public:
  // The largest frame the port takes; a larger one closes the connection before libzmq buffers
  // it. The largest honest report (64 labels of 256-byte keys and values, every OS field at 256
  // bytes) is under 40 KiB.
  static constexpr std::int64_t kMaxFrameBytes = 64 << 10;
  // Reports served in one burst (one durable write), whether they came one to a message or
  // relayed many to one.
  static constexpr std::size_t kBurstReports = 5000;
  // An agent's current groups, for the ack of its report.
  using GroupsOf = std::function<std::vector<std::string>(const std::string& agent)>;

  static Result<std::unique_ptr<AgentPort>> Bind(zmq::context_t& ctx,
                                                 const bus::ZapAuthenticator& zap,
                                                 const bus::CurveKeyPair& keys,
                                                 const std::string& endpoint,
                                                 std::string client_keys_path, WorkerAgents& agents,
                                                 const Logger& log, GroupsOf groups_of);
  // Serves every queued report.
  Status ServePending();
  // Reports one agent may have accepted per second (0: no limit).
  void SetRateLimit(std::uint32_t reports_per_second) {
    verifier_.SetRateLimit(reports_per_second);
  }
  // Re-reads client.keys when it changed on disk (and tells WorkerAgents); true when it did.
  Result<bool> ReloadKeysIfChanged();

  zmq::socket_t& socket() { return router_.socket(); }
  const AgentPortCounters& counters() const { return counters_; }
  // Counts every report and reply as traffic with the peer "agents" (nullptr: not counted).
  void CountTraffic(TrafficMeter* meter) { meter_ = meter; }
  std::string endpoint() const { return router_.endpoint(); }

 private:
  AgentPort(bus::RouterSocket router, std::string path, WorkerAgents& agents, const Logger& log,
            GroupsOf groups_of)
      : router_(std::move(router)),
        path_(std::move(path)),
        agents_(agents),
        log_(log),
        groups_of_(std::move(groups_of)) {}
  // An unknown id may be an agent registered a moment ago: re-reads client.keys at most every
  // 100 ms, so a flood of unknown ids cannot turn into a flood of reads.
  bool ReloadSoon();
  // Verifies one report; queues it in `accepted`, or counts the refusal and returns it.
  std::optional<Status> Admit(const bus::Envelope& env, const schemas::AgentReport& report,
                              std::vector<WorkerAgents::Report>& accepted);
  // Counts a refused report by its reason and logs refusals at most once a second.
  void CountRefusal(const bus::Envelope& env, const Status& why, std::uint64_t* counter);
  void SendError(const bus::Envelope& env, const Status& why, std::string_view in_reply_to);
  void Reject(const bus::Envelope& env, const Status& why, std::uint64_t* counter,
              std::string_view in_reply_to);

  bus::RouterSocket router_;
  std::string path_;
  std::string keys_stamp_;
  std::uint64_t keys_generation_ = 0;  // client.keys loads so far
  WorkerAgents& agents_;
  Logger log_;
  ReportVerifier verifier_;
  // By client.keys position: the agent's entry in the agent table once found, so that a report
  // costs an index here rather than a hash lookup of its id. Cleared when client.keys loads.
  std::vector<WorkerAgents::Handle> handles_;
  // The reports of the burst being served, kept between bursts so that its room (a few MB at
  // most) is not grown again, state by state, for every burst.
  std::vector<WorkerAgents::Report> burst_;
  GroupsOf groups_of_;
  AgentPortCounters counters_;
  TrafficMeter* meter_ = nullptr;
  SteadyClock::time_point last_reject_log_{};
  std::uint64_t rejects_since_log_ = 0;
  SteadyClock::time_point last_unknown_reload_{};
};

}  // namespace zcluster::nodes
