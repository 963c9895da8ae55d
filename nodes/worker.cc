#include "zcluster/nodes/worker.h"

#include <sodium.h>

#include <utility>

#include "zcluster/bus/socket_events.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/control.h"
#include "zcluster/nodes/master_link.h"
#include "zcluster/nodes/node_home.h"

namespace zcluster::nodes {
namespace {

// "w1-3fa9c2d1": readable in traces, new for every process so that a second process with the
// same name is seen as a second connection (and refused as a duplicate) rather than silently
// taking the first one's routing id over.
std::string SessionRoutingId(const std::string& node) {
  unsigned char r[4];
  randombytes_buf(r, sizeof r);
  return fmt::format("{}-{:02x}{:02x}{:02x}{:02x}", node, r[0], r[1], r[2], r[3]);
}

}  // namespace

struct Worker::Impl {
  ClusterConfig config;
  Logger log;
  std::unique_ptr<store::NodeStore> store;
  zmq::context_t ctx{1};
  std::optional<bus::DealerSocket> dealer;
  std::optional<bus::SocketEvents> dealer_events;  // watches `dealer`; destroyed before it
  std::optional<ControlServer> control;
  MasterLink link;
  bool handshake_failure_logged = false;

  Impl(const ClusterConfig& c, ClusterLog& l)
      : config(c),
        log(l, "Worker " + c.node_name),
        link(MasterLinkParams{c.name, c.node_name,
                              std::chrono::duration<double>(c.intervals.keep_alive),
                              std::chrono::duration<double>(
                                  c.intervals.max_allowed_time_without_keepalive)},
             log) {}

  ~Impl() {
    control.reset();
    dealer_events.reset();
    dealer.reset();
  }

  void OnSocketEvents() {
    for (const bus::SocketEvent& e : dealer_events->Drain()) {
      switch (e.kind) {
        case bus::SocketEventKind::kHandshakeSucceeded:
          log.Debug("Main", "CURVE handshake with {} succeeded", e.endpoint);
          link.TransportUp(SteadyClock::now());
          handshake_failure_logged = false;
          break;
        case bus::SocketEventKind::kAuthRefused: link.KeyRefused(); break;
        case bus::SocketEventKind::kHandshakeFailed:
          // The socket retries every few seconds: one line until a handshake succeeds.
          if (std::exchange(handshake_failure_logged, true)) break;
          log.Warning("Main", "CURVE handshake with {} failed (is <master_public_key> the "
                              "master's key?)", e.endpoint);
          break;
        case bus::SocketEventKind::kDisconnected:
          log.Debug("Main", "Disconnected from {}", e.endpoint);
          break;
      }
    }
  }

  schemas::NodeList Nodes() const {
    schemas::NodeList list;
    if (link.state() == MasterLink::State::kConnected) {
      list.nodes.push_back({link.master_name(), "master",
                            schemas::SoftwareVersion(link.master_software()),
                            config.nodes.front() + ":" + std::to_string(config.port),
                            link.last_heard_unix()});
    }
    double now = UnixNow();
    list.nodes.push_back({config.node_name, "worker", ZCLUSTER_VERSION, "local", now});
    return list;
  }
};

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

Result<std::unique_ptr<Worker>> Worker::Start(const ClusterConfig& config, KeyMaterial keys,
                                              ClusterLog& log) {
  auto impl = std::make_unique<Impl>(config, log);
  Result<std::unique_ptr<store::NodeStore>> store = OpenNodeHome(config);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();

  Result<bus::DealerSocket> dealer = bus::DealerSocket::ConnectCurve(
      impl->ctx, keys.own, keys.master_public, config.master_endpoint(),
      SessionRoutingId(config.node_name), bus::SocketOptions{});
  if (!dealer.ok()) return dealer.status();
  impl->dealer.emplace(std::move(dealer).value());
  Result<bus::SocketEvents> events = bus::SocketEvents::Watch(impl->ctx, impl->dealer->socket());
  if (!events.ok()) return events.status();
  impl->dealer_events.emplace(std::move(events).value());

  Result<ControlServer> control = ControlServer::Bind(impl->ctx, config.control_path());
  if (!control.ok()) return control.status();
  impl->control.emplace(std::move(control).value());
  impl->log.Info("Main", "Connecting to master at {} ({} mode); control socket {}",
                 config.master_endpoint(), keys.shared_key_mode ? "shared-key" : "per-node key",
                 config.control_path());
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Status Worker::Run(int stop_fd) {
  Impl& w = *impl_;
  ControlServer::Answers answers{[&w] { return w.Nodes(); }};
  for (;;) {
    auto now = SteadyClock::now();
    if (auto message = w.link.Next(now)) {
      Status sent = w.dealer->Send(schemas::Encode(*message));
      w.link.Sent(*message, sent.ok(), now);
    }
    auto timeout = std::max(std::chrono::milliseconds(0),
                            std::chrono::ceil<std::chrono::milliseconds>(w.link.NextWake() - now));
    std::vector<bus::PollItem> items{{&w.dealer->socket(), -1, false},
                                     {&w.control->socket(), -1, false},
                                     {nullptr, stop_fd, false},
                                     {&w.dealer_events->socket(), -1, false}};
    ZC_RETURN_IF_ERROR(bus::Poll(items, timeout));
    if (items[3].readable) w.OnSocketEvents();
    if (items[2].readable) {
      w.log.Info("Main", "Stopping");
      return Status::Ok();
    }
    if (items[0].readable) {
      for (int budget = 1000; budget > 0; --budget) {
        Result<std::optional<bus::Frames>> frames = w.dealer->Receive();
        if (!frames.ok()) return frames.status();
        if (!frames->has_value()) break;
        Result<schemas::Message> reply = schemas::Decode(**frames);
        if (!reply.ok()) {
          w.log.Warning("Main", "Malformed message from master: {}", reply.status().message());
          continue;
        }
        w.link.OnReply(*reply, SteadyClock::now());
      }
    }
    if (items[1].readable) w.control->ServePending(answers, w.log);
  }
}

}  // namespace zcluster::nodes
