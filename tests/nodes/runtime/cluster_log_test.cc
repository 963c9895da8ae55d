#include "zcluster/nodes/cluster_log.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

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

TEST_CASE("a reopened log writes to a new file once the old one was moved away", "[nodes][log]") {
  testing::TempDir dir;
  const std::string path = dir / "cluster.log";
  auto log = ClusterLog::Open(path, false, false);
  REQUIRE(log.ok());
  Logger master(**log, "Master");
  master.Info("Main", "before");
  REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
  master.Info("Main", "between");  // still the open file: moved, not lost
  REQUIRE((*log)->Reopen().ok());
  master.Info("Main", "after");
  const std::string old = testing::ReadFile(path + ".1"), now = testing::ReadFile(path);
  CHECK(old.find("before") != std::string::npos);
  CHECK(old.find("between") != std::string::npos);
  CHECK(old.find("after") == std::string::npos);
  CHECK(now.find("after") != std::string::npos);
  CHECK(now.find("before") == std::string::npos);
  // A folder that cannot be written keeps the old file in use.
  ::chmod(dir.path().c_str(), 0500);
  std::remove(path.c_str());
  if (::access(dir.path().c_str(), W_OK) != 0) {  // root writes anywhere: nothing to show then
    CHECK_FALSE((*log)->Reopen().ok());
    master.Info("Main", "still written");
  }
  ::chmod(dir.path().c_str(), 0700);
}

TEST_CASE("the JSON log has one object per line with time level tag subtag and message",
          "[nodes][log]") {
  testing::TempDir dir;
  {
    auto log = ClusterLog::Open(dir / "cluster.log", false, false, dir / "cluster.json", false);
    REQUIRE(log.ok());
    Logger(**log, "Worker w1").Warning("Keep alive", "quote \" and \xff byte");
    Logger(**log, "Master").Error("Main", "second");
  }
  CHECK_FALSE(std::filesystem::exists(dir / "cluster.log"));  // json only
  std::istringstream lines(testing::ReadFile(dir / "cluster.json"));
  std::vector<nlohmann::json> objects;
  for (std::string line; std::getline(lines, line);) objects.push_back(nlohmann::json::parse(line));
  REQUIRE(objects.size() == 2);
  CHECK(objects[0]["level"] == "WARNING");
  CHECK(objects[0]["tag"] == "Worker w1");
  CHECK(objects[0]["subtag"] == "Keep alive");
  CHECK(objects[0]["message"].get<std::string>().rfind("quote \" and ", 0) == 0);
  const std::string time = objects[1]["time"];
  CHECK(time.size() == 20);
  CHECK(time[10] == 'T');
  CHECK(time.back() == 'Z');
  CHECK(objects[1]["level"] == "ERROR");
}

TEST_CASE("DEBUG lines turn on and off at run time unless -d forced them on", "[nodes][log]") {
  testing::TempDir dir;
  auto log = ClusterLog::Open(dir / "cluster.log", false, false);
  REQUIRE(log.ok());
  Logger master(**log, "Master");
  master.Debug("Main", "first");
  (*log)->SetDebug(true);
  master.Debug("Main", "second");
  (*log)->SetDebug(false);
  master.Debug("Main", "third");
  const std::string text = testing::ReadFile(dir / "cluster.log");
  CHECK(text.find("first") == std::string::npos);
  CHECK(text.find("second") != std::string::npos);
  CHECK(text.find("third") == std::string::npos);
  auto forced = ClusterLog::Open(dir / "forced.log", false, true);
  REQUIRE(forced.ok());
  (*forced)->SetDebug(false);
  CHECK((*forced)->debug());
}
