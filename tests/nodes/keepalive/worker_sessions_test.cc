#include "keepalive/worker_sessions.h"

#include <catch2/catch.hpp>

#include "support/temp_dir.h"
#include "zcluster/nodes/key_material.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace zcluster::schemas;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  ClusterLog log{false};
  WorkerSessions sessions{HelloPolicy{"wazuh", kProtocolVersion, true}, "master", 15s, log};
  SteadyClock::time_point t0 = SteadyClock::now();
  bool old_connection_alive = true;
  int probes = 0;

  std::optional<Message> Send(const std::string& rid, const std::string& user, const Message& m,
                              SteadyClock::duration at = 0s) {
    bus::Envelope env{rid, user, "127.0.0.1", {}, false};
    return sessions.OnMessage(env, m, t0 + at, [this](const std::string&, const KeepaliveAck&) {
      ++probes;
      return old_connection_alive;
    });
  }
};

Code ErrorCode(const std::optional<Message>& m) {
  REQUIRE(m.has_value());
  REQUIRE(std::holds_alternative<ErrorReply>(*m));
  return std::get<ErrorReply>(*m).code;
}

}  // namespace

TEST_CASE("hello admission rules", "[nodes][keepalive]") {
  HelloPolicy policy{"wazuh", kProtocolVersion, true};
  CHECK(CheckHello({"wazuh", "w1", 1, ""}, "w1", policy).ok());
  CHECK(CheckHello({"other", "w1", 1, ""}, "w1", policy).code() == Code::kFailedPrecondition);
  CHECK(CheckHello({"wazuh", "w1", 2, ""}, "w1", policy).code() == Code::kFailedPrecondition);
  CHECK(CheckHello({"wazuh", "w2", 1, ""}, "w1", policy).code() == Code::kPermissionDenied);
  CHECK(CheckHello({"wazuh", "anything", 1, ""}, kAnyWorkerUserId, policy).ok());
  policy.any_name_key_allowed = false;
  CHECK(CheckHello({"wazuh", "anything", 1, ""}, kAnyWorkerUserId, policy).code() ==
        Code::kPermissionDenied);
}

TEST_CASE("a welcomed worker is listed and acked and dropped after silence", "[nodes][keepalive]") {
  Fixture f;
  auto welcome = f.Send("r1", "w1", Hello{"wazuh", "w1", 1, "zcluster 9.9.9"});
  REQUIRE(welcome.has_value());
  REQUIRE(std::holds_alternative<Welcome>(*welcome));
  CHECK(std::get<Welcome>(*welcome).master == "master");
  REQUIRE(f.sessions.Connected().size() == 1);
  CHECK(f.sessions.Connected()[0].name == "w1");
  CHECK(f.sessions.Connected()[0].version == "9.9.9");

  auto ack = f.Send("r1", "w1", Keepalive{1}, 10s);
  REQUIRE(ack.has_value());
  CHECK(std::get<KeepaliveAck>(*ack).n == 1);
  CHECK(*f.sessions.NextExpiry() == f.t0 + 25s);

  CHECK(f.sessions.Expire(f.t0 + 24s).empty());
  CHECK(f.sessions.Expire(f.t0 + 26s) == std::vector<std::string>{"w1"});
  CHECK(f.sessions.size() == 0);
  CHECK_FALSE(f.sessions.NextExpiry().has_value());
  // After the drop the worker must say hello again.
  CHECK(ErrorCode(f.Send("r1", "w1", Keepalive{2}, 27s)) == Code::kUnauthenticated);
}

TEST_CASE("refused hellos change nothing", "[nodes][keepalive]") {
  Fixture f;
  CHECK(ErrorCode(f.Send("r1", "w1", Hello{"other", "w1", 1, ""})) == Code::kFailedPrecondition);
  CHECK(ErrorCode(f.Send("r1", "w1", Hello{"wazuh", "w1", 7, ""})) == Code::kFailedPrecondition);
  CHECK(ErrorCode(f.Send("r1", "w1", Hello{"wazuh", "w2", 1, ""})) == Code::kPermissionDenied);
  CHECK(f.sessions.size() == 0);
  CHECK(ErrorCode(f.Send("r1", "w1", Keepalive{1})) == Code::kUnauthenticated);
}

TEST_CASE("a peer repeating a refused hello gets one log line, not one each",
          "[nodes][keepalive]") {
  testing::TempDir dir;
  auto log = ClusterLog::Open(dir / "cluster.log", false, false);
  REQUIRE(log.ok());
  {
    WorkerSessions sessions{HelloPolicy{"wazuh", kProtocolVersion, true}, "master", 15s, **log};
    auto t0 = SteadyClock::now();
    for (int i = 0; i < 5000; ++i) {
      bus::Envelope env{"r1", "w1", "192.0.2.9", {}, false};
      sessions.OnMessage(env, Hello{"other", "w1", 1, ""}, t0 + std::chrono::milliseconds(i),
                         [](const std::string&, const KeepaliveAck&) { return true; });
    }
  }
  log->reset();  // closes the file
  std::string text = testing::ReadFile(dir / "cluster.log");
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK(text.find("Refused hello from 192.0.2.9 as 'w1'") != std::string::npos);
}

TEST_CASE("a second live connection with the same name is refused", "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Send("r1", "w1", Hello{"wazuh", "w1", 1, ""}).has_value());
  f.old_connection_alive = true;
  CHECK(ErrorCode(f.Send("r2", "w1", Hello{"wazuh", "w1", 1, ""}, 1s)) == Code::kAlreadyExists);
  CHECK(f.probes == 1);
  // The first connection is untouched.
  CHECK(std::holds_alternative<KeepaliveAck>(*f.Send("r1", "w1", Keepalive{1}, 2s)));
}

TEST_CASE("a restarted worker replaces its dead connection at once", "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Send("r1", "w1", Hello{"wazuh", "w1", 1, ""}).has_value());
  f.old_connection_alive = false;
  auto welcome = f.Send("r2", "w1", Hello{"wazuh", "w1", 1, ""}, 1s);
  REQUIRE(std::holds_alternative<Welcome>(*welcome));
  CHECK(f.sessions.size() == 1);
  CHECK(ErrorCode(f.Send("r1", "w1", Keepalive{1}, 2s)) == Code::kUnauthenticated);
}

TEST_CASE("a message on a session's connection from another key voids it", "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Send("r1", "w1", Hello{"wazuh", "w1", 1, ""}).has_value());
  CHECK(ErrorCode(f.Send("r1", "w2", Keepalive{1})) == Code::kPermissionDenied);
  CHECK(f.sessions.size() == 0);
}

TEST_CASE("workers may not send master or control messages", "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Send("r1", "w1", Hello{"wazuh", "w1", 1, ""}).has_value());
  CHECK(ErrorCode(f.Send("r1", "w1", NodesQuery{})) == Code::kInvalidArgument);
}
