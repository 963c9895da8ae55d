#include "zcluster/nodes/cluster_log.h"

#include <catch2/catch.hpp>

#include <regex>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;

TEST_CASE("cluster.log lines have Wazuh's format", "[nodes][log]") {
  testing::TempDir dir;
  const std::string path = dir / "logs/cluster.log";
  {
    auto log = ClusterLog::Open(path, false, false);
    REQUIRE(log.ok());
    Logger worker(**log, "Worker w1");
    worker.Info("Keep alive", "Sent keep alive {}", 3);
    worker.Debug("Keep alive", "not shown without -d");
    Logger(**log, "Master").Warning("Main", "Refused CURVE handshake from {}", "192.0.2.1");
  }
  std::string text = testing::ReadFile(path);
  std::regex line1(R"(^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d INFO: \[Worker w1\] \[Keep alive\] Sent keep alive 3\n)");
  CHECK(std::regex_search(text, line1));
  CHECK(text.find("DEBUG") == std::string::npos);
  CHECK(text.find("WARNING: [Master] [Main] Refused CURVE handshake from 192.0.2.1\n") !=
        std::string::npos);
}

TEST_CASE("DEBUG lines appear with debug on and an unwritable log is an error", "[nodes][log]") {
  testing::TempDir dir;
  {
    auto log = ClusterLog::Open(dir / "cluster.log", false, true);
    REQUIRE(log.ok());
    Logger(**log, "Master").Debug("Main", "details");
  }
  CHECK(testing::ReadFile(dir / "cluster.log").find("DEBUG: [Master] [Main] details") !=
        std::string::npos);
  testing::WriteFile(dir / "file", "x");
  CHECK_FALSE(ClusterLog::Open(dir / "file/cluster.log", false, false).ok());
}
