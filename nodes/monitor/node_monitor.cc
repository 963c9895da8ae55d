#include "monitor/node_monitor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "zcluster/nodes/clock.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {
namespace {

std::string_view KindName(bus::SocketEventKind kind) {
  switch (kind) {
    case bus::SocketEventKind::kHandshakeSucceeded:
      return "connected";
    case bus::SocketEventKind::kDisconnected:
      return "disconnected";
    case bus::SocketEventKind::kAuthRefused:
      return "auth_refused";
    case bus::SocketEventKind::kHandshakeFailed:
      return "handshake_failed";
    case bus::SocketEventKind::kAccepted:
      return "accepted";
    case bus::SocketEventKind::kRetried:
      return "retry";
  }
  return "other";
}

std::string Bounded(std::string_view s) {
  return std::string(s.substr(0, 2 * schemas::kMaxNameLength));
}

}  // namespace

NodeMonitor::NodeMonitor(std::string name, std::string type)
    : name_(std::move(name)), type_(std::move(type)) {}

void NodeMonitor::Event(std::string_view kind, std::string_view socket, std::string_view address,
                        std::string_view detail) {
  std::lock_guard lock(mu_);
  events_.push_back({next_seq_++, UnixNow(), std::string(kind), std::string(socket),
                     Bounded(address), Bounded(detail)});
  if (events_.size() > kMaxEvents) events_.pop_front();
}

void NodeMonitor::HandshakeRefused(std::string_view socket, const std::string& address,
                                   std::string_view key, bool event) {
  Refused("auth_refused", socket, address, key, event);
}

void NodeMonitor::Refused(std::string_view kind, std::string_view socket,
                          const std::string& address, std::string_view detail, bool event) {
  if (event) Event(kind, socket, address, detail);
  std::lock_guard lock(mu_);
  auto it = failed_.find(address);
  if (it == failed_.end()) {
    // Past the bound, new addresses share one count rather than growing the table.
    it = failed_.size() < schemas::kMaxFailureAddresses - 1
             ? failed_.emplace(Bounded(address), 0).first
             : failed_.emplace("other", 0).first;
  }
  ++it->second;
}

void NodeMonitor::SocketEvents(std::string_view socket,
                               const std::vector<bus::SocketEvent>& events) {
  for (const bus::SocketEvent& e : events) Event(KindName(e.kind), socket, e.endpoint);
}

schemas::NodeStats NodeMonitor::Stats() const {
  schemas::NodeStats s;
  s.name = name_;
  s.type = type_;
  s.software = "zcluster " ZCLUSTER_VERSION;
  s.time = UnixNow();
  s.uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  s.cpu_seconds = ProcessCpuSeconds();
  s.rss_bytes = ProcessResidentBytes();
  s.traffic = traffic_.Rows();
  std::lock_guard lock(mu_);
  s.events.assign(events_.begin(), events_.end());
  for (const auto& [address, count] : failed_) s.handshake_failures.push_back({address, count});
  return s;
}

void SetAgentCounts(schemas::NodeStats& s, const schemas::AgentStatusCounts& by_status) {
  auto of = [&](schemas::AgentStatus status) {
    return by_status[static_cast<std::size_t>(status)];
  };
  s.agents_active = of(schemas::AgentStatus::kActive);
  s.agents_disconnected = of(schemas::AgentStatus::kDisconnected);
  s.agents_never_connected = of(schemas::AgentStatus::kNeverConnected);
  s.agents_pending = of(schemas::AgentStatus::kPending);
}

double ProcessCpuSeconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

std::uint64_t ProcessResidentBytes() {
  // statm's second field is the resident set in pages.
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  int read = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (read != 2) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace zcluster::nodes
