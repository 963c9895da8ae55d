// The worker's side of the keepalive flow: say hello until welcomed (with jittered exponential
// backoff), then a keepalive every <keep_alive>; a master silent for
// <max_allowed_time_without_keepalive> is declared lost and hello starts again. No sockets here:
// the worker's loop sends what Next() returns and feeds replies to OnReply(), so the state machine
// is tested with a fake clock.
//
// Threading: owned and called by the worker's loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "zcluster/nodes/clock.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {

struct MasterLinkParams {
  std::string cluster;
  std::string node;
  std::chrono::duration<double> keep_alive{5};
  std::chrono::duration<double> max_silence{15};
  std::chrono::duration<double> backoff_min{0.5};  // first retry of a refused or lost hello
  std::chrono::duration<double> backoff_max{10};   // retries never wait longer than this
  // Fills in the rest of each keepalive from the worker's other flows (stream positions and
  // digests, the last integrity sync); none: a bare keepalive.
  std::function<void(schemas::Keepalive&)> payload = nullptr;
};

class MasterLink {
 public:
  enum class State { kSayingHello, kConnected };

  MasterLink(MasterLinkParams params, const Logger& log);

  // The message due now, if any; the caller sends it and reports with Sent().
  std::optional<schemas::Message> Next(SteadyClock::time_point now);
  // Whether the message from Next() could be queued (false: no connection to the master yet).
  void Sent(const schemas::Message& message, bool queued, SteadyClock::time_point now);
  void OnReply(const schemas::Message& reply, SteadyClock::time_point now);
  // The transport to the master came up (CURVE handshake done): a pending hello goes at once.
  void TransportUp(SteadyClock::time_point now);
  // The master's ZAP handler refused this node's key; said once until a welcome.
  void KeyRefused();
  // When Next() will next have something to do.
  SteadyClock::time_point NextWake() const;

  State state() const { return state_; }
  const std::string& master_name() const { return master_name_; }
  const std::string& master_software() const { return master_software_; }
  double last_heard_unix() const { return last_heard_unix_; }
  // Counts welcomes: a change means a new session (the master may have restarted).
  std::uint64_t sessions() const { return sessions_; }

 private:
  void StartHello(SteadyClock::time_point now, bool immediately);
  SteadyClock::duration Backoff();

  MasterLinkParams params_;
  Logger log_;
  State state_ = State::kSayingHello;
  SteadyClock::time_point next_send_{};   // next hello or keepalive
  SteadyClock::time_point last_heard_{};  // last message from the master (connected only)
  double last_heard_unix_ = 0;
  unsigned attempts_ = 0;  // hellos since the last welcome
  std::uint64_t keepalives_ = 0;
  std::uint64_t sessions_ = 0;
  std::string master_name_;
  std::string master_software_;
  std::string last_refusal_;
  bool key_refusal_logged_ = false;
};

}  // namespace zcluster::nodes
