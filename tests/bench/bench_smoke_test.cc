// The harness itself at tiny sizes, as the README runs it: every scenario starts its cluster,
// checks its own result and reports. A harness that rots fails here, not on release day.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

using namespace zcluster::testing;

TEST_CASE("zcluster-bench all --smoke runs every scenario and writes its JSON and SVG",
          "[integration][bench]") {
  TempDir dir;
  std::string json = dir / "bench.json";
  std::string command = std::string(ZC_BENCH) + " all --smoke -q --json " + json + " > " +
                        (dir / "out.txt") + " 2>&1";
  int rc = std::system(command.c_str());
  INFO(ReadFile(dir / "out.txt"));
  REQUIRE(rc == 0);
  nlohmann::json j = nlohmann::json::parse(ReadFile(json));
  std::vector<std::string> names;
  for (const auto& s : j["scenarios"]) {
    names.push_back(s["scenario"]);
    CHECK_FALSE(s["figures"].empty());
    for (const auto& l : s["latencies"]) CHECK(l["n"].get<int>() > 0);
    if (s["scenario"] != "raw") CHECK(s["master"]["peak_rss_mb"].get<double>() > 0);
  }
  CHECK(names ==
        std::vector<std::string>{"raw", "agent-info", "groups", "files", "loop", "connect", "qa"});
  CHECK(ReadFile(dir / "bench.svg").rfind("<svg", 0) == 0);
  CHECK(ReadFile(dir / "out.txt").find("== qa") != std::string::npos);
}

TEST_CASE("zcluster-bench soak --smoke restarts workers and reports memory and descriptors",
          "[integration][bench]") {
  TempDir dir;
  std::string json = dir / "soak.json";
  std::string command = std::string(ZC_BENCH) + " soak --smoke -q --json " + json + " > " +
                        (dir / "out.txt") + " 2>&1";
  int rc = std::system(command.c_str());
  INFO(ReadFile(dir / "out.txt"));
  REQUIRE(rc == 0);
  nlohmann::json j = nlohmann::json::parse(ReadFile(json));
  REQUIRE(j["scenarios"].size() == 2);
  const nlohmann::json& soak = j["scenarios"][1];
  CHECK(soak["scenario"] == "soak");
  std::map<std::string, double> figures;
  for (const auto& f : soak["figures"]) figures[f["name"]] = f["value"];
  CHECK(figures["workers restarted"] == 9);
  CHECK(figures["agent reports acknowledged"] > 0);
  CHECK(figures["master RSS at the end"] > 0);
  CHECK(figures["master open descriptors at the end"] > 0);
}

TEST_CASE("zcluster-bench scale --smoke reports throughput, CPU per report, memory and start time",
          "[integration][bench]") {
  TempDir dir;
  std::string json = dir / "scale.json";
  std::string command = std::string(ZC_BENCH) + " scale --smoke -q --agents 3000 --json " + json +
                        " > " + (dir / "out.txt") + " 2>&1";
  int rc = std::system(command.c_str());
  INFO(ReadFile(dir / "out.txt"));
  REQUIRE(rc == 0);
  nlohmann::json j = nlohmann::json::parse(ReadFile(json));
  REQUIRE(j["scenarios"].size() == 2);
  const nlohmann::json& scale = j["scenarios"][1];
  CHECK(scale["scenario"] == "scale");
  std::map<std::string, double> figures;
  for (const auto& f : scale["figures"]) figures[f["name"]] = f["value"];
  CHECK(figures["agent reports sustained (keepalives, 1 % full changes)"] > 0);
  CHECK(figures["keepalive-only updates persisted (backlog)"] > 0);
  CHECK(figures["master RSS at rest (restarted)"] > 0);
  CHECK(figures["master start with 3002 agents (to its first answer)"] > 0);
  CHECK(scale["latencies"][0]["n"].get<int>() > 0);
}
