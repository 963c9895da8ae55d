#include "zcluster/schemas/agents.h"

#include "codec.h"
#include "zcluster/schemas/groups.h"

namespace zcluster::schemas {
namespace {

using codec::FieldReader;
using codec::MapWriter;

void PackOs(msgpack::sbuffer& b, const AgentOs& os) {
  MapWriter(b, 9)
      .str("name", os.name)
      .str("version", os.version)
      .str("major", os.major)
      .str("minor", os.minor)
      .str("codename", os.codename)
      .str("platform", os.platform)
      .str("build", os.build)
      .str("uname", os.uname)
      .str("arch", os.arch);
}

// `name` stands for the state's own (a master stores the registry's name, whatever was reported).
void PackState(msgpack::sbuffer& b, const AgentState& s, std::string_view name) {
  MapWriter w(b, 10);
  w.str("name", name).str("ip", s.ip);
  w.key("os");
  PackOs(b, s.os);
  w.str("version", s.version)
      .str("config_sum", s.config_sum)
      .str("merged_sum", s.merged_sum)
      .string_map("labels", s.labels)
      .str("status", AgentStatusName(s.status))
      .uint("last_keepalive", s.last_keepalive)
      .uint("disconnection_time", s.disconnection_time);
}

AgentStatus ReadStatus(FieldReader& r) {
  std::string name = r.str("status", 32);
  std::optional<AgentStatus> status = AgentStatusFromName(name);
  if (r.status().ok() && !status)
    r.Fail(r.Field("status") + " is not a known status: '" + name + "'");
  return status.value_or(AgentStatus::kActive);
}

// Reads the fields of a state map; errors stay in `r`.
AgentState ReadStateFields(FieldReader& r) {
  AgentState s;
  s.name = r.str("name", kMaxAgentNameLength);
  s.ip = r.str("ip", kMaxFieldLength);
  if (const msgpack::object* os = r.map("os")) {
    FieldReader o(*os, r, "os");
    s.os = {o.str("name", kMaxFieldLength),     o.str("version", kMaxFieldLength),
            o.str("major", kMaxFieldLength),    o.str("minor", kMaxFieldLength),
            o.str("codename", kMaxFieldLength), o.str("platform", kMaxFieldLength),
            o.str("build", kMaxFieldLength),    o.str("uname", kMaxFieldLength),
            o.str("arch", kMaxFieldLength)};
    if (!o.status().ok()) r.Fail(o.status().message());
  }
  s.version = r.str("version", kMaxFieldLength);
  s.config_sum = r.str("config_sum", kMaxFieldLength);
  s.merged_sum = r.str("merged_sum", kMaxFieldLength);
  s.labels = r.string_map("labels", kMaxLabels, kMaxFieldLength);
  s.status = ReadStatus(r);
  s.last_keepalive = r.uint("last_keepalive");
  s.disconnection_time = r.uint("disconnection_time");
  if (r.status().ok() && !s.name.empty() && !IsValidAgentName(s.name)) {
    r.Fail(r.Field("name") + " is not a valid agent name");
  }
  return s;
}

AgentState ReadState(FieldReader& parent, std::string_view key) {
  const msgpack::object* obj = parent.map(key);
  if (obj == nullptr) return {};
  FieldReader r(*obj, parent, key);
  AgentState s = ReadStateFields(r);
  if (!r.status().ok()) parent.Fail(r.status().message());
  return s;
}

std::string ReadId(FieldReader& r, std::string_view key = "id") {
  std::string id = r.str(key, kMaxAgentIdLength);
  if (r.status().ok() && !IsValidAgentId(id))
    r.Fail(r.Field(key) + " is not an agent id: '" + id + "'");
  return id;
}

void PackState(msgpack::sbuffer& b, const AgentState& s) { PackState(b, s, s.name); }

void PackRecord(msgpack::sbuffer& b, const AgentRecord& rec) {
  MapWriter w(b, 5);
  w.str("id", rec.id)
      .str("node", rec.node)
      .strings("groups", rec.groups)
      .uint("counter", rec.counter);
  w.key("state");
  PackState(b, rec.state);
}

// A record's encoding is a few hundred bytes: an sbuffer's default 8 KiB would be a large
// allocation for each one.
constexpr std::size_t kRecordBuffer = 512;

AgentRecord ReadRecord(FieldReader& r) {
  AgentRecord rec;
  rec.id = ReadId(r);
  rec.node = r.str("node", kMaxNameLength);
  if (r.has("groups")) rec.groups = r.strings("groups", kMaxGroups, kMaxGroupNameLength);
  if (r.has("counter")) rec.counter = r.uint("counter");
  rec.state = ReadState(r, "state");
  return rec;
}

template <typename T, typename Read>
Result<T> DecodeStandalone(std::string_view bytes, std::string_view what, Read read) {
  try {
    msgpack::object_handle h = codec::UnpackWhole(bytes, codec::LimitsFor(bytes));
    FieldReader r(h.get(), what);
    T value = read(r);
    if (!r.status().ok()) return r.status();
    return value;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string(what) + ": malformed msgpack: " + e.what());
  }
}

// Walks a stored record's msgpack and keeps the top map's "node" and "counter" and its "state"
// map's "status" and "last_keepalive", skipping everything else (the OS map, labels, groups)
// without building it.
class RecordSummaryVisitor : public msgpack::null_visitor {
 public:
  bool start_map(std::uint32_t) { return Open(true); }
  bool start_array(std::uint32_t) { return Open(false); }
  bool end_map() { return Close(); }
  bool end_array() { return Close(); }
  bool start_map_key() {
    in_key_ = true;
    if (depth_ < kTracked) key_[depth_] = {};
    return true;
  }
  bool end_map_key() {
    in_key_ = false;
    return true;
  }
  bool visit_str(const char* p, std::uint32_t n) {
    std::string_view s(p, n);
    if (in_key_) {
      if (depth_ < kTracked) key_[depth_] = s;
    } else if (At(1) && key_[1] == "node" && !has_node_) {
      summary_.node.assign(s);
      has_node_ = true;
    } else if (At(2) && key_[1] == "state" && key_[2] == "status" && !has_status_) {
      status_ = AgentStatusFromName(s);
      has_status_ = true;
    }
    return true;
  }
  bool visit_positive_integer(std::uint64_t v) {
    if (in_key_) return true;
    if (At(1) && key_[1] == "counter" && !has_counter_) {
      summary_.counter = v;
      has_counter_ = true;
    } else if (At(2) && key_[1] == "state" && key_[2] == "last_keepalive" && !has_keepalive_) {
      summary_.last_keepalive = v;
      has_keepalive_ = true;
    }
    return true;
  }

  Result<AgentRecordSummary> Finish() {
    if (!root_is_map_) return Status::InvalidArgument("not a map");
    if (!has_status_) return Status::InvalidArgument("no state.status");
    if (!status_) return Status::InvalidArgument("state.status is not a known status");
    summary_.status = *status_;
    return std::move(summary_);
  }

 private:
  // Depths 1 (the record's map) and 2 (a map inside it) are the ones read.
  static constexpr std::size_t kTracked = 3;
  bool Open(bool map) {
    if (depth_ == 0) root_is_map_ = map;
    ++depth_;
    if (depth_ < kTracked) is_map_[depth_] = map;
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }
  // Inside a value of the map at `depth`, itself (for depth 2) the value of a map at depth 1.
  bool At(std::size_t depth) const {
    if (depth_ != depth) return false;
    for (std::size_t d = 1; d <= depth; ++d) {
      if (!is_map_[d]) return false;
    }
    return true;
  }

  std::size_t depth_ = 0;
  bool in_key_ = false;
  bool root_is_map_ = false;
  std::array<std::string_view, kTracked> key_{};
  std::array<bool, kTracked> is_map_{};
  // The first of a repeated key counts, as it does for DecodeAgentRecord.
  bool has_node_ = false, has_counter_ = false, has_status_ = false, has_keepalive_ = false;
  std::optional<AgentStatus> status_;
  AgentRecordSummary summary_;
};

}  // namespace

bool IsValidAgentId(std::string_view id) {
  if (id.empty() || id.size() > kMaxAgentIdLength) return false;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<std::uint64_t> PackAgentId(std::string_view id) {
  if (!IsValidAgentId(id)) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : id) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  return static_cast<std::uint64_t>(id.size()) << 54 | value;
}

std::string UnpackAgentId(std::uint64_t packed) {
  std::string id = std::to_string(PackedAgentIdValue(packed));
  std::size_t length = static_cast<std::size_t>(packed >> 54);
  if (id.size() < length) id.insert(0, length - id.size(), '0');
  return id;
}

bool IsValidAgentName(std::string_view name) {
  if (name.empty() || name.size() > kMaxAgentNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string_view AgentStatusName(AgentStatus status) {
  switch (status) {
    case AgentStatus::kNeverConnected:
      return "never_connected";
    case AgentStatus::kPending:
      return "pending";
    case AgentStatus::kActive:
      return "active";
    case AgentStatus::kDisconnected:
      return "disconnected";
  }
  return "active";
}

std::optional<AgentStatus> AgentStatusFromName(std::string_view name) {
  for (AgentStatus s : {AgentStatus::kNeverConnected, AgentStatus::kPending, AgentStatus::kActive,
                        AgentStatus::kDisconnected}) {
    if (AgentStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::string EncodeAgentState(const AgentState& state) {
  msgpack::sbuffer b(kRecordBuffer);
  PackState(b, state);
  return {b.data(), b.size()};
}

Result<AgentState> DecodeAgentState(std::string_view bytes) {
  return DecodeStandalone<AgentState>(bytes, "agent_state", ReadStateFields);
}

std::string EncodeAgentRecord(const AgentRecord& record) {
  msgpack::sbuffer b(kRecordBuffer);
  PackRecord(b, record);
  return {b.data(), b.size()};
}

Result<AgentRecordSummary> SummarizeAgentRecord(std::string_view bytes) {
  RecordSummaryVisitor v;
  std::size_t offset = 0;
  try {
    if (!msgpack::parse(bytes.data(), bytes.size(), offset, v) || offset != bytes.size()) {
      return Status::InvalidArgument("malformed msgpack");
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed msgpack: ") + e.what());
  }
  return v.Finish();
}

std::string EncodeAgentRecord(std::string_view id, const AgentState& state, std::string_view name,
                              std::string_view node, std::uint64_t counter) {
  msgpack::sbuffer b(kRecordBuffer);
  MapWriter w(b, 5);
  w.str("id", id).str("node", node).strings("groups", {}).uint("counter", counter);
  w.key("state");
  PackState(b, state, name);
  return {b.data(), b.size()};
}

Result<AgentRecord> DecodeAgentRecord(std::string_view bytes) {
  return DecodeStandalone<AgentRecord>(bytes, "agent_record", ReadRecord);
}

namespace codec {

void EncodeBody(msgpack::sbuffer& b, const AgentReport& m) {
  MapWriter w(b, 4);
  w.str("id", m.id).uint("counter", m.counter);
  if (m.last_keepalive) {
    w.uint("last_keepalive", *m.last_keepalive);
  } else {
    w.bin("state", m.state);
  }
  w.bin("mac", m.mac);
}
void EncodeBody(msgpack::sbuffer& b, const AgentReportAck& m) {
  MapWriter(b, 3).str("id", m.id).uint("counter", m.counter).strings("groups", m.groups);
}
void EncodeBody(msgpack::sbuffer& b, const AgentReports& m) {
  MapWriter w(b, 1);
  w.key("reports").pack_array(static_cast<std::uint32_t>(m.reports.size()));
  for (const AgentReport& r : m.reports) EncodeBody(b, r);
}
void EncodeBody(msgpack::sbuffer& b, const AgentReportsAck& m) {
  MapWriter w(b, 2);
  w.key("acks").pack_array(static_cast<std::uint32_t>(m.acks.size()));
  for (const AgentReportAck& a : m.acks) EncodeBody(b, a);
  w.key("refused").pack_array(static_cast<std::uint32_t>(m.refused.size()));
  for (const RefusedReport& r : m.refused) {
    MapWriter(b, 4)
        .str("id", r.id)
        .uint("counter", r.counter)
        .uint("code", static_cast<std::uint64_t>(r.code))
        .str("message", r.message);
  }
}
void EncodeBody(msgpack::sbuffer& b, const AgentInfoBatch& m) {
  MapWriter w(b, 3);
  w.uint("batch", m.batch).uint("pending", m.pending);
  w.key("updates").pack_array(static_cast<std::uint32_t>(m.updates.size()));
  for (const AgentUpdate& u : m.updates) {
    if (u.full) {
      MapWriter u_w(b, 3);
      u_w.str("id", u.id).uint("counter", u.counter);
      u_w.key("state");
      PackState(b, u.state);
    } else {
      MapWriter(b, 4)
          .str("id", u.id)
          .uint("counter", u.counter)
          .uint("last_keepalive", u.state.last_keepalive)
          .str("status", AgentStatusName(u.state.status));
    }
  }
}
void EncodeBody(msgpack::sbuffer& b, const AgentInfoAck& m) {
  MapWriter(b, 3).uint("batch", m.batch).strings("unknown", m.unknown).strings("resend", m.resend);
}
void EncodeBody(msgpack::sbuffer& b, const AgentsQuery& m) {
  if (m.ids.empty()) {
    MapWriter(b, 0);  // the form every client sends for "all"
  } else {
    MapWriter(b, 1).strings("ids", m.ids);
  }
}
void EncodeBody(msgpack::sbuffer& b, const AgentList& m) {
  MapWriter w(b, 1);
  w.key("agents").pack_array(static_cast<std::uint32_t>(m.agents.size()));
  for (const AgentRecord& rec : m.agents) PackRecord(b, rec);
}
void EncodeBody(msgpack::sbuffer& b, const AgentAdd& m) {
  MapWriter(b, 3).str("name", m.name).str("ip", m.ip).strings("groups", m.groups);
}
void EncodeBody(msgpack::sbuffer& b, const AgentRemove& m) { MapWriter(b, 1).str("id", m.id); }
void EncodeBody(msgpack::sbuffer& b, const AgentEntry& m) {
  MapWriter(b, 4).str("id", m.id).str("name", m.name).str("ip", m.ip).str("key", m.key);
}

}  // namespace codec

struct AgentListWriter::Buffer {
  std::string body;         // grows a record at a time, and is moved out whole by Finish
  msgpack::sbuffer record;  // one record's encoding, reused
};

AgentListWriter::AgentListWriter(std::uint32_t count)
    : body_(std::make_unique<Buffer>()), count_(count) {
  MapWriter w(body_->record, 1);
  w.key("agents").pack_array(count);
  body_->body.assign(body_->record.data(), body_->record.size());
}
AgentListWriter::~AgentListWriter() = default;
AgentListWriter::AgentListWriter(AgentListWriter&&) noexcept = default;

void AgentListWriter::Add(const AgentRecord& record) {
  body_->record.clear();
  PackRecord(body_->record, record);
  body_->body.append(body_->record.data(), body_->record.size());
  ++added_;
}

std::vector<std::string> AgentListWriter::Finish() {
  msgpack::sbuffer type;
  msgpack::pack(type, AgentList::kType);
  std::vector<std::string> frames{std::string(type.data(), type.size()), std::move(body_->body)};
  body_->body.clear();
  return frames;
}

namespace codec {
namespace {

AgentReport ReadReport(FieldReader& r) {
  AgentReport m;
  m.id = ReadId(r);
  m.counter = r.uint("counter");
  // Either the state or, keepalive-only, the time: never both, so that no report is read two
  // ways.
  if (r.has("last_keepalive")) {
    if (r.has("state")) r.Fail(r.Name() + ": state or last_keepalive, not both");
    m.last_keepalive = r.uint("last_keepalive");
  } else {
    m.state = r.bin("state", 1 << 16);
  }
  m.mac = r.bin("mac", 64);
  return m;
}

AgentReportAck ReadReportAck(FieldReader& r) {
  AgentReportAck m;
  m.id = ReadId(r);
  m.counter = r.uint("counter");
  m.groups = r.strings("groups", kMaxGroups, kMaxNameLength);
  return m;
}

}  // namespace

std::optional<Result<Message>> DecodeAgentBody(std::string_view type, FieldReader& r) {
  auto finish = [&r](Message m) -> Result<Message> {
    if (!r.status().ok()) return r.status();
    return m;
  };
  if (type == AgentReport::kType) return finish(ReadReport(r));
  if (type == AgentReportAck::kType) return finish(ReadReportAck(r));
  if (type == AgentReports::kType) {
    AgentReports m;
    if (const msgpack::object* arr = r.array("reports", kMaxRelayedReports)) {
      m.reports.reserve(arr->via.array.size);
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader item(arr->via.array.ptr[i], r, "reports", /*item=*/true);
        m.reports.push_back(ReadReport(item));
        if (!item.status().ok()) return item.status();
      }
    }
    return finish(std::move(m));
  }
  if (type == AgentReportsAck::kType) {
    AgentReportsAck m;
    if (const msgpack::object* arr = r.array("acks", kMaxRelayedReports)) {
      m.acks.reserve(arr->via.array.size);
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader item(arr->via.array.ptr[i], r, "acks", /*item=*/true);
        m.acks.push_back(ReadReportAck(item));
        if (!item.status().ok()) return item.status();
      }
    }
    if (const msgpack::object* arr = r.array("refused", kMaxRelayedReports)) {
      m.refused.reserve(arr->via.array.size);
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader item(arr->via.array.ptr[i], r, "refused", /*item=*/true);
        RefusedReport refused;
        refused.id = ReadId(item);
        refused.counter = item.uint("counter");
        // A newer worker may send a code we do not know: keep the refusal, call it internal.
        refused.code = CodeFromNumber(item.uint("code")).value_or(Code::kInternal);
        refused.message = item.str("message");
        if (!item.status().ok()) return item.status();
        m.refused.push_back(std::move(refused));
      }
    }
    return finish(std::move(m));
  }
  if (type == AgentInfoBatch::kType) {
    AgentInfoBatch m;
    m.batch = r.uint("batch");
    m.pending = r.uint("pending");
    if (const msgpack::object* arr = r.array("updates", kMaxBatchUpdates)) {
      m.updates.reserve(arr->via.array.size);
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader u(arr->via.array.ptr[i], r, "updates", /*item=*/true);
        AgentUpdate up;
        up.id = ReadId(u);
        // Added within protocol 1: optional, so an older worker's batch still reads.
        if (u.has("counter")) up.counter = u.uint("counter");
        up.full = u.has("state");
        if (up.full) {
          up.state = ReadState(u, "state");
        } else {
          up.state.last_keepalive = u.uint("last_keepalive");
          up.state.status = ReadStatus(u);
        }
        if (!u.status().ok()) return u.status();
        m.updates.push_back(std::move(up));
      }
    }
    return finish(std::move(m));
  }
  if (type == AgentInfoAck::kType) {
    AgentInfoAck m;
    m.batch = r.uint("batch");
    m.unknown = r.strings("unknown", kMaxBatchUpdates, kMaxAgentIdLength);
    // Added within protocol 1: optional, so an older master's ack still reads.
    if (r.has("resend")) m.resend = r.strings("resend", kMaxBatchUpdates, kMaxAgentIdLength);
    return finish(std::move(m));
  }
  if (type == AgentsQuery::kType) {
    AgentsQuery m;
    if (r.has("ids")) m.ids = r.strings("ids", kMaxBatchUpdates, kMaxAgentIdLength);
    return finish(std::move(m));
  }
  if (type == AgentList::kType) {
    AgentList m;
    if (const msgpack::object* arr = r.array("agents", kMaxAgents)) {
      m.agents.reserve(arr->via.array.size);
      for (std::uint32_t i = 0; i < arr->via.array.size && r.status().ok(); ++i) {
        FieldReader a(arr->via.array.ptr[i], r, "agents", /*item=*/true);
        AgentRecord rec = ReadRecord(a);
        if (!a.status().ok()) return a.status();
        m.agents.push_back(std::move(rec));
      }
    }
    return finish(std::move(m));
  }
  if (type == AgentAdd::kType) {
    AgentAdd m;
    m.name = r.str("name", kMaxAgentNameLength);
    m.ip = r.str("ip", kMaxFieldLength);
    if (r.has("groups")) m.groups = r.strings("groups", kMaxGroups, kMaxGroupNameLength);
    if (r.status().ok() && !IsValidAgentName(m.name)) {
      r.Fail("agent_add.name is not a valid agent name: '" + m.name + "'");
    }
    return finish(std::move(m));
  }
  if (type == AgentRemove::kType) return finish(AgentRemove{ReadId(r)});
  if (type == AgentEntry::kType) {
    AgentEntry m;
    m.id = ReadId(r);
    m.name = r.str("name", kMaxAgentNameLength);
    m.ip = r.str("ip", kMaxFieldLength);
    m.key = r.str("key", kMaxFieldLength);
    return finish(std::move(m));
  }
  return std::nullopt;
}

}  // namespace codec
}  // namespace zcluster::schemas
