// The agent-groups flow with real processes: the master's stream reaches every worker, late and
// lossy workers converge through snapshots, and the numbering survives a master crash.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"
#include "support/wait.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/agent_auth.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/control.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

// A master with `n` registered agents and groups web and db; workers configured (not started).
std::vector<std::string> Setup(Cluster& c, std::size_t n, const std::vector<std::string>& workers,
                               int sub_hwm = 1000) {
  NodeOptions master = NodeOptions::Master();
  c.Configure("master", master);
  if (sub_hwm != 1000) {
    // One change per published delta: a burst of many messages. The worker's receive queue
    // holds one message; ZeroMQ pushes back on a full SUB queue through TCP, whose buffers on
    // loopback could swallow the whole burst, so the master's per-worker queue is tiny too: PUB
    // must drop, deterministically.
    std::string conf = ReadFile(c.ConfigPath("master"));
    conf.replace(conf.find("<tuning>"), 8,
                 "<tuning><delta_batch>1</delta_batch><pub_hwm>1</pub_hwm>");
    WriteFile(c.ConfigPath("master"), conf);
  }
  for (const std::string& w : workers) {
    c.Configure(w, {});
    c.Authorize(w);
    if (sub_hwm != 1000) {
      std::string conf = ReadFile(c.ConfigPath(w));
      conf.replace(conf.find("<tuning>"), 8,
                   "<tuning><sub_hwm>" + std::to_string(sub_hwm) + "</sub_hwm>");
      WriteFile(c.ConfigPath(w), conf);
    }
  }
  nodes::ClientKeys keys = bench::MakeAgents(n);
  std::vector<std::string> ids;
  for (const nodes::ClientKey& k : keys.entries()) ids.push_back(k.id);
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/web");
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/db");
  REQUIRE(keys.Save(c.Home("master") + "/etc/client.keys").ok());
  for (const std::string& w : workers) {
    std::filesystem::create_directories(c.Home(w) + "/etc");
    REQUIRE(keys.Save(c.Home(w) + "/etc/client.keys").ok());
  }
  return ids;
}

}  // namespace

TEST_CASE("10000 agents assigned at once reach both workers", "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 10000, {"w1", "w2"});
  c.Start("master");
  c.Start("w1");
  c.Start("w2");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  std::uint64_t seq = c.Assign(ids, {"web", "db"});
  CHECK(seq == 10000);
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1") && c.SameGroupTable("w2"); }, 30s));
  CHECK(c.GroupTableOf("w1").groups.at(ids[9999]) == std::vector<std::string>{"web", "db"});
  CHECK(c.WaitForLog("master", "[Agent-groups send] Published 10000 changes", 5s));

  // The dumps through the CLI are the same JSON.
  RunResult master =
      c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "--local", "groups", "--json"});
  RunResult w1 =
      c.Run({"zcluster-control", "-c", c.ConfigPath("w1"), "--local", "groups", "--json"});
  REQUIRE(master.exit_code == 0);
  CHECK(master.output == w1.output);
  nlohmann::json j = nlohmann::json::parse(w1.output);
  CHECK(j["seq"] == 10000);
  CHECK(j["groups"][ids[0]] == nlohmann::json{"web", "db"});

  // Health says both are in sync once their keepalives carry the new position.
  REQUIRE(WaitFor(
      [&] {
        RunResult h = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i", "--json"});
        nlohmann::json hj = nlohmann::json::parse(h.output);
        return hj["workers"].size() == 2 && hj["workers"][0]["groups"]["state"] == "in sync" &&
               hj["workers"][1]["groups"]["state"] == "in sync";
      },
      10s));
  RunResult list = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "group", "list"});
  CHECK(list.output.find("web      10000") != std::string::npos);
}

TEST_CASE("a worker started after the changes converges", "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 300, {"w1"});
  c.Start("master");
  REQUIRE(WaitFor([&] { return c.Ask("master", schemas::NodesQuery{}).has_value(); }, 10s));
  c.Assign(ids, {"web"});
  c.Assign({ids[0], ids[1]}, {"db"}, true);
  c.Start("w1");
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  CHECK(c.GroupTableOf("w1").groups.at(ids[0]) == std::vector<std::string>{"db"});
  CHECK(c.WaitForLog("w1", "[Agent-groups recv full] Received the whole table: 300 agents at 302",
                     5s));
  // The first change is logged at INFO; the second, a moment later, only at DEBUG.
  const std::string log = c.Log("master");
  CHECK(log.find("INFO: [Master] [Agent-groups send] Published 300 changes, stream at 300.") !=
        std::string::npos);
  CHECK(log.find("DEBUG: [Master] [Agent-groups send] Published 2 changes, stream at 302.") !=
        std::string::npos);
}

TEST_CASE("300000 group changes against a worker with HWM 1 converge through gap resync",
          "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 100000, {"w1"}, /*sub_hwm=*/1);
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  REQUIRE(WaitFor([&] { return c.GroupTableOf("w1").seq == 0 && !c.Log("w1").empty(); }, 5s));
  // 300,000 deltas in three bursts: with a receive high-water mark of 1, most are dropped.
  c.Assign(ids, {"web"});
  c.Assign(ids, {"db"});
  c.Assign(ids, {"web"}, /*replace=*/true);
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 120s));
  schemas::GroupTable copy = c.GroupTableOf("w1");
  CHECK(copy.seq == 300000);
  CHECK(copy.groups.at(ids.back()) == std::vector<std::string>{"web"});
  // It got there by noticing gaps and catching up, not by luck.
  std::string log = c.Log("w1");
  CHECK((log.find("[Agent-groups recv] Caught up") != std::string::npos ||
         log.find("[Agent-groups recv full]") != std::string::npos));
}

TEST_CASE("a master killed and restarted continues the sequence and workers converge",
          "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 100, {"w1", "w2"});
  c.Start("master");
  c.Start("w1");
  c.Start("w2");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  std::uint64_t before = c.Assign(ids, {"web"});
  REQUIRE(before == 100);
  c.Kill("master", SIGKILL);
  c.Start("master");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  std::uint64_t after = c.Assign({ids[5]}, {"db"});
  CHECK(after == before + 1);  // not reused, not reset
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1") && c.SameGroupTable("w2"); }, 20s));
  CHECK(c.GroupTableOf("w2").groups.at(ids[5]) == std::vector<std::string>{"web", "db"});
}

TEST_CASE("a new agent gets default and learns its groups in its report ack",
          "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 3, {"w1"});
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  nodes::ClientKeys keys = *nodes::ClientKeys::Load(c.Home("w1") + "/etc/client.keys");
  const nodes::ClientKey& agent = keys.entries()[0];
  zmq::context_t ctx(1);
  auto dealer = bus::DealerSocket::ConnectCurve(
      ctx, *bus::GenerateKeyPair(), *bus::ReadPublicKeyFile(c.KeyPrefix("w1") + ".pub"),
      "tcp://127.0.0.1:" + std::to_string(c.AgentPort("w1")), "agent", bus::SocketOptions{});
  REQUIRE(dealer.ok());
  schemas::AgentState state;
  state.name = agent.name;
  std::uint64_t counter = 0;
  auto report = [&]() -> schemas::AgentReportAck {
    auto r = nodes::SignReport(agent.id, ++counter, state, nodes::DeriveAgentMacKey(agent.key));
    return std::get<schemas::AgentReportAck>(Exchange(*dealer, schemas::Encode(r)));
  };
  CHECK(report().groups.empty());  // first report: the master has not seen it yet
  REQUIRE(WaitFor([&] { return c.GroupTableOf("w1").groups.count(agent.id) == 1; }, 10s));
  state.last_keepalive = 1;
  CHECK(report().groups == std::vector<std::string>{"default"});
  c.Assign({agent.id}, {"web"});
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 10s));
  state.last_keepalive = 2;
  CHECK(report().groups == std::vector<std::string>{"default", "web"});

  RunResult table = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-a"});
  CHECK(table.output.find("w1    default,web") != std::string::npos);
  RunResult json = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-a", "--json"});
  nlohmann::json j = nlohmann::json::parse(json.output);
  CHECK(j["agents"][0]["groups"] == nlohmann::json{"default", "web"});
  RunResult bad = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "group", "assign",
                         agent.id, "nosuchgroup"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("group 'nosuchgroup' does not exist") != std::string::npos);
  dealer = Status::Unavailable("closed");
}

TEST_CASE("a master whose database was deleted while it was down loses no group or agent record",
          "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 40, {"w1"});
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  c.Assign({ids.begin(), ids.begin() + 20}, {"web"});
  c.Assign({ids.begin() + 20, ids.end()}, {"db", "web"});
  // Three agents report their full state through w1.
  nodes::ClientKeys keys = *nodes::ClientKeys::Load(c.Home("w1") + "/etc/client.keys");
  zmq::context_t ctx(1);
  auto dealer = bus::DealerSocket::ConnectCurve(
      ctx, *bus::GenerateKeyPair(), *bus::ReadPublicKeyFile(c.KeyPrefix("w1") + ".pub"),
      "tcp://127.0.0.1:" + std::to_string(c.AgentPort("w1")), "agent", bus::SocketOptions{});
  REQUIRE(dealer.ok());
  std::uint64_t counter = 0;
  auto report = [&](std::size_t i, std::uint64_t keepalive) {
    const nodes::ClientKey& agent = keys.entries()[i];
    schemas::AgentState state;
    state.name = agent.name;
    state.version = "Wazuh v4.14.0";
    state.labels = {{"site", "lab-" + std::to_string(i)}};
    state.last_keepalive = keepalive;
    auto r = nodes::SignReport(agent.id, ++counter, state, nodes::DeriveAgentMacKey(agent.key));
    CHECK(std::holds_alternative<schemas::AgentReportAck>(Exchange(*dealer, schemas::Encode(r))));
  };
  for (std::size_t i = 0; i < 3; ++i) report(i, 100);
  auto versions = [&] {
    std::size_t n = 0;
    std::optional<schemas::Message> m = c.Ask("master", schemas::AgentsQuery{});
    if (!m || !std::holds_alternative<schemas::AgentList>(*m)) return n;
    for (const schemas::AgentRecord& r : std::get<schemas::AgentList>(*m).agents) {
      if (r.state.version == "Wazuh v4.14.0" && r.state.labels.count("site")) ++n;
    }
    return n;
  };
  REQUIRE(WaitFor([&] { return versions() == 3 && c.SameGroupTable("w1"); }, 15s));
  const schemas::GroupTable before = c.GroupTableOf("master");

  c.Kill("master", SIGTERM);
  std::filesystem::remove_all(c.Home("master") + "/var/db/cluster");
  c.Start("master");
  CHECK(c.WaitForLog("master", "is new, but client.keys lists 40 agents", 10s));
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  CHECK(c.WaitForLog("master", "this master's database was lost or replaced", 15s));
  // The master took w1's table rather than wipe it, and both agree again.
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  schemas::GroupTable after = c.GroupTableOf("master");
  CHECK(after.groups == before.groups);
  CHECK(after.seq >= before.seq);
  // The agents' next reports change only their keepalive time; the master, holding no record,
  // asks w1 for their whole state instead of storing blank ones.
  for (std::size_t i = 0; i < 3; ++i) report(i, 200);
  CHECK(WaitFor([&] { return versions() == 3; }, 15s));
  dealer = Status::Unavailable("closed");
}

TEST_CASE("a worker frozen past the keepalive limit is dropped and comes back in sync",
          "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 500, {"w1", "w2"});
  c.Start("master");
  c.Start("w1");
  c.Start("w2");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  c.Signal("w1", SIGSTOP);
  // The silence limit is 2 s: w1 is dropped while the changes flow past it.
  REQUIRE(c.WaitForWorkers("master", {"w2"}, 10s));
  c.Assign(ids, {"web"});
  c.Assign({ids.begin(), ids.begin() + 100}, {"db"}, true);
  c.Signal("w1", SIGCONT);
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  CHECK(WaitFor([&] { return c.SameGroupTable("w1") && c.SameGroupTable("w2"); }, 20s));
  CHECK(c.GroupTableOf("w1").groups.at(ids[0]) == std::vector<std::string>{"db"});
}

TEST_CASE("a worker whose database was deleted while it was down rebuilds it from the master",
          "[integration][groups]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 300, {"w1"});
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  c.Assign(ids, {"web"});
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  c.Kill("w1", SIGTERM);
  std::filesystem::remove_all(c.Home("w1") + "/var/db/cluster");
  c.Assign({ids[0]}, {"db"});  // and one more change while it is away
  c.Start("w1");
  CHECK(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  CHECK(c.GroupTableOf("w1").groups.size() == 300);
  CHECK(c.GroupTableOf("w1").groups.at(ids[0]) == std::vector<std::string>{"web", "db"});
}
