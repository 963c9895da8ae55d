#include "zcluster/schemas/messages.h"

#include "codec.h"

namespace zcluster::schemas {

namespace codec {

void EncodeBody(msgpack::sbuffer& b, const Hello& m) {
  MapWriter(b, 4)
      .str("cluster", m.cluster)
      .str("node", m.node)
      .uint("protocol", m.protocol)
      .str("software", m.software);
}
void EncodeBody(msgpack::sbuffer& b, const Welcome& m) {
  MapWriter(b, 5)
      .str("cluster", m.cluster)
      .str("master", m.master)
      .uint("protocol", m.protocol)
      .str("software", m.software)
      .real("max_silence", m.max_silence);
}
void EncodeBody(msgpack::sbuffer& b, const Keepalive& m) {
  MapWriter(b, 14)
      .uint("n", m.n)
      .uint("groups_seq", m.groups_seq)
      .uint("groups_digest", m.groups_digest)
      .uint("files_seq", m.files_seq)
      .uint("files_digest", m.files_digest)
      .real("integrity_start", m.integrity_start)
      .real("integrity_end", m.integrity_end)
      .uint("files_created", m.files_created)
      .uint("files_updated", m.files_updated)
      .uint("files_deleted", m.files_deleted)
      .str("store_error", m.store_error)
      .real("agent_sync_start", m.agent_sync_start)
      .real("agent_sync_end", m.agent_sync_end)
      .uint("agents_sent", m.agents_sent);
}
void EncodeBody(msgpack::sbuffer& b, const KeepaliveAck& m) {
  MapWriter(b, 2).uint("n", m.n).boolean("resync_groups", m.resync_groups);
}
void EncodeBody(msgpack::sbuffer& b, const Goodbye& m) { MapWriter(b, 1).str("reason", m.reason); }
void EncodeBody(msgpack::sbuffer& b, const ErrorReply& m) {
  MapWriter(b, 3)
      .uint("code", static_cast<std::uint64_t>(m.code))
      .str("message", m.message)
      .str("in_reply_to", m.in_reply_to);
}
void EncodeBody(msgpack::sbuffer& b, const NodesQuery&) { MapWriter(b, 0); }
void EncodeBody(msgpack::sbuffer& b, const NodeList& m) {
  MapWriter w(b, 1);
  w.packer().pack("nodes");
  w.packer().pack_array(static_cast<std::uint32_t>(m.nodes.size()));
  for (const NodeInfo& n : m.nodes) {
    MapWriter(b, 5)
        .str("name", n.name)
        .str("type", n.type)
        .str("version", n.version)
        .str("address", n.address)
        .real("last_keepalive", n.last_keepalive);
  }
}

void EncodeBody(msgpack::sbuffer& b, const HealthQuery&) { MapWriter(b, 0); }
void EncodeBody(msgpack::sbuffer& b, const StatusQuery&) { MapWriter(b, 0); }
void EncodeBody(msgpack::sbuffer& b, const NodeStatus& m) {
  MapWriter(b, 8)
      .str("name", m.name)
      .str("type", m.type)
      .uint("groups_seq", m.groups_seq)
      .uint("files_seq", m.files_seq)
      .boolean("files_synced", m.files_synced)
      .uint("files_pending", m.files_pending)
      .uint("agents_stored", m.agents_stored)
      .uint("agents_pending", m.agents_pending);
}
void EncodeBody(msgpack::sbuffer& b, const Health& m) {
  MapWriter w(b, 6);
  w.str("master_store_error", m.master_store_error)
      .str("master_name", m.master_name)
      .str("master_version", m.master_version)
      .str("master_address", m.master_address);
  w.strings("lost", m.lost);
  w.key("workers").pack_array(static_cast<std::uint32_t>(m.workers.size()));
  for (const WorkerHealth& h : m.workers) {
    MapWriter(b, 22)
        .str("name", h.name)
        .real("last_keepalive", h.last_keepalive)
        .real("agent_sync_start", h.agent_sync_start)
        .real("agent_sync_end", h.agent_sync_end)
        .uint("agents_sent", h.agents_sent)
        .uint("agents_unknown", h.agents_unknown)
        .uint("agents_pending", h.agents_pending)
        .uint("groups_seq", h.groups_seq)
        .uint("master_groups_seq", h.master_groups_seq)
        .boolean("groups_digest_match", h.groups_digest_match)
        .uint("files_seq", h.files_seq)
        .uint("master_files_seq", h.master_files_seq)
        .boolean("files_digest_match", h.files_digest_match)
        .real("integrity_start", h.integrity_start)
        .real("integrity_end", h.integrity_end)
        .uint("files_created", h.files_created)
        .uint("files_updated", h.files_updated)
        .uint("files_deleted", h.files_deleted)
        .str("store_error", h.store_error)
        .str("version", h.version)
        .str("address", h.address)
        .uint("active_agents", h.active_agents);
  }
}

}  // namespace codec

namespace {

using codec::FieldReader;
using codec::MapWriter;
using codec::UnpackWhole;

Result<Message> Finish(const FieldReader& r, Message m) {
  if (!r.status().ok()) return r.status();
  return m;
}

Result<Message> DecodeBody(std::string_view type, const msgpack::object& body) {
  FieldReader r(body, type);
  if (type == Hello::kType) {
    Hello m;
    m.cluster = r.name("cluster");
    m.node = r.name("node");
    m.protocol = static_cast<std::uint32_t>(r.uint("protocol", UINT32_MAX));
    m.software = r.str("software");
    return Finish(r, m);
  }
  if (type == Welcome::kType) {
    Welcome m;
    m.cluster = r.name("cluster");
    m.master = r.name("master");
    m.protocol = static_cast<std::uint32_t>(r.uint("protocol", UINT32_MAX));
    m.software = r.str("software");
    // Added within protocol 1: optional, so an older master's welcome still reads.
    if (r.has("max_silence")) m.max_silence = r.real("max_silence");
    return Finish(r, m);
  }
  if (type == Keepalive::kType) {
    Keepalive m;
    m.n = r.uint("n");
    // Added within protocol 1: optional, so an older worker's keepalive still reads.
    if (r.has("groups_seq")) m.groups_seq = r.uint("groups_seq");
    if (r.has("groups_digest")) m.groups_digest = r.uint("groups_digest");
    if (r.has("files_seq")) m.files_seq = r.uint("files_seq");
    if (r.has("files_digest")) m.files_digest = r.uint("files_digest");
    if (r.has("integrity_start")) m.integrity_start = r.real("integrity_start");
    if (r.has("integrity_end")) m.integrity_end = r.real("integrity_end");
    if (r.has("files_created")) m.files_created = r.uint("files_created");
    if (r.has("files_updated")) m.files_updated = r.uint("files_updated");
    if (r.has("files_deleted")) m.files_deleted = r.uint("files_deleted");
    if (r.has("store_error")) m.store_error = r.str("store_error");
    if (r.has("agent_sync_start")) m.agent_sync_start = r.real("agent_sync_start");
    if (r.has("agent_sync_end")) m.agent_sync_end = r.real("agent_sync_end");
    if (r.has("agents_sent")) m.agents_sent = r.uint("agents_sent");
    return Finish(r, m);
  }
  if (type == Goodbye::kType) {
    Goodbye m;
    if (r.has("reason")) m.reason = r.str("reason");
    return Finish(r, m);
  }
  if (type == KeepaliveAck::kType) {
    KeepaliveAck m{r.uint("n"), false};
    if (r.has("resync_groups")) m.resync_groups = r.boolean("resync_groups");
    return Finish(r, m);
  }
  if (type == ErrorReply::kType) {
    ErrorReply m;
    std::uint64_t code = r.uint("code");
    m.message = r.str("message");
    m.in_reply_to = r.str("in_reply_to", kMaxNameLength);
    auto known = CodeFromNumber(code);
    // A newer peer may send a code we do not know: keep the reply, call it internal.
    m.code = known.value_or(Code::kInternal);
    return Finish(r, m);
  }
  if (auto agent = codec::DecodeAgentBody(type, r)) return std::move(*agent);
  if (auto group = codec::DecodeGroupBody(type, r)) return std::move(*group);
  if (auto file = codec::DecodeFileBody(type, r)) return std::move(*file);
  if (auto monitor = codec::DecodeMonitorBody(type, r)) return std::move(*monitor);
  if (type == NodesQuery::kType) return Finish(r, NodesQuery{});
  if (type == HealthQuery::kType) return Finish(r, HealthQuery{});
  if (type == StatusQuery::kType) return Finish(r, StatusQuery{});
  if (type == NodeStatus::kType) {
    NodeStatus m;
    m.name = r.name("name");
    m.type = r.str("type", kMaxNameLength);
    m.groups_seq = r.uint("groups_seq");
    m.files_seq = r.uint("files_seq");
    m.files_synced = r.boolean("files_synced");
    m.files_pending = r.uint("files_pending");
    m.agents_stored = r.uint("agents_stored");
    m.agents_pending = r.uint("agents_pending");
    return Finish(r, std::move(m));
  }
  if (type == Health::kType) {
    Health m;
    if (r.has("master_store_error")) m.master_store_error = r.str("master_store_error");
    if (r.has("master_name")) m.master_name = r.str("master_name");
    if (r.has("master_version")) m.master_version = r.str("master_version");
    if (r.has("master_address")) m.master_address = r.str("master_address");
    if (r.has("lost")) m.lost = r.strings("lost", kMaxNodes, kMaxNameLength);
    if (const msgpack::object* arr = r.array("workers", kMaxNodes)) {
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader w(arr->via.array.ptr[i], r, "workers", /*item=*/true);
        WorkerHealth h{w.name("name"),
                       w.real("last_keepalive"),
                       w.real("agent_sync_start"),
                       w.real("agent_sync_end"),
                       w.uint("agents_sent"),
                       w.uint("agents_unknown"),
                       w.uint("agents_pending"),
                       w.uint("groups_seq"),
                       w.uint("master_groups_seq"),
                       w.boolean("groups_digest_match"),
                       w.uint("files_seq"),
                       w.uint("master_files_seq"),
                       w.boolean("files_digest_match"),
                       w.real("integrity_start"),
                       w.real("integrity_end"),
                       w.uint("files_created"),
                       w.uint("files_updated"),
                       w.uint("files_deleted"),
                       w.has("store_error") ? w.str("store_error") : ""};
        if (w.has("version")) h.version = w.str("version");
        if (w.has("address")) h.address = w.str("address");
        if (w.has("active_agents")) h.active_agents = w.uint("active_agents");
        if (!w.status().ok()) return w.status();
        m.workers.push_back(std::move(h));
      }
    }
    return Finish(r, std::move(m));
  }
  if (type == NodeList::kType) {
    NodeList m;
    if (const msgpack::object* arr = r.array("nodes", kMaxNodes)) {
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader n(arr->via.array.ptr[i], r, "nodes", /*item=*/true);
        NodeInfo info;
        info.name = n.name("name");
        info.type = n.str("type", kMaxNameLength);
        info.version = n.str("version");
        info.address = n.str("address");
        info.last_keepalive = n.real("last_keepalive");
        if (!n.status().ok()) return n.status();
        m.nodes.push_back(std::move(info));
      }
    }
    return Finish(r, std::move(m));
  }
  return Status::InvalidArgument("unknown message type '" + std::string(type) + "'");
}

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string SoftwareVersion(std::string_view software) {
  auto space = software.rfind(' ');
  return std::string(space == std::string_view::npos ? software : software.substr(space + 1));
}

std::string_view TypeOf(const Message& message) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, message);
}

namespace {

template <typename T>
Frames EncodeAs(const T& message) {
  msgpack::sbuffer type;
  msgpack::pack(type, T::kType);
  msgpack::sbuffer body;
  codec::EncodeBody(body, message);
  return {std::string(type.data(), type.size()), std::string(body.data(), body.size())};
}

}  // namespace

Frames Encode(const Message& message) {
  return std::visit([](const auto& m) { return EncodeAs(m); }, message);
}
Frames Encode(const AgentReports& message) { return EncodeAs(message); }
Frames Encode(const AgentReportsAck& message) { return EncodeAs(message); }
Frames Encode(const AgentInfoBatch& message) { return EncodeAs(message); }
Frames Encode(const AgentInfoAck& message) { return EncodeAs(message); }
Frames Encode(const AgentList& message) { return EncodeAs(message); }

Result<Message> Decode(const Frames& frames) {
  if (frames.size() != 2) {
    return Status::InvalidArgument("a message has 2 frames (type, body), got " +
                                   std::to_string(frames.size()));
  }
  // msgpack-c throws on malformed input and on limits; nothing it throws leaves this function.
  try {
    msgpack::object_handle type_handle = UnpackWhole(frames[0], codec::LimitsFor(frames[0]));
    const msgpack::object& t = type_handle.get();
    if (t.type != msgpack::type::STR || t.via.str.size > kMaxNameLength) {
      return Status::InvalidArgument("frame 0 must be the message type as a msgpack str");
    }
    std::string type(t.via.str.ptr, t.via.str.size);
    msgpack::object_handle body = UnpackWhole(frames[1], codec::LimitsFor(frames[1]));
    return DecodeBody(type, body.get());
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed msgpack: ") + e.what());
  }
}

}  // namespace zcluster::schemas
