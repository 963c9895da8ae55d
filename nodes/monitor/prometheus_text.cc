#include "monitor/prometheus_text.h"

#include <fmt/format.h>

#include <functional>
#include <utility>
#include <vector>

namespace zcluster::nodes {
namespace {

// A label value with \, " and newline escaped, as the format requires.
std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class Writer {
 public:
  // Starts a family; every Sample until the next Family belongs to it.
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(const Labels& labels, double value) {
    out_ += name_;
    if (!labels.empty()) {
      out_ += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out_ += ',';
        out_ += fmt::format("{}=\"{}\"", labels[i].first, Escape(labels[i].second));
      }
      out_ += '}';
    }
    out_ += fmt::format(" {}\n", value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string name_, out_;
};

}  // namespace

std::string RenderPrometheus(const schemas::ClusterStats& stats) {
  Writer w;
  using Node = schemas::NodeStats;
  auto per_node = [&](std::string_view name, std::string_view type, std::string_view help,
                      const std::function<double(const Node&)>& value) {
    w.Family(name, type, help);
    for (const Node& n : stats.nodes) w.Sample({{"node", n.name}}, value(n));
  };
  auto count = [](std::uint64_t v) { return static_cast<double>(v); };
  per_node("zcluster_up", "gauge", "1 while the node is up (its session with the master lives).",
           [](const Node& n) { return n.state == "down" ? 0.0 : 1.0; });
  per_node("zcluster_uptime_seconds", "gauge", "Seconds since the node started.",
           [](const Node& n) { return n.uptime; });
  per_node("zcluster_cpu_seconds_total", "counter", "User and system CPU seconds of the node.",
           [](const Node& n) { return n.cpu_seconds; });
  per_node("zcluster_resident_memory_bytes", "gauge", "Resident memory of the node.",
           [&](const Node& n) { return count(n.rss_bytes); });
  per_node("zcluster_last_keepalive_timestamp_seconds", "gauge",
           "When the master last heard a worker's keepalive (unix time; 0 for the master).",
           [](const Node& n) { return n.last_keepalive; });

  auto traffic = [&](std::string_view name, std::string_view help,
                     std::uint64_t schemas::TrafficRow::*field) {
    w.Family(name, "counter", help);
    for (const Node& n : stats.nodes) {
      for (const schemas::TrafficRow& t : n.traffic) {
        w.Sample({{"node", n.name},
                  {"peer", t.peer},
                  {"type", t.type},
                  {"direction", t.out ? "out" : "in"}},
                 count(t.*field));
      }
    }
  };
  traffic("zcluster_messages_total", "Messages by node, peer, type and direction.",
          &schemas::TrafficRow::messages);
  traffic("zcluster_bytes_total", "Bytes by node, peer, type and direction.",
          &schemas::TrafficRow::bytes);
  w.Family("zcluster_stream_position", "gauge", "The last change of each stream a node holds.");
  for (const Node& n : stats.nodes) {
    w.Sample({{"node", n.name}, {"stream", "groups"}}, count(n.groups_seq));
    w.Sample({{"node", n.name}, {"stream", "files"}}, count(n.files_seq));
  }
  w.Family("zcluster_stream_lag", "gauge", "Changes a worker is behind the master, by stream.");
  for (const Node& n : stats.nodes) {
    if (n.type != "worker") continue;
    w.Sample({{"node", n.name}, {"stream", "groups"}}, count(n.groups_lag));
    w.Sample({{"node", n.name}, {"stream", "files"}}, count(n.files_lag));
  }
  w.Family("zcluster_agents", "gauge", "Registered agents by status, as the master stores them.");
  if (!stats.nodes.empty()) {
    const Node& m = stats.nodes.front();
    w.Sample({{"status", "active"}}, count(m.agents_active));
    w.Sample({{"status", "disconnected"}}, count(m.agents_disconnected));
    w.Sample({{"status", "never_connected"}}, count(m.agents_never_connected));
    w.Sample({{"status", "pending"}}, count(m.agents_pending));
  }
  w.Family("zcluster_agent_reports_total", "counter",
           "Agent reports at a worker's agent port, accepted or refused by reason.");
  for (const Node& n : stats.nodes) {
    if (n.type != "worker") continue;
    for (auto [result, v] :
         {std::pair{"accepted", n.reports_accepted}, std::pair{"unknown", n.reports_unknown},
          std::pair{"bad_mac", n.reports_bad_mac}, std::pair{"replayed", n.reports_replayed},
          std::pair{"malformed", n.reports_malformed},
          std::pair{"mismatched", n.reports_mismatched},
          std::pair{"rate_limited", n.reports_rate_limited}}) {
      w.Sample({{"node", n.name}, {"result", result}}, count(v));
    }
  }
  w.Family("zcluster_handshake_failures_total", "counter",
           "CURVE handshakes a node refused, by the peer's address.");
  for (const Node& n : stats.nodes) {
    for (const schemas::HandshakeFailures& f : n.handshake_failures) {
      w.Sample({{"node", n.name}, {"address", f.address}}, count(f.count));
    }
  }
  return w.Take();
}

}  // namespace zcluster::nodes
