#include "zcluster/bus/zap_authenticator.h"

#include <array>

#include "zcluster/bus/curve_keys.h"

namespace zcluster::bus {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

std::string Z85Of(const std::string& bytes) {
  std::array<char, 41> out{};
  if (bytes.size() != 32) return {};
  zmq_z85_encode(out.data(), reinterpret_cast<const std::uint8_t*>(bytes.data()), 32);
  return std::string(out.data(), 40);
}

}  // namespace

Status AllowList::Add(const std::string& public_z85, const std::string& user_id,
                      const std::string& domain) {
  if (!IsValidZ85Key(public_z85)) {
    return Status::InvalidArgument("allow-list: '" + public_z85 + "' is not a Z85 CURVE key");
  }
  if (user_id.empty()) return Status::InvalidArgument("allow-list: empty user id");
  if (open_domains_.count(domain) != 0) {
    return Status::InvalidArgument("allow-list: domain '" + domain + "' is open to any key");
  }
  by_domain_[domain][public_z85] = user_id;
  return Status::Ok();
}

bool AllowList::Lists(const std::string& domain) const {
  return domain == kClusterDomain || by_domain_.count(domain) != 0;
}

std::set<std::string> AllowList::Users(const std::string& domain) const {
  std::set<std::string> users;
  auto it = by_domain_.find(domain);
  if (it == by_domain_.end()) return users;
  for (const auto& [key, user] : it->second) users.insert(user);
  return users;
}

std::size_t AllowList::size(const std::string& domain) const {
  auto it = by_domain_.find(domain);
  return it == by_domain_.end() ? 0 : it->second.size();
}

Status AllowList::OpenDomain(const std::string& domain, const std::string& user_id) {
  if (Lists(domain)) {
    return Status::InvalidArgument("allow-list: domain '" + domain +
                                   "' lists its keys and cannot be opened");
  }
  if (user_id.empty()) return Status::InvalidArgument("allow-list: empty user id");
  open_domains_[domain] = user_id;
  return Status::Ok();
}

std::optional<std::string> AllowList::OpenDomainUser(const std::string& domain) const {
  auto it = open_domains_.find(domain);
  if (it == open_domains_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> AllowList::Find(const std::string& public_z85,
                                           const std::string& domain) const {
  auto listed = by_domain_.find(domain);
  if (listed == by_domain_.end()) return std::nullopt;
  auto it = listed->second.find(public_z85);
  if (it == listed->second.end()) return std::nullopt;
  return it->second;
}

ZapVerdict DecideZapRequest(const AllowList& allowed, const std::vector<std::string>& request) {
  ZapVerdict v;
  // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
  if (request.size() < 6 || request[0] != "1.0") {
    v.status_code = "500";
    v.status_text = "malformed ZAP request";
    return v;
  }
  v.domain = request[2];
  v.address = request[3];
  if (request[5] != "CURVE" || request.size() != 7 || request[6].size() != 32) {
    v.status_code = "400";
    v.status_text = "only CURVE is accepted";
    return v;
  }
  v.public_z85 = Z85Of(request[6]);
  if (std::optional<std::string> open = allowed.OpenDomainUser(request[2])) {
    v.status_code = "200";
    v.status_text = "OK";
    v.user_id = *open;
    return v;
  }
  if (!allowed.Lists(request[2])) {
    v.status_code = "400";
    v.status_text = "unknown ZAP domain";
    return v;
  }
  std::optional<std::string> user = allowed.Find(v.public_z85, request[2]);
  if (!user) {
    v.status_code = "400";
    v.status_text = "key not allowed";
    return v;
  }
  v.status_code = "200";
  v.status_text = "OK";
  v.user_id = *user;
  return v;
}

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, AllowList allowed, RefusalLog log)
    : handler_(ctx, zmq::socket_type::rep),
      stop_rx_(ctx, zmq::socket_type::pair),
      stop_tx_(ctx, zmq::socket_type::pair),
      allowed_keys_(std::make_shared<const AllowList>(std::move(allowed))),
      log_(std::move(log)) {}

Result<std::unique_ptr<ZapAuthenticator>> ZapAuthenticator::Start(zmq::context_t& ctx,
                                                                  AllowList allowed,
                                                                  RefusalLog log) {
  std::unique_ptr<ZapAuthenticator> zap(
      new ZapAuthenticator(ctx, std::move(allowed), std::move(log)));
  try {
    zap->handler_.set(zmq::sockopt::linger, 0);
    zap->handler_.bind(kZapEndpoint);
    std::string stop =
        "inproc://zcluster-zap-stop-" + std::to_string(reinterpret_cast<std::uintptr_t>(zap.get()));
    zap->stop_rx_.bind(stop);
    zap->stop_tx_.connect(stop);
  } catch (const zmq::error_t& e) {
    return Status::FailedPrecondition(std::string("cannot bind the ZAP handler: ") + e.what());
  }
  // The sockets move to the thread here; the thread start is the memory barrier libzmq asks for.
  zap->thread_ = std::thread([p = zap.get()] { p->Serve(); });
  return zap;
}

ZapAuthenticator::~ZapAuthenticator() {
  if (thread_.joinable()) {
    try {
      stop_tx_.send(zmq::str_buffer("stop"), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
      // Only fails when the context is already terminated, which also wakes the thread.
    }
    thread_.join();
  }
}

void ZapAuthenticator::Serve() {
  std::array<zmq::pollitem_t, 2> items{
      {{handler_.handle(), 0, ZMQ_POLLIN, 0}, {stop_rx_.handle(), 0, ZMQ_POLLIN, 0}}};
  try {
    for (;;) {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) return;
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      std::vector<std::string> request;
      zmq::message_t part;
      do {
        if (!handler_.recv(part)) break;
        if (request.size() < 16) request.emplace_back(part.to_string());
      } while (part.more());
      std::shared_ptr<const AllowList> allowed;
      {
        std::lock_guard lock(allowed_mu_);
        allowed = allowed_keys_;
      }
      ZapVerdict verdict = DecideZapRequest(*allowed, request);
      std::string request_id = request.size() > 1 ? request[1] : "";
      std::array<zmq::const_buffer, 6> reply{
          zmq::str_buffer("1.0"),           zmq::buffer(request_id),
          zmq::buffer(verdict.status_code), zmq::buffer(verdict.status_text),
          zmq::buffer(verdict.user_id),     zmq::const_buffer()};
      for (std::size_t i = 0; i < reply.size(); ++i) {
        handler_.send(reply[i],
                      i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
      if (verdict.status_code == "200") {
        allowed_.fetch_add(1);
      } else {
        refused_.fetch_add(1);
        Report(verdict);
      }
    }
  } catch (const zmq::error_t&) {
    // ETERM: the context is shutting down; nothing is left to authenticate.
  }
}

void ZapAuthenticator::Report(const ZapVerdict& verdict) {
  if (!log_) return;
  LineBudget::Verdict v =
      lines_.Take(verdict.address + "/" + verdict.domain, std::chrono::steady_clock::now());
  log_(verdict, v);
}

void ZapAuthenticator::Replace(AllowList allowed) {
  auto next = std::make_shared<const AllowList>(std::move(allowed));
  std::lock_guard lock(allowed_mu_);
  allowed_keys_ = std::move(next);
}

}  // namespace zcluster::bus
