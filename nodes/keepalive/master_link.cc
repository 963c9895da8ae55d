#include "zcluster/nodes/master_link.h"

#include <sodium.h>

#include <algorithm>

namespace zcluster::nodes {
namespace {

SteadyClock::duration ToSteady(std::chrono::duration<double> d) {
  return std::chrono::duration_cast<SteadyClock::duration>(d);
}

}  // namespace

MasterLink::MasterLink(MasterLinkParams params, const Logger& log)
    : params_(std::move(params)), log_(log) {}

SteadyClock::duration MasterLink::Backoff() {
  double base = params_.backoff_min.count() * double(1u << std::min(attempts_, 16u));
  base = std::min(base, params_.backoff_max.count());
  // Jitter between 50% and 100%: workers refused together do not come back together.
  double jitter = 0.5 + 0.5 * (randombytes_uniform(1000) / 1000.0);
  return ToSteady(std::chrono::duration<double>(base * jitter));
}

void MasterLink::StartHello(SteadyClock::time_point now, bool immediately) {
  state_ = State::kSayingHello;
  attempts_ = 0;
  next_send_ = immediately ? now : now + Backoff();
}

std::optional<schemas::Message> MasterLink::Next(SteadyClock::time_point now) {
  if (state_ == State::kConnected && now - last_heard_ > ToSteady(params_.max_silence)) {
    log_.Warning("Keep alive", "No reply from master '{}' in the last {:.1f}s. Reconnecting",
                 master_name_, params_.max_silence.count());
    StartHello(now, true);
  }
  if (now < next_send_) return std::nullopt;
  if (state_ == State::kSayingHello) {
    return schemas::Hello{params_.cluster, params_.node, schemas::kProtocolVersion,
                          "zcluster " ZCLUSTER_VERSION};
  }
  schemas::Keepalive keepalive;
  keepalive.n = keepalives_ + 1;
  if (params_.payload) params_.payload(keepalive);
  return keepalive;
}

void MasterLink::Sent(const schemas::Message& message, bool queued, SteadyClock::time_point now) {
  if (std::holds_alternative<schemas::Hello>(message)) {
    // Sent or not, the next hello waits: a welcome ends the wait early.
    next_send_ = now + Backoff();
    ++attempts_;
    if (attempts_ == 3 || attempts_ % 30 == 0) {
      log_.Warning("Main",
                   "No welcome from the master after {} hellos: is it running, and is "
                   "this node's key authorized there?",
                   attempts_);
    }
    if (!queued) log_.Debug("Main", "Master not reachable yet; next hello in a moment");
    return;
  }
  if (queued) ++keepalives_;
  next_send_ = now + ToSteady(params_.keep_alive);
}

void MasterLink::OnReply(const schemas::Message& reply, SteadyClock::time_point now) {
  if (const auto* w = std::get_if<schemas::Welcome>(&reply)) {
    bool was_connected = state_ == State::kConnected;
    if (!was_connected) ++sessions_;
    state_ = State::kConnected;
    master_name_ = w->master;
    master_software_ = w->software;
    last_heard_ = now;
    last_heard_unix_ = UnixNow();
    attempts_ = 0;
    last_refusal_.clear();
    key_refusal_logged_ = false;
    next_send_ = now + ToSteady(params_.keep_alive);
    if (!was_connected) {
      log_.Info("Main", "Successfully connected to master '{}' ({}).", w->master, w->software);
      // Two keepalives may be lost or late before the master's limit: less margin flaps.
      if (w->max_silence > 0 && params_.keep_alive.count() * 2 > w->max_silence) {
        log_.Warning("Keep alive",
                     "keep_alive is {:.3g}s but master '{}' drops a worker silent for {:.3g}s: "
                     "set keep_alive to {:.3g}s or less",
                     params_.keep_alive.count(), w->master, w->max_silence, w->max_silence / 2);
      }
    }
    return;
  }
  if (const auto* e = std::get_if<schemas::ErrorReply>(&reply)) {
    if (e->in_reply_to == schemas::Hello::kType) {
      std::string text = std::string(CodeName(e->code)) + ": " + e->message;
      // A refusal repeats at every retry; say it once until it changes.
      if (text != last_refusal_) log_.Error("Main", "Master refused hello: {}", text);
      last_refusal_ = text;
      return;
    }
    if (state_ == State::kConnected && e->code == Code::kUnauthenticated) {
      log_.Warning("Keep alive",
                   "Master '{}' does not know this session (restarted?). "
                   "Saying hello again",
                   master_name_);
      StartHello(now, true);
      return;
    }
    log_.Warning("Main", "Master replied with an error to {}: {}: {}", e->in_reply_to,
                 CodeName(e->code), e->message);
    return;
  }
  if (state_ != State::kConnected) return;
  if (std::holds_alternative<schemas::KeepaliveAck>(reply)) {
    last_heard_ = now;
    last_heard_unix_ = UnixNow();
    log_.Debug("Keep alive", "Keep alive acknowledged by master");
  }
}

void MasterLink::TransportUp(SteadyClock::time_point now) {
  if (state_ == State::kSayingHello) next_send_ = now;
}

void MasterLink::KeyRefused() {
  if (key_refusal_logged_) return;
  key_refusal_logged_ = true;
  log_.Error("Main",
             "The master refused this node's CURVE key during the handshake: is this "
             "node's public key in the master's authorized_keys as NODE_NAME.pub?");
}

SteadyClock::time_point MasterLink::NextWake() const {
  if (state_ == State::kConnected) {
    return std::min(next_send_, last_heard_ + ToSteady(params_.max_silence));
  }
  return next_send_;
}

}  // namespace zcluster::nodes
