// The daemon as a service sees it: logrotate moving cluster.log away and sending SIGHUP, a key
// folder edited and re-read on SIGHUP, a second start on the same home, the JSON log.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "integration/cluster_fixture.h"
#include "support/wait.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string ReadIfThere(const std::string& path) {
  return std::filesystem::exists(path) ? ReadFile(path) : std::string();
}

}  // namespace

TEST_CASE("logrotate with SIGHUP moves cluster.log away and loses no line", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  const pid_t pid = c.Start("master");
  const std::string log = c.Home("master") + "/logs/cluster.log";
  // Wazuh's own rule for its logs, with the postrotate a package installs.
  const std::string conf = c.Home("logrotate") + "/zcluster";
  WriteFile(conf, log + " {\n  rotate 5\n  missingok\n  create 0660\n  postrotate\n    kill -HUP " +
                      std::to_string(pid) + "\n  endscript\n}\n");
  constexpr int kAgents = 120;
  std::atomic<int> added{0};
  std::thread adder([&] {
    for (int i = 0; i < kAgents; ++i) {
      std::optional<schemas::Message> r =
          c.Ask("master", schemas::AgentAdd{"rot-" + std::to_string(i), "any", {}});
      if (!r || !std::holds_alternative<schemas::AgentEntry>(*r)) break;
      added = i + 1;
    }
  });
  // Three rotations while agents are being added, each once more lines have been written.
  for (int round = 1; round <= 3; ++round) {
    REQUIRE(WaitFor([&] { return added >= round * kAgents / 4; }, 30s));
    RunResult r = c.RunProgram({"logrotate", "-f", "-s", c.Home("logrotate") + "/state", conf});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  adder.join();
  REQUIRE(added == kAgents);
  CHECK(c.Running("master"));
  CHECK(WaitFor([&] { return Count(ReadFile(log), "SIGHUP: reopened the log") >= 1; }, 10s));
  // Every registration is in exactly one of the files, whichever was current when it was made.
  std::string all;
  for (const char* suffix : {"", ".1", ".2", ".3", ".4"}) all += ReadIfThere(log + suffix);
  for (int i = 0; i < kAgents; ++i) {
    INFO("agent rot-" << i);
    CHECK(Count(all, "'rot-" + std::to_string(i) + "' registered") == 1);
  }
  CHECK(std::filesystem::exists(log + ".3"));
  // The current file holds only what came after the last rotation.
  CHECK(ReadFile(log).find("Listening on") == std::string::npos);
}

TEST_CASE("SIGHUP re-reads the worker keys: a removed key is refused and its worker dropped",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Configure("w2", {});
  c.Authorize("w1");
  c.Authorize("w2");
  c.Start("master");
  c.Start("w1");
  c.Start("w2");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  const std::string conf = ReadFile(c.ConfigPath("master"));
  const auto from = conf.find("<authorized_keys>") + 17;
  const std::filesystem::path authorized =
      conf.substr(from, conf.find("</authorized_keys>") - from);
  REQUIRE(std::filesystem::remove(authorized / "w2.pub"));
  c.Signal("master", SIGHUP);
  CHECK(WaitFor(
      [&] { return c.Log("master").find("1 worker keys authorized") != std::string::npos; }, 10s));
  CHECK(WaitFor([&] { return c.WorkerNames("master") == std::set<std::string>{"w1"}; }, 15s));
  CHECK(c.Running("master"));
  // A bad key folder leaves the keys in use.
  WriteFile(authorized / "bad.pub", "not a key\n");
  c.Signal("master", SIGHUP);
  CHECK(WaitFor(
      [&] { return c.Log("master").find("SIGHUP: keys not re-read") != std::string::npos; }, 10s));
  CHECK(c.WorkerNames("master") == std::set<std::string>{"w1"});
}

TEST_CASE("a second daemon on the same home says which pid runs it and touches nothing",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  const pid_t pid = c.Start("master");
  const std::string pid_file = c.Home("master") + "/var/run/zclusterd.pid";
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"zclusterd", "-f", "-c", c.ConfigPath("master")},
        std::vector<std::string>{"zclusterd", "-c", c.ConfigPath("master")}}) {
    RunResult second = c.Run(argv);
    CHECK(second.exit_code == 1);
    CHECK(second.output.find("already running (pid " + std::to_string(pid)) != std::string::npos);
  }
  CHECK(c.Running("master"));
  CHECK(c.Ask("master", schemas::StatusQuery{}).has_value());
  // Killed, it leaves the file behind; the next start takes it over.
  c.Kill("master", SIGKILL);
  const pid_t next = c.Start("master");
  CHECK(c.Ask("master", schemas::StatusQuery{}).has_value());
  CHECK(next != pid);
}

TEST_CASE("<logging><log_format>plain,json writes cluster.json beside cluster.log",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  std::string conf = ReadFile(c.ConfigPath("master"));
  conf.replace(conf.find("</ossec_config>"), 15,
               "<logging><log_format>plain,json</log_format></logging></ossec_config>");
  WriteFile(c.ConfigPath("master"), conf);
  c.Start("master");
  const std::string json_path = c.Home("master") + "/logs/cluster.json";
  REQUIRE(WaitFor([&] { return ReadIfThere(json_path).find("Listening on") != std::string::npos; },
                  10s));
  std::istringstream lines(ReadFile(json_path));
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    nlohmann::json o = nlohmann::json::parse(line);
    CHECK(o.size() == 5);
    CHECK(o["tag"] == "Master");
  }
  CHECK(n >= 2);
  CHECK(ReadFile(c.Home("master") + "/logs/cluster.log").find("Listening on") != std::string::npos);
}

TEST_CASE("zcluster-control says at once that a killed node is not running", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Start("master");
  c.Kill("master", SIGKILL);  // its control socket file and pid file stay behind
  REQUIRE(std::filesystem::exists(c.Home("master") + "/queue/cluster/control.sock"));
  const auto start = std::chrono::steady_clock::now();
  RunResult r = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-l"});
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("is zclusterd running?") != std::string::npos);
  // Not the 10 s reply timeout: the socket is probed before anything is sent.
  CHECK(took < 3s);
}

TEST_CASE("SIGHUP re-reads Wazuh's wazuh_clusterd.debug and turns DEBUG lines on and off",
          "[integration]") {
  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.debug = false;
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  CHECK(c.Log("master").find("DEBUG:") == std::string::npos);
  const std::string options = c.Home("master") + "/etc/local_internal_options.conf";
  std::filesystem::create_directories(c.Home("master") + "/etc");
  WriteFile(options, "# Wazuh's own switch\nwazuh_clusterd.debug=1\n");
  c.Signal("master", SIGHUP);
  CHECK(c.WaitForLog("master", "debug lines on", 10s));
  // Keepalives come every 0.5 s and are logged at DEBUG.
  CHECK(c.WaitForLog("master", "DEBUG: [Worker w1] [Keep alive] Received keep alive", 10s));
  WriteFile(options, "wazuh_clusterd.debug=0\n");
  c.Signal("master", SIGHUP);
  CHECK(c.WaitForLog("master", "debug lines off", 10s));
  CHECK(c.Running("master"));
}
