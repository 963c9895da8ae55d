#include "monitor_render.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "zcluster/schemas/messages.h"
#include "zcluster/schemas/monitor.h"

using namespace zcluster;
using namespace zcluster::monitor;

namespace {

schemas::NodeStats Node(const std::string& name, const std::string& type, double time,
                        std::uint64_t keepalives, std::uint64_t bytes) {
  schemas::NodeStats n;
  n.name = name;
  n.type = type;
  n.state = "up";
  n.time = time;
  n.uptime = time - 1000;
  n.cpu_seconds = (time - 1000) / 10;  // 10 % of a core
  n.traffic = {{type == "master" ? "w1" : "master", "keepalive", false, keepalives, bytes},
               {type == "master" ? "w1" : "master", "keepalive_ack", true, keepalives, bytes}};
  return n;
}

schemas::ClusterStats Cluster(double time, std::uint64_t keepalives, std::size_t workers) {
  schemas::ClusterStats c{"wazuh", "master", schemas::kProtocolVersion, {}};
  c.nodes.push_back(Node("master", "master", time, keepalives, keepalives * 100));
  for (std::size_t i = 0; i < workers; ++i) {
    c.nodes.push_back(
        Node("w" + std::to_string(i + 1), "worker", time, keepalives * (i + 1), keepalives * 50));
  }
  return c;
}

}  // namespace

TEST_CASE("rates come from the counters' change over the interval between snapshots", "[monitor]") {
  Rates r = ComputeRates(Cluster(2000, 10, 2), Cluster(2002, 30, 2));
  REQUIRE(r.nodes.size() == 3);
  CHECK(r.nodes[0].msgs_in == Approx(10));  // 20 more keepalives in 2 s
  CHECK(r.nodes[0].bytes_out == Approx(1000));
  CHECK(r.nodes[0].cpu_percent == Approx(10));
  CHECK(r.nodes[2].msgs_in == Approx(20));
  // Received keepalives: master 20 + w1 20 + w2 40 over 2 s.
  REQUIRE_FALSE(r.types.empty());
  CHECK(r.types[0].type == "keepalive");
  CHECK(r.types[0].msgs == Approx(40));
  CHECK(r.types[0].total == 30 + 30 + 60);

  SECTION("without an earlier snapshot, or across a restart, there is no rate") {
    CHECK(ComputeRates(std::nullopt, Cluster(2002, 30, 2)).nodes[0].msgs_in == 0);
    schemas::ClusterStats restarted = Cluster(2004, 3, 2);
    restarted.nodes[1].uptime = 1;
    CHECK(ComputeRates(Cluster(2002, 30, 2), restarted).nodes[1].msgs_in == 0);
  }
}

TEST_CASE("the view fits its terminal, shows every part, and sorts the nodes as asked",
          "[monitor]") {
  schemas::ClusterStats now = Cluster(2002, 30, 12);
  now.nodes[3].events = {{1, 2001, "auth_refused", "agents", "10.9.9.9", "KEYZ85"}};
  now.nodes[3].groups_lag = 7;
  ViewOptions o;
  o.now = 2002;
  std::vector<std::string> lines = RenderView(Cluster(2000, 10, 12), now, o);
  CHECK(lines.size() <= 24);
  for (const std::string& l : lines) CHECK(l.size() <= 80);
  auto has = [&](const std::string& text) {
    for (const std::string& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(lines[0].rfind("zcluster-monitor  cluster wazuh  node master", 0) == 0);
  CHECK(has("NODE"));
  CHECK(has("MESSAGE TYPE"));
  CHECK(has("auth_refused"));
  CHECK(has("more nodes"));                 // 13 nodes do not fit in 24 lines
  CHECK(lines[4].rfind("master", 0) == 0);  // master first when sorted by name

  o.sort = SortBy::kLag;
  CHECK(RenderView(Cluster(2000, 10, 12), now, o)[4].rfind("w3 ", 0) == 0);
  o.sort = SortBy::kMessages;
  CHECK(RenderView(Cluster(2000, 10, 12), now, o)[4].rfind("w12 ", 0) == 0);
  o.paused = true;
  CHECK(RenderView(std::nullopt, now, o)[0].find("[paused]") != std::string::npos);
}

TEST_CASE("the JSON snapshot (--once --json) has the cluster_stats shape", "[monitor]") {
  schemas::ClusterStats c = Cluster(2000, 5, 1);
  c.nodes[1].handshake_failures = {{"10.0.0.9", 3}};
  nlohmann::json j = nlohmann::json::parse(RenderJson(c));
  CHECK(j["cluster"] == "wazuh");
  CHECK(j["protocol"] == schemas::kProtocolVersion);
  REQUIRE(j["nodes"].size() == 2);
  CHECK(j["nodes"][1]["traffic"][0] == nlohmann::json{{"peer", "master"},
                                                      {"type", "keepalive"},
                                                      {"direction", "in"},
                                                      {"messages", 5},
                                                      {"bytes", 250}});
  CHECK(j["nodes"][1]["handshake_failures"][0]["count"] == 3);
  CHECK(j["nodes"][0]["state"] == "up");
}

TEST_CASE("a dump line decodes a whole copy and gives an elided one its size only", "[monitor]") {
  std::vector<std::string> keepalive = schemas::Encode(schemas::Keepalive{3});
  std::vector<std::string> whole = {schemas::EncodeTapHeader({"master", "w1", false, 1000.5, 0})};
  whole.insert(whole.end(), keepalive.begin(), keepalive.end());
  std::optional<std::string> line = RenderDumpLine(whole, {});
  REQUIRE(line);
  nlohmann::json j = nlohmann::json::parse(*line);
  CHECK(j["type"] == "keepalive");
  CHECK(j["direction"] == "in");
  CHECK(j["body"]["n"] == 3);
  CHECK(j["bytes"] == keepalive[0].size() + keepalive[1].size());

  std::string type = schemas::Encode(schemas::AgentInfoBatch{})[0];
  std::vector<std::string> elided = {
      schemas::EncodeTapHeader({"master", "w1", false, 1000.5, 250000}), type};
  line = RenderDumpLine(elided, {});
  REQUIRE(line);
  j = nlohmann::json::parse(*line);
  CHECK(j["type"] == "agent_info");
  CHECK(j["body"] == nlohmann::json{{"elided_bytes", 250000}});
  CHECK(j["bytes"] == 250000 + type.size());
  CHECK_FALSE(RenderDumpLine(elided, {"keepalive", ""}).has_value());
  CHECK_FALSE(RenderDumpLine({"\xc1 not a header"}, {}).has_value());
}

TEST_CASE("a dump shows file contents as their size and BLAKE2b, never the bytes", "[monitor]") {
  schemas::FileChunk chunk;
  chunk.path = "etc/rules/local_rules.xml";
  chunk.data = "hello";
  chunk.raw_length = 5;
  std::vector<std::string> frames = {schemas::EncodeTapHeader({"master", "w1", true, 1.0, 0})};
  for (std::string& f : schemas::Encode(schemas::FileData{{chunk}})) frames.push_back(f);
  std::optional<std::string> line = RenderDumpLine(frames, {});
  REQUIRE(line);
  CHECK(line->find("hello") == std::string::npos);
  nlohmann::json j = nlohmann::json::parse(*line);
  // hashlib.blake2b(b"hello", digest_size=16)
  CHECK(j["body"]["chunks"][0]["data"] ==
        nlohmann::json{{"bytes", 5}, {"blake2b", "46fb7408d4f285228f4af516ea25851b"}});
}
