#include "keepalive/worker_sessions.h"

#include <fmt/format.h>

#include "zcluster/nodes/key_material.h"

namespace zcluster::nodes {
namespace {

schemas::ErrorReply Refusal(const Status& s, std::string_view in_reply_to) {
  return schemas::ErrorReply{s.code(), s.message(), std::string(in_reply_to)};
}

}  // namespace

Status CheckHello(const schemas::Hello& hello, const std::string& user_id,
                  const HelloPolicy& policy) {
  if (hello.protocol != policy.protocol) {
    return Status::FailedPrecondition(
        fmt::format("protocol version {} is not supported; this master speaks {}", hello.protocol,
                    policy.protocol));
  }
  if (hello.cluster != policy.cluster) {
    return Status::FailedPrecondition(fmt::format(
        "cluster name '{}' does not match the master's '{}'", hello.cluster, policy.cluster));
  }
  bool any_name = policy.any_name_key_allowed && user_id == kAnyWorkerUserId;
  if (!any_name && user_id != hello.node) {
    return Status::PermissionDenied(fmt::format(
        "this key is filed under node '{}' and may not speak as '{}'", user_id, hello.node));
  }
  return Status::Ok();
}

WorkerSessions::WorkerSessions(HelloPolicy policy, std::string master_name,
                               std::chrono::duration<double> max_silence, ClusterLog& log)
    : policy_(std::move(policy)),
      master_name_(std::move(master_name)),
      max_silence_(max_silence),
      log_(&log),
      master_log_(log, "Master") {}

std::optional<schemas::Message> WorkerSessions::OnMessage(const bus::Envelope& from,
                                                          const schemas::Message& message,
                                                          SteadyClock::time_point now,
                                                          const StillConnected& still_connected) {
  if (const auto* hello = std::get_if<schemas::Hello>(&message)) {
    return OnHello(from, *hello, now, still_connected);
  }
  Result<std::string> who = Authenticate(from, now);
  if (!who.ok()) return Refusal(who.status(), schemas::TypeOf(message));
  if (const auto* ka = std::get_if<schemas::Keepalive>(&message)) {
    by_name_.at(*who).last_ack = ka->n;
    WorkerLog(*who).Debug("Keep alive", "Received keep alive {}", ka->n);
    return schemas::KeepaliveAck{ka->n};
  }
  return Refusal(Status::InvalidArgument("a worker may not send this message"),
                 schemas::TypeOf(message));
}

Result<std::string> WorkerSessions::Authenticate(const bus::Envelope& from,
                                                 SteadyClock::time_point now) {
  auto route = name_by_route_.find(from.routing_id);
  if (route == name_by_route_.end()) return Status::Unauthenticated("say hello first");
  std::string name = route->second;
  Session& s = by_name_.at(name);
  if (s.user_id != from.user_id) {
    // Another key took this routing id over (ROUTER_HANDOVER): the session is void.
    master_log_.Warning("Main",
                        "Dropped worker '{}': a message on its connection came from "
                        "another key ({}), address {}",
                        name, from.user_id, from.peer_address);
    by_name_.erase(name);
    name_by_route_.erase(route);
    return Status::PermissionDenied("connection taken over by another key");
  }
  s.last_seen = now;
  s.last_seen_unix = UnixNow();
  return name;
}

std::optional<schemas::Message> WorkerSessions::OnHello(const bus::Envelope& from,
                                                        const schemas::Hello& hello,
                                                        SteadyClock::time_point now,
                                                        const StillConnected& still_connected) {
  Status admitted = CheckHello(hello, from.user_id, policy_);
  if (admitted.ok()) {
    auto existing = by_name_.find(hello.node);
    if (existing != by_name_.end() && existing->second.routing_id != from.routing_id) {
      const Session& old = existing->second;
      if (still_connected(old.routing_id, schemas::KeepaliveAck{old.last_ack})) {
        admitted = Status::AlreadyExists(fmt::format(
            "a worker named '{}' is already connected from {}", hello.node, old.address));
      } else {
        name_by_route_.erase(old.routing_id);
        by_name_.erase(existing);
      }
    }
  }
  if (!admitted.ok()) {
    bus::LineBudget::Verdict line = refused_hello_lines_.Take(from.peer_address, now);
    if (line.log) {
      master_log_.Warning("Main", "Refused hello from {} as '{}': {}{}", from.peer_address,
                          hello.node, admitted.ToString(),
                          line.unlogged ? fmt::format("; {} more refused hellos from there not "
                                                      "logged",
                                                      line.unlogged)
                                        : "");
    }
    return Refusal(admitted, schemas::Hello::kType);
  }
  // A repeated hello on the same connection (the worker lost our welcome) is simply re-welcomed.
  auto old_route = name_by_route_.find(from.routing_id);
  if (old_route != name_by_route_.end() && old_route->second != hello.node) {
    by_name_.erase(old_route->second);
  }
  Session& s = by_name_[hello.node];
  bool fresh = s.routing_id.empty();
  s = Session{from.routing_id, from.user_id, from.peer_address, hello.software, now, UnixNow(), 0};
  name_by_route_[from.routing_id] = hello.node;
  if (fresh) {
    WorkerLog(hello.node)
        .Info("Main", "Connected: address {}, {}", from.peer_address, hello.software);
  }
  return schemas::Welcome{policy_.cluster, master_name_, policy_.protocol,
                          "zcluster " ZCLUSTER_VERSION, max_silence_.count()};
}

std::optional<std::string> WorkerSessions::Drop(const std::string& routing_id) {
  auto route = name_by_route_.find(routing_id);
  if (route == name_by_route_.end()) return std::nullopt;
  std::string name = route->second;
  name_by_route_.erase(route);
  by_name_.erase(name);
  return name;
}

std::vector<std::string> WorkerSessions::Expire(SteadyClock::time_point now) {
  std::vector<std::string> dropped;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    std::chrono::duration<double> silent = now - it->second.last_seen;
    if (silent > max_silence_) {
      WorkerLog(it->first).Warning("Keep alive",
                                   "No keep alives have been received from {} in the last {:.1f}s. "
                                   "Disconnecting",
                                   it->first, silent.count());
      name_by_route_.erase(it->second.routing_id);
      dropped.push_back(it->first);
      it = by_name_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::optional<SteadyClock::time_point> WorkerSessions::NextExpiry() const {
  std::optional<SteadyClock::time_point> next;
  for (const auto& [name, s] : by_name_) {
    auto at = s.last_seen + std::chrono::duration_cast<SteadyClock::duration>(max_silence_);
    if (!next || at < *next) next = at;
  }
  return next;
}

std::vector<schemas::NodeInfo> WorkerSessions::Connected() const {
  std::vector<schemas::NodeInfo> nodes;
  for (const auto& [name, s] : by_name_) {
    nodes.push_back(
        {name, "worker", schemas::SoftwareVersion(s.software), s.address, s.last_seen_unix});
  }
  return nodes;
}

}  // namespace zcluster::nodes
