// zcluster-control as Wazuh's cluster_control users type it: its flags and long names, filters,
// refusals of what cannot be combined, and -i's exit status for a Nagios-style check.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/cluster_fixture.h"
#include "support/wait.h"
#include "zcluster/bench/deployment.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/control.h"

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

TEST_CASE("on a worker -l -a and -i are answered by the master", "[integration][control]") {
  Cluster c;
  nodes::ClientKeys agents = bench::MakeAgents(5);
  c.StartWithAgents(agents);
  auto on_w1 = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"zcluster-control", "-c", c.ConfigPath("w1")});
    return c.Run(args);
  };
  RunResult nodes = on_w1({"-l"});
  INFO(nodes.output);
  CHECK(nodes.exit_code == 0);
  CHECK(nodes.output.find("\nw2 ") != std::string::npos);  // the cluster's view, not w1's own
  RunResult listed = on_w1({"-a", "--json"});
  REQUIRE(listed.exit_code == 0);
  CHECK(nlohmann::json::parse(listed.output)["agents"].size() == 5);
  RunResult health = on_w1({"-i", "--json"});
  CHECK(nlohmann::json::parse(health.output)["workers"].size() == 2);
  // Several at once, of several types: each gets its own answer.
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      Result<schemas::Message> r =
          nodes::ControlRequest(c.Home("w1") + "/queue/cluster/control.sock",
                                i % 2 ? schemas::Message(schemas::AgentsQuery{})
                                      : schemas::Message(schemas::NodesQuery{}),
                                std::chrono::milliseconds(10000));
      const bool right = r.ok() && (i % 2 ? std::holds_alternative<schemas::AgentList>(*r)
                                          : std::holds_alternative<schemas::NodeList>(*r));
      if (right) ++good;
    });
  }
  for (std::thread& t : clients) t.join();
  CHECK(good == 6);
  // Without its master, a worker says so at once rather than answering for the cluster.
  c.Kill("master", SIGKILL);
  RunResult alone;
  CHECK(WaitFor([&] { return (alone = on_w1({"-a"})).exit_code == 1; }, 20s));
  INFO(alone.output);
  CHECK(alone.output.find("not connected to the master") != std::string::npos);
  RunResult l = on_w1({"-l"});
  INFO(l.output);
  CHECK(l.exit_code == 0);
}

TEST_CASE("remote administration: a read key asks, an admin key changes, others get nothing",
          "[integration][control]") {
  Cluster c;
  const std::string admins = c.Home("admins");
  std::filesystem::create_directories(admins + "/authorized/read");
  std::filesystem::create_directories(admins + "/authorized/admin");
  for (const auto& [name, role] :
       {std::pair{"alice", "read"}, std::pair{"bob", "admin"}, std::pair{"mallory", ""}}) {
    bus::CurveKeyPair pair = *bus::GenerateKeyPair();
    REQUIRE(bus::WriteKeyPair(admins + "/" + name, pair).ok());
    if (*role) WriteFile(admins + "/authorized/" + role + "/" + name + ".pub", pair.public_z85);
  }
  NodeOptions master = NodeOptions::Master();
  master.extra = "<admin><bind>127.0.0.1:0</bind><authorized_keys>" + admins +
                 "/authorized</authorized_keys></admin>";
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Authorize("w1");
  std::filesystem::create_directories(c.Home("master") + "/etc");
  REQUIRE(bench::MakeAgents(1).Save(c.Home("master") + "/etc/client.keys").ok());
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  const std::uint16_t port = c.ReportedPort("master", "admin_port");
  REQUIRE(port != 0);
  auto as = [&](const std::string& key, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"zcluster-control", "--host", "127.0.0.1:" + std::to_string(port), "--key", key,
                 "--server-key", c.KeyPrefix("master") + ".pub", "--timeout", "5000"});
    return c.Run(args);
  };

  // A read key lists, and is refused a change, which the master audits.
  RunResult listed = as(admins + "/alice", {"-l"});
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("w1") != std::string::npos);
  CHECK(as(admins + "/alice", {"-a", "--json"}).exit_code == 0);
  RunResult refused = as(admins + "/alice", {"agent", "add", "sneaky"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("role is read") != std::string::npos);
  CHECK(c.WaitForLog("master", "Refused agent_add from key 'read:alice' at 127.0.0.1", 5s));
  CHECK(ReadFile(c.Home("master") + "/etc/client.keys").find("sneaky") == std::string::npos);

  // An admin key changes, and the change is audited too.
  RunResult added = as(admins + "/bob", {"agent", "add", "welcome", "10.0.0.7"});
  INFO(added.output);
  CHECK(added.exit_code == 0);
  CHECK(c.WaitForLog("master", "agent_add by key 'admin:bob' from 127.0.0.1", 5s));
  CHECK(ReadFile(c.Home("master") + "/etc/client.keys").find("welcome 10.0.0.7") !=
        std::string::npos);

  // A key that is not listed, and a worker's key (another allow-list), get nothing.
  RunResult stranger = as(admins + "/mallory", {"-l"});
  CHECK(stranger.exit_code == 1);
  CHECK(stranger.output.find("w1") == std::string::npos);
  RunResult worker_key = as(c.KeyPrefix("w1"), {"-l"});
  CHECK(worker_key.exit_code == 1);
  CHECK(c.WaitForLog("master", "Refused CURVE handshake on the admin endpoint", 5s));
}
