#include "control_render.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace zcluster;
using namespace zcluster::nodes;

namespace {
schemas::NodeList Sample() {
  return {{{"w2", "worker", "0.1.0", "10.0.0.3", 1764000000},
           {"master", "master", "0.1.0", "10.0.0.1:1516", 1764000001},
           {"w1", "worker", "0.1.0", "10.0.0.2", 1764000002}}};
}
}  // namespace

TEST_CASE("the node table lists the master first and then workers by name", "[nodes][control]") {
  std::string table = RenderNodesTable(Sample());
  CHECK(table ==
        "NAME    TYPE    VERSION  ADDRESS        LAST-KEEPALIVE (UTC)\n"
        "master  master  0.1.0    10.0.0.1:1516  2025/11/24 16:00:01\n"
        "w1      worker  0.1.0    10.0.0.2       2025/11/24 16:00:02\n"
        "w2      worker  0.1.0    10.0.0.3       2025/11/24 16:00:00\n");
}

TEST_CASE("the node JSON has the documented shape", "[nodes][control]") {
  nlohmann::json j = nlohmann::json::parse(RenderNodesJson(Sample()));
  REQUIRE(j["nodes"].size() == 3);
  CHECK(j["nodes"][0] == nlohmann::json{{"name", "master"},
                                        {"type", "master"},
                                        {"version", "0.1.0"},
                                        {"address", "10.0.0.1:1516"},
                                        {"last_keepalive", "2025-11-24T16:00:01Z"}});
  CHECK(j["nodes"][2]["name"] == "w2");
}

namespace {
schemas::Health SampleHealth() {
  schemas::WorkerHealth ok{};
  ok.name = "w1";
  ok.version = "0.1.0";
  ok.address = "10.0.0.2";
  ok.active_agents = 7;
  ok.last_keepalive = 1764000002;
  ok.groups_seq = ok.master_groups_seq = 42;
  ok.groups_digest_match = true;
  ok.files_seq = ok.master_files_seq = 17;
  ok.files_digest_match = true;
  schemas::Health h;
  h.workers.push_back(ok);
  h.master_name = "master";
  h.master_version = "0.1.0";
  h.master_address = "10.0.0.1";
  return h;
}
}  // namespace

TEST_CASE("health shows the master first and each worker, and no problem when all is well",
          "[nodes][control]") {
  schemas::Health h = SampleHealth();
  CHECK(RenderHealthTable(h) ==
        "NODE    TYPE    VERSION  ADDRESS   ACTIVE-AGENTS  LAST-KEEPALIVE       AGENT-SYNC-END  "
        "GROUPS   FILES\n"
        "master  master  0.1.0    10.0.0.1  -              -                    -               "
        "-        -\n"
        "w1      worker  0.1.0    10.0.0.2  7              2025/11/24 16:00:02  -               "
        "in sync  in sync\n");
  CHECK(HealthProblems(h).empty());
  nlohmann::json j = nlohmann::json::parse(RenderHealthJson(h));
  CHECK(j["master"]["name"] == "master");
  CHECK(j["workers"][0]["active_agents"] == 7);
  CHECK(j["workers"][0]["last_keepalive"] == "2025-11-24T16:00:02Z");
  CHECK(j["workers"][0]["agent_info_sync"]["end"].is_null());
  CHECK(j["lost"].empty());
  CHECK(j["problems"].empty());
}

TEST_CASE("a lost worker, a worker behind and a full disk are problems", "[nodes][control]") {
  schemas::Health h = SampleHealth();
  h.lost = {"w3"};
  h.workers[0].groups_seq = 40;
  h.workers[0].store_error = "store: write: IO error: No space left on device";
  std::vector<std::string> problems = HealthProblems(h);
  CHECK(problems == std::vector<std::string>{
                        "Lost: w3 is not connected to the master",
                        "Disk problem on w1: store: write: IO error: No space left on device",
                        "Out of sync: w1's groups are behind by 2"});
  CHECK(RenderHealthTable(h).find("Lost: w3 is not connected to the master\n") !=
        std::string::npos);
  // -fn w1 keeps w1's problems and drops the others'.
  schemas::Health only_w1 = FilterHealth(h, {"w1"});
  CHECK(only_w1.lost.empty());
  CHECK(HealthProblems(only_w1).size() == 2);
  CHECK(FilterHealth(h, {"w3"}).workers.empty());
  CHECK(FilterNodes(Sample(), {"w1"}).nodes.size() == 1);
}
