#include "zcluster/schemas/messages.h"

#include <catch2/catch.hpp>
#include <functional>
#include <msgpack.hpp>

using namespace zcluster;
using namespace zcluster::schemas;

namespace {

template <typename T>
std::string Pack(const T& v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return {b.data(), b.size()};
}

// Builds a message body field by field, including fields the encoder would never write.
struct Body {
  std::vector<std::pair<std::string, std::function<void(msgpack::packer<msgpack::sbuffer>&)>>> f;
  template <typename T>
  Body& add(std::string key, T value) {
    f.emplace_back(std::move(key), [value](auto& pk) { pk.pack(value); });
    return *this;
  }
};

Frames Raw(std::string_view type, const Body& body) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(static_cast<uint32_t>(body.f.size()));
  for (const auto& [k, v] : body.f) {
    pk.pack(k);
    v(pk);
  }
  return {Pack(std::string(type)), std::string(b.data(), b.size())};
}

}  // namespace

TEST_CASE("every message survives an encode/decode round trip", "[schemas]") {
  std::vector<Message> all = {
      Hello{"wazuh", "worker-1", kProtocolVersion, "zcluster 0.1.0"},
      Welcome{"wazuh", "master", kProtocolVersion, "zcluster 0.1.0", 12.5},
      Keepalive{42},
      KeepaliveAck{42},
      ErrorReply{Code::kPermissionDenied, "key of w1 may not speak as w2", "hello"},
      NodesQuery{},
      NodeList{{{"master", "master", "0.1.0", "10.0.0.1:1516", 1.5e9},
                {"w1", "worker", "0.1.0", "10.0.0.2", 1.7e9}}},
      AgentsQuery{},
      AgentsQuery{{"001", "1234"}},
      StatusQuery{},
      NodeStatus{"w1", "worker", 42, 17, false, 3, 100000, 12},
      MonitorQuery{},
      AgentReports{{AgentReport{"001", 3, "\x80", std::string(32, 'm'), std::nullopt},
                    AgentReport{"002", 9, "\x81\xa1x\x01", std::string(32, 'n'), std::nullopt},
                    AgentReport{"003", 5, "", std::string(32, 'o'), 1764000070}}},
      AgentReportsAck{{AgentReportAck{"001", 3, {"default", "web"}}},
                      {RefusedReport{"002", 9, Code::kPermissionDenied, "bad MAC from agent 002"}}},
  };
  NodeStats stats;
  stats.name = "w1";
  stats.type = "worker";
  stats.state = "down";
  stats.uptime = 2.5;
  stats.rss_bytes = 1 << 20;
  stats.reports_replayed = 4;
  stats.traffic = {{"master", "keepalive", true, 3, 210}, {"agents", "other", false, 1, 9}};
  stats.events = {{1, 1.7e9, "auth_refused", "agents", "127.0.0.1", "key"}};
  stats.handshake_failures = {{"127.0.0.1", 1}};
  all.push_back(stats);
  all.push_back(ClusterStats{"wazuh", "master", kProtocolVersion, {stats, stats}});
  for (const Message& m : all) {
    INFO(TypeOf(m));
    Frames frames = Encode(m);
    REQUIRE(frames.size() == 2);
    Result<Message> back = Decode(frames);
    REQUIRE(back.ok());
    CHECK(*back == m);
  }
}

TEST_CASE("decode refuses malformed messages with a clear error", "[schemas]") {
  const std::string s = "s";
  SECTION("wrong frame count") {
    Result<Message> r = Decode({Pack(std::string("hello"))});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("2 frames") != std::string::npos);
  }
  SECTION("a traffic row whose direction is neither in nor out") {
    NodeStats stats;
    stats.name = "w1";
    stats.traffic = {{"master", "keepalive", false, 1, 1}};
    Frames frames = Encode(stats);
    std::size_t at = frames[1].find("\xa2in");
    REQUIRE(at != std::string::npos);
    frames[1].replace(at, 3, "\xa2up");
    Result<Message> r = Decode(frames);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("direction") != std::string::npos);
  }
  SECTION("unknown type") {
    Result<Message> r = Decode(Raw("launch_missiles", Body()));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "unknown message type 'launch_missiles'");
  }
  SECTION("garbage bytes") {
    Result<Message> r = Decode({"\xc1\xc1", "\xc1"});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  SECTION("truncated body") {
    Frames f = Encode(Hello{"wazuh", "w1", 1, "x"});
    f[1].pop_back();
    CHECK_FALSE(Decode(f).ok());
  }
  SECTION("trailing bytes after the body") {
    Frames f = Encode(Keepalive{1});
    f[1] += '\x01';
    Result<Message> r = Decode(f);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("trailing") != std::string::npos);
  }
  SECTION("type frame is not a string") {
    CHECK_FALSE(Decode({Pack(7), Pack(std::map<std::string, int>{})}).ok());
  }
  SECTION("body is not a map") {
    Result<Message> r = Decode({Pack(std::string("keepalive")), Pack(std::vector<int>{1})});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "keepalive: body must be a map");
  }
  SECTION("missing field") {
    Result<Message> r = Decode(Raw("hello", Body().add("cluster", std::string("wazuh"))));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "hello.node is missing");
  }
  SECTION("mistyped field") {
    Result<Message> r = Decode(Raw("keepalive", Body().add("n", std::string("one"))));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "keepalive.n must be a non-negative integer");
  }
  SECTION("negative number") {
    CHECK_FALSE(Decode(Raw("keepalive", Body().add("n", int64_t{-1}))).ok());
  }
  SECTION("protocol out of range") {
    Result<Message> r = Decode(Raw("hello", Body()
                                                .add("cluster", s)
                                                .add("node", s)
                                                .add("protocol", uint64_t{1} << 40)
                                                .add("software", s)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "hello.protocol out of range");
  }
  SECTION("node name with forbidden characters") {
    Result<Message> r = Decode(Raw("hello", Body()
                                                .add("cluster", s)
                                                .add("node", std::string("../etc"))
                                                .add("protocol", uint64_t{1})
                                                .add("software", s)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("hello.node is not a valid name") == 0);
  }
  SECTION("overlong text") {
    Result<Message> r = Decode(Raw("error", Body()
                                                .add("code", uint64_t{1})
                                                .add("message", std::string(5000, 'x'))
                                                .add("in_reply_to", std::string("hello"))));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("longer than") != std::string::npos);
  }
}

TEST_CASE("agent_reports holds at most 256 whole reports", "[schemas]") {
  AgentReport one{"001", 1, "\x80", std::string(32, 'm'), std::nullopt};
  AgentReports most{std::vector<AgentReport>(kMaxRelayedReports, one)};
  REQUIRE(Decode(Encode(most)).ok());
  AgentReports over{std::vector<AgentReport>(kMaxRelayedReports + 1, one)};
  Result<Message> r = Decode(Encode(over));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "agent_reports.reports has too many items");

  Frames frames = Encode(AgentReports{{one}});
  std::size_t at = frames[1].find("\xa3mac");
  REQUIRE(at != std::string::npos);
  frames[1].replace(at, 4, "\xa3mak");  // the report's mac is then missing
  r = Decode(frames);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("mac is missing") != std::string::npos);
}

TEST_CASE("a report carries its state or its keepalive time, never both", "[schemas][agents]") {
  AgentReport keepalive{"004", 12, "", std::string(32, 'm'), 1764000070};
  Result<Message> back = Decode(Encode(keepalive));
  REQUIRE(back.ok());
  CHECK(std::get<AgentReport>(*back) == keepalive);
  CHECK(std::get<AgentReport>(*back).keepalive_only());

  const std::vector<char> mac(32, 'm'), state{'\x80'};
  auto report = [&] {
    return Body().add("id", std::string("004")).add("counter", std::uint64_t{12});
  };
  Result<Message> both =
      Decode(Raw("agent_report", report()
                                     .add("state", state)
                                     .add("last_keepalive", std::uint64_t{1764000070})
                                     .add("mac", mac)));
  REQUIRE_FALSE(both.ok());
  CHECK(both.status().message() == "agent_report: state or last_keepalive, not both");
  Result<Message> neither = Decode(Raw("agent_report", report().add("mac", mac)));
  REQUIRE_FALSE(neither.ok());
  CHECK(neither.status().message().find("state is missing") != std::string::npos);
  Result<Message> signed_time =
      Decode(Raw("agent_report", report().add("last_keepalive", -5).add("mac", mac)));
  REQUIRE_FALSE(signed_time.ok());
  CHECK(signed_time.status().message().find("last_keepalive") != std::string::npos);
}

TEST_CASE("decode ignores unknown fields and keeps unknown error codes", "[schemas]") {
  Result<Message> r =
      Decode(Raw("keepalive", Body().add("n", uint64_t{3}).add("future", std::string("x"))));
  REQUIRE(r.ok());
  CHECK(std::get<Keepalive>(*r).n == 3);

  Result<Message> e = Decode(Raw("error", Body()
                                              .add("code", uint64_t{200})
                                              .add("message", std::string("new"))
                                              .add("in_reply_to", std::string(""))));
  REQUIRE(e.ok());
  CHECK(std::get<ErrorReply>(*e).code == Code::kInternal);
}

TEST_CASE("names follow the Wazuh node name rule", "[schemas]") {
  CHECK(IsValidName("node01"));
  CHECK(IsValidName("worker-1.eu_west"));
  CHECK_FALSE(IsValidName(""));
  CHECK_FALSE(IsValidName("bad name"));
  CHECK_FALSE(IsValidName("a/b"));
  CHECK_FALSE(IsValidName(std::string(65, 'a')));
}

TEST_CASE("status codes have stable names and numbers", "[schemas]") {
  CHECK(CodeName(Code::kPermissionDenied) == "permission_denied");
  CHECK(static_cast<int>(Code::kOutOfRange) == 10);
  CHECK(CodeFromNumber(4) == Code::kPermissionDenied);
  CHECK_FALSE(CodeFromNumber(11).has_value());
  CHECK(Status::NotFound("x").ToString() == "not_found: x");
}

TEST_CASE("a header claiming more entries than the frame can hold is refused", "[schemas]") {
  // map32 claiming 2^31 entries, in a 5-byte frame: refused before any allocation.
  Frames f = Encode(Keepalive{1});
  f[1] = std::string("\xdf\x80\x00\x00\x00", 5);
  Result<Message> r = Decode(f);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("malformed msgpack") == 0);
  // Large honest messages are fine: a sync of 300 agents is a map of 300 entries.
  GroupsSync sync{300, true, {}, {}};
  for (int i = 1; i <= 300; ++i) sync.groups[std::to_string(1000 + i)] = {"default"};
  Result<Message> big = Decode(Encode(sync));
  REQUIRE(big.ok());
  CHECK(std::get<GroupsSync>(*big).groups.size() == 300);
}

TEST_CASE("a frame of one-byte objects is refused before msgpack-c builds them", "[schemas]") {
  // An array32 of a million nils (1 MiB) would cost 24 MiB of objects to decode.
  Frames f = Encode(Keepalive{1});
  f[1] = std::string("\xdd\x00\x0f\x42\x40", 5) + std::string(1000000, '\xc0');
  Result<Message> r = Decode(f);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("more objects than") != std::string::npos);
  // So are empty arrays nested in a map's values, and a map of fixint keys.
  f[1] = std::string("\xde\x7f\xff", 3);
  for (int i = 0; i < 0x7fff; ++i) f[1] += std::string("\x01\x90", 2);
  CHECK(Decode(f).status().message().find("more objects than") != std::string::npos);

  // The densest honest messages pass: one-letter groups, the shortest ids, no groups at all.
  GroupsSync sync{0, true, {}, {}};
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string>& groups = sync.groups[std::to_string(100 + i)];
    for (char g = 'a'; g <= 'z'; ++g) groups.emplace_back(1, g);
  }
  REQUIRE(Decode(Encode(sync)).ok());
  GroupsDelta delta;
  for (std::uint64_t i = 1; i <= 20000; ++i) {
    delta.changes.push_back({i, std::to_string(100 + i), {}});
  }
  REQUIRE(Decode(Encode(delta)).ok());
  AgentInfoBatch batch{0, 0, {}};
  for (int i = 0; i < 2000; ++i) batch.updates.push_back({std::to_string(100 + i), false, {}});
  REQUIRE(Decode(Encode(batch)).ok());
  REQUIRE(Decode(Encode(Keepalive{0})).ok());

  // Every cut of an honest frame is refused, none read past its end.
  Frames whole = Encode(delta);
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{1}, std::size_t{3}, whole[1].size() / 2, whole[1].size() - 1}) {
    Frames cut_frames{whole[0], whole[1].substr(0, cut)};
    CHECK_FALSE(Decode(cut_frames).ok());
  }
}

TEST_CASE("an agent list written a slice at a time is byte for byte the whole list's encoding",
          "[schemas]") {
  AgentList list;
  for (int i = 1; i <= 3; ++i) {
    AgentRecord rec{"00" + std::to_string(i), {}, "w1", {"default"}};
    rec.state.name = "agent" + std::to_string(i);
    rec.state.status = AgentStatus::kActive;
    rec.state.labels = {{"env", "prod"}};
    list.agents.push_back(rec);
  }
  AgentListWriter writer(3);
  for (const AgentRecord& rec : list.agents) writer.Add(rec);
  CHECK(writer.added() == 3);
  Frames frames = writer.Finish();
  CHECK(frames == Encode(list));
  Result<Message> back = Decode(frames);
  REQUIRE(back.ok());
  CHECK(std::get<AgentList>(*back) == list);
  CHECK(AgentListWriter(0).Finish() == Encode(AgentList{}));
}

TEST_CASE("a negative whole number in a real field reads back as it was written", "[schemas]") {
  // msgpack-c writes a double with an integral value as an integer: -1.2e14 goes out as a
  // negative int64, which a reader of reals must take (found by the messages fuzzer).
  Keepalive k;
  k.integrity_start = -115605504032768.0;
  k.integrity_end = -1;
  Result<Message> back = Decode(Encode(k));
  REQUIRE(back.ok());
  CHECK(std::get<Keepalive>(*back).integrity_start == -115605504032768.0);
  CHECK(std::get<Keepalive>(*back).integrity_end == -1);
  CHECK(Encode(*back) == Encode(k));
}
