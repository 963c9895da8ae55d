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
  handles_.assign(keys->size(), WorkerAgents::Handle());
  verifier_.SetKeys(std::move(keys).value());
  bool first = keys_stamp_.empty();
  keys_stamp_ = stamp;
  if (!first) agents_.RegistryChanged();
  ++keys_generation_;
  log_.Info("Main", "Loaded client.keys: {} agents", active);
  return true;
}

void AgentPort::CountRefusal(const bus::Envelope& env, const Status& why, std::uint64_t* counter) {
  ++*counter;
  ++rejects_since_log_;
  auto now = SteadyClock::now();
  if (now - last_reject_log_ >= std::chrono::seconds(1)) {
    log_.Warning("Agent port", "Rejected {} reports in the last second; latest from {}: {}",
                 rejects_since_log_, env.peer_address, why.message());
    last_reject_log_ = now;
    rejects_since_log_ = 0;
  }
}

void AgentPort::Reject(const bus::Envelope& env, const Status& why, std::uint64_t* counter,
                       std::string_view in_reply_to) {
  CountRefusal(env, why, counter);
  SendError(env, why, in_reply_to);
}

void AgentPort::SendError(const bus::Envelope& env, const Status& why,
                          std::string_view in_reply_to) {
  bus::Frames reply =
      schemas::Encode(schemas::ErrorReply{why.code(), why.message(), std::string(in_reply_to)});
  if (meter_ != nullptr) meter_->Out("agents", reply);
  // The agent may be gone; the count and the log keep the record.
  router_.Send(env.routing_id, std::move(reply)).IgnoreError();
}

bool AgentPort::ReloadSoon() {
  auto now = SteadyClock::now();
  if (now - last_unknown_reload_ < std::chrono::milliseconds(100)) return false;
  last_unknown_reload_ = now;
  Result<bool> changed = ReloadKeysIfChanged();
  return changed.ok() && *changed;
}

std::optional<Status> AgentPort::Admit(const bus::Envelope& env, const schemas::AgentReport& report,
                                       std::vector<WorkerAgents::Report>& accepted) {
  auto refuse = [&](Status why, std::uint64_t* counter) {
    CountRefusal(env, why, counter);
    return std::optional<Status>(std::move(why));
  };
  ReportVerdict verdict = verifier_.Verify(report);
  if (verdict.refusal == ReportRefusal::kUnknownAgent && ReloadSoon()) {
    verdict = verifier_.Verify(report);  // a new agent registered a moment ago
  }
  if (!verdict.ok()) {
    switch (verdict.refusal) {
      case ReportRefusal::kUnknownAgent:
        return refuse(verdict.status, &counters_.unknown);
      case ReportRefusal::kBadMac:
        return refuse(verdict.status, &counters_.bad_mac);
      case ReportRefusal::kRateLimited:
        return refuse(verdict.status, &counters_.rate_limited);
      default:
        return refuse(verdict.status, &counters_.replayed);
    }
  }
  // Entries are never erased from the agent table: a handle found once holds for good.
  WorkerAgents::Handle& known = handles_[verdict.at];
  if (!known) known = agents_.Known(report.id);
  const WorkerAgents::Handle agent = known;
  auto keepalive = [&](std::uint64_t last_keepalive) {
    WorkerAgents::Report& r = accepted.emplace_back();
    r.id = report.id;
    r.counter = report.counter;
    r.state.last_keepalive = last_keepalive;
    r.unchanged = true;
    r.agent = agent;
    return std::nullopt;
  };
  if (report.keepalive_only()) {
    // Not a refusal to count or log: the agent's next report, whole, is what the protocol asks.
    if (!agents_.HoldsCheckedState(agent)) {
      ++counters_.state_asked;
      return Status::FailedPrecondition("agent " + report.id +
                                        ": no state of yours is held here; send it whole");
    }
    return keepalive(*report.last_keepalive);
  }
  // Most reports repeat the agent's last state but for the keepalive time: those bytes were
  // decoded and checked against client.keys when they first came, so they are not again.
  std::uint64_t digest = 0;
  if (std::optional<schemas::KeepaliveSpan> span = schemas::FindKeepalive(report.state)) {
    digest = agents_.StateDigest(report.state, *span);
    if (agents_.Unchanged(agent, digest)) return keepalive(span->value);
  }
  agents_.ForgetDigest(agent);
  Result<schemas::AgentState> state = schemas::DecodeAgentState(report.state);
  if (!state.ok()) return refuse(state.status(), &counters_.malformed);
  if (std::optional<std::string> why = verifier_.Contradiction(report.id, *state)) {
    return refuse(Status::PermissionDenied(*why), &counters_.mismatched);
  }
  accepted.push_back({report.id, report.counter, std::move(state).value(), false, digest, agent});
  return std::nullopt;
}

Status AgentPort::ServePending() {
  // Who is owed an answer, once the burst is durable: an agent_report's sender is owed an ack
  // (or had its error already); a relay is owed one agent_reports_ack for all its reports.
  struct Owed {
    std::string routing_id;
    bool relayed = false;
    std::vector<std::pair<std::string, std::uint64_t>> accepted;  // id, counter
    std::vector<schemas::RefusedReport> refused;
  };
  std::vector<WorkerAgents::Report>& reports = burst_;
  reports.clear();
  std::vector<Owed> owed;
  // Bounded in reports, not messages: a burst of relayed messages holds up to 256 reports each.
  std::size_t seen = 0;
  const std::uint64_t generation = keys_generation_;
  while (seen < kBurstReports) {
    Result<std::optional<bus::Envelope>> got = router_.Receive();
    if (!got.ok()) return got.status();
    if (!got->has_value()) break;
    const bus::Envelope& env = **got;
    if (meter_ != nullptr) meter_->In("agents", env.frames);
    Result<schemas::Message> msg =
        env.too_many_frames ? Result<schemas::Message>(Status::InvalidArgument("too many frames"))
                            : schemas::Decode(env.frames);
    if (const auto* report = msg.ok() ? std::get_if<schemas::AgentReport>(&*msg) : nullptr) {
      ++seen;
      if (std::optional<Status> why = Admit(env, *report, reports)) {
        SendError(env, *why, "agent_report");
      } else {
        owed.push_back({env.routing_id, false, {{report->id, report->counter}}, {}});
      }
      continue;
    }
    if (const auto* relayed = msg.ok() ? std::get_if<schemas::AgentReports>(&*msg) : nullptr) {
      seen += std::max<std::size_t>(1, relayed->reports.size());
      Owed answer{env.routing_id, true, {}, {}};
      for (const schemas::AgentReport& report : relayed->reports) {
        if (std::optional<Status> why = Admit(env, report, reports)) {
          answer.refused.push_back({report.id, report.counter, why->code(), why->message()});
        } else {
          answer.accepted.emplace_back(report.id, report.counter);
        }
      }
      owed.push_back(std::move(answer));
      continue;
    }
    ++seen;
    // As SCHEMAS.md says: the refused message's type, or "" when it could not be read.
    Reject(env, msg.ok() ? Status::InvalidArgument("expected agent_report") : msg.status(),
           &counters_.malformed, msg.ok() ? schemas::TypeOf(*msg) : std::string_view());
  }
  if (owed.empty()) return Status::Ok();
  // client.keys changed during the burst (an unknown id's report reloads it): the digests of
  // the reports admitted before were checked against the old registry, so none is kept, and
  // the agents' next reports are checked against the new one in full.
  if (keys_generation_ != generation) {
    for (WorkerAgents::Report& r : reports) r.digest = 0;
  }
  // One durable write for the whole burst, then the answers.
  if (!reports.empty()) ZC_RETURN_IF_ERROR(agents_.Apply(reports, SteadyClock::now()));
  counters_.accepted += reports.size();
  for (Owed& o : owed) {
    bus::Frames reply;
    if (!o.relayed) {
      const auto& [id, counter] = o.accepted.front();
      reply = schemas::Encode(schemas::AgentReportAck{id, counter, groups_of_(id)});
    } else {
      schemas::AgentReportsAck ack;
      ack.acks.reserve(o.accepted.size());
      for (auto& [id, counter] : o.accepted) {
        std::vector<std::string> groups = groups_of_(id);
        ack.acks.push_back({std::move(id), counter, std::move(groups)});
      }
      ack.refused = std::move(o.refused);
      reply = schemas::Encode(ack);
    }
    if (meter_ != nullptr) meter_->Out("agents", reply);
    // A vanished agent's or relay's answer has nowhere to go; the accepted states are saved.
    router_.Send(o.routing_id, std::move(reply)).IgnoreError();
  }
  return Status::Ok();
}

}  // namespace zcluster::nodes
