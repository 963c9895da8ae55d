// The ZAP handler (ZeroMQ RFC 27) that decides which CURVE keys may connect to this process's
// server sockets. libzmq lets *any* CURVE client in when no handler is bound to
// inproc://zeromq.zap.01, so server sockets can only be made from a running ZapAuthenticator
// (see sockets.h): without it there is no way to bind one. It fails closed: an unknown key, a
// malformed request or a mechanism other than CURVE is refused.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "zcluster/bus/line_budget.h"
#include "zcluster/schemas/status.h"

namespace zcluster::bus {

// Public key (Z85) → the User-Id libzmq attaches to every message from that peer, per ZAP
// domain: a key listed for one domain (an admin's, for the monitor) opens no other. The User-Id
// is the only identity the nodes trust; a routing id is chosen by the peer and proves nothing.
class AllowList {
 public:
  // InvalidArgument when the key is not a Z85 key or the user id is empty.
  Status Add(const std::string& public_z85, const std::string& user_id,
             const std::string& domain = kClusterDomain);
  std::optional<std::string> Find(const std::string& public_z85,
                                  const std::string& domain = kClusterDomain) const;
  // Keys listed for `domain`.
  std::size_t size(const std::string& domain = kClusterDomain) const;
  // The user ids of the keys listed for `domain`.
  std::set<std::string> Users(const std::string& domain = kClusterDomain) const;
  // Whether requests for `domain` are decided by its list: the cluster domain always is (empty,
  // it lets nobody in), any other once a key has been added to it.
  bool Lists(const std::string& domain) const;
  // Lets any CURVE key into sockets of `domain` under `user_id`: for sockets whose peers prove
  // who they are per message (the agent port: reports carry an HMAC with the agent's key), where
  // CURVE is there for confidentiality. A listed domain can never be opened.
  Status OpenDomain(const std::string& domain, const std::string& user_id);
  std::optional<std::string> OpenDomainUser(const std::string& domain) const;

  static constexpr const char* kClusterDomain = "zcluster";

 private:
  std::map<std::string, std::map<std::string, std::string>> by_domain_;  // domain → key → user
  std::map<std::string, std::string> open_domains_;
};

struct ZapVerdict {
  std::string status_code;  // "200" allowed, "400" refused, "500" malformed request
  std::string status_text;
  std::string user_id;     // set when allowed
  std::string domain;      // the ZAP domain of the socket it tried
  std::string address;     // the peer's IP as libzmq reported it
  std::string public_z85;  // the key that was presented, when there was one
};

// Decides one ZAP request (its frames as received). Pure, so it is tested without sockets.
ZapVerdict DecideZapRequest(const AllowList& allowed, const std::vector<std::string>& request);

class ZapAuthenticator {
 public:
  // Called on the handler's thread for every refusal. A stranger can make a handshake per
  // millisecond with a fresh key each time, so `log` says whether this one deserves a line: at
  // most one per peer address and ZAP domain in `kRefusalLogInterval`, whatever the key, and at
  // most `kMaxRefusalLinesPerInterval` in all; `unlogged` counts the refusals of that address not
  // reported since its last line.
  using RefusalNote = LineBudget::Verdict;
  using RefusalLog = std::function<void(const ZapVerdict& verdict, const RefusalNote& note)>;
  static constexpr std::size_t kMaxRefusalLinesPerInterval = 20;
  static constexpr std::chrono::seconds kRefusalLogInterval{30};

  // Binds inproc://zeromq.zap.01 on `ctx` before returning, then serves it on its own thread
  // until destroyed. FailedPrecondition when another handler is bound on that context.
  // `ctx` must outlive the authenticator.
  static Result<std::unique_ptr<ZapAuthenticator>> Start(zmq::context_t& ctx, AllowList allowed,
                                                         RefusalLog log);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // Replaces the allow-list for handshakes from now on (a SIGHUP re-reads the key folders).
  // Sessions already made are the caller's to judge. Thread-safe.
  void Replace(AllowList allowed);

  std::uint64_t refused() const { return refused_.load(); }
  std::uint64_t allowed() const { return allowed_.load(); }
  // The ZAP domain of the cluster's server sockets: only listed keys get in.
  static constexpr const char* kDomain = AllowList::kClusterDomain;
  // The ZAP domain of a node's TCP monitor endpoint: only listed admin keys get in.
  static constexpr const char* kMonitorDomain = "zcluster-monitor";
  // The ZAP domain of the worker's agent port (see AllowList::OpenDomain).
  static constexpr const char* kAgentDomain = "zcluster-agents";

 private:
  ZapAuthenticator(zmq::context_t& ctx, AllowList allowed, RefusalLog log);
  void Serve();
  void Report(const ZapVerdict& verdict);

  zmq::socket_t handler_;  // REP on inproc://zeromq.zap.01; owned by the thread once started
  zmq::socket_t stop_rx_;  // PAIR: the destructor's stop signal
  zmq::socket_t stop_tx_;
  mutable std::mutex allowed_mu_;
  std::shared_ptr<const AllowList> allowed_keys_;  // guarded by allowed_mu_; copied per request
  RefusalLog log_;
  LineBudget lines_{kRefusalLogInterval, kMaxRefusalLinesPerInterval};  // handler thread only
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> allowed_{0};
  std::thread thread_;
};

}  // namespace zcluster::bus
