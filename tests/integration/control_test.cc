// zcluster-control as Wazuh's cluster_control users type it: its flags and long names, filters,
// refusals of what cannot be combined, and -i's exit status for a Nagios-style check.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"
#include "support/wait.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

TEST_CASE("cluster_control's flags and filters work and -i exits 2 while a worker is lost",
          "[integration][control]") {
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
  const std::string conf = c.ConfigPath("master");
  auto control = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"zcluster-control", "-c", conf});
    return c.Run(args);
  };

  // In sync: exit 0, the master's row first, then both workers.
  RunResult healthy;
  CHECK(WaitFor([&] { return (healthy = control({"-i"})).exit_code == 0; }, 20s));
  INFO(healthy.output);
  CHECK(healthy.output.find("master  master") != std::string::npos);
  CHECK(healthy.output.find("\nw1 ") != std::string::npos);
  CHECK(control({"-i", "more"}).output.find("AGENT-SYNC-START") != std::string::npos);
  nlohmann::json j = nlohmann::json::parse(control({"--health", "--json"}).output);
  CHECK(j["master"]["name"] == "master");
  CHECK(j["workers"].size() == 2);
  CHECK(j["workers"][0]["last_keepalive"].get<std::string>().back() == 'Z');

  // Wazuh's long names and -fn on -l.
  RunResult w1_only = control({"--list-nodes", "-fn", "w1"});
  CHECK(w1_only.exit_code == 0);
  CHECK(w1_only.output.find("w1") != std::string::npos);
  CHECK(w1_only.output.find("w2") == std::string::npos);
  CHECK(control({"--list-agents", "-fs", "Active", "never_connected"}).exit_code == 0);

  // What cannot work is refused with the reason, and exit 1.
  RunResult bogus = control({"-a", "-fs", "bogus"});
  CHECK(bogus.exit_code == 1);
  CHECK(bogus.output.find("unknown agent status 'bogus'") != std::string::npos);
  RunResult both = control({"-l", "-a"});
  CHECK(both.exit_code == 1);
  CHECK(both.output.find("cannot be combined") != std::string::npos);
  CHECK(control({"-l", "-fs", "active"}).output.find("-fs filters agents") != std::string::npos);

  // w2 dies: -i says so and exits 2; filtered to w1 it is 0.
  c.Kill("w2", SIGKILL);
  RunResult lost;
  CHECK(WaitFor([&] { return (lost = control({"-i"})).exit_code == 2; }, 20s));
  CHECK(lost.output.find("Lost: w2 is not connected to the master") != std::string::npos);
  CHECK(control({"-i", "-fn", "w1"}).exit_code == 0);
  // Back: healthy again.
  c.Start("w2");
  CHECK(WaitFor([&] { return control({"-i"}).exit_code == 0; }, 30s));
}
