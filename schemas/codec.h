// The msgpack helpers every schemas/*.cc encoder and decoder shares. Private to schemas/.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zcluster/schemas/messages.h"

namespace zcluster::schemas::codec {

// Writes a msgpack map with str keys, one field at a time.
class MapWriter {
 public:
  MapWriter(msgpack::sbuffer& buf, std::uint32_t fields) : pk_(buf) { pk_.pack_map(fields); }
  MapWriter& str(std::string_view key, std::string_view value) {
    pk_.pack(key);
    pk_.pack(value);
    return *this;
  }
  MapWriter& uint(std::string_view key, std::uint64_t value) {
    pk_.pack(key);
    pk_.pack(value);
    return *this;
  }
  MapWriter& real(std::string_view key, double value) {
    pk_.pack(key);
    pk_.pack(value);
    return *this;
  }
  MapWriter& bin(std::string_view key, std::string_view value) {
    pk_.pack(key);
    pk_.pack_bin(static_cast<std::uint32_t>(value.size()));
    pk_.pack_bin_body(value.data(), static_cast<std::uint32_t>(value.size()));
    return *this;
  }
  MapWriter& boolean(std::string_view key, bool value) {
    pk_.pack(key);
    pk_.pack(value);
    return *this;
  }
  MapWriter& strings(std::string_view key, const std::vector<std::string>& values) {
    pk_.pack(key);
    pk_.pack_array(static_cast<std::uint32_t>(values.size()));
    for (const std::string& v : values) pk_.pack(v);
    return *this;
  }
  MapWriter& string_map(std::string_view key, const std::map<std::string, std::string>& values) {
    pk_.pack(key);
    pk_.pack_map(static_cast<std::uint32_t>(values.size()));
    for (const auto& [k, v] : values) {
      pk_.pack(k);
      pk_.pack(v);
    }
    return *this;
  }
  // Starts a nested value under `key`; the caller packs it next.
  msgpack::packer<msgpack::sbuffer>& key(std::string_view key) {
    pk_.pack(key);
    return pk_;
  }
  msgpack::packer<msgpack::sbuffer>& packer() { return pk_; }

 private:
  msgpack::packer<msgpack::sbuffer> pk_;
};

// Reads fields of a msgpack map, keeping the first error so that decoders read straight through.
// Nothing is allocated to read a map: a field is found by a walk over its few keys (the first of
// a repeated key wins), and a reader's dotted name is built only for an error message.
class FieldReader {
 public:
  // A message's body; `type` names it in errors and must outlive the reader.
  FieldReader(const msgpack::object& obj, std::string_view type) : type_(type) { Open(obj); }
  // The map under `parent`'s field `key`, or (`item`) one item of its array `key`. The parent
  // must outlive the reader.
  FieldReader(const msgpack::object& obj, const FieldReader& parent, std::string_view key,
              bool item = false)
      : type_(key), parent_(&parent), item_(item) {
    Open(obj);
  }
  FieldReader(const FieldReader&) = delete;
  FieldReader& operator=(const FieldReader&) = delete;

  std::string str(std::string_view key, std::size_t max_len = kMaxTextLength) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return {};
    if (v->type != msgpack::type::STR) return Fail(Field(key) + " must be a string"), "";
    if (v->via.str.size > max_len) {
      return Fail(Field(key) + " longer than " + std::to_string(max_len) + " bytes"), "";
    }
    return std::string(v->via.str.ptr, v->via.str.size);
  }
  std::string name(std::string_view key) {
    std::string s = str(key, kMaxNameLength);
    if (status_.ok() && !IsValidName(s)) Fail(Field(key) + " is not a valid name: '" + s + "'");
    return s;
  }
  std::uint64_t uint(std::string_view key, std::uint64_t max = UINT64_MAX) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return 0;
    if (v->type != msgpack::type::POSITIVE_INTEGER) {
      return Fail(Field(key) + " must be a non-negative integer"), 0;
    }
    if (v->via.u64 > max) return Fail(Field(key) + " out of range"), 0;
    return v->via.u64;
  }
  double real(std::string_view key) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return 0;
    switch (v->type) {
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        return v->via.f64;
      case msgpack::type::POSITIVE_INTEGER:
        return static_cast<double>(v->via.u64);
      // msgpack-c packs a double with an integral value as an integer, a negative one too: what
      // MapWriter::real wrote must read back.
      case msgpack::type::NEGATIVE_INTEGER:
        return static_cast<double>(v->via.i64);
      default:
        return Fail(Field(key) + " must be a number"), 0;
    }
  }
  std::string bin(std::string_view key, std::size_t max_len) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return {};
    if (v->type != msgpack::type::BIN) return Fail(Field(key) + " must be bin"), "";
    if (v->via.bin.size > max_len) {
      return Fail(Field(key) + " longer than " + std::to_string(max_len) + " bytes"), "";
    }
    return std::string(v->via.bin.ptr, v->via.bin.size);
  }
  bool boolean(std::string_view key) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return false;
    if (v->type != msgpack::type::BOOLEAN) return Fail(Field(key) + " must be a boolean"), false;
    return v->via.boolean;
  }
  std::vector<std::string> strings(std::string_view key, std::size_t max_items,
                                   std::size_t max_len) {
    std::vector<std::string> out;
    const msgpack::object* arr = array(key, max_items);
    if (arr == nullptr) return out;
    for (std::uint32_t i = 0; i < arr->via.array.size; ++i) {
      const msgpack::object& o = arr->via.array.ptr[i];
      if (o.type != msgpack::type::STR || o.via.str.size > max_len) {
        Fail(Field(key) + " must hold strings of at most " + std::to_string(max_len) + " bytes");
        return {};
      }
      out.emplace_back(o.via.str.ptr, o.via.str.size);
    }
    return out;
  }
  std::map<std::string, std::string> string_map(std::string_view key, std::size_t max_items,
                                                std::size_t max_len) {
    std::map<std::string, std::string> out;
    const msgpack::object* m = map(key);
    if (m == nullptr) return out;
    if (m->via.map.size > max_items) return Fail(Field(key) + " has too many entries"), out;
    for (std::uint32_t i = 0; i < m->via.map.size; ++i) {
      const auto& kv = m->via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::STR ||
          kv.key.via.str.size > max_len || kv.val.via.str.size > max_len) {
        Fail(Field(key) + " must map strings to strings of at most " + std::to_string(max_len) +
             " bytes");
        return {};
      }
      out.emplace(std::string(kv.key.via.str.ptr, kv.key.via.str.size),
                  std::string(kv.val.via.str.ptr, kv.val.via.str.size));
    }
    return out;
  }
  // A nested map, for a FieldReader of its own.
  const msgpack::object* map(std::string_view key) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return nullptr;
    if (v->type != msgpack::type::MAP) return Fail(Field(key) + " must be a map"), nullptr;
    return v;
  }
  bool has(std::string_view key) const { return Lookup(key) != nullptr; }
  // The dotted name of a field, for error messages: "agent_report.state".
  std::string Field(std::string_view key) const { return Name() + "." + std::string(key); }
  // This reader's own dotted name: "agent_info.updates[]".
  std::string Name() const {
    if (parent_ == nullptr) return std::string(type_);
    return parent_->Field(type_) + (item_ ? "[]" : "");
  }
  const msgpack::object* array(std::string_view key, std::size_t max_items) {
    const msgpack::object* v = Find(key);
    if (v == nullptr) return nullptr;
    if (v->type != msgpack::type::ARRAY) return Fail(Field(key) + " must be an array"), nullptr;
    if (v->via.array.size > max_items) return Fail(Field(key) + " has too many items"), nullptr;
    return v;
  }
  void Fail(std::string message) {
    if (status_.ok()) status_ = Status::InvalidArgument(std::move(message));
  }
  const Status& status() const { return status_; }

 private:
  void Open(const msgpack::object& obj) {
    if (obj.type != msgpack::type::MAP) {
      Fail(Name() + ": body must be a map");
      return;
    }
    for (std::uint32_t i = 0; i < obj.via.map.size; ++i) {
      if (obj.via.map.ptr[i].key.type != msgpack::type::STR) {
        Fail(Name() + ": map keys must be strings");
        return;
      }
    }
    fields_ = obj.via.map.ptr;
    size_ = obj.via.map.size;
  }
  const msgpack::object* Lookup(std::string_view key) const {
    for (std::uint32_t i = 0; i < size_; ++i) {
      const msgpack::object& k = fields_[i].key;
      if (std::string_view(k.via.str.ptr, k.via.str.size) == key) return &fields_[i].val;
    }
    return nullptr;
  }
  const msgpack::object* Find(std::string_view key) {
    if (!status_.ok()) return nullptr;
    const msgpack::object* v = Lookup(key);
    if (v == nullptr) Fail(Field(key) + " is missing");
    return v;
  }

  std::string_view type_;  // the body's name, or the key under parent_
  const FieldReader* parent_ = nullptr;
  bool item_ = false;
  const msgpack::object_kv* fields_ = nullptr;
  std::uint32_t size_ = 0;
  Status status_;
};

// Unpacks one object that must fill the frame: trailing bytes are as malformed as missing ones.
// msgpack-c allocates a map's or array's slots from the count in its header, before reading them:
// a 5-byte header could claim a million entries. Every array element takes at least one byte and
// every map entry two, so counts beyond that are impossible in an honest frame and refused before
// any allocation. Strings and bins are bounded by the frame itself.
inline msgpack::unpack_limit LimitsFor(std::string_view frame) {
  return msgpack::unpack_limit(/*array=*/frame.size(), /*map=*/frame.size() / 2,
                               /*str=*/frame.size(), /*bin=*/frame.size(), /*ext=*/0,
                               /*depth=*/16);
}

//
// Those limits still let a frame of one-byte objects (nils, empty arrays) cost the decoder 24 bytes
// of msgpack::object for each byte it carries. Every object of zcluster's messages takes two
// bytes or more, counted over the frame: a map entry is a string key of at least two bytes and a
// value, and the only arrays hold strings or maps. So a frame that declares more than half its
// size in objects is refused, by a walk over its headers that allocates nothing.
inline std::uint64_t ObjectBudget(std::size_t frame_bytes) { return frame_bytes / 2 + 16; }
void CheckObjectBudget(std::string_view frame);  // throws std::runtime_error

// Strings and bins in the object point into `frame`, which must outlive it: decoders copy what
// they keep, so the zone holds only the objects.
inline msgpack::object_handle UnpackWhole(std::string_view frame,
                                          const msgpack::unpack_limit& limits) {
  CheckObjectBudget(frame);
  std::size_t offset = 0;
  auto in_place = [](msgpack::type::object_type, std::size_t, void*) { return true; };
  msgpack::object_handle h =
      msgpack::unpack(frame.data(), frame.size(), offset, in_place, nullptr, limits);
  if (offset != frame.size()) throw std::runtime_error("trailing bytes after the msgpack object");
  return h;
}

// Session and control messages (messages.cc).
void EncodeBody(msgpack::sbuffer& b, const Hello& m);
void EncodeBody(msgpack::sbuffer& b, const Welcome& m);
void EncodeBody(msgpack::sbuffer& b, const Keepalive& m);
void EncodeBody(msgpack::sbuffer& b, const KeepaliveAck& m);
void EncodeBody(msgpack::sbuffer& b, const Goodbye& m);
void EncodeBody(msgpack::sbuffer& b, const ErrorReply& m);
void EncodeBody(msgpack::sbuffer& b, const NodesQuery& m);
void EncodeBody(msgpack::sbuffer& b, const NodeList& m);
void EncodeBody(msgpack::sbuffer& b, const HealthQuery& m);
void EncodeBody(msgpack::sbuffer& b, const Health& m);
// Agent messages (agents.cc).
void EncodeBody(msgpack::sbuffer& b, const AgentReport& m);
void EncodeBody(msgpack::sbuffer& b, const AgentReportAck& m);
void EncodeBody(msgpack::sbuffer& b, const AgentReports& m);
void EncodeBody(msgpack::sbuffer& b, const AgentReportsAck& m);
void EncodeBody(msgpack::sbuffer& b, const AgentInfoBatch& m);
void EncodeBody(msgpack::sbuffer& b, const AgentInfoAck& m);
void EncodeBody(msgpack::sbuffer& b, const AgentsQuery& m);
void EncodeBody(msgpack::sbuffer& b, const AgentList& m);
void EncodeBody(msgpack::sbuffer& b, const AgentAdd& m);
void EncodeBody(msgpack::sbuffer& b, const AgentRemove& m);
void EncodeBody(msgpack::sbuffer& b, const AgentEntry& m);
// Group messages (groups.cc).
void EncodeBody(msgpack::sbuffer& b, const GroupsDelta& m);
void EncodeBody(msgpack::sbuffer& b, const StreamHeartbeat& m);
void EncodeBody(msgpack::sbuffer& b, const GroupsSyncRequest& m);
void EncodeBody(msgpack::sbuffer& b, const GroupsSync& m);
void EncodeBody(msgpack::sbuffer& b, const GroupAssign& m);
void EncodeBody(msgpack::sbuffer& b, const GroupUnassign& m);
void EncodeBody(msgpack::sbuffer& b, const GroupsChanged& m);
void EncodeBody(msgpack::sbuffer& b, const GroupTableQuery& m);
void EncodeBody(msgpack::sbuffer& b, const GroupTable& m);
std::optional<Result<Message>> DecodeGroupBody(std::string_view type, FieldReader& r);

// Monitor messages (monitor.cc).
void EncodeBody(msgpack::sbuffer& b, const NodeStats& m);
void EncodeBody(msgpack::sbuffer& b, const MonitorQuery& m);
void EncodeBody(msgpack::sbuffer& b, const ClusterStats& m);
std::optional<Result<Message>> DecodeMonitorBody(std::string_view type, FieldReader& r);
// File messages (files.cc).
void EncodeBody(msgpack::sbuffer& b, const FilesDelta& m);
void EncodeBody(msgpack::sbuffer& b, const FilesSyncRequest& m);
void EncodeBody(msgpack::sbuffer& b, const FilesSync& m);
void EncodeBody(msgpack::sbuffer& b, const FileFetch& m);
void EncodeBody(msgpack::sbuffer& b, const FileData& m);
void EncodeBody(msgpack::sbuffer& b, const FileTableQuery& m);
void EncodeBody(msgpack::sbuffer& b, const FileTable& m);
std::optional<Result<Message>> DecodeFileBody(std::string_view type, FieldReader& r);
// The decoded message when `type` is an agent message, nullopt when it is not one.
std::optional<Result<Message>> DecodeAgentBody(std::string_view type, FieldReader& r);

// An array field of at most `max` items, each read by `read(FieldReader&)`; empty (and `r`
// failed) at the first bad item.
template <typename T, typename Read>
std::vector<T> ReadList(FieldReader& r, std::string_view key, std::size_t max, Read read) {
  std::vector<T> out;
  const msgpack::object* arr = r.array(key, max);
  if (arr == nullptr) return out;
  out.reserve(arr->via.array.size);
  for (std::uint32_t i = 0; i < arr->via.array.size; ++i) {
    FieldReader item(arr->via.array.ptr[i], r, key, /*item=*/true);
    T value = read(item);
    if (!item.status().ok()) {
      r.Fail(item.status().message());
      return {};
    }
    out.push_back(std::move(value));
  }
  return out;
}

// A stream's changes: a list whose items carry `seq`, and the stream's rule that their sequence
// numbers are consecutive, oldest first.
template <typename Change, typename Read>
std::vector<Change> ReadStreamChanges(FieldReader& r, std::string_view key, std::size_t max,
                                      Read read) {
  std::vector<Change> changes = ReadList<Change>(r, key, max, read);
  for (std::size_t i = 1; i < changes.size(); ++i) {
    if (changes[i].seq != changes[i - 1].seq + 1) {
      r.Fail(r.Field(key) + " sequence numbers must be consecutive");
      return {};
    }
  }
  return changes;
}

}  // namespace zcluster::schemas::codec
