#include "zcluster/nodes/master_link.h"

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace zcluster::schemas;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  ClusterLog log{false};
  MasterLink link{MasterLinkParams{"wazuh", "w1", 5s, 15s, 500ms, 10s}, Logger(log, "Worker w1")};
  SteadyClock::time_point t0 = SteadyClock::now();

  // Takes what is due at t0 + at and reports it queued (or not).
  std::optional<Message> Due(SteadyClock::duration at, bool queued = true) {
    std::optional<Message> m = link.Next(t0 + at);
    if (m) link.Sent(*m, queued, t0 + at);
    return m;
  }
};

}  // namespace

TEST_CASE("hello first and retried with growing jittered backoff", "[nodes][keepalive]") {
  Fixture f;
  auto first = f.Due(0s, false);
  REQUIRE(first.has_value());
  const Hello& hello = std::get<Hello>(*first);
  CHECK(hello.cluster == "wazuh");
  CHECK(hello.node == "w1");
  CHECK(hello.protocol == kProtocolVersion);
  CHECK_FALSE(f.link.Next(f.t0 + 1ms).has_value());

  // The wait after the k-th hello (k from 1) is between half and all of min(0.5 s * 2^(k-1), 10 s).
  SteadyClock::time_point last = f.t0;
  for (int attempt = 1; attempt <= 8; ++attempt) {
    SteadyClock::duration wait = f.link.NextWake() - last;
    double cap = std::min(0.5 * double(1 << (attempt - 1)), 10.0);
    CHECK(std::chrono::duration<double>(wait).count() >= cap * 0.5 - 1e-6);
    CHECK(std::chrono::duration<double>(wait).count() <= cap + 1e-6);
    last = f.link.NextWake();
    auto again = f.link.Next(last);
    REQUIRE(again.has_value());
    CHECK(std::holds_alternative<Hello>(*again));
    f.link.Sent(*again, true, last);
  }
}

TEST_CASE("once welcomed keepalives go every keep_alive and silence means lost",
          "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Due(0s).has_value());
  f.link.OnReply(Welcome{"wazuh", "master", 1, "zcluster 0.1.0"}, f.t0 + 10ms);
  CHECK(f.link.state() == MasterLink::State::kConnected);
  CHECK(f.link.master_name() == "master");
  CHECK_FALSE(f.link.Next(f.t0 + 4s).has_value());
  auto ka = f.Due(5s + 10ms);
  REQUIRE(ka.has_value());
  CHECK(std::get<Keepalive>(*ka).n == 1);
  f.link.OnReply(KeepaliveAck{1}, f.t0 + 5s + 20ms);
  auto ka2 = f.Due(10s + 10ms);
  CHECK(std::get<Keepalive>(*ka2).n == 2);
  // No ack for 2: at 5.02 + 15 s the master is declared lost and hello starts again at once.
  CHECK(std::holds_alternative<Keepalive>(*f.Due(15s + 10ms)));
  auto after = f.Due(20s + 30ms);
  REQUIRE(after.has_value());
  CHECK(std::holds_alternative<Hello>(*after));
  CHECK(f.link.state() == MasterLink::State::kSayingHello);
}

TEST_CASE("a master that forgot the session gets a hello at once", "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Due(0s).has_value());
  f.link.OnReply(Welcome{"wazuh", "master", 1, ""}, f.t0);
  f.link.OnReply(ErrorReply{Code::kUnauthenticated, "say hello first", "keepalive"}, f.t0 + 1s);
  CHECK(f.link.state() == MasterLink::State::kSayingHello);
  auto m = f.link.Next(f.t0 + 1s);
  REQUIRE(m.has_value());
  CHECK(std::holds_alternative<Hello>(*m));
}

TEST_CASE("a refused hello keeps retrying and does not connect", "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Due(0s).has_value());
  f.link.OnReply(ErrorReply{Code::kFailedPrecondition, "cluster name", "hello"}, f.t0);
  CHECK(f.link.state() == MasterLink::State::kSayingHello);
  // Acks and stray replies before a welcome change nothing.
  f.link.OnReply(KeepaliveAck{3}, f.t0);
  CHECK(f.link.state() == MasterLink::State::kSayingHello);
  auto m = f.link.Next(f.link.NextWake());
  REQUIRE(m.has_value());
  CHECK(std::holds_alternative<Hello>(*m));
}

TEST_CASE("a hello waiting for its backoff goes as soon as the transport is up",
          "[nodes][keepalive]") {
  Fixture f;
  REQUIRE(f.Due(0s, false).has_value());  // no connection yet: the hello could not be queued
  CHECK_FALSE(f.link.Next(f.t0 + 100ms).has_value());
  f.link.TransportUp(f.t0 + 100ms);
  auto m = f.link.Next(f.t0 + 100ms);
  REQUIRE(m.has_value());
  CHECK(std::holds_alternative<Hello>(*m));
  // Once connected, a transport event does not disturb the keepalive schedule.
  f.link.Sent(*m, true, f.t0 + 100ms);
  f.link.OnReply(Welcome{"wazuh", "master", 1, ""}, f.t0 + 110ms);
  f.link.TransportUp(f.t0 + 200ms);
  CHECK_FALSE(f.link.Next(f.t0 + 200ms).has_value());
}

TEST_CASE("a keep_alive the master's silence limit cannot absorb is warned about at connection",
          "[nodes][keepalive]") {
  testing::TempDir dir;
  auto log = ClusterLog::Open(dir / "cluster.log", false, false);
  REQUIRE(log.ok());
  auto t0 = SteadyClock::now();
  {
    MasterLink slow{MasterLinkParams{"wazuh", "w1", 10s, 15s, 500ms, 10s},
                    Logger(**log, "Worker w1")};
    slow.OnReply(Welcome{"wazuh", "master", 1, "", 3}, t0);
    MasterLink fine{MasterLinkParams{"wazuh", "w2", 1s, 15s, 500ms, 10s},
                    Logger(**log, "Worker w2")};
    fine.OnReply(Welcome{"wazuh", "master", 1, "", 3}, t0);
    MasterLink unsaid{MasterLinkParams{"wazuh", "w3", 10s, 15s, 500ms, 10s},
                      Logger(**log, "Worker w3")};
    unsaid.OnReply(Welcome{"wazuh", "master", 1, "", 0}, t0);  // an older master
  }
  log->reset();  // closes the file
  std::string text = testing::ReadFile(dir / "cluster.log");
  CHECK(text.find("[Worker w1] [Keep alive] keep_alive is 10s but master 'master' drops a worker "
                  "silent for 3s: set keep_alive to 1.5s or less") != std::string::npos);
  CHECK(text.find("[Worker w2] [Keep alive]") == std::string::npos);
  CHECK(text.find("[Worker w3] [Keep alive]") == std::string::npos);
}
