// The master's side of the keepalive flow (Wazuh's "Keep alive" thread, master end): which
// workers are connected, admitted by hello, kept alive by keepalives, dropped after
// <max_allowed_time_without_keepalive> of silence.
//
// Identity: a session is bound to the ZAP User-Id of the key that opened it. Every later message
// must carry the same User-Id; the routing id is only where replies go.
// Threading: owned and called by the master's loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "zcluster/bus/line_budget.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

struct HelloPolicy {
  std::string cluster;  // our <name>: a hello must name it
  std::uint32_t protocol = schemas::kProtocolVersion;
  bool any_name_key_allowed = true;  // shared-key mode: kAnyWorkerUserId may take any name
};

// Why a hello is refused, or Ok. Pure: the admission rules in one place.
Status CheckHello(const schemas::Hello& hello, const std::string& user_id,
                  const HelloPolicy& policy);

class WorkerSessions {
 public:
  // Whether the connection behind `routing_id` still exists. The master answers by re-sending
  // `probe` (a repeat of its last ack, harmless to a live worker); ROUTER_MANDATORY makes the send
  // fail when the connection is gone.
  using StillConnected =
      std::function<bool(const std::string& routing_id, const schemas::KeepaliveAck& probe)>;

  WorkerSessions(HelloPolicy policy, std::string master_name,
                 std::chrono::duration<double> max_silence, ClusterLog& log);

  // Handles one decoded message from a worker and returns the reply for its sender, if any.
  std::optional<schemas::Message> OnMessage(const bus::Envelope& from,
                                            const schemas::Message& message,
                                            SteadyClock::time_point now,
                                            const StillConnected& still_connected);
  // For messages other than hello and keepalive: the worker whose session the message belongs
  // to (refreshing its liveness), or the refusal to send back (Unauthenticated: say hello first;
  // PermissionDenied: another key on this connection, the session is dropped).
  Result<std::string> Authenticate(const bus::Envelope& from, SteadyClock::time_point now);
  // Ends the session of a worker that said goodbye; its name, or nullopt if it had none.
  std::optional<std::string> Drop(const std::string& routing_id);
  // Drops every session silent for longer than max_silence; returns the names dropped.
  std::vector<std::string> Expire(SteadyClock::time_point now);
  // When the next session would expire, if any.
  std::optional<SteadyClock::time_point> NextExpiry() const;
  // The worker name of a session's routing id, or nullptr.
  const std::string* NameOf(const std::string& routing_id) const {
    auto it = name_by_route_.find(routing_id);
    return it == name_by_route_.end() ? nullptr : &it->second;
  }
  // The connected workers, for zcluster-control -l.
  std::vector<schemas::NodeInfo> Connected() const;
  std::size_t size() const { return by_name_.size(); }

 private:
  struct Session {
    std::string routing_id;
    std::string user_id;
    std::string address;
    std::string software;
    SteadyClock::time_point last_seen;
    double last_seen_unix = 0;
    std::uint64_t last_ack = 0;
  };
  std::optional<schemas::Message> OnHello(const bus::Envelope& from, const schemas::Hello& hello,
                                          SteadyClock::time_point now,
                                          const StillConnected& still_connected);
  Logger WorkerLog(const std::string& name) const { return Logger(*log_, "Worker " + name); }

  HelloPolicy policy_;
  std::string master_name_;
  std::chrono::duration<double> max_silence_;
  ClusterLog* log_;
  Logger master_log_;
  std::map<std::string, Session> by_name_;
  std::map<std::string, std::string> name_by_route_;
  // A peer with a valid key can repeat a refused hello as fast as it likes.
  bus::LineBudget refused_hello_lines_{std::chrono::seconds(30), 20};
};

}  // namespace zcluster::nodes
