// The agent-info flow with real processes: simulated agents report to workers, workers push to
// the master, the master keeps only registered agents, and nothing acknowledged is lost.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/cluster_fixture.h"
#include "support/wait.h"
#include "zcluster/agent_sim/agent_simulator.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/agent_auth.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/control.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

nodes::ClientKeys MakeAgents(std::size_t n) {
  nodes::ClientKeys keys;
  for (std::size_t i = 0; i < n; ++i) REQUIRE(keys.Add("agent-" + std::to_string(i), "any").ok());
  return keys;
}

nodes::AgentSimOptions SimTo(Cluster& c, const std::string& worker) {
  nodes::AgentSimOptions o;
  o.endpoint = "tcp://127.0.0.1:" + std::to_string(c.AgentPort(worker));
  o.server_public_z85 = *bus::ReadPublicKeyFile(c.KeyPrefix(worker) + ".pub");
  o.connections = 4;
  return o;
}

std::map<std::string, schemas::AgentRecord> MasterAgents(Cluster& c) {
  std::map<std::string, schemas::AgentRecord> out;
  Result<schemas::Message> reply = nodes::ControlRequest(
      c.Home("master") + "/queue/cluster/control.sock", schemas::AgentsQuery{}, 10s);
  if (!reply.ok() || !std::holds_alternative<schemas::AgentList>(*reply)) return out;
  for (auto& a : std::get<schemas::AgentList>(*reply).agents) out.emplace(a.id, std::move(a));
  return out;
}

// Every agent of `truth` is on the master, reported by `node`, field for field.
std::size_t Matching(const std::map<std::string, schemas::AgentRecord>& master,
                     const std::map<std::string, schemas::AgentState>& truth,
                     const std::string& node) {
  std::size_t n = 0;
  for (const auto& [id, state] : truth) {
    auto it = master.find(id);
    if (it != master.end() && it->second.node == node && it->second.state == state) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("2000 agents on two workers all reach the master with the right node",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(2000);
  c.StartWithAgents(agents);

  Result<nodes::AgentSimResult> r1 = Status::Internal("not run"), r2 = r1;
  std::thread t1([&] { r1 = nodes::RunAgentSimulation(agents.Slice(0, 1000), SimTo(c, "w1")); });
  std::thread t2([&] { r2 = nodes::RunAgentSimulation(agents.Slice(1000, 2000), SimTo(c, "w2")); });
  t1.join();
  t2.join();
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  CHECK(r1->truth.size() == 1000);
  CHECK(r2->truth.size() == 1000);
  CHECK(r1->errors + r2->errors == 0);

  std::map<std::string, schemas::AgentRecord> master;
  REQUIRE(WaitFor(
      [&] {
        master = MasterAgents(c);
        return Matching(master, r1->truth, "w1") == 1000 &&
               Matching(master, r2->truth, "w2") == 1000;
      },
      30s));
  CHECK(master.size() == 2000);
  CHECK(c.WaitForLog("w1", "[Agent-info sync] Finished in", 10s));
  CHECK(c.WaitForLog("master", "INFO: [Worker w2] [Agent-info sync] Finished in", 10s));

  RunResult table = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-a", "-fn", "w1"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.output.rfind("ID ", 0) == 0);
  CHECK(std::count(table.output.begin(), table.output.end(), '\n') == 1001);
  RunResult json =
      c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-a", "--json", "-fs", "active"});
  REQUIRE(json.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(json.output);
  CHECK(j["agents"].size() == 2000);
  CHECK(j["agents"][0]["os"]["platform"] == "ubuntu");

  RunResult health = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i", "--json"});
  // 2 while a worker's files are still being synced: a problem for a check, not for this test.
  REQUIRE((health.exit_code == 0 || health.exit_code == 2));
  nlohmann::json h = nlohmann::json::parse(health.output);
  REQUIRE(h["workers"].size() == 2);
  // The last round's count: all 1000 agents when the sync ran as one round, fewer when a pause
  // of a second (a slow sanitized run) split it, never none.
  CHECK(h["workers"][0]["agent_info_sync"]["agents_sent"].get<int>() > 0);
  CHECK(h["workers"][0]["agent_info_sync"]["pending"] == 0);

  // The small questions the bench and the monitor ask: counters, and a few agents by id.
  auto ask = [&](const std::string& node, const schemas::Message& request) {
    Result<schemas::Message> reply = nodes::ControlRequest(
        c.Home(node) + "/queue/cluster/control.sock", request, std::chrono::milliseconds(5000));
    REQUIRE(reply.ok());
    return *reply;
  };
  auto master_status = std::get<schemas::NodeStatus>(ask("master", schemas::StatusQuery{}));
  CHECK(master_status.type == "master");
  CHECK(master_status.agents_stored >= 2000);
  auto w1_status = std::get<schemas::NodeStatus>(ask("w1", schemas::StatusQuery{}));
  CHECK(w1_status.name == "w1");
  CHECK(w1_status.agents_stored >= 1000);
  CHECK(w1_status.agents_pending == 0);
  CHECK(w1_status.files_synced);
  RunResult status = c.Run({"zcluster-control", "-c", c.ConfigPath("w2"), "--status", "--json"});
  REQUIRE(status.exit_code == 0);
  nlohmann::json sj = nlohmann::json::parse(status.output);
  CHECK(sj["name"] == "w2");
  CHECK(sj["agents_stored"].get<int>() >= 1000);
  CHECK(sj["files_synced"] == true);
  RunResult plain = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "--status"});
  CHECK(plain.output.find("node: master (master)") != std::string::npos);
  CHECK(plain.output.find("persisted since start") != std::string::npos);
  std::string first = agents.entries()[0].id, last = agents.entries()[1999].id;
  auto some =
      std::get<schemas::AgentList>(ask("master", schemas::AgentsQuery{{last, "99999", first}}));
  REQUIRE(some.agents.size() == 2);
  CHECK(some.agents[0].id == last);
  CHECK(some.agents[0].node == "w2");
  CHECK(some.agents[1].id == first);
}

TEST_CASE("a relay's reports reach the master as the agents' own would", "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(1000);
  c.StartWithAgents(agents);
  nodes::AgentSimOptions o = SimTo(c, "w1");
  o.relay = 100;
  o.duration = 1;  // rounds after the first, each agent's reports in counter order
  o.churn = 0.3;
  Result<nodes::AgentSimResult> r = nodes::RunAgentSimulation(agents, o);
  REQUIRE(r.ok());
  CHECK(r->errors == 0);
  CHECK(r->sent > 1000);
  CHECK(r->keepalive_only > 0);  // agents whose state the worker holds send the time alone
  CHECK(r->acked == r->sent);
  REQUIRE(r->truth.size() == 1000);
  std::map<std::string, schemas::AgentRecord> master;
  CHECK(WaitFor(
      [&] {
        master = MasterAgents(c);
        return Matching(master, r->truth, "w1") == 1000;
      },
      30s));
}

TEST_CASE("a restarted worker asks relayed agents for their states and the master ends with them",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(200);
  c.StartWithAgents(agents);
  nodes::AgentSimOptions o = SimTo(c, "w1");
  o.relay = 50;
  o.rate = 400;  // each agent every half second
  o.churn = 0;
  o.duration = 120;  // the longest: `stop` ends it
  std::atomic<bool> stop = false;
  o.stop = &stop;
  Result<nodes::AgentSimResult> r = Status::Internal("not run");
  std::thread sim([&] { r = nodes::RunAgentSimulation(agents, o); });
  auto reported_since = [&](std::uint64_t since) {
    std::size_t n = 0;
    for (const auto& [id, a] : MasterAgents(c)) n += a.state.last_keepalive > since;
    return n;
  };
  // Every agent's whole state is on the master: from here on they send keepalive-only reports.
  bool first = WaitFor([&] { return reported_since(0) == 200; }, 30s);
  c.Kill("w1", SIGTERM);
  const auto restarted = static_cast<std::uint64_t>(nodes::UnixNow());
  c.Start("w1");
  // The new process holds no checked state: each agent's next report is refused with "send it
  // whole", and then sent whole. Every agent reaches the master again after the restart.
  bool again = first && WaitFor([&] { return reported_since(restarted) == 200; }, 30s);
  stop = true;
  sim.join();
  REQUIRE(first);
  REQUIRE(again);
  REQUIRE(r.ok());
  CHECK(r->errors == 0);
  CHECK(r->keepalive_only > 0);
  CHECK(r->asked > 0);
  CHECK(WaitFor([&] { return Matching(MasterAgents(c), r->truth, "w1") == 200; }, 30s));
}

TEST_CASE("an agent the master does not know is not saved and is reported back",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(10);
  c.StartWithAgents(agents);
  // The seed's case: removed on the master while a worker still has the old client.keys. The
  // files stream closes that window within milliseconds, so the test holds it open: w1 is down
  // during the removal and the master is frozen while agents report to the restarted w1.
  c.Kill("w1", SIGTERM);
  RunResult removed = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "agent", "remove",
                             agents.entries()[3].id});
  REQUIRE(removed.exit_code == 0);
  CHECK(removed.output == "Agent 004 'agent-3' removed.\n");
  c.Signal("master", SIGSTOP);
  c.Start("w1");
  Result<nodes::AgentSimResult> r = nodes::RunAgentSimulation(agents, SimTo(c, "w1"));
  c.Signal("master", SIGCONT);
  REQUIRE(r.ok());
  CHECK(r->truth.size() == 10);  // the worker still knows agent 004 and acknowledges it
  REQUIRE(c.WaitForLog("w1", "The master does not know 1 agents (first: 004)", 15s));
  std::map<std::string, schemas::AgentRecord> master;
  REQUIRE(WaitFor(
      [&] {
        master = MasterAgents(c);
        return Matching(master, r->truth, "w1") == 9;
      },
      15s));
  CHECK(master.count("004") == 0);
  CHECK(c.Log("master").find("1 agents are not registered on the master (first: 004)") !=
        std::string::npos);
  RunResult listed = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-a"});
  CHECK(listed.output.find("agent-3") == std::string::npos);
}

TEST_CASE("agent info in flight when the connection to the master drops goes again on reconnect",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(10);
  // Sessions that outlive the cut on both sides (Wazuh's default is 120 s): a new session sends
  // its batches again anyway, so only the dropped connection is left to do it.
  NodeOptions master_options = NodeOptions::Master(), worker_options;
  master_options.max_silence = worker_options.max_silence = 60;
  c.StartWithAgents(agents, {"w1"}, master_options, worker_options);
  // The master paused, so that the worker's batch waits unacknowledged in the connection, which
  // the kernel then aborts (ss -K, as a reset on the path would): the ack can only come on a
  // new connection, and the ack timeout would send the batch again only 10 s after it went.
  c.Signal("master", SIGSTOP);
  Result<nodes::AgentSimResult> r = nodes::RunAgentSimulation(agents, SimTo(c, "w1"));
  RunResult cut =
      c.RunProgram({"ss", "-K", "dst", "127.0.0.1", "dport", "=", ":" + std::to_string(c.port())});
  bool dropped = c.WaitForLog("w1", "lost; reconnecting", 10s);
  c.Signal("master", SIGCONT);
  REQUIRE(r.ok());
  REQUIRE(r->truth.size() == 10);
  INFO(cut.output);
  REQUIRE(cut.exit_code == 0);
  REQUIRE(dropped);
  CHECK(WaitFor(
      [&] {
        Result<schemas::Message> status = nodes::ControlRequest(
            c.Home("w1") + "/queue/cluster/control.sock", schemas::StatusQuery{}, 2000ms);
        const auto* s = status.ok() ? std::get_if<schemas::NodeStatus>(&*status) : nullptr;
        return s != nullptr && s->agents_pending == 0;
      },
      5s));
  CHECK(Matching(MasterAgents(c), r->truth, "w1") == 10);
  CHECK(c.Log("w1").find("agent-info batches sent again") != std::string::npos);
  CHECK(c.Log("w1").find("; 0 agent-info batches sent again") == std::string::npos);
}

TEST_CASE("a master killed under agent-info and groups and files load loses nothing acknowledged",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(500);
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/web");
  c.StartWithAgents(agents);
  nodes::AgentSimOptions o = SimTo(c, "w1");
  o.duration = 4;  // keep reporting, with churn, across the master's death and return
  o.churn = 0.5;
  o.rate = 2000;
  Result<nodes::AgentSimResult> r = Status::Internal("not run");
  std::thread sim([&] { r = nodes::RunAgentSimulation(agents, o); });
  // Beside it, one agent at a time joins group web, and rule files keep being written: an
  // assignment the master answered must survive, and every file it holds must reach the workers.
  std::atomic<bool> stop = false;
  std::vector<std::string> acknowledged;
  std::thread admin([&] {
    const std::string control = c.Home("master") + "/queue/cluster/control.sock";
    // Until the simulation ends, so that the load spans the master's death and return; paced,
    // so that a sanitized build still has cores for the nodes.
    for (std::size_t i = 0; !stop; ++i, std::this_thread::sleep_for(2ms)) {
      const std::string& id = agents.entries()[i % agents.entries().size()].id;
      Result<schemas::Message> reply =
          nodes::ControlRequest(control, schemas::GroupAssign{{id}, {"web"}, false}, 500ms);
      if (reply.ok() && std::holds_alternative<schemas::GroupsChanged>(*reply)) {
        if (i < agents.entries().size()) acknowledged.push_back(id);
      }
      WriteFile(c.Home("master") + "/etc/rules/r" + std::to_string(i % 50) + ".xml",
                "<rule>" + std::to_string(i) + "</rule>\n");
    }
  });
  REQUIRE(c.WaitForLog("master", "[Worker w1] [Agent-info sync]", 10s));
  c.Kill("master", SIGKILL);
  c.Start("master");
  sim.join();
  stop = true;
  admin.join();
  REQUIRE(r.ok());
  REQUIRE(r->truth.size() == 500);
  REQUIRE(r->sent > 1000);
  std::map<std::string, schemas::AgentRecord> master;
  bool converged = WaitFor(
      [&] {
        master = MasterAgents(c);
        return Matching(master, r->truth, "w1") == 500;
      },
      30s);
  if (!converged) {
    for (const auto& [id, state] : r->truth) {
      auto it = master.find(id);
      INFO("agent " << id << (it == master.end() ? " missing" : " differs"));
      CHECK((it != master.end() && it->second.state == state));
      if (it == master.end() || it->second.state != state) break;
    }
  }
  REQUIRE(converged);

  REQUIRE_FALSE(acknowledged.empty());
  schemas::GroupTable table = c.GroupTableOf("master");
  for (const std::string& id : acknowledged) {
    INFO("agent " << id);
    REQUIRE(table.groups.count(id));
    const std::vector<std::string>& groups = table.groups.at(id);
    CHECK(std::find(groups.begin(), groups.end(), "web") != groups.end());
  }
  CHECK(WaitFor([&] { return c.SameGroupTable("w1") && c.SameGroupTable("w2"); }, 30s));
  auto same_rules = [&](const std::string& worker) {
    for (const auto& entry : std::filesystem::directory_iterator(c.Home("master") + "/etc/rules")) {
      const std::string name = entry.path().filename().string();
      if (ReadFile(entry.path().string()) != ReadFile(c.Home(worker) + "/etc/rules/" + name)) {
        return false;
      }
    }
    return true;
  };
  CHECK(WaitFor([&] { return same_rules("w1") && same_rules("w2"); }, 30s));
}

TEST_CASE("forged replayed unknown and malformed reports are refused at the worker",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(2);
  c.StartWithAgents(agents);
  zmq::context_t ctx(1);
  auto dealer = bus::DealerSocket::ConnectCurve(
      ctx, *bus::GenerateKeyPair(), *bus::ReadPublicKeyFile(c.KeyPrefix("w1") + ".pub"),
      "tcp://127.0.0.1:" + std::to_string(c.AgentPort("w1")), "forger", bus::SocketOptions{});
  REQUIRE(dealer.ok());
  auto exchange = [&](const schemas::Frames& frames) { return Exchange(*dealer, frames); };
  auto error_of = [](const schemas::Message& m) {
    REQUIRE(std::holds_alternative<schemas::ErrorReply>(m));
    return std::get<schemas::ErrorReply>(m);
  };
  const nodes::ClientKey& a1 = agents.entries()[0];
  schemas::AgentState state;
  state.name = a1.name;
  state.ip = "10.1.1.1";
  state.version = "forged";
  nodes::AgentMacKey right = nodes::DeriveAgentMacKey(a1.key);
  nodes::AgentMacKey wrong = nodes::DeriveAgentMacKey(agents.entries()[1].key);

  CHECK(error_of(exchange(schemas::Encode(nodes::SignReport(a1.id, 1, state, wrong))))
            .message.rfind("bad MAC", 0) == 0);
  CHECK(error_of(exchange(schemas::Encode(nodes::SignReport("999", 1, state, right)))).message ==
        "unknown agent id 999");
  CHECK(error_of(exchange({"\xa1x", "\x80"})).code == Code::kInvalidArgument);
  // A genuine report is accepted; sending it again is a replay.
  schemas::Frames genuine = schemas::Encode(nodes::SignReport(a1.id, 5, state, right));
  CHECK(std::holds_alternative<schemas::AgentReportAck>(exchange(genuine)));
  CHECK(error_of(exchange(genuine)).message.find("replayed") != std::string::npos);

  CHECK(c.WaitForLog("w1", "WARNING: [Worker w1] [Agent port] Rejected", 5s));
  // Only the genuine report reached the master.
  std::map<std::string, schemas::AgentRecord> master;
  REQUIRE(WaitFor(
      [&] {
        master = MasterAgents(c);
        return master.count(a1.id) && master.at(a1.id).node == "w1";
      },
      10s));
  CHECK(master.at(a1.id).state == state);
  CHECK(master.at(agents.entries()[1].id).state.status == schemas::AgentStatus::kNeverConnected);
  CHECK(master.count("999") == 0);
  dealer = Status::Unavailable("closed");
}

TEST_CASE("silent agents become disconnected and a new registration shows up at once",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(20);
  NodeOptions worker;
  worker.agents_disconnection_time = 1;
  c.StartWithAgents(agents, {"w1"}, NodeOptions::Master(), worker);

  // The simulator binary, one round, writing its truth.
  std::string truth_path = c.Home("w1") + "/truth.json";
  RunResult sim =
      c.Run({"zcluster-agent-sim", "--worker", "127.0.0.1:" + std::to_string(c.AgentPort("w1")),
             "--server-key", c.KeyPrefix("w1") + ".pub", "--keys",
             c.Home("w1") + "/etc/client.keys", "--truth", truth_path});
  INFO(sim.output);
  REQUIRE(sim.exit_code == 0);
  CHECK(sim.output.find("agents 20, reports sent 20, acknowledged 20, errors 0") == 0);
  nlohmann::json truth = nlohmann::json::parse(ReadFile(truth_path));
  REQUIRE(truth["agents"].size() == 20);
  CHECK(truth["agents"][0]["status"] == "active");

  // A second later, with no report since, every agent is disconnected on the master.
  REQUIRE(WaitFor(
      [&] {
        auto master = MasterAgents(c);
        std::size_t n = 0;
        for (const auto& [id, a] : master) {
          n += a.state.status == schemas::AgentStatus::kDisconnected &&
               a.state.disconnection_time > 0;
        }
        return n == 20;
      },
      10s));

  RunResult added = c.Run(
      {"zcluster-control", "-c", c.ConfigPath("master"), "agent", "add", "newcomer", "10.0.0.99"});
  REQUIRE(added.exit_code == 0);
  CHECK(added.output.rfind("Agent 021 'newcomer' added. Key: ", 0) == 0);
  RunResult listed = c.Run(
      {"zcluster-control", "-c", c.ConfigPath("master"), "-a", "--json", "-fs", "never_connected"});
  nlohmann::json j = nlohmann::json::parse(listed.output);
  REQUIRE(j["agents"].size() == 1);
  CHECK(j["agents"][0]["name"] == "newcomer");
  CHECK(j["agents"][0]["ip"] == "10.0.0.99");
  CHECK(ReadFile(c.Home("master") + "/etc/client.keys").find("021 newcomer 10.0.0.99 ") !=
        std::string::npos);
  RunResult dup =
      c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "agent", "add", "newcomer"});
  CHECK(dup.exit_code == 1);
  CHECK(dup.output.find("an agent named 'newcomer' exists with id 021") != std::string::npos);
}

TEST_CASE("a worker cannot rename an agent: the master keeps client.keys' name",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(2);
  c.Configure("master", NodeOptions::Master());
  c.Authorize("probe");
  std::filesystem::create_directories(c.Home("master") + "/etc");
  REQUIRE(agents.Save(c.Home("master") + "/etc/client.keys").ok());
  c.Start("master");

  // A worker whose key is authorized, speaking the protocol by hand.
  zmq::context_t ctx(1);
  std::optional<bus::DealerSocket> dealer = c.ConnectBareWorker(ctx, "probe");
  REQUIRE(std::holds_alternative<schemas::Welcome>(Exchange(
      *dealer,
      schemas::Encode(schemas::Hello{"itest", "probe", schemas::kProtocolVersion, "probe 1"}))));
  schemas::AgentState renamed;
  renamed.name = "evil";
  renamed.version = "Wazuh v4.14.0";
  renamed.last_keepalive = 100;
  const std::string id = agents.entries()[0].id;
  schemas::Message ack =
      Exchange(*dealer, schemas::Encode(schemas::AgentInfoBatch{1, 0, {{id, true, renamed}}}));
  REQUIRE(std::holds_alternative<schemas::AgentInfoAck>(ack));

  std::map<std::string, schemas::AgentRecord> master = MasterAgents(c);
  REQUIRE(master.count(id) == 1);
  CHECK(master[id].state.version == "Wazuh v4.14.0");  // the update was applied...
  CHECK(master[id].state.name == "agent-0");           // ...but not its name
  CHECK(master[id].node == "probe");
  dealer.reset();  // close the socket before its context
}

TEST_CASE("an agent that moved while its old worker was cut off keeps its newest state",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(1);
  c.StartWithAgents(agents);
  const nodes::ClientKey& agent = agents.entries()[0];
  zmq::context_t ctx(1);
  std::uint64_t counter = 0;
  auto report = [&](const std::string& worker, const std::string& version) {
    auto dealer = bus::DealerSocket::ConnectCurve(
        ctx, *bus::GenerateKeyPair(), *bus::ReadPublicKeyFile(c.KeyPrefix(worker) + ".pub"),
        "tcp://127.0.0.1:" + std::to_string(c.AgentPort(worker)), "agent", bus::SocketOptions{});
    REQUIRE(dealer.ok());
    schemas::AgentState state;
    state.name = agent.name;
    state.version = version;
    state.labels = {{"seen", version}};
    state.last_keepalive = 100 + counter;
    auto r = nodes::SignReport(agent.id, ++counter, state, nodes::DeriveAgentMacKey(agent.key));
    CHECK(std::holds_alternative<schemas::AgentReportAck>(Exchange(*dealer, schemas::Encode(r))));
  };
  // w1 takes the agent's report while it cannot reach the master, and keeps it.
  c.Kill("master", SIGTERM);
  report("w1", "old");
  c.Kill("w1", SIGTERM);
  // The agent moves to w2, whose newer report reaches the master.
  c.Start("master");
  report("w2", "new");
  REQUIRE(WaitFor([&] { return MasterAgents(c)[agent.id].state.version == "new"; }, 15s));
  // w1 comes back and sends what it held: older, so the master keeps what it has.
  c.Start("w1");
  CHECK(c.WaitForLog("master", "Ignored 1 updates older than the reports already applied", 15s));
  schemas::AgentRecord rec = MasterAgents(c)[agent.id];
  CHECK(rec.state.version == "new");
  CHECK(rec.state.labels.at("seen") == "new");
  CHECK(rec.node == "w2");
}

TEST_CASE("the agents of a worker gone past agents_disconnection_time turn disconnected and back",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(10);
  NodeOptions master = NodeOptions::Master();
  master.agents_disconnection_time = 2;
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Authorize("w1");
  for (const std::string n : {"master", "w1"}) {
    std::filesystem::create_directories(c.Home(n) + "/etc");
    REQUIRE(agents.Save(c.Home(n) + "/etc/client.keys").ok());
  }
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  auto report = [&] {
    RunResult sim = c.Run(
        {"zcluster-agent-sim", "--worker", "127.0.0.1:" + std::to_string(c.AgentPort("w1")),
         "--server-key", c.KeyPrefix("w1") + ".pub", "--keys", c.Home("w1") + "/etc/client.keys"});
    INFO(sim.output);
    REQUIRE(sim.exit_code == 0);
  };
  auto count = [&](schemas::AgentStatus status) {
    std::size_t n = 0;
    for (const auto& [id, a] : MasterAgents(c)) n += a.state.status == status;
    return n;
  };
  report();
  REQUIRE(WaitFor([&] { return count(schemas::AgentStatus::kActive) == 10; }, 15s));
  // The worker dies with its agents active: after the master's 2 s, they are disconnected.
  c.Kill("w1", SIGKILL);
  CHECK(WaitFor([&] { return count(schemas::AgentStatus::kDisconnected) == 10; }, 20s));
  CHECK(c.Log("master").find("Worker 'w1' has been gone for more than 2s: 10 agents marked "
                             "disconnected") != std::string::npos);
  for (const auto& [id, a] : MasterAgents(c)) CHECK(a.state.disconnection_time > 0);
  // Back, with its agents reporting again: active.
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  report();
  CHECK(WaitFor([&] { return count(schemas::AgentStatus::kActive) == 10; }, 15s));
}

TEST_CASE("zcluster-control -i tells the same agent-info round as the worker's log line",
          "[integration][agents]") {
  Cluster c;
  nodes::ClientKeys agents = MakeAgents(30);
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  for (const std::string n : {"master", "w1"}) {
    std::filesystem::create_directories(c.Home(n) + "/etc");
    REQUIRE(agents.Save(c.Home(n) + "/etc/client.keys").ok());
  }
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  RunResult sim = c.Run({"zcluster-agent-sim", "--worker",
                         "127.0.0.1:" + std::to_string(c.AgentPort("w1")), "--server-key",
                         c.KeyPrefix("w1") + ".pub", "--keys", c.Home("w1") + "/etc/client.keys"});
  REQUIRE(sim.exit_code == 0);
  REQUIRE(c.WaitForLog("w1", "[Agent-info sync] Finished in", 15s));
  CHECK(c.Log("w1").find("INFO: [Worker w1] [Agent-info sync] Starting.") != std::string::npos);
  // The worker's last "Sent N agents", and the same N in -i once a keepalive has carried it.
  auto last_sent = [&] {
    const std::string log = c.Log("w1");
    const auto at = log.rfind("agents.");
    const auto sent = log.rfind("Sent ", at);
    return std::stoul(log.substr(sent + 5, at - sent - 5));
  };
  std::size_t logged = 0, shown = 0;
  CHECK(WaitFor(
      [&] {
        logged = last_sent();
        nlohmann::json j = nlohmann::json::parse(
            c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i", "--json"}).output);
        shown = j["workers"][0]["agent_info_sync"]["agents_sent"].get<std::size_t>();
        return logged == shown;
      },
      15s));
  INFO("logged " << logged << ", -i shows " << shown);
  CHECK(logged > 0);
}
