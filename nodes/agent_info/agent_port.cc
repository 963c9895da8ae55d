#include "agent_info/agent_port.h"

#include "monitor/traffic_meter.h"

namespace zcluster::nodes {

Result<std::unique_ptr<AgentPort>> AgentPort::Bind(
    zmq::context_t& ctx, const bus::ZapAuthenticator& zap, const bus::CurveKeyPair& keys,
    const std::string& endpoint, std::string client_keys_path, WorkerAgents& agents,
    const Logger& log, GroupsOf groups_of) {
  bus::SocketOptions options;
  options.max_message_bytes = kMaxFrameBytes;
  Result<bus::RouterSocket> router = bus::RouterSocket::BindCurve(
      ctx, zap, keys, endpoint, options, bus::ZapAuthenticator::kAgentDomain);
  if (!router.ok()) return router.status();
  std::unique_ptr<AgentPort> port(new AgentPort(
      std::move(router).value(), std::move(client_keys_path), agents, log, std::move(groups_of)));
  Result<bool> loaded = port->ReloadKeysIfChanged();
  if (!loaded.ok()) return loaded.status();
  for (const auto& [id, counter] : agents.Counters()) port->verifier_.RestoreCounter(id, counter);
  return port;
}

Result<bool> AgentPort::ReloadKeysIfChanged() {
  std::string stamp = FileChangeStamp(path_);
  if (stamp == keys_stamp_) return false;
  Result<ClientKeys> keys = ClientKeys::Load(path_);
  if (!keys.ok()) return keys.status();
  if (keys->skipped() > 0) {
    log_.Warning("Main", "client.keys: {} lines are not agents and were skipped", keys->skipped());
    for (const std::string& problem : keys->problems()) log_.Warning("Main", "{}", problem);
  }
  const std::size_t active = keys->active();
  verifier_.SetKeys(std::move(keys).value());
  bool first = keys_stamp_.empty();
  keys_stamp_ = stamp;
  if (!first) agents_.RegistryChanged();
  log_.Info("Main", "Loaded client.keys: {} agents", active);
  return true;
}

void AgentPort::Reject(const bus::Envelope& env, const Status& why, std::uint64_t* counter,
                       std::string_view in_reply_to) {
  ++*counter;
  ++rejects_since_log_;
  bus::Frames reply =
      schemas::Encode(schemas::ErrorReply{why.code(), why.message(), std::string(in_reply_to)});
  if (meter_ != nullptr) meter_->Out("agents", reply);
  // The agent may be gone; the count and the log keep the record.
  router_.Send(env.routing_id, std::move(reply)).IgnoreError();
  auto now = SteadyClock::now();
  if (now - last_reject_log_ >= std::chrono::seconds(1)) {
    log_.Warning("Agent port", "Rejected {} reports in the last second; latest from {}: {}",
                 rejects_since_log_, env.peer_address, why.message());
    last_reject_log_ = now;
    rejects_since_log_ = 0;
  }
}

bool AgentPort::ReloadSoon() {
  auto now = SteadyClock::now();
  if (now - last_unknown_reload_ < std::chrono::milliseconds(100)) return false;
  last_unknown_reload_ = now;
  Result<bool> changed = ReloadKeysIfChanged();
  return changed.ok() && *changed;
}

Status AgentPort::ServePending() {
  struct Accepted {
    std::string routing_id;
    std::uint64_t counter;
    std::string id;
  };
  std::vector<WorkerAgents::Report> reports;
  std::vector<Accepted> accepted;
  for (int budget = 5000; budget > 0; --budget) {
    Result<std::optional<bus::Envelope>> got = router_.Receive();
    if (!got.ok()) return got.status();
    if (!got->has_value()) break;
    const bus::Envelope& env = **got;
    if (meter_ != nullptr) meter_->In("agents", env.frames);
    Result<schemas::Message> msg =
        env.too_many_frames ? Result<schemas::Message>(Status::InvalidArgument("too many frames"))
                            : schemas::Decode(env.frames);
    const auto* report = msg.ok() ? std::get_if<schemas::AgentReport>(&*msg) : nullptr;
    if (report == nullptr) {
      // As SCHEMAS.md says: the refused message's type, or "" when it could not be read.
      Reject(env, msg.ok() ? Status::InvalidArgument("expected agent_report") : msg.status(),
             &counters_.malformed, msg.ok() ? schemas::TypeOf(*msg) : std::string_view());
      continue;
    }
    ReportVerdict verdict = verifier_.Verify(*report);
    if (verdict.refusal == ReportRefusal::kUnknownAgent && ReloadSoon()) {
      verdict = verifier_.Verify(*report);  // a new agent registered a moment ago
    }
    if (!verdict.ok()) {
      std::uint64_t* counter = &counters_.replayed;
      switch (verdict.refusal) {
        case ReportRefusal::kUnknownAgent:
          counter = &counters_.unknown;
          break;
        case ReportRefusal::kBadMac:
          counter = &counters_.bad_mac;
          break;
        case ReportRefusal::kRateLimited:
          counter = &counters_.rate_limited;
          break;
        default:
          break;
      }
      Reject(env, verdict.status, counter);
      continue;
    }
    Result<schemas::AgentState> state = schemas::DecodeAgentState(report->state);
    if (!state.ok()) {
      Reject(env, state.status(), &counters_.malformed);
      continue;
    }
    if (std::optional<std::string> why = verifier_.Contradiction(report->id, *state)) {
      Reject(env, Status::PermissionDenied(*why), &counters_.mismatched);
      continue;
    }
    reports.push_back({report->id, report->counter, std::move(state).value()});
    accepted.push_back({env.routing_id, report->counter, report->id});
  }
  if (reports.empty()) return Status::Ok();
  // One durable write for the whole burst, then the acks.
  ZC_RETURN_IF_ERROR(agents_.Apply(reports, SteadyClock::now()));
  counters_.accepted += reports.size();
  for (const Accepted& a : accepted) {
    bus::Frames ack = schemas::Encode(schemas::AgentReportAck{a.id, a.counter, groups_of_(a.id)});
    if (meter_ != nullptr) meter_->Out("agents", ack);
    // A vanished agent's ack has nowhere to go; its state is saved.
    router_.Send(a.routing_id, std::move(ack)).IgnoreError();
  }
  return Status::Ok();
}

}  // namespace zcluster::nodes
