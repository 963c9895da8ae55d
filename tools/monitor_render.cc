#include "monitor_render.h"

#include <sodium.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

namespace zcluster::monitor {
namespace {

// A 128-bit BLAKE2b of `size` bytes, in hex.
std::string Blake2bHex(const char* data, std::size_t size) {
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(data), size,
                     nullptr, 0);
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

using nlohmann::json;

json StatsJson(const schemas::NodeStats& n) {
  json traffic = json::array(), events = json::array(), failures = json::array();
  for (const schemas::TrafficRow& t : n.traffic) {
    traffic.push_back({{"peer", t.peer},
                       {"type", t.type},
                       {"direction", t.out ? "out" : "in"},
                       {"messages", t.messages},
                       {"bytes", t.bytes}});
  }
  for (const schemas::MonitorEvent& e : n.events) {
    events.push_back({{"seq", e.seq},
                      {"time", e.time},
                      {"kind", e.kind},
                      {"socket", e.socket},
                      {"address", e.address},
                      {"detail", e.detail}});
  }
  for (const schemas::HandshakeFailures& f : n.handshake_failures) {
    failures.push_back({{"address", f.address}, {"count", f.count}});
  }
  return {{"name", n.name},
          {"type", n.type},
          {"software", n.software},
          {"state", n.state},
          {"time", n.time},
          {"uptime", n.uptime},
          {"cpu_seconds", n.cpu_seconds},
          {"rss_bytes", n.rss_bytes},
          {"groups_seq", n.groups_seq},
          {"files_seq", n.files_seq},
          {"groups_lag", n.groups_lag},
          {"files_lag", n.files_lag},
          {"last_keepalive", n.last_keepalive},
          {"agents_active", n.agents_active},
          {"agents_disconnected", n.agents_disconnected},
          {"agents_never_connected", n.agents_never_connected},
          {"agents_pending", n.agents_pending},
          {"reports_accepted", n.reports_accepted},
          {"reports_unknown", n.reports_unknown},
          {"reports_bad_mac", n.reports_bad_mac},
          {"reports_replayed", n.reports_replayed},
          {"reports_malformed", n.reports_malformed},
          {"reports_mismatched", n.reports_mismatched},
          {"reports_rate_limited", n.reports_rate_limited},
          {"last_repair", n.last_repair},
          {"files_created", n.files_created},
          {"files_updated", n.files_updated},
          {"files_deleted", n.files_deleted},
          {"traffic", traffic},
          {"events", events},
          {"handshake_failures", failures}};
}

struct Totals {
  double msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0;
};

Totals Sum(const schemas::NodeStats& n) {
  Totals t;
  for (const schemas::TrafficRow& r : n.traffic) {
    (r.out ? t.msgs_out : t.msgs_in) += static_cast<double>(r.messages);
    (r.out ? t.bytes_out : t.bytes_in) += static_cast<double>(r.bytes);
  }
  return t;
}

std::uint64_t Refused(const schemas::NodeStats& n) {
  std::uint64_t sum = 0;
  for (const schemas::HandshakeFailures& f : n.handshake_failures) sum += f.count;
  return sum;
}

// "950", "12.3K", "4.5M", "1.2G".
std::string Human(double v) {
  if (v < 1000) return fmt::format("{:.0f}", v);
  if (v < 1e6) return fmt::format("{:.1f}K", v / 1e3);
  if (v < 1e9) return fmt::format("{:.1f}M", v / 1e6);
  return fmt::format("{:.1f}G", v / 1e9);
}

std::string Duration(double seconds) {
  auto s = static_cast<long long>(std::max(0.0, seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

std::string Clock(double unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  localtime_r(&t, &tm);
  return fmt::format("{:%H:%M:%S}", tm);
}

std::string Fit(std::string line, int width) {
  if (static_cast<int>(line.size()) > width) line.resize(static_cast<std::size_t>(width));
  return line;
}

// Bounds for unpacking a tapped frame: no count may claim more than the frame could hold.
msgpack::unpack_limit LimitsFor(const std::string& frame) {
  return msgpack::unpack_limit(frame.size(), frame.size() / 2, frame.size(), frame.size(), 0, 16);
}

json FromMsgpack(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return nullptr;
    case msgpack::type::BOOLEAN:
      return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER:
      return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
      return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return o.via.f64;
    case msgpack::type::STR:
      return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::BIN:
      // File contents and the like: their size and a hash, enough to tell two copies apart.
      return json{{"bytes", o.via.bin.size},
                  {"blake2b", Blake2bHex(o.via.bin.ptr, o.via.bin.size)}};
    case msgpack::type::EXT:
      return json{{"ext_bytes", o.via.ext.size}};
    case msgpack::type::ARRAY: {
      json a = json::array();
      for (std::uint32_t i = 0; i < o.via.array.size; ++i)
        a.push_back(FromMsgpack(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      json m = json::object();
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        std::string key = kv.key.type == msgpack::type::STR
                              ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
                              : FromMsgpack(kv.key).dump();
        // An agent's secret (agent_entry.key) never leaves the node through a dump.
        m[key] = key == "key" ? json("(hidden)") : FromMsgpack(kv.val);
      }
      return m;
    }
  }
  return nullptr;
}

std::optional<json> Unpack(const std::string& frame) {
  try {
    std::size_t offset = 0;
    msgpack::object_handle h =
        msgpack::unpack(frame.data(), frame.size(), offset, nullptr, nullptr, LimitsFor(frame));
    if (offset != frame.size()) return std::nullopt;
    return FromMsgpack(h.get());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> RenderDumpLine(const std::vector<std::string>& frames,
                                          const DumpFilter& filter) {
  if (frames.empty()) return std::nullopt;
  Result<schemas::TapHeader> header = schemas::DecodeTapHeader(frames[0]);
  if (!header.ok()) return std::nullopt;
  std::optional<json> type = frames.size() > 1 ? Unpack(frames[1]) : std::nullopt;
  std::string type_name = type && type->is_string() ? type->get<std::string>() : "other";
  if (!filter.type.empty() && filter.type != type_name) return std::nullopt;
  if (!filter.node.empty() && filter.node != header->node && filter.node != header->peer) {
    return std::nullopt;
  }
  std::uint64_t bytes = header->elided;
  for (std::size_t i = 1; i < frames.size(); ++i) bytes += frames[i].size();
  json body = nullptr;
  if (header->elided != 0) {
    body = json{{"elided_bytes", header->elided}};
  } else if (frames.size() > 2) {
    std::optional<json> b = Unpack(frames[2]);
    body = b ? *b : json{{"undecodable_bytes", frames[2].size()}};
  }
  json line = {
      {"time", header->time}, {"node", header->node}, {"direction", header->out ? "out" : "in"},
      {"peer", header->peer}, {"type", type_name},    {"bytes", bytes},
      {"body", body}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderJson(const schemas::ClusterStats& stats) {
  json nodes = json::array();
  for (const schemas::NodeStats& n : stats.nodes) nodes.push_back(StatsJson(n));
  json out = {{"cluster", stats.cluster},
              {"node", stats.node},
              {"protocol", stats.protocol},
              {"nodes", nodes}};
  return out.dump(2) + "\n";
}

Rates ComputeRates(const std::optional<schemas::ClusterStats>& before,
                   const schemas::ClusterStats& now) {
  Rates rates;
  std::map<std::string, const schemas::NodeStats*> earlier;
  if (before) {
    for (const schemas::NodeStats& n : before->nodes) earlier[n.name] = &n;
  }
  std::map<std::string, TypeRates> types;
  for (const schemas::NodeStats& n : now.nodes) {
    NodeRates r;
    r.name = n.name;
    r.type = n.type;
    r.state = n.state;
    r.groups_lag = n.groups_lag;
    r.files_lag = n.files_lag;
    r.agents = n.agents_active;
    r.refused = Refused(n);
    r.last_keepalive = n.last_keepalive;
    auto prev = earlier.find(n.name);
    const schemas::NodeStats* p = prev != earlier.end() ? prev->second : nullptr;
    double dt = p != nullptr ? n.time - p->time : 0;
    // A restarted node's counters start again from zero: no rate across the restart.
    bool comparable = p != nullptr && dt > 0 && n.uptime >= p->uptime;
    if (comparable) {
      Totals a = Sum(*p), b = Sum(n);
      r.msgs_in = std::max(0.0, b.msgs_in - a.msgs_in) / dt;
      r.msgs_out = std::max(0.0, b.msgs_out - a.msgs_out) / dt;
      r.bytes_in = std::max(0.0, b.bytes_in - a.bytes_in) / dt;
      r.bytes_out = std::max(0.0, b.bytes_out - a.bytes_out) / dt;
      r.cpu_percent = std::max(0.0, n.cpu_seconds - p->cpu_seconds) / dt * 100;
    }
    rates.nodes.push_back(std::move(r));
    // Message types as received: each delivered message counted once, by its receiver.
    using Count = std::pair<std::uint64_t, std::uint64_t>;  // messages, bytes
    std::map<std::string, Count> then, current;
    auto by_type = [](const schemas::NodeStats& stats, std::map<std::string, Count>& into) {
      for (const schemas::TrafficRow& t : stats.traffic) {
        if (t.out) continue;
        into[t.type].first += t.messages;
        into[t.type].second += t.bytes;
      }
    };
    if (comparable) by_type(*p, then);
    by_type(n, current);
    for (const auto& [type, c] : current) {
      TypeRates& tr = types[type];
      tr.type = type;
      tr.total += c.first;
      if (!comparable) continue;
      const Count& t = then[type];
      tr.msgs += static_cast<double>(c.first - std::min(t.first, c.first)) / dt;
      tr.bytes += static_cast<double>(c.second - std::min(t.second, c.second)) / dt;
    }
  }
  for (auto& [name, t] : types) rates.types.push_back(t);
  std::sort(rates.types.begin(), rates.types.end(), [](const TypeRates& a, const TypeRates& b) {
    if (a.msgs != b.msgs) return a.msgs > b.msgs;
    if (a.total != b.total) return a.total > b.total;
    return a.type < b.type;
  });
  return rates;
}

std::vector<std::string> RenderView(const std::optional<schemas::ClusterStats>& before,
                                    const schemas::ClusterStats& now, const ViewOptions& o) {
  std::vector<std::string> lines;
  auto add = [&](std::string line) {
    if (static_cast<int>(lines.size()) < o.height) lines.push_back(Fit(std::move(line), o.width));
  };
  Rates rates = ComputeRates(before, now);
  const schemas::NodeStats* self = now.nodes.empty() ? nullptr : &now.nodes.front();
  int up = 0, down = 0;
  for (const NodeRates& n : rates.nodes) (n.state == "down" ? down : up) += 1;
  add(fmt::format("zcluster-monitor  cluster {}  node {}  up {}{}", now.cluster, now.node,
                  self ? Duration(self->uptime) : "?", o.paused ? "  [paused]" : ""));
  if (self != nullptr) {
    add(fmt::format(
        "nodes {} up {} down  agents {} active {} disconnected {} never  CPU {:.1f}% "
        "RSS {}B",
        up, down, self->agents_active, self->agents_disconnected, self->agents_never_connected,
        rates.nodes.empty() ? 0.0 : rates.nodes.front().cpu_percent,
        Human(static_cast<double>(self->rss_bytes))));
  }
  add("");
  std::vector<NodeRates> nodes = rates.nodes;
  auto master_first = [](const NodeRates& a, const NodeRates& b) {
    if ((a.type == "master") != (b.type == "master")) return a.type == "master";
    return a.name < b.name;
  };
  std::stable_sort(nodes.begin(), nodes.end(), [&](const NodeRates& a, const NodeRates& b) {
    switch (o.sort) {
      case SortBy::kMessages:
        if (a.msgs_in + a.msgs_out != b.msgs_in + b.msgs_out) {
          return a.msgs_in + a.msgs_out > b.msgs_in + b.msgs_out;
        }
        break;
      case SortBy::kBytes:
        if (a.bytes_in + a.bytes_out != b.bytes_in + b.bytes_out) {
          return a.bytes_in + a.bytes_out > b.bytes_in + b.bytes_out;
        }
        break;
      case SortBy::kLag:
        if (a.groups_lag + a.files_lag != b.groups_lag + b.files_lag) {
          return a.groups_lag + a.files_lag > b.groups_lag + b.files_lag;
        }
        break;
      case SortBy::kName:
        break;
    }
    return master_first(a, b);
  });
  const char* row =
      "{:<12.12} {:<1.1} {:<5.5} {:>6} {:>6} {:>7} {:>7} {:>5} {:>5} {:>5} {:>6} {:>4}";
  add(fmt::format(fmt::runtime(row), "NODE", "T", "STATE", "IN/s", "OUT/s", "B-IN/s", "B-OUT/s",
                  "G-LAG", "F-LAG", "KA", "AGENTS", "REF"));
  int node_rows = std::max(3, (o.height - 12) / 2);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (static_cast<int>(i) == node_rows - 1 &&
        nodes.size() > static_cast<std::size_t>(node_rows)) {
      add(fmt::format("... and {} more nodes", nodes.size() - i));
      break;
    }
    const NodeRates& n = nodes[i];
    std::string ka =
        n.type == "master" || n.last_keepalive == 0 ? "-" : Duration(o.now - n.last_keepalive);
    add(fmt::format(fmt::runtime(row), n.name, n.type == "master" ? "M" : "W", n.state,
                    Human(n.msgs_in), Human(n.msgs_out), Human(n.bytes_in), Human(n.bytes_out),
                    n.groups_lag, n.files_lag, ka, n.agents, n.refused));
  }
  add("");
  const char* type_row = "{:<22.22} {:>9} {:>10} {:>12}";
  add(fmt::format(fmt::runtime(type_row), "MESSAGE TYPE", "MSG/s", "BYTES/s", "TOTAL"));
  int type_rows = std::min<int>(5, static_cast<int>(rates.types.size()));
  for (int i = 0; i < type_rows; ++i) {
    const TypeRates& t = rates.types[static_cast<std::size_t>(i)];
    add(fmt::format(fmt::runtime(type_row), t.type, Human(t.msgs), Human(t.bytes),
                    Human(static_cast<double>(t.total))));
  }
  add("");
  add("EVENTS");
  struct Seen {
    double time;
    std::string line;
  };
  std::vector<Seen> events;
  for (const schemas::NodeStats& n : now.nodes) {
    for (const schemas::MonitorEvent& e : n.events) {
      events.push_back({e.time, fmt::format("{} {:<12.12} {:<16} {:<8} {} {}", Clock(e.time),
                                            n.name, e.kind, e.socket, e.address, e.detail)});
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Seen& a, const Seen& b) { return a.time < b.time; });
  int room = o.height - static_cast<int>(lines.size());
  std::size_t first = events.size() > static_cast<std::size_t>(std::max(0, room))
                          ? events.size() - static_cast<std::size_t>(std::max(0, room))
                          : 0;
  for (std::size_t i = first; i < events.size(); ++i) add(events[i].line);
  return lines;
}

}  // namespace zcluster::monitor
