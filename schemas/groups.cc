#include "zcluster/schemas/groups.h"

#include "codec.h"

namespace zcluster::schemas {
namespace {

using codec::FieldReader;
using codec::MapWriter;

void PackGroupMap(msgpack::packer<msgpack::sbuffer>& pk, const GroupMap& groups) {
  pk.pack_map(static_cast<std::uint32_t>(groups.size()));
  for (const auto& [agent, list] : groups) {
    pk.pack(agent);
    pk.pack_array(static_cast<std::uint32_t>(list.size()));
    for (const std::string& g : list) pk.pack(g);
  }
}

void PackChanges(msgpack::sbuffer& b, msgpack::packer<msgpack::sbuffer>& pk,
                 const std::vector<GroupChange>& changes) {
  pk.pack_array(static_cast<std::uint32_t>(changes.size()));
  for (const GroupChange& c : changes) {
    MapWriter(b, 3).uint("seq", c.seq).str("agent", c.agent).strings("groups", c.groups);
  }
}

std::vector<std::string> ReadGroups(FieldReader& r, std::string_view key) {
  std::vector<std::string> groups = r.strings(key, kMaxGroups, kMaxGroupNameLength);
  for (const std::string& g : groups) {
    if (!IsValidGroupName(g)) {
      r.Fail(r.Field(key) + " has an invalid group name: '" + g + "'");
      return {};
    }
  }
  return groups;
}

std::vector<std::string> ReadAgentIds(FieldReader& r, std::string_view key, std::size_t max) {
  std::vector<std::string> ids = r.strings(key, max, kMaxAgentIdLength);
  for (const std::string& id : ids) {
    if (!IsValidAgentId(id)) {
      r.Fail(r.Field(key) + " has an invalid agent id: '" + id + "'");
      return {};
    }
  }
  return ids;
}

std::vector<GroupChange> ReadChanges(FieldReader& r, std::string_view key) {
  return codec::ReadStreamChanges<GroupChange>(r, key, kMaxStreamChanges, [](FieldReader& c) {
    GroupChange change;
    change.seq = c.uint("seq");
    change.agent = c.str("agent", kMaxAgentIdLength);
    change.groups = ReadGroups(c, "groups");
    if (c.status().ok() && !IsValidAgentId(change.agent)) c.Fail(c.Field("agent") + " is invalid");
    return change;
  });
}

GroupMap ReadGroupMap(FieldReader& r, std::string_view key) {
  GroupMap out;
  const msgpack::object* m = r.map(key);
  if (m == nullptr) return out;
  if (m->via.map.size > kMaxAgents) return r.Fail(r.Field(key) + " has too many agents"), out;
  for (std::uint32_t i = 0; i < m->via.map.size; ++i) {
    const auto& kv = m->via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.key.via.str.size > kMaxAgentIdLength) {
      return r.Fail(r.Field(key) + " keys must be agent ids"), GroupMap{};
    }
    std::string agent(kv.key.via.str.ptr, kv.key.via.str.size);
    std::vector<std::string> groups;
    bool ok = IsValidAgentId(agent) && kv.val.type == msgpack::type::ARRAY &&
              kv.val.via.array.size <= kMaxGroups;
    for (std::uint32_t j = 0; ok && j < kv.val.via.array.size; ++j) {
      const msgpack::object& g = kv.val.via.array.ptr[j];
      ok = g.type == msgpack::type::STR &&
           IsValidGroupName(std::string_view(g.via.str.ptr, g.via.str.size));
      if (ok) groups.emplace_back(g.via.str.ptr, g.via.str.size);
    }
    if (!ok) {
      r.Fail(r.Field(key) + " must map agent ids to arrays of group names (at '" + agent + "')");
      return {};
    }
    out.emplace(std::move(agent), std::move(groups));
  }
  return out;
}

}  // namespace

bool IsValidGroupName(std::string_view name) {
  if (name.empty() || name.size() > kMaxGroupNameLength || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

namespace codec {

void EncodeBody(msgpack::sbuffer& b, const GroupsDelta& m) {
  MapWriter w(b, 1);
  PackChanges(b, w.key("changes"), m.changes);
}
void EncodeBody(msgpack::sbuffer& b, const StreamHeartbeat& m) {
  MapWriter(b, 2).str("stream", m.stream).uint("seq", m.seq);
}
void EncodeBody(msgpack::sbuffer& b, const GroupsSyncRequest& m) {
  MapWriter(b, 1).uint("from", m.from);
}
void EncodeBody(msgpack::sbuffer& b, const GroupsSync& m) {
  MapWriter w(b, 3);
  w.uint("seq", m.seq).boolean("full", m.full);
  if (m.full) {
    PackGroupMap(w.key("groups"), m.groups);
  } else {
    PackChanges(b, w.key("changes"), m.changes);
  }
}
void EncodeBody(msgpack::sbuffer& b, const GroupAssign& m) {
  MapWriter(b, 3)
      .strings("agents", m.agents)
      .strings("groups", m.groups)
      .boolean("replace", m.replace);
}
void EncodeBody(msgpack::sbuffer& b, const GroupUnassign& m) {
  MapWriter(b, 2).strings("agents", m.agents).strings("groups", m.groups);
}
void EncodeBody(msgpack::sbuffer& b, const GroupsChanged& m) {
  MapWriter(b, 2).uint("seq", m.seq).uint("changed", m.changed);
}
void EncodeBody(msgpack::sbuffer& b, const GroupTableQuery&) { MapWriter(b, 0); }
void EncodeBody(msgpack::sbuffer& b, const GroupTable& m) {
  MapWriter w(b, 3);
  w.uint("seq", m.seq).strings("defined", m.defined);
  PackGroupMap(w.key("groups"), m.groups);
}

std::optional<Result<Message>> DecodeGroupBody(std::string_view type, FieldReader& r) {
  auto finish = [&r](Message m) -> Result<Message> {
    if (!r.status().ok()) return r.status();
    return m;
  };
  if (type == GroupsDelta::kType) return finish(GroupsDelta{ReadChanges(r, "changes")});
  if (type == StreamHeartbeat::kType) {
    StreamHeartbeat m;
    m.stream = r.str("stream", kMaxNameLength);
    m.seq = r.uint("seq");
    return finish(std::move(m));
  }
  if (type == GroupsSyncRequest::kType) return finish(GroupsSyncRequest{r.uint("from")});
  if (type == GroupsSync::kType) {
    GroupsSync m;
    m.seq = r.uint("seq");
    m.full = r.boolean("full");
    if (m.full) {
      m.groups = ReadGroupMap(r, "groups");
    } else {
      m.changes = ReadChanges(r, "changes");
    }
    return finish(std::move(m));
  }
  if (type == GroupAssign::kType) {
    GroupAssign m;
    m.agents = ReadAgentIds(r, "agents", kMaxAgents);
    m.groups = ReadGroups(r, "groups");
    m.replace = r.boolean("replace");
    return finish(std::move(m));
  }
  if (type == GroupUnassign::kType) {
    GroupUnassign m;
    m.agents = ReadAgentIds(r, "agents", kMaxAgents);
    m.groups = ReadGroups(r, "groups");
    return finish(std::move(m));
  }
  if (type == GroupsChanged::kType) {
    GroupsChanged m;
    m.seq = r.uint("seq");
    m.changed = r.uint("changed");
    return finish(std::move(m));
  }
  if (type == GroupTableQuery::kType) return finish(GroupTableQuery{});
  if (type == GroupTable::kType) {
    GroupTable m;
    m.seq = r.uint("seq");
    m.defined = r.strings("defined", 100000, kMaxGroupNameLength);
    m.groups = ReadGroupMap(r, "groups");
    return finish(std::move(m));
  }
  return std::nullopt;
}

}  // namespace codec
}  // namespace zcluster::schemas
