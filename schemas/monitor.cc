#include "zcluster/schemas/monitor.h"

#include "codec.h"

namespace zcluster::schemas {
namespace {

using codec::FieldReader;
using codec::MapWriter;

void PackStats(msgpack::sbuffer& b, const NodeStats& m) {
  MapWriter w(b, 31);
  w.str("name", m.name)
      .str("type", m.type)
      .str("software", m.software)
      .str("state", m.state)
      .real("time", m.time)
      .real("uptime", m.uptime)
      .real("cpu_seconds", m.cpu_seconds)
      .uint("rss_bytes", m.rss_bytes)
      .uint("groups_seq", m.groups_seq)
      .uint("files_seq", m.files_seq)
      .uint("groups_lag", m.groups_lag)
      .uint("files_lag", m.files_lag)
      .real("last_keepalive", m.last_keepalive)
      .uint("agents_active", m.agents_active)
      .uint("agents_disconnected", m.agents_disconnected)
      .uint("agents_never_connected", m.agents_never_connected)
      .uint("agents_pending", m.agents_pending)
      .uint("reports_accepted", m.reports_accepted)
      .uint("reports_unknown", m.reports_unknown)
      .uint("reports_bad_mac", m.reports_bad_mac)
      .uint("reports_replayed", m.reports_replayed)
      .uint("reports_malformed", m.reports_malformed)
      .uint("reports_mismatched", m.reports_mismatched)
      .uint("reports_rate_limited", m.reports_rate_limited)
      .real("last_repair", m.last_repair)
      .uint("files_created", m.files_created)
      .uint("files_updated", m.files_updated)
      .uint("files_deleted", m.files_deleted);
  w.key("traffic").pack_array(static_cast<std::uint32_t>(m.traffic.size()));
  for (const TrafficRow& t : m.traffic) {
    MapWriter(b, 5)
        .str("peer", t.peer)
        .str("type", t.type)
        .str("direction", t.out ? "out" : "in")
        .uint("messages", t.messages)
        .uint("bytes", t.bytes);
  }
  w.key("events").pack_array(static_cast<std::uint32_t>(m.events.size()));
  for (const MonitorEvent& e : m.events) {
    MapWriter(b, 6)
        .uint("seq", e.seq)
        .real("time", e.time)
        .str("kind", e.kind)
        .str("socket", e.socket)
        .str("address", e.address)
        .str("detail", e.detail);
  }
  w.key("handshake_failures").pack_array(static_cast<std::uint32_t>(m.handshake_failures.size()));
  for (const HandshakeFailures& f : m.handshake_failures) {
    MapWriter(b, 2).str("address", f.address).uint("count", f.count);
  }
}

std::vector<TrafficRow> ReadTraffic(FieldReader& r) {
  std::vector<TrafficRow> rows;
  const msgpack::object* arr = r.array("traffic", kMaxTrafficRows);
  for (std::uint32_t i = 0; arr != nullptr && i < arr->via.array.size && r.status().ok(); ++i) {
    FieldReader t(arr->via.array.ptr[i], r, "traffic", /*item=*/true);
    TrafficRow row{t.str("peer", kMaxNameLength), t.str("type", kMaxNameLength), false,
                   t.uint("messages"), t.uint("bytes")};
    std::string direction = t.str("direction", 3);
    if (t.status().ok() && direction != "in" && direction != "out") {
      t.Fail(t.Field("direction") + " must be \"in\" or \"out\"");
    }
    row.out = direction == "out";
    if (!t.status().ok()) return r.Fail(t.status().message()), rows;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<MonitorEvent> ReadEvents(FieldReader& r) {
  std::vector<MonitorEvent> events;
  const msgpack::object* arr = r.array("events", kMaxMonitorEvents);
  for (std::uint32_t i = 0; arr != nullptr && i < arr->via.array.size && r.status().ok(); ++i) {
    FieldReader e(arr->via.array.ptr[i], r, "events", /*item=*/true);
    MonitorEvent event{e.uint("seq"),
                       e.real("time"),
                       e.str("kind", kMaxNameLength),
                       e.str("socket", kMaxNameLength),
                       e.str("address", kMaxNameLength * 2),
                       e.str("detail", kMaxNameLength * 2)};
    if (!e.status().ok()) return r.Fail(e.status().message()), events;
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<HandshakeFailures> ReadFailures(FieldReader& r) {
  std::vector<HandshakeFailures> failures;
  const msgpack::object* arr = r.array("handshake_failures", kMaxFailureAddresses);
  for (std::uint32_t i = 0; arr != nullptr && i < arr->via.array.size && r.status().ok(); ++i) {
    FieldReader f(arr->via.array.ptr[i], r, "handshake_failures", /*item=*/true);
    HandshakeFailures row{f.str("address", kMaxNameLength * 2), f.uint("count")};
    if (!f.status().ok()) return r.Fail(f.status().message()), failures;
    failures.push_back(std::move(row));
  }
  return failures;
}

NodeStats ReadStats(FieldReader& r) {
  NodeStats m;
  m.name = r.name("name");
  m.type = r.str("type", kMaxNameLength);
  m.software = r.str("software");
  m.state = r.str("state", kMaxNameLength);
  m.time = r.real("time");
  m.uptime = r.real("uptime");
  m.cpu_seconds = r.real("cpu_seconds");
  m.rss_bytes = r.uint("rss_bytes");
  m.groups_seq = r.uint("groups_seq");
  m.files_seq = r.uint("files_seq");
  m.groups_lag = r.uint("groups_lag");
  m.files_lag = r.uint("files_lag");
  m.last_keepalive = r.real("last_keepalive");
  m.agents_active = r.uint("agents_active");
  m.agents_disconnected = r.uint("agents_disconnected");
  m.agents_never_connected = r.uint("agents_never_connected");
  m.agents_pending = r.uint("agents_pending");
  m.reports_accepted = r.uint("reports_accepted");
  m.reports_unknown = r.uint("reports_unknown");
  m.reports_bad_mac = r.uint("reports_bad_mac");
  m.reports_replayed = r.uint("reports_replayed");
  m.reports_malformed = r.uint("reports_malformed");
  m.reports_mismatched = r.uint("reports_mismatched");
  if (r.has("reports_rate_limited")) m.reports_rate_limited = r.uint("reports_rate_limited");
  m.last_repair = r.real("last_repair");
  m.files_created = r.uint("files_created");
  m.files_updated = r.uint("files_updated");
  m.files_deleted = r.uint("files_deleted");
  m.traffic = ReadTraffic(r);
  m.events = ReadEvents(r);
  m.handshake_failures = ReadFailures(r);
  return m;
}

Result<Message> Finish(const FieldReader& r, Message m) {
  if (!r.status().ok()) return r.status();
  return m;
}

}  // namespace

std::string EncodeTapHeader(const TapHeader& h) {
  msgpack::sbuffer b;
  MapWriter(b, 5)
      .str("node", h.node)
      .str("peer", h.peer)
      .str("direction", h.out ? "out" : "in")
      .real("time", h.time)
      .uint("elided", h.elided);
  return std::string(b.data(), b.size());
}

Result<TapHeader> DecodeTapHeader(const std::string& frame) {
  try {
    msgpack::object_handle o = codec::UnpackWhole(frame, codec::LimitsFor(frame));
    FieldReader r(o.get(), "tap");
    TapHeader h{r.str("node", kMaxNameLength), r.str("peer", kMaxNameLength), false, r.real("time"),
                r.uint("elided")};
    std::string direction = r.str("direction", 3);
    if (r.status().ok() && direction != "in" && direction != "out") {
      r.Fail("tap.direction must be \"in\" or \"out\"");
    }
    h.out = direction == "out";
    if (!r.status().ok()) return r.status();
    return h;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed tap header: ") + e.what());
  }
}

namespace codec {

void EncodeBody(msgpack::sbuffer& b, const NodeStats& m) { PackStats(b, m); }
void EncodeBody(msgpack::sbuffer& b, const MonitorQuery&) { MapWriter(b, 0); }
void EncodeBody(msgpack::sbuffer& b, const ClusterStats& m) {
  MapWriter w(b, 4);
  w.str("cluster", m.cluster).str("node", m.node).uint("protocol", m.protocol);
  w.key("nodes").pack_array(static_cast<std::uint32_t>(m.nodes.size()));
  for (const NodeStats& n : m.nodes) PackStats(b, n);
}

std::optional<Result<Message>> DecodeMonitorBody(std::string_view type, FieldReader& r) {
  if (type == NodeStats::kType) return Finish(r, ReadStats(r));
  if (type == MonitorQuery::kType) return Finish(r, MonitorQuery{});
  if (type == ClusterStats::kType) {
    ClusterStats m;
    m.cluster = r.name("cluster");
    m.node = r.name("node");
    m.protocol = static_cast<std::uint32_t>(r.uint("protocol", UINT32_MAX));
    const msgpack::object* arr = r.array("nodes", kMaxNodes);
    for (std::uint32_t i = 0; arr != nullptr && i < arr->via.array.size && r.status().ok(); ++i) {
      FieldReader n(arr->via.array.ptr[i], r, "nodes", /*item=*/true);
      NodeStats stats = ReadStats(n);
      if (!n.status().ok()) return n.status();
      m.nodes.push_back(std::move(stats));
    }
    return Finish(r, std::move(m));
  }
  return std::nullopt;
}

}  // namespace codec
}  // namespace zcluster::schemas
