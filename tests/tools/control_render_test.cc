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
