#include "zcluster/nodes/cluster_log.h"

#include <catch2/catch.hpp>

#include <cctype>

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
  // "YYYY/MM/DD HH:MM:SS " then the level, tag, subtag and message.
  const std::string shape = "dddd/dd/dd dd:dd:dd ";
  REQUIRE(text.size() > shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) {
    INFO("character " << i << " of " << text);
    CHECK((shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(text[i])) != 0
                           : text[i] == shape[i]));
  }
  CHECK(text.substr(shape.size(), text.find('\n') - shape.size() + 1) ==
        "INFO: [Worker w1] [Keep alive] Sent keep alive 3\n");
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
