// The cluster across a network: a master and three workers, each on its own test host (a network
// namespace), over links that delay every byte 50 ms each way and lose 1 % of the packets; one
// worker's link is cut for 30 s and restored. Runs as root; elsewhere it says why it cannot.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/cluster_fixture.h"
#include "support/test_hosts.h"
#include "support/wait.h"
#include "zcluster/nodes/client_keys.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kWorkers{"w1", "w2", "w3"};
constexpr std::size_t kAgentsPerWorker = 200;

// Each worker's node field on the master equals the worker its agents reported to.
bool AgentsOnMaster(Cluster& c, const nodes::ClientKeys& keys) {
  RunResult r = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-a", "--json"});
  if (r.exit_code != 0) return false;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  if (!j.is_object()) return false;
  std::map<std::string, std::string> node_of;
  for (const auto& a : j["agents"]) node_of[a["id"]] = a["node"];
  for (std::size_t w = 0; w < kWorkers.size(); ++w) {
    for (std::size_t i = w * kAgentsPerWorker; i < (w + 1) * kAgentsPerWorker; ++i) {
      if (node_of[keys.entries()[i].id] != kWorkers[w]) return false;
    }
  }
  return true;
}

bool SameFile(Cluster& c, const std::string& worker, const std::string& relative) {
  std::ifstream a(c.Home("master") + "/" + relative, std::ios::binary);
  std::ifstream b(c.Home(worker) + "/" + relative, std::ios::binary);
  if (!a || !b) return false;
  return std::string(std::istreambuf_iterator<char>(a), {}) ==
         std::string(std::istreambuf_iterator<char>(b), {});
}

bool Converged(Cluster& c, const std::string& worker, const std::string& rule) {
  return c.SameGroupTable(worker) && SameFile(c, worker, rule);
}

}  // namespace

TEST_CASE("on hosts joined by slow lossy links every flow converges and a cut worker comes back",
          "[integration][hosts]") {
  TestHosts hosts(kWorkers);
  if (!hosts.available()) {
    WARN("not run: " << hosts.error());
    return;
  }
  for (const std::string& w : kWorkers) REQUIRE(hosts.SetLoss(w, 1));

  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.netns = hosts.Namespace("hub");
  master.bind_addr = "0.0.0.0";
  master.keep_alive = 1;
  master.max_silence = 6;
  c.Configure("master", master);
  nodes::ClientKeys keys;
  for (std::size_t i = 0; i < kAgentsPerWorker * kWorkers.size(); ++i) {
    REQUIRE(keys.Add("agent-" + std::to_string(i), "any").ok());
  }
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/web");
  REQUIRE(keys.Save(c.Home("master") + "/etc/client.keys").ok());
  const std::string rule = "etc/rules/local_rules.xml";
  WriteFile(c.Home("master") + "/" + rule, "<group name=\"local\">first</group>\n");
  for (const std::string& w : kWorkers) {
    NodeOptions o;
    o.netns = hosts.Namespace(w);
    o.keep_alive = 1;
    o.max_silence = 6;
    c.Configure(w, o);
    c.Authorize(w);
    std::filesystem::create_directories(c.Home(w) + "/etc");
    REQUIRE(keys.Save(c.Home(w) + "/etc/client.keys").ok());
  }
  c.Start("master");

  // Each worker reaches the master through its own link: a relay on its host (127.0.0.1, the
  // master's two ports) holds every byte 50 ms and sends it over the lossy veth to the hub.
  std::vector<std::unique_ptr<BackgroundProcess>> relays;
  for (const std::string& w : kWorkers) {
    std::vector<std::string> routes;
    for (std::uint16_t port : {c.port(), c.StreamPort()}) {
      routes.push_back("127.0.0.1:" + std::to_string(port) + ":" + hosts.HubAddress(w) + ":" +
                       std::to_string(port));
    }
    std::vector<std::string> argv =
        hosts.In(w, {"python3", ZC_SUPPORT_DIR "/delay_relay.py", "0.05"});
    argv.insert(argv.end(), routes.begin(), routes.end());
    const std::string log = c.Home("master") + "/../relay-" + w + ".log";
    relays.push_back(std::make_unique<BackgroundProcess>(argv, log));
    REQUIRE(WaitFor([&] { return ReadFile(log).find("relaying") != std::string::npos; }, 10s));
    c.Start(w);
  }
  if (!c.WaitForWorkers("master", {"w1", "w2", "w3"}, 30s)) {
    FAIL("not all workers joined; w1's log:\n"
         << c.Log("w1") << "\nw1's relay:\n"
         << ReadFile(c.Home("master") + "/../relay-w1.log") << "\nthe master's log:\n"
         << c.Log("master"));
  }

  // Agent info: each worker's agents report on its own host and reach the master.
  for (std::size_t w = 0; w < kWorkers.size(); ++w) {
    const std::string slice = c.Home(kWorkers[w]) + "/agents.keys";
    REQUIRE(keys.Slice(w * kAgentsPerWorker, (w + 1) * kAgentsPerWorker).Save(slice).ok());
    RunResult sim = c.RunProgram(hosts.In(
        kWorkers[w], {Cluster::ToolPath("zcluster-agent-sim"), "--worker",
                      "127.0.0.1:" + std::to_string(c.AgentPort(kWorkers[w])), "--server-key",
                      c.KeyPrefix(kWorkers[w]) + ".pub", "--keys", slice, "--duration", "0"}));
    INFO(sim.output);
    REQUIRE(sim.exit_code == 0);
  }
  CHECK(WaitFor([&] { return AgentsOnMaster(c, keys); }, 60s));

  // Groups and files fan out to every worker.
  std::vector<std::string> ids;
  for (const auto& e : keys.entries()) ids.push_back(e.id);
  c.Assign(ids, {"web"});
  for (const std::string& w : kWorkers) {
    CHECK(WaitFor([&] { return Converged(c, w, rule); }, 60s));
  }

  // w3's cable is pulled for 30 s: the master drops it, the others go on without it.
  REQUIRE(hosts.Cut("w3", true));
  const auto restore_at = std::chrono::steady_clock::now() + 30s;
  CHECK(c.WaitForWorkers("master", {"w1", "w2"}, 20s));
  c.Assign({ids.begin(), ids.begin() + 100}, {"default"}, /*replace=*/true);
  WriteFile(c.Home("master") + "/" + rule, "<group name=\"local\">second</group>\n");
  for (const std::string w : {"w1", "w2"}) {
    CHECK(WaitFor([&] { return Converged(c, w, rule); }, 60s));
  }
  CHECK_FALSE(Converged(c, "w3", rule));
  CHECK(c.Running("w3"));
  // The length of the outage is what this scenario is about, not something to wait for.
  std::this_thread::sleep_until(restore_at);
  REQUIRE(hosts.Cut("w3", false));

  CHECK(c.WaitForWorkers("master", {"w1", "w2", "w3"}, 60s));
  CHECK(WaitFor([&] { return Converged(c, "w3", rule); }, 60s));
}
