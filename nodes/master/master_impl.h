// The master's state, shared by master.cc (start-up, the loop, worker messages) and
// master_control.cc (control requests). Private to nodes/.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "agent_groups/master_groups.h"
#include "agent_info/arrived_agent_info.h"
#include "agent_info/master_agents.h"
#include "integrity/master_integrity.h"
#include "keepalive/worker_sessions.h"
#include "monitor/listener_watch.h"
#include "monitor/metrics_server.h"
#include "monitor/monitor_sockets.h"
#include "monitor/node_monitor.h"
#include "runtime/node_home.h"
#include "zcluster/bus/connection_guard.h"
#include "zcluster/bus/line_budget.h"
#include "zcluster/bus/reactor.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/bus/zap_authenticator.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/master.h"
#include "zcluster/nodes/process.h"

namespace zcluster::nodes {

struct Master::Impl {
  // The largest frame a worker may send. Its largest honest message is an agent-info batch of
  // about 1 MiB (WorkerAgentsParams::max_batch_bytes, plus one update); a larger frame closes
  // the connection before libzmq buffers it, so that one key cannot make the master decode
  // tens of megabytes.
  static constexpr std::int64_t kMaxWorkerFrameBytes = 16 << 20;
  ClusterConfig config;
  Logger log;
  NodeMonitor monitor;  // before the sockets and the ZAP handler, which report to it
  std::unique_ptr<store::NodeStore> store;
  zmq::context_t ctx{1};
  std::unique_ptr<bus::ZapAuthenticator> zap;  // declared after ctx: stopped before ctx closes
  std::optional<bus::RouterSocket> router;
  // What the guarded listeners may hold together: the open-files limit less a reserve.
  bus::DescriptorBudget budget{bus::DescriptorBudget::ForOpenFileLimit(OpenFileLimit())};
  std::unique_ptr<ListenerWatch> router_watch;  // watches `router`; destroyed before it
  std::optional<bus::PublisherSocket> pub;
  std::unique_ptr<ListenerWatch> pub_watch;  // watches `pub`; destroyed before it
  std::optional<ControlServer> control;
  std::optional<ControlServer> admin;          // with <admin><bind>: control over CURVE
  std::unique_ptr<ListenerWatch> admin_watch;  // watches `admin`; destroyed before it
  bus::LineBudget admin_refusals{std::chrono::seconds(30), 20};  // audit lines of refusals
  bus::LineBudget goodbye_lines{std::chrono::seconds(30), 20};   // clean disconnects, per worker
  std::unique_ptr<MonitorSockets> monitor_sockets;  // the monitor endpoints and the tap
  std::unique_ptr<MetricsServer> metrics;           // with <monitor><metrics_bind>
  WorkerSessions sessions;
  std::unique_ptr<MasterAgents> agents;
  std::unique_ptr<MasterGroups> groups;
  std::unique_ptr<MasterIntegrity> integrity;  // files flows, on their own thread
  // After a SIGHUP: the user ids (worker names) whose keys are still listed. Unset: all that
  // the start-up allow-list let in.
  std::optional<std::set<std::string>> authorized_workers;
  bool heartbeat_files = false;
  std::map<std::string, schemas::Keepalive> worker_state;  // each worker's last keepalive
  SteadyClock::time_point next_heartbeat{};
  SteadyClock::time_point next_lost_check{};
  SteadyClock::time_point last_groups_info{};  // the last "Agent-groups send" line at INFO
  // Workers holding active agents but not connected, since when this master has seen them gone.
  std::map<std::string, SteadyClock::time_point> absent_since;
  std::set<std::string> seen_workers;  // every worker welcomed since start, for -i's "lost"

  Impl(const ClusterConfig& c, ClusterLog& l)
      : config(c),
        log(l, "Master"),
        monitor(c.node_name, "master"),
        sessions(HelloPolicy{c.name, schemas::kProtocolVersion, true}, c.node_name,
                 std::chrono::duration<double>(c.intervals.max_allowed_time_without_keepalive), l) {
  }

  ~Impl() {
    // The actor and the sockets close before the ZAP handler stops, and all before the context
    // terminates.
    integrity.reset();
    metrics.reset();
    monitor_sockets.reset();
    control.reset();
    admin_watch.reset();
    admin.reset();
    pub_watch.reset();
    pub.reset();
    router_watch.reset();
    router.reset();
    zap.reset();
  }

  // SIGHUP: reopens the log files and re-reads the key folders; a worker whose key is gone is
  // refused from then on, and dropped once its silence passes the limit.
  void OnHangup();
  // Takes the frames of an agent_info batch (moved out of the envelope).
  void HandleWorker(bus::Envelope& env);
  // Every message to a worker and on the streams goes through these, to be counted.
  Status SendToWorker(const std::string& routing_id, bus::Frames frames);
  void PublishFrames(bus::Frames frames);

  // The last stats each worker sent (kept when it goes down, to show it as down). Bounded by
  // the workers that ever completed a hello.
  // Workers asked for their group table because they stood ahead of this master's stream.
  std::set<std::string> asked_for_groups;
  // Whether a worker ahead of this master's groups stream may give it its table: only while the
  // store is new in this run (the master lost it) and no worker has synced from it yet. A master
  // with a history is the truth, so that no worker key can rewrite its group assignments.
  bool may_adopt_groups = false;
  std::map<std::string, schemas::NodeStats> worker_stats;
  static constexpr std::size_t kMaxWorkerStats = 1024;
  // The master's own counters, then each worker's with what the master knows of it.
  schemas::ClusterStats ClusterView() const;
  schemas::NodeStats OwnStats() const;
  // Agent-info batches wait here while the router queue is drained, then share one synced write.
  // Bounded by updates and bytes, not batches: 25 workers' small batches still share one write.
  static constexpr std::size_t kMaxGroupCommitUpdates = 8000;
  static constexpr std::size_t kMaxGroupCommitBytes = 2 * kMaxWorkerFrameBytes;
  ArrivedAgentInfo arrived{kMaxGroupCommitUpdates, kMaxGroupCommitBytes};
  void SaveArrivedBatches();
  // Reads an agent_info body from `worker` and keeps it for SaveArrivedBatches, or replies with
  // what is wrong with it.
  void TakeAgentInfo(const std::string& routing_id, const std::string& worker, std::string body);

  // The worker's groups position from its keepalive; a table that differs from ours at the same
  // position is told to resync.
  void NoteGroupsPosition(const bus::Envelope& env, const schemas::Keepalive& ka,
                          schemas::KeepaliveAck* ack);

  // Publishes durable changes on the groups stream.
  void Publish(const Result<MasterGroups::Changes>& changes);

  void Heartbeat(SteadyClock::time_point now);
  // A slice of the agents' last-seen log's fold, when one is due; the time of the next call.
  std::optional<SteadyClock::time_point> FoldSeenLog(SteadyClock::time_point now);
  // A fold of a million agents: 245 steps of about 140 KB, 1.2 s of pauses.
  static constexpr std::size_t kFoldStep = 4096;  // registry entries per step
  static constexpr auto kFoldPause = std::chrono::milliseconds(5);
  std::string fold_failing;  // why the last fold step failed ("" if not)
  // Once a second: the agents of a worker gone for longer than agents_disconnection_time are
  // marked disconnected.
  void DisconnectAgentsOfLostWorkers(SteadyClock::time_point now);

  // Answers the control socket's requests.
  ControlAnswer Control(const schemas::Message& request, const std::string& client);
  // A client of the admin endpoint, as Control and the deferred answers name it: its routing id
  // behind a prefix no local client is given by libzmq.
  static constexpr std::string_view kAdminClient = "\001admin\001";
  // Where a deferred answer goes: the local control socket or the admin endpoint.
  void ReplyToControl(const std::string& client, bus::Frames frames);
  // The admin endpoint's roles: a read key may ask, an admin key may also change agents and
  // groups. Every change and every refusal is audited in cluster.log with the key and address.
  std::optional<schemas::ErrorReply> AdminGate(const schemas::Message& request,
                                               const bus::Envelope& peer);
  // -a: a few agents at once, or every agent in slices of the loop (ServeListings).
  ControlAnswer AgentsAnswer(const schemas::AgentsQuery& query, const std::string& client,
                             bool for_worker);
  // -l, -a and -i that a worker forwards for its own control client, answered to that worker.
  // False for any other message.
  bool AnswerForwarded(const bus::Envelope& env, const schemas::Message& m);

  // Listings of every agent in progress: one slice per turn of the loop (ServeListings), so a
  // listing of 100,000 agents never holds keepalives and acks for its whole length.
  struct PendingListing {
    std::string client;  // a control client, or a worker's routing id when `for_worker`
    MasterAgents::Listing listing;
    bool for_worker = false;  // forwarded by a worker for its own control client
  };
  std::deque<PendingListing> listings;
  static constexpr std::size_t kMaxListings = 4;  // more at once are refused: busy
  static constexpr auto kListingSlice = std::chrono::milliseconds(2);  // per turn of the loop
  static constexpr std::size_t kListingStep = 32;  // agents between looks at the clock
  bus::Reactor* reactor = nullptr;                 // the running loop's, during Run
  bus::Reactor::TimerId listing_timer = 0;
  std::optional<SteadyClock::time_point> ServeListings(SteadyClock::time_point now);

  schemas::Message GroupsResult(const Result<MasterGroups::Changes>& changes);

  schemas::Health HealthReport() const;

  schemas::NodeList Nodes() const;
};

}  // namespace zcluster::nodes
