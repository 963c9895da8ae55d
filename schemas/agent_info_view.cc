#include "zcluster/schemas/agent_info_view.h"

#include <array>
#include <string>

#include "codec.h"

namespace zcluster::schemas {
namespace {

// Decode's nesting limit (codec::LimitsFor): containers at most this deep in a frame.
constexpr std::uint32_t kMaxDepth = 16;

// Skips one value of any type, as msgpack-c's parser walks it, refusing what Decode's limits
// refuse (nesting beyond kMaxDepth, ext types). Builds nothing.
class SkipVisitor : public msgpack::null_visitor {
 public:
  explicit SkipVisitor(std::uint32_t depth) : depth_(depth) {}
  bool start_array(std::uint32_t) { return ++depth_ <= kMaxDepth; }
  bool end_array() { return Up(); }
  bool start_map(std::uint32_t) { return ++depth_ <= kMaxDepth; }
  bool end_map() { return Up(); }
  bool visit_ext(const char*, std::uint32_t) { return false; }

 private:
  bool Up() {
    --depth_;
    return true;
  }
  std::uint32_t depth_;
};

// The msgpack heads the reader needs, read in place. Every read checks the bytes it takes and
// leaves the cursor where it was when the value is not of the asked type.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}

  std::size_t offset() const { return off_; }
  bool at_end() const { return off_ == bytes_.size(); }

  bool Map(std::uint32_t& n) { return Head(0x80, 0xde, n); }
  bool Array(std::uint32_t& n) { return Head(0x90, 0xdc, n); }

  bool Str(std::string_view& s) {
    if (off_ >= bytes_.size()) return false;
    std::uint8_t tag = Byte(off_);
    std::size_t head = 0, n = 0;
    if ((tag & 0xe0) == 0xa0) {
      head = 1;
      n = tag & 0x1f;
    } else if (tag >= 0xd9 && tag <= 0xdb) {
      head = 1 + (std::size_t{1} << (tag - 0xd9));
      if (!BigEndian(off_ + 1, head - 1, n)) return false;
    } else {
      return false;
    }
    if (bytes_.size() - off_ - head < n) return false;
    s = bytes_.substr(off_ + head, n);
    off_ += head + n;
    return true;
  }

  // A non-negative integer, in any of the forms msgpack-c reads as one (uints, and ints that
  // hold a value of zero or more).
  bool Uint(std::uint64_t& v) {
    if (off_ >= bytes_.size()) return false;
    std::uint8_t tag = Byte(off_);
    if (tag <= 0x7f) {
      v = tag;
      ++off_;
      return true;
    }
    std::size_t width = 0;
    bool is_signed = false;
    if (tag >= 0xcc && tag <= 0xcf) {
      width = std::size_t{1} << (tag - 0xcc);
    } else if (tag >= 0xd0 && tag <= 0xd3) {
      width = std::size_t{1} << (tag - 0xd0);
      is_signed = true;
    } else {
      return false;
    }
    std::size_t value = 0;
    if (!BigEndian(off_ + 1, width, value)) return false;
    if (is_signed && (value >> (width * 8 - 1)) != 0) return false;  // negative
    v = value;
    off_ += 1 + width;
    return true;
  }

  // One value of any type, at `depth` containers down. False for malformed msgpack.
  bool Skip(std::uint32_t depth) {
    SkipVisitor v(depth);
    std::size_t off = off_;
    try {
      if (!msgpack::parse(bytes_.data(), bytes_.size(), off, v)) return false;
    } catch (const std::exception&) {
      return false;
    }
    off_ = off;
    return true;
  }

  void Seek(std::size_t offset) { off_ = offset; }
  std::size_t remaining() const { return bytes_.size() - off_; }
  std::string_view Since(std::size_t begin) const { return bytes_.substr(begin, off_ - begin); }

 private:
  std::uint8_t Byte(std::size_t at) const { return static_cast<std::uint8_t>(bytes_[at]); }

  bool BigEndian(std::size_t at, std::size_t width, std::size_t& out) const {
    if (bytes_.size() < at || bytes_.size() - at < width) return false;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = v << 8 | Byte(at + i);
    out = static_cast<std::size_t>(v);
    return true;
  }

  // A map or array head: the fix form (`fix` | n, n < 16), or the 16- and 32-bit forms.
  bool Head(std::uint8_t fix, std::uint8_t wide, std::uint32_t& n) {
    if (off_ >= bytes_.size()) return false;
    std::uint8_t tag = Byte(off_);
    if ((tag & 0xf0) == fix) {
      n = tag & 0x0f;
      ++off_;
      return true;
    }
    if (tag != wide && tag != wide + 1) return false;
    std::size_t width = tag == wide ? 2 : 4, value = 0;
    if (!BigEndian(off_ + 1, width, value)) return false;
    n = static_cast<std::uint32_t>(value);
    off_ += 1 + width;
    return true;
  }

  std::string_view bytes_;
  std::size_t off_ = 0;
};

// The fields of a state, and of its os map, as EncodeAgentState writes them.
enum StateField {
  kName,
  kIp,
  kOs,
  kVersion,
  kConfigSum,
  kMergedSum,
  kLabels,
  kStatus,
  kKeepalive,
  kDisconnection
};
constexpr std::array<std::string_view, 10> kStateKeys = {
    "name",       "ip",     "os",     "version",        "config_sum",
    "merged_sum", "labels", "status", "last_keepalive", "disconnection_time"};
static_assert(kStateKeys.size() == kDisconnection + 1, "a name for every field");
constexpr std::array<std::string_view, 9> kOsKeys = {
    "name", "version", "major", "minor", "codename", "platform", "build", "uname", "arch"};

// The next key of a map that must hold each of `keys` once: its index, or -1 for a key that is
// not a string, not one of them, or one already `seen` (a bit per key).
template <std::size_t N>
int NextKnownKey(Cursor& c, const std::array<std::string_view, N>& keys, unsigned& seen) {
  std::string_view key;
  if (!c.Str(key)) return -1;
  for (std::size_t i = 0; i < N; ++i) {
    if (keys[i] != key) continue;
    if (seen & (1u << i)) return -1;
    seen |= 1u << i;
    return static_cast<int>(i);
  }
  return -1;
}

bool ShortStr(Cursor& c, std::size_t max, std::string_view* out = nullptr) {
  std::string_view s;
  if (!c.Str(s) || s.size() > max) return false;
  if (out != nullptr) *out = s;
  return true;
}

// Reads a state whose map holds exactly EncodeAgentState's fields, each once and valid: the
// bytes a record may carry unchanged. False (the cursor anywhere) for anything else, which the
// caller then decodes in full.
bool ReadStateAsIs(Cursor& c, AgentUpdateView& u) {
  std::uint32_t n = 0;
  if (!c.Map(n) || n != kStateKeys.size()) return false;
  unsigned seen = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    switch (NextKnownKey(c, kStateKeys, seen)) {
      case -1:
        return false;
      case kName:
        if (!ShortStr(c, kMaxAgentNameLength, &u.name)) return false;
        if (!u.name.empty() && !IsValidAgentName(u.name)) return false;
        break;
      case kOs: {
        std::uint32_t fields = 0;
        if (!c.Map(fields) || fields != kOsKeys.size()) return false;
        unsigned os_seen = 0;
        for (std::uint32_t f = 0; f < fields; ++f) {
          if (NextKnownKey(c, kOsKeys, os_seen) < 0 || !ShortStr(c, kMaxFieldLength)) return false;
        }
        break;
      }
      case kLabels: {
        std::uint32_t labels = 0;
        if (!c.Map(labels) || labels > kMaxLabels) return false;
        for (std::uint32_t l = 0; l < 2 * labels; ++l) {
          if (!ShortStr(c, kMaxFieldLength)) return false;
        }
        break;
      }
      case kStatus: {
        std::string_view status;
        if (!ShortStr(c, 32, &status)) return false;
        std::optional<AgentStatus> s = AgentStatusFromName(status);
        if (!s) return false;
        u.status = *s;
        break;
      }
      case kKeepalive:
        if (!c.Uint(u.last_keepalive)) return false;
        break;
      case kDisconnection:
        if (!c.Uint(u.disconnection_time)) return false;
        break;
      default:  // ip, version, config_sum, merged_sum
        if (!ShortStr(c, kMaxFieldLength)) return false;
        break;
    }
  }
  return true;
}

Status Invalid(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + " " + std::string(what));
}

// The body and each of its updates, as errors name them.
constexpr std::string_view kBody = "agent_info";
constexpr std::string_view kUpdate = "agent_info.updates[]";

// A field of a map, named for errors as "agent_info.updates[].id".
Status InvalidField(std::string_view map, std::string_view field, std::string_view what) {
  return Invalid(std::string(map) + "." + std::string(field), what);
}

// A map value that must be a non-negative integer, taken at its key's first entry only (`seen`
// says whether that was); a repeated key is left to be skipped, as Decode keeps the first.
Result<bool> TakeUint(Cursor& c, std::string_view map, std::string_view field, std::uint64_t& out,
                      bool& seen) {
  if (seen) return false;
  if (!c.Uint(out)) return InvalidField(map, field, "must be a non-negative integer");
  seen = true;
  return true;
}

// Reads a map's entries: `take(key)` reads the value of a key it takes and says so, or returns
// false and the value is skipped. Every key must be a string, as Decode asks of every map; a
// key's first entry is the one that counts, so `take` refuses a key it has taken already.
// `depth`: how many containers down the map's values sit.
template <typename Take>
Status ReadFields(Cursor& c, std::string_view name, std::uint32_t depth, Take take) {
  std::uint32_t n = 0;
  if (!c.Map(n)) return Status::InvalidArgument(std::string(name) + ": body must be a map");
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!c.Str(key)) {
      return Status::InvalidArgument(std::string(name) + ": map keys must be strings");
    }
    Result<bool> taken = take(key);
    if (!taken.ok()) return taken.status();
    if (!*taken && !c.Skip(depth)) {
      return Status::InvalidArgument("malformed msgpack in " + std::string(name));
    }
  }
  return Status::Ok();
}

// A full update's state at the cursor: as-is when it can be, else decoded in full for its
// fields (and its errors).
Status ReadState(Cursor& c, AgentUpdateView& u) {
  const std::size_t begin = c.offset();
  if (ReadStateAsIs(c, u)) {
    u.state = c.Since(begin);
    u.state_as_is = true;
    return Status::Ok();
  }
  c.Seek(begin);
  std::uint32_t fields = 0;
  if (!c.Map(fields)) return InvalidField(kUpdate, "state", "must be a map");
  c.Seek(begin);
  if (!c.Skip(3)) return Status::InvalidArgument("malformed msgpack in " + std::string(kUpdate));
  u.state = c.Since(begin);
  u.state_as_is = false;
  u.name = {};
  Result<AgentState> state = DecodeAgentState(u.state);
  if (!state.ok()) {
    return Status::InvalidArgument(std::string(kUpdate) + ".state: " + state.status().message());
  }
  u.status = state->status;
  u.last_keepalive = state->last_keepalive;
  u.disconnection_time = state->disconnection_time;
  return Status::Ok();
}

Result<AgentUpdateView> ReadUpdate(Cursor& c) {
  AgentUpdateView u;
  u.full = false;
  bool has_id = false, has_counter = false;
  // A keepalive-only update's two fields, read once the map shows there is no state.
  std::size_t keepalive_at = 0, status_at = 0;
  Status read = ReadFields(c, kUpdate, 3, [&](std::string_view key) -> Result<bool> {
    if (key == "id" && !has_id) {
      if (!c.Str(u.id)) return InvalidField(kUpdate, "id", "must be a string");
      if (u.id.size() > kMaxAgentIdLength) {
        return InvalidField(kUpdate, "id",
                            "longer than " + std::to_string(kMaxAgentIdLength) + " bytes");
      }
      has_id = true;
      return true;
    }
    if (key == "counter") return TakeUint(c, kUpdate, "counter", u.counter, has_counter);
    if (key == "state" && !u.full) {
      u.full = true;
      ZC_RETURN_IF_ERROR(ReadState(c, u));
      return true;
    }
    if (key == "last_keepalive" && keepalive_at == 0) keepalive_at = c.offset();
    if (key == "status" && status_at == 0) status_at = c.offset();
    return false;
  });
  ZC_RETURN_IF_ERROR(read);
  if (!has_id) return InvalidField(kUpdate, "id", "is missing");
  if (!IsValidAgentId(u.id)) {
    return InvalidField(kUpdate, "id", "is not an agent id: '" + std::string(u.id) + "'");
  }
  if (u.full) return u;
  const std::size_t end = c.offset();
  if (keepalive_at == 0) return InvalidField(kUpdate, "last_keepalive", "is missing");
  c.Seek(keepalive_at);
  if (!c.Uint(u.last_keepalive)) {
    return InvalidField(kUpdate, "last_keepalive", "must be a non-negative integer");
  }
  if (status_at == 0) return InvalidField(kUpdate, "status", "is missing");
  c.Seek(status_at);
  std::string_view status;
  if (!c.Str(status)) return InvalidField(kUpdate, "status", "must be a string");
  if (status.size() > 32) return InvalidField(kUpdate, "status", "longer than 32 bytes");
  std::optional<AgentStatus> s = AgentStatusFromName(status);
  if (!s) {
    return InvalidField(kUpdate, "status", "is not a known status: '" + std::string(status) + "'");
  }
  u.status = *s;
  c.Seek(end);
  return u;
}

}  // namespace

bool IsAgentInfoType(std::string_view type_frame) {
  static const std::string kTypeFrame = Encode(AgentInfoBatch{})[0];
  return type_frame == kTypeFrame;
}

Result<AgentInfoView> ReadAgentInfo(std::string_view body) {
  Cursor c(body);
  AgentInfoView view;
  bool has_batch = false, has_pending = false, has_updates = false;
  Status read = ReadFields(c, kBody, 1, [&](std::string_view key) -> Result<bool> {
    if (key == "batch") return TakeUint(c, kBody, "batch", view.batch, has_batch);
    if (key == "pending") return TakeUint(c, kBody, "pending", view.pending, has_pending);
    if (key != "updates" || has_updates) return false;
    has_updates = true;
    std::uint32_t n = 0;
    if (!c.Array(n)) return InvalidField(kBody, "updates", "must be an array");
    // Each update takes some bytes of the body: a count beyond them is a lie, refused before the
    // vector is sized for it.
    if (n > kMaxBatchUpdates || n > c.remaining()) {
      return InvalidField(kBody, "updates", "has too many items");
    }
    view.updates.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      Result<AgentUpdateView> u = ReadUpdate(c);
      if (!u.ok()) return u.status();
      view.updates.push_back(*u);
    }
    return true;
  });
  ZC_RETURN_IF_ERROR(read);
  if (!c.at_end()) return Status::InvalidArgument("malformed msgpack: trailing bytes");
  if (!has_batch) return InvalidField(kBody, "batch", "is missing");
  if (!has_pending) return InvalidField(kBody, "pending", "is missing");
  if (!has_updates) return InvalidField(kBody, "updates", "is missing");
  return view;
}

std::string EncodeAgentRecordOfState(std::string_view id, std::string_view state,
                                     std::string_view node, std::uint64_t counter) {
  msgpack::sbuffer b(512 + state.size());
  codec::MapWriter w(b, 5);
  w.str("id", id).str("node", node).strings("groups", {}).uint("counter", counter);
  w.key("state");
  b.write(state.data(), state.size());
  return {b.data(), b.size()};
}

std::optional<KeepaliveSpan> FindKeepalive(std::string_view state) {
  Cursor c(state);
  std::uint32_t n = 0;
  if (!c.Map(n)) return std::nullopt;
  std::optional<KeepaliveSpan> found;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!c.Str(key)) return std::nullopt;
    if (key != kStateKeys[kKeepalive]) {
      if (!c.Skip(1)) return std::nullopt;
      continue;
    }
    if (found) return std::nullopt;  // twice: left to the full decode
    KeepaliveSpan span;
    span.offset = c.offset();
    if (!c.Uint(span.value)) return std::nullopt;
    span.size = c.offset() - span.offset;
    found = span;
  }
  if (!c.at_end()) return std::nullopt;
  return found;
}

bool ReplaceKeepalive(std::string& state, KeepaliveSpan& span, std::uint64_t value) {
  // msgpack's shortest unsigned forms: a positive fixint, or a tag and 1, 2, 4 or 8 bytes.
  std::size_t size = value < 0x80          ? 1
                     : value <= 0xff       ? 2
                     : value <= 0xffff     ? 3
                     : value <= 0xffffffff ? 5
                                           : 9;
  if (size != span.size || span.offset > state.size() || state.size() - span.offset < size) {
    return false;
  }
  char* out = state.data() + span.offset;
  if (size == 1) {
    out[0] = static_cast<char>(value);
  } else {
    // The tag stays: in the shortest form, a size has one tag.
    for (std::size_t i = 1; i < size; ++i) {
      out[i] = static_cast<char>(value >> (8 * (size - 1 - i)));
    }
  }
  span.value = value;
  return true;
}

}  // namespace zcluster::schemas
