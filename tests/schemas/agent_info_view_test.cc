#include "zcluster/schemas/agent_info_view.h"

#include <catch2/catch.hpp>
#include <msgpack.hpp>
#include <random>

#include "zcluster/schemas/messages.h"

using namespace zcluster;
using namespace zcluster::schemas;

namespace {

AgentState FullState(const std::string& name, std::uint64_t keepalive) {
  AgentState s;
  s.name = name;
  s.ip = "10.0.0.7";
  s.os = {"Ubuntu", "22.04", "22", "04", "jammy", "ubuntu", "", "Linux web 5.15", "x86_64"};
  s.version = "Wazuh v4.14.0";
  s.config_sum = "ab12";
  s.merged_sum = "cd34";
  s.labels = {{"site", "lyon"}, {"tier", "web"}};
  s.status = AgentStatus::kDisconnected;
  s.last_keepalive = keepalive;
  s.disconnection_time = keepalive + 40;
  return s;
}

AgentInfoBatch MixedBatch() {
  AgentState keepalive;
  keepalive.status = AgentStatus::kActive;
  keepalive.last_keepalive = 1700000123;
  return AgentInfoBatch{
      12,
      3,
      {AgentUpdate{"001", true, FullState("web-1", 1700000000), 41},
       AgentUpdate{"002", false, keepalive, 7}, AgentUpdate{"0003", true, FullState("", 5), 0},
       AgentUpdate{"004", false, keepalive, 1ull << 40}}};
}

std::string Body(const AgentInfoBatch& batch) { return Encode(batch)[1]; }

// What Decode makes of the same body, for comparison.
Result<AgentInfoBatch> Decoded(const std::string& body) {
  Result<Message> m = Decode({Encode(AgentInfoBatch{})[0], body});
  if (!m.ok()) return m.status();
  return std::get<AgentInfoBatch>(*m);
}

// The view says what the decoded batch says.
void CheckSame(const AgentInfoView& view, const AgentInfoBatch& batch) {
  CHECK(view.batch == batch.batch);
  CHECK(view.pending == batch.pending);
  REQUIRE(view.updates.size() == batch.updates.size());
  for (std::size_t i = 0; i < batch.updates.size(); ++i) {
    const AgentUpdateView& v = view.updates[i];
    const AgentUpdate& u = batch.updates[i];
    CHECK(v.id == u.id);
    CHECK(v.full == u.full);
    CHECK(v.counter == u.counter);
    CHECK(v.status == u.state.status);
    CHECK(v.last_keepalive == u.state.last_keepalive);
    if (!u.full) continue;
    CHECK(v.disconnection_time == u.state.disconnection_time);
    Result<AgentState> state = DecodeAgentState(v.state);
    REQUIRE(state.ok());
    CHECK(*state == u.state);
    if (v.state_as_is) CHECK(v.name == u.state.name);
  }
}

// A map of `n` entries whose keys and values the test writes one by one.
struct Packed {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk{b};
  std::string str() const { return {b.data(), b.size()}; }
};

// The head of a body of `fields` fields: batch 1, pending 0, and the key of the next.
void BodyHead(Packed& p, std::uint32_t fields, const std::string& next) {
  p.pk.pack_map(fields);
  p.pk.pack(std::string("batch"));
  p.pk.pack(1);
  p.pk.pack(std::string("pending"));
  p.pk.pack(0);
  p.pk.pack(next);
}

// A body with one update, whose `fields` entries `fill` writes.
template <typename Fill>
std::string OneUpdate(std::uint32_t fields, Fill fill) {
  Packed p;
  BodyHead(p, 3, "updates");
  p.pk.pack_array(1);
  p.pk.pack_map(fields);
  p.pk.pack(std::string("id"));
  p.pk.pack(std::string("001"));
  fill(p);
  return p.str();
}

}  // namespace

TEST_CASE("an agent_info body read in place says what Decode says", "[schemas][agents]") {
  const AgentInfoBatch batch = MixedBatch();
  const std::string body = Body(batch);
  Result<AgentInfoView> view = ReadAgentInfo(body);
  REQUIRE(view.ok());
  CheckSame(*view, batch);
  // What the encoder writes is as-is, and a record may carry its bytes unchanged.
  const AgentUpdateView& full = view->updates[0];
  CHECK(full.state_as_is);
  CHECK(full.state == EncodeAgentState(batch.updates[0].state));
  CHECK(EncodeAgentRecordOfState(full.id, full.state, "w1", 41) ==
        EncodeAgentRecord("001", batch.updates[0].state, "web-1", "w1", 41));
  CHECK(view->updates[2].state_as_is);  // an empty name is a valid one
  CHECK(ReadAgentInfo(Body(AgentInfoBatch{1, 0, {}})).ok());
}

TEST_CASE("a valid state written otherwise than the encoder does is read but not kept as it is",
          "[schemas][agents]") {
  // The state with a field no zcluster writes yet (a newer worker's), then a repeated status.
  const AgentState state = FullState("web-1", 100);
  const std::string canonical = EncodeAgentState(state);
  for (const std::string& extra : {std::string("\xa5"
                                               "extra\x01",
                                               7),
                                   std::string("\xa6"
                                               "status\xa6"
                                               "active",
                                               14)}) {
    std::string odd = canonical;
    odd[0] = static_cast<char>(0x8b);  // 11 fields
    odd += extra;
    REQUIRE(DecodeAgentState(odd).ok());
    const std::string body = OneUpdate(2, [&](Packed& p) {
      p.pk.pack(std::string("state"));
      p.b.write(odd.data(), odd.size());
    });
    Result<AgentInfoView> view = ReadAgentInfo(body);
    REQUIRE(view.ok());
    const AgentUpdateView& u = view->updates[0];
    CHECK_FALSE(u.state_as_is);
    CHECK(u.state == odd);
    CHECK(u.status == AgentStatus::kDisconnected);  // the first status counts, as in Decode
    CHECK(u.last_keepalive == 100);
    CHECK(u.disconnection_time == 140);
  }
}

TEST_CASE("agent_info bodies Decode refuses are refused in place, naming the field",
          "[schemas][agents]") {
  auto refused = [](const std::string& body, const std::string& says) {
    INFO(says);
    CHECK_FALSE(Decoded(body).ok());
    Result<AgentInfoView> view = ReadAgentInfo(body);
    REQUIRE_FALSE(view.ok());
    CHECK(view.status().message().find(says) != std::string::npos);
  };
  AgentInfoBatch batch = MixedBatch();
  batch.updates[0].id = "12a";
  refused(Body(batch), "agent_info.updates[].id is not an agent id");
  batch = MixedBatch();
  batch.updates[1].id = std::string(17, '1');
  refused(Body(batch), "agent_info.updates[].id longer than 16 bytes");
  batch = MixedBatch();
  batch.updates[0].state.labels["x"] = std::string(kMaxFieldLength + 1, 'v');
  refused(Body(batch), "agent_info.updates[].state: ");
  batch = MixedBatch();
  batch.updates[0].state.name = "bad name";
  refused(Body(batch), "not a valid agent name");

  // An update array that claims four billion items in a small frame: refused before any of it
  // is allocated.
  Packed huge;
  BodyHead(huge, 3, "updates");
  huge.pk.pack_array(0xffffffffu);
  refused(huge.str(), "agent_info.updates has too many items");

  // A keepalive-only update without its status, or with one no agent has; a state not a map.
  refused(OneUpdate(2,
                    [](Packed& p) {
                      p.pk.pack(std::string("last_keepalive"));
                      p.pk.pack(5);
                    }),
          "agent_info.updates[].status is missing");
  refused(OneUpdate(3,
                    [](Packed& p) {
                      p.pk.pack(std::string("last_keepalive"));
                      p.pk.pack(5);
                      p.pk.pack(std::string("status"));
                      p.pk.pack(std::string("sleeping"));
                    }),
          "is not a known status: 'sleeping'");
  refused(OneUpdate(2,
                    [](Packed& p) {
                      p.pk.pack(std::string("state"));
                      p.pk.pack(std::string("active"));
                    }),
          "agent_info.updates[].state must be a map");

  // Trailing bytes, a missing field.
  refused(Body(MixedBatch()) + "\xc0", "trailing bytes");
  std::string no_batch = Body(MixedBatch());
  no_batch[0] = static_cast<char>(0x82);  // the map loses its last field, the updates
  refused(no_batch.substr(0, no_batch.find("updates") - 1), "agent_info.updates is missing");

  // Nesting past Decode's limit, under a key nobody reads.
  Packed deep;
  BodyHead(deep, 4, "updates");
  deep.pk.pack_array(0);
  deep.pk.pack(std::string("junk"));
  for (int i = 0; i < 20; ++i) deep.pk.pack_array(1);
  deep.pk.pack_nil();
  refused(deep.str(), "malformed msgpack");
}

TEST_CASE("damaged agent_info bodies are accepted in place only where Decode accepts them",
          "[schemas][agents]") {
  // Every one-byte change, cut and insertion of a few bodies, at random but reproducibly: both
  // readers agree on what they accept, and on what it says.
  std::vector<std::string> bodies = {Body(MixedBatch()), Body(AgentInfoBatch{1, 0, {}})};
  AgentInfoBatch labels = MixedBatch();
  labels.updates[0].state.labels.clear();
  labels.updates[2].state.os = {};
  bodies.push_back(Body(labels));
  std::mt19937 rng(20261207);
  std::size_t accepted = 0, tried = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string body = bodies[rng() % bodies.size()];
    const std::size_t at = rng() % body.size();
    switch (rng() % 3) {
      case 0:
        body[at] = static_cast<char>(rng());
        break;
      case 1:
        body.resize(at);
        break;
      default:
        body.insert(at, 1, static_cast<char>(rng()));
        break;
    }
    ++tried;
    Result<AgentInfoBatch> decoded = Decoded(body);
    Result<AgentInfoView> view = ReadAgentInfo(body);
    INFO("round " << round << ": Decode says " << decoded.status().message()
                  << "; ReadAgentInfo says " << view.status().message());
    REQUIRE(decoded.ok() == view.ok());
    if (!view.ok()) continue;
    ++accepted;
    CheckSame(*view, *decoded);
  }
  // The changes reach both sides of the line.
  CHECK(accepted > tried / 20);
  CHECK(accepted < tried);
}

TEST_CASE("the agent_info type is told from its frame", "[schemas][agents]") {
  CHECK(IsAgentInfoType(Encode(AgentInfoBatch{})[0]));
  CHECK_FALSE(IsAgentInfoType(Encode(AgentInfoAck{})[0]));
  CHECK_FALSE(IsAgentInfoType(Encode(AgentInfoBatch{})[0] + "x"));
  // The same name as a str8: Decode still reads it; the in-place path leaves it to Decode.
  std::string str8 = std::string("\xd9\x0a", 2) + "agent_info";
  CHECK_FALSE(IsAgentInfoType(str8));
  Result<Message> m = Decode({str8, Body(MixedBatch())});
  REQUIRE(m.ok());
  CHECK(std::holds_alternative<AgentInfoBatch>(*m));
}

TEST_CASE("a state's keepalive time is found where it lies, or not at all", "[schemas][agents]") {
  AgentState state = FullState("web", 1000);
  std::string other = EncodeAgentState(state);
  for (std::uint64_t keepalive : {0ull, 7ull, 1764000000ull, 1ull << 40}) {
    state.last_keepalive = keepalive;
    std::string bytes = EncodeAgentState(state);
    std::optional<KeepaliveSpan> span = FindKeepalive(bytes);
    REQUIRE(span.has_value());
    CHECK(span->value == keepalive);
    // The bytes around the value are those of the same state at another keepalive time.
    std::optional<KeepaliveSpan> other_span = FindKeepalive(other);
    REQUIRE(other_span.has_value());
    CHECK(bytes.substr(0, span->offset) == other.substr(0, other_span->offset));
    CHECK(bytes.substr(span->offset + span->size) ==
          other.substr(other_span->offset + other_span->size));
  }
  auto state_of = [](auto&& fill, std::uint32_t fields) {
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> pk(b);
    pk.pack_map(fields);
    fill(pk);
    return std::string(b.data(), b.size());
  };
  // Not there, not a non-negative integer, twice, a key that is not a string, trailing bytes,
  // truncated, or not a map: left to the full decode.
  CHECK_FALSE(FindKeepalive(state_of([](auto& pk) { pk.pack("name").pack("web"); }, 1)));
  CHECK_FALSE(FindKeepalive(state_of([](auto& pk) { pk.pack("last_keepalive").pack(-1); }, 1)));
  CHECK_FALSE(FindKeepalive(state_of([](auto& pk) { pk.pack("last_keepalive").pack("7"); }, 1)));
  CHECK_FALSE(FindKeepalive(state_of(
      [](auto& pk) { pk.pack("last_keepalive").pack(1).pack("last_keepalive").pack(2); }, 2)));
  CHECK_FALSE(FindKeepalive(
      state_of([](auto& pk) { pk.pack(5).pack(1).pack("last_keepalive").pack(2); }, 2)));
  std::string whole = EncodeAgentState(FullState("web", 7));
  CHECK_FALSE(FindKeepalive(whole + '\x01'));
  CHECK_FALSE(FindKeepalive(whole.substr(0, whole.size() - 1)));
  CHECK_FALSE(FindKeepalive(""));
  CHECK_FALSE(FindKeepalive("\x93\x01\x02\x03"));
  CHECK(FindKeepalive(state_of([](auto& pk) { pk.pack("last_keepalive").pack(3); }, 1))->value ==
        3);
}

TEST_CASE("a keepalive time is rewritten in place only where a fresh encoding matches",
          "[schemas][agents]") {
  // Every width msgpack has for an unsigned value, and the edges between them.
  const std::uint64_t values[] = {0,          5,          127,   128,        255,
                                  256,        65535,      65536, 1764000000, 0xffffffffull,
                                  1ull << 32, 1ull << 40, ~0ull};
  for (std::uint64_t from : values) {
    for (std::uint64_t to : values) {
      AgentState state = FullState("web", from);
      std::string bytes = EncodeAgentState(state);
      std::optional<KeepaliveSpan> span = FindKeepalive(bytes);
      REQUIRE(span.has_value());
      state.last_keepalive = to;
      const std::string fresh = EncodeAgentState(state);
      const std::string before = bytes;
      if (ReplaceKeepalive(bytes, *span, to)) {
        INFO(from << " -> " << to);
        CHECK(bytes == fresh);
        CHECK(span->value == to);
        CHECK(FindKeepalive(bytes)->value == to);
      } else {
        // Refused only where the width differs, and then nothing was written.
        CHECK(fresh.size() != before.size());
        CHECK(bytes == before);
      }
    }
  }
  // A span that does not fit the bytes is refused, not written past their end.
  std::string bytes = EncodeAgentState(FullState("web", 1764000000));
  KeepaliveSpan span = *FindKeepalive(bytes);
  std::string cut = bytes.substr(0, span.offset + 2);
  const std::string cut_before = cut;
  CHECK_FALSE(ReplaceKeepalive(cut, span, 1764000001));
  CHECK(cut == cut_before);
}
