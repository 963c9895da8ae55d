#include "monitor/node_monitor.h"
#include "monitor/prometheus_text.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"
#include "support/wait.h"
#include "zcluster/schemas/messages.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace std::chrono_literals;

TEST_CASE("traffic is counted by peer, message type and direction, unknown frames as other",
          "[monitor]") {
  TrafficMeter meter;
  bus::Frames keepalive = schemas::Encode(schemas::Keepalive{1});
  meter.In("w1", keepalive);
  meter.In("w1", keepalive);
  meter.Out("w1", schemas::Encode(schemas::KeepaliveAck{1}));
  meter.In("w2", {"\xc1garbage", "x"});
  meter.In("w2", {});
  std::vector<schemas::TrafficRow> rows = meter.Rows();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == schemas::TrafficRow{"w1", "keepalive", false, 2,
                                       2 * (keepalive[0].size() + keepalive[1].size())});
  CHECK(rows[1].type == "keepalive_ack");
  CHECK(rows[1].out);
  CHECK(rows[2] == schemas::TrafficRow{"w2", "other", false, 2, 9});
}

TEST_CASE("peers past the bound share one row instead of growing the table", "[monitor]") {
  TrafficMeter meter;
  bus::Frames hello = schemas::Encode(schemas::Hello{});
  for (std::size_t i = 0; i < TrafficMeter::kMaxPeers + 500; ++i) {
    meter.In("peer-" + std::to_string(i), hello);
  }
  std::vector<schemas::TrafficRow> rows = meter.Rows();
  CHECK(rows.size() == TrafficMeter::kMaxPeers + 1);
  std::uint64_t shared = 0;
  for (const auto& r : rows) {
    if (r.peer == "other") shared = r.messages;
  }
  CHECK(shared == 500);
}

TEST_CASE("events are a bounded ring numbered in order, refusals counted by bounded address",
          "[monitor]") {
  NodeMonitor monitor("m", "master");
  for (int i = 0; i < 100; ++i) monitor.Event("retry", "cluster", "tcp://10.0.0.1:1516");
  for (std::size_t i = 0; i < schemas::kMaxFailureAddresses + 10; ++i) {
    monitor.HandshakeRefused("cluster", "10.1.0." + std::to_string(i), "KEY", true);
    monitor.HandshakeRefused("cluster", "10.1.0." + std::to_string(i), "KEY", false);
  }
  monitor.SocketEvents("cluster", {{bus::SocketEventKind::kAccepted, "tcp://0.0.0.0:1", 0}});
  schemas::NodeStats s = monitor.Stats();
  REQUIRE(s.events.size() == NodeMonitor::kMaxEvents);
  for (std::size_t i = 1; i < s.events.size(); ++i) {
    CHECK(s.events[i].seq == s.events[i - 1].seq + 1);
  }
  CHECK(s.events.back().kind == "accepted");
  // Refusals the handler did not log are counted but make no event.
  CHECK(s.events.back().seq == 100 + schemas::kMaxFailureAddresses + 10 + 1);
  CHECK(s.events[s.events.size() - 2].kind == "auth_refused");
  CHECK(s.events[s.events.size() - 2].detail == "KEY");
  CHECK(s.handshake_failures.size() == schemas::kMaxFailureAddresses);
  std::uint64_t total = 0;
  for (const auto& f : s.handshake_failures) total += f.count;
  CHECK(total == 2 * (schemas::kMaxFailureAddresses + 10));
  CHECK(s.name == "m");
  CHECK(s.rss_bytes > 0);
  CHECK(s.uptime >= 0);
  // The stats a node sends must decode on the other side: within every bound.
  CHECK(schemas::Decode(schemas::Encode(s)).ok());
}

TEST_CASE("metrics text has HELP and TYPE per family and escapes label values", "[monitor]") {
  schemas::NodeStats master;
  master.name = "m";
  master.type = "master";
  master.state = "up";
  master.agents_active = 3;
  schemas::NodeStats worker;
  worker.name = "w1";
  worker.type = "worker";
  worker.state = "down";
  worker.files_lag = 2;
  worker.traffic = {{"master", "keepalive", true, 5, 350}};
  worker.handshake_failures = {{"a\"b\\c\nd", 1}};
  std::string text = RenderPrometheus({"c", "m", 1, {master, worker}});
  CHECK(text.find("# HELP zcluster_up ") != std::string::npos);
  CHECK(text.find(
            "# TYPE zcluster_up gauge\nzcluster_up{node=\"m\"} 1\nzcluster_up{node=\"w1\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("zcluster_messages_total{node=\"w1\",peer=\"master\",type=\"keepalive\","
                  "direction=\"out\"} 5\n") != std::string::npos);
  CHECK(text.find("zcluster_stream_lag{node=\"w1\",stream=\"files\"} 2\n") != std::string::npos);
  CHECK(text.find("zcluster_agents{status=\"active\"} 3\n") != std::string::npos);
  CHECK(text.find("address=\"a\\\"b\\\\c\\nd\"} 1\n") != std::string::npos);
}

TEST_CASE("the shipped Grafana dashboard asks only for metrics the master exports", "[monitor]") {
  std::ifstream in(ZC_GRAFANA_DASHBOARD);
  nlohmann::json dashboard = nlohmann::json::parse(in);
  schemas::NodeStats master;
  master.name = "m";
  master.type = "master";
  schemas::NodeStats worker;
  worker.name = "w";
  worker.type = "worker";
  worker.traffic = {{"m", "keepalive", true, 1, 1}};
  worker.handshake_failures = {{"10.0.0.1", 1}};
  std::string text = RenderPrometheus({"c", "m", 1, {master, worker}});
  std::size_t names = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      std::string expr = target["expr"];
      // Every metric name in the query: "zcluster_" and the letters and underscores after it.
      for (auto at = expr.find("zcluster_"); at != std::string::npos;
           at = expr.find("zcluster_", at + 1)) {
        auto end = expr.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", at);
        std::string name = expr.substr(at, end == std::string::npos ? end : end - at);
        INFO(panel["title"].get<std::string>() + ": " + name);
        CHECK(text.find("# TYPE " + name + " ") != std::string::npos);
        ++names;
        at = end == std::string::npos ? expr.size() : end;
      }
    }
  }
  CHECK(names >= 10);
}

TEST_CASE("a tap copies small messages whole and large ones as their type and size", "[monitor]") {
  testing::TempDir dir;
  zmq::context_t ctx(1);
  Result<bus::TapSocket> tap = bus::TapSocket::BindLocal(ctx, dir / "tap.sock");
  REQUIRE(tap.ok());
  Result<bus::SubscriberSocket> sub = bus::SubscriberSocket::ConnectLocal(ctx, dir / "tap.sock");
  REQUIRE(sub.ok());
  REQUIRE(testing::WaitFor([&] { return tap->UpdateListening(); }, 5s));
  TrafficMeter meter;
  meter.Tap(&*tap, "master");

  bus::Frames small = schemas::Encode(schemas::Keepalive{7});
  // The meter reads a message's type frame only: an agent-info batch of 100 KB stands here.
  bus::Frames large = {schemas::Encode(schemas::AgentInfoBatch{})[0], std::string(100000, 'x')};
  REQUIRE(large[1].size() > TrafficMeter::kTapSnapBytes);
  meter.In("w1", small);
  meter.In("w1", large);

  std::vector<bus::Frames> copies;
  std::vector<bus::PollItem> items{{&sub->socket(), -1, false}};
  REQUIRE(testing::WaitFor(
      [&] {
        if (!bus::Poll(items, 100ms).ok()) return false;
        while (true) {
          Result<std::optional<bus::Frames>> got = sub->Receive();
          if (!got.ok() || !got->has_value()) break;
          copies.push_back(std::move(**got));
        }
        return copies.size() == 2;
      },
      5s));
  Result<schemas::TapHeader> first = schemas::DecodeTapHeader(copies[0][0]);
  REQUIRE(first.ok());
  CHECK(first->elided == 0);
  CHECK(first->peer == "w1");
  CHECK(bus::Frames(copies[0].begin() + 1, copies[0].end()) == small);
  Result<schemas::TapHeader> second = schemas::DecodeTapHeader(copies[1][0]);
  REQUIRE(second.ok());
  CHECK(second->elided == large[1].size());
  REQUIRE(copies[1].size() == 2);
  CHECK(copies[1][1] == large[0]);
  // The counters see the whole message either way.
  CHECK(meter.Rows()[1].bytes == large[0].size() + large[1].size());
  meter.Tap(nullptr, "");
}
