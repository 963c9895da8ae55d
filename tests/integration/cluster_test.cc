// Real zclusterd processes on loopback. Intervals are short (keepalive 0.5 s, drop after 2 s) so
// that every wait is bounded by seconds; no test sleeps, each waits on a condition with a bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"
#include "support/raw_tcp.h"
#include "support/wait.h"
#include "zcluster/bus/socket_events.h"
#include "zcluster/bus/sockets.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

// A master with w1 and w2 authorized and running, both workers connected.
void StartThree(Cluster& c) {
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Configure("w2", {});
  c.Authorize("w1");
  c.Authorize("w2");
  c.Start("master");
  c.Start("w1");
  c.Start("w2");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
}

}  // namespace

TEST_CASE("a master and two workers meet over CURVE", "[integration]") {
  Cluster c;
  StartThree(c);

  RunResult table = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-l"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.output.rfind("NAME", 0) == 0);
  CHECK(table.output.find("\nmaster  master") != std::string::npos);

  RunResult json = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-l", "--json"});
  REQUIRE(json.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(json.output);
  REQUIRE(j["nodes"].size() == 3);
  CHECK(j["nodes"][0]["name"] == "master");
  CHECK(j["nodes"][1]["name"] == "w1");
  CHECK(j["nodes"][1]["type"] == "worker");
  CHECK(j["nodes"][1]["version"] == ZCLUSTER_VERSION);
  CHECK(j["nodes"][2]["address"] == "127.0.0.1");

  // A worker knows its master, and answers -l with the master's view of the cluster.
  REQUIRE(WaitFor([&] { return c.Nodes("w1").size() == 3; }, 5s));
  CHECK(c.Log("w1").find("INFO: [Worker w1] [Main] Successfully connected to master 'master'") !=
        std::string::npos);
  CHECK(c.Log("master").find("INFO: [Worker w2] [Main] Connected: address 127.0.0.1") !=
        std::string::npos);
  // Keepalives flow and are acknowledged (DEBUG lines, -d is on in the fixture).
  CHECK(c.WaitForLog("master", "[Worker w1] [Keep alive] Received keep alive 2", 10s));
}

TEST_CASE("an unlisted key is refused and gets no reply and changes nothing", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Configure("rogue", {});  // has a key pair, but it is not in authorized_keys
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  c.Start("rogue");
  REQUIRE(c.WaitForLog("master",
                       "WARNING: [Master] [Main] Refused CURVE handshake from 127.0.0.1: "
                       "key not allowed",
                       15s));
  // The rogue never hears a reply; its socket reports the refused handshake.
  REQUIRE(c.WaitForLog("rogue",
                       "ERROR: [Worker rogue] [Main] The master refused this node's "
                       "CURVE key during the handshake",
                       15s));
  CHECK(c.Log("rogue").find("Successfully connected") == std::string::npos);
  CHECK(c.Log("rogue").find("refused hello") == std::string::npos);
  CHECK(c.WorkerNames("master") == std::set<std::string>{"w1"});
  CHECK(c.Log("master").find("rogue") == std::string::npos);
}

TEST_CASE("a worker with the wrong master key never connects and says why", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  // w1 trusts an impostor's key instead of the master's.
  REQUIRE(bus::WriteKeyPair(c.KeyPrefix("impostor"), *bus::GenerateKeyPair()).ok());
  std::string conf = ReadFile(c.ConfigPath("w1"));
  std::string master_pub = c.KeyPrefix("master") + ".pub";
  conf.replace(conf.find(master_pub), master_pub.size(), c.KeyPrefix("impostor") + ".pub");
  WriteFile(c.ConfigPath("w1"), conf);
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForLog("w1", "No welcome from the master after 3 hellos", 15s));
  CHECK(c.Log("w1").find("Successfully connected") == std::string::npos);
  CHECK(c.WorkerNames("master").empty());
}

TEST_CASE("a hello with the wrong cluster name is refused with a reason", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  NodeOptions other;
  other.cluster = "elsewhere";
  c.Configure("w1", other);
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForLog("w1",
                       "ERROR: [Worker w1] [Main] Master refused hello: failed_precondition: "
                       "cluster name 'elsewhere' does not match the master's 'itest'",
                       15s));
  CHECK(c.WaitForLog("master", "Refused hello from 127.0.0.1 as 'w1'", 5s));
  CHECK(c.WorkerNames("master").empty());
}

TEST_CASE("a worker may only speak as the name its key is filed under", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Authorize("w1");
  NodeOptions borrowed;
  borrowed.key_name = "w1";  // w2 presents w1's key
  c.Configure("w2", borrowed);
  c.Start("master");
  c.Start("w2");
  REQUIRE(c.WaitForLog("w2",
                       "Master refused hello: permission_denied: this key is filed under "
                       "node 'w1' and may not speak as 'w2'",
                       15s));
  CHECK(c.WorkerNames("master").empty());
}

TEST_CASE("a second live worker with the same name is refused", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  // Same node name and key, another home: a copy-pasted config on a second machine.
  std::string conf = ReadFile(c.ConfigPath("w1"));
  std::string home = c.Home("w1");
  conf.replace(conf.find(home), home.size(), c.Home("w1copy"));
  std::string port = "<agent_port>" + std::to_string(c.AgentPort("w1")) + "<";
  conf.replace(conf.find(port), port.size(), "<agent_port>0<");
  WriteFile(c.ConfigPath("w1copy"), conf);
  c.Start("w1copy");
  REQUIRE(WaitFor(
      [&] {
        return ReadFile(c.Home("w1copy") + "/logs/cluster.log")
                   .find("already_exists: a worker named 'w1' is already connected") !=
               std::string::npos;
      },
      15s));
  CHECK(c.WorkerNames("master") == std::set<std::string>{"w1"});
  CHECK(c.Running("w1"));
}

TEST_CASE("a killed worker is dropped within the configured time", "[integration]") {
  Cluster c;
  StartThree(c);
  auto killed_at = std::chrono::steady_clock::now();
  c.Kill("w1", SIGKILL);
  // max_allowed_time_without_keepalive is 2 s; allow one keepalive period and scheduling slack.
  REQUIRE(c.WaitForWorkers("master", {"w2"}, 4s));
  CHECK(std::chrono::steady_clock::now() - killed_at >= 1s);  // dropped by silence, not by luck
  CHECK(c.Log("master").find("WARNING: [Worker w1] [Keep alive] No keep alives have been received "
                             "from w1 in the last") != std::string::npos);
  CHECK(c.Running("w2"));
}

TEST_CASE("a restarted worker is back at once", "[integration]") {
  Cluster c;
  StartThree(c);
  c.Kill("w1", SIGKILL);
  c.Start("w1");
  // Its old connection is gone, so the master replaces it instead of refusing a duplicate.
  REQUIRE(WaitFor(
      [&] {
        return c.Log("w1").find("Successfully connected") !=
               c.Log("w1").rfind("Successfully connected");
      },
      10s));
  CHECK(c.WorkerNames("master") == std::set<std::string>{"w1", "w2"});
}

TEST_CASE("a restarted master gets its workers back without touching them", "[integration]") {
  Cluster c;
  StartThree(c);
  pid_t w1 = c.Pid("w1"), w2 = c.Pid("w2");
  c.Kill("master", SIGKILL);
  c.Start("master");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  CHECK(c.Pid("w1") == w1);
  CHECK(c.Pid("w2") == w2);
  CHECK(c.Running("w1"));
  CHECK(c.Running("w2"));
  // The master's store counted both starts.
  CHECK(c.Log("master").find("; start 2") != std::string::npos);
}

TEST_CASE("shared-key mode derives every pair from <key>", "[integration]") {
  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.shared_key = true;
  NodeOptions worker;
  worker.shared_key = true;
  c.Configure("master", master);
  c.Configure("w1", worker);
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  CHECK(c.Log("master").find("shared-key mode") != std::string::npos);
}

TEST_CASE("a hello of another protocol version gets an error reply", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Authorize("probe");
  c.Start("master");
  REQUIRE(WaitFor([&] { return !c.Nodes("master").empty(); }, 10s));

  // A bare client, as someone with only a ZeroMQ and a msgpack library would write it.
  zmq::context_t ctx(1);
  std::optional<bus::DealerSocket> dealer = c.ConnectBareWorker(ctx, "probe");
  schemas::Message m =
      Exchange(*dealer, schemas::Encode(schemas::Hello{"itest", "probe", 99, "probe 1"}));
  REQUIRE(std::holds_alternative<schemas::ErrorReply>(m));
  const auto& e = std::get<schemas::ErrorReply>(m);
  CHECK(e.code == Code::kFailedPrecondition);
  CHECK(e.in_reply_to == "hello");
  CHECK(e.message == "protocol version 99 is not supported; this master speaks 1");

  // Garbage from an authorized key gets a clear error, and the master keeps serving.
  CHECK(std::get<schemas::ErrorReply>(Exchange(*dealer, {"\xc1", "\xc1"})).code ==
        Code::kInvalidArgument);
  CHECK(c.Running("master"));
  dealer.reset();  // close the socket before its context
}

TEST_CASE("zclusterd -t checks the config and a bad one gets one line naming the element",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  RunResult good = c.Run({"zclusterd", "-t", "-c", c.ConfigPath("master")});
  CHECK(good.exit_code == 0);
  CHECK(good.output.empty());

  std::string conf = ReadFile(c.ConfigPath("master"));
  conf.replace(conf.find("<node_type>master"), 17, "<node_type>boss");
  WriteFile(c.Home("bad") + "/ossec.conf", conf);
  RunResult bad = c.Run({"zclusterd", "-t", "-c", c.Home("bad") + "/ossec.conf"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.output ==
        "zclusterd: config: <cluster><node_type> must be master or worker, got "
        "'boss'\n");

  ::unlink((c.KeyPrefix("master") + ".key").c_str());
  RunResult nokey = c.Run({"zclusterd", "-t", "-c", c.ConfigPath("master")});
  CHECK(nokey.exit_code != 0);
  CHECK(nokey.output.find("<curve><secret_key>") != std::string::npos);
}

TEST_CASE("Wazuh's stock disabled cluster block makes zclusterd exit 0 before anything else",
          "[integration]") {
  Cluster c;
  const std::string path = c.Home("stock") + "/ossec.conf";
  WriteFile(
      path,
      "<ossec_config>\n  <cluster>\n    <name>wazuh</name>\n    <node_name>node01</node_name>\n"
      "    <node_type>master</node_type>\n    <key></key>\n    <port>1516</port>\n"
      "    <bind_addr>0.0.0.0</bind_addr>\n    <nodes>\n        <node>NODE_IP</node>\n"
      "    </nodes>\n    <hidden>no</hidden>\n    <disabled>yes</disabled>\n  </cluster>\n"
      "</ossec_config>\n");
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"zclusterd", "-f", "-c", path},
        std::vector<std::string>{"zclusterd", "-t", "-c", path}}) {
    RunResult r = c.Run(argv);
    CHECK(r.exit_code == 0);
    CHECK(r.output == "zclusterd: the cluster is disabled (<cluster><disabled>yes); exiting\n");
  }
}

TEST_CASE("zclusterd -t catches an address this host lacks and key files that are not keys",
          "[integration]") {
  Cluster c;
  const std::string good = c.Configure("master", NodeOptions::Master());
  const std::string conf = ReadFile(good);
  auto check = [&](const std::string& from, const std::string& to, const std::string& expected) {
    std::string text = conf;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    WriteFile(c.Home("bad") + "/ossec.conf", text);
    RunResult r = c.Run({"zclusterd", "-t", "-c", c.Home("bad") + "/ossec.conf"});
    CHECK(r.exit_code == 1);
    INFO(r.output);
    CHECK(r.output.find(expected) != std::string::npos);
  };
  // 192.0.2.1 is documentation space: no host has it, and binding sends nothing anywhere.
  check("<bind_addr>127.0.0.1</bind_addr>", "<bind_addr>192.0.2.1</bind_addr>",
        "<bind_addr> '192.0.2.1' cannot be listened on here: Cannot assign requested address");
  const std::string prefix = c.KeyPrefix("master");
  check(prefix + ".pub</public_key>", c.Home("master") + "</public_key>",
        "' is a folder, not a key file");
  check(prefix + ".pub</public_key>", prefix + ".key</public_key>",
        "is named like a secret key (.key); give its .pub");
  CHECK(c.Run({"zclusterd", "-t", "-c", good}).exit_code == 0);
}

TEST_CASE("the daemon reports start-up failures before detaching", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Start("master");
  REQUIRE(WaitFor([&] { return !c.Nodes("master").empty(); }, 10s));
  // Same home: its pid file is locked by the running master.
  RunResult second = c.Run({"zclusterd", "-c", c.ConfigPath("master")});
  CHECK(second.exit_code == 1);
  CHECK(second.output.find("already running (pid ") != std::string::npos);
  CHECK(c.Running("master"));
}

TEST_CASE("a node refuses a database of another cluster", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Start("master");
  REQUIRE(WaitFor([&] { return !c.Nodes("master").empty(); }, 10s));
  c.Kill("master", SIGTERM);
  NodeOptions renamed = NodeOptions::Master();
  renamed.cluster = "renamed";
  c.Configure("master", renamed);
  RunResult r = c.Run({"zclusterd", "-f", "-c", c.ConfigPath("master")});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("belongs to cluster 'itest', not 'renamed'") != std::string::npos);
}

TEST_CASE("zcluster-keygen writes a 0600 secret and a public key and never overwrites",
          "[integration]") {
  Cluster c;
  const std::string prefix = c.Home("kg") + "-node";
  RunResult made = c.Run({"zcluster-keygen", prefix});
  REQUIRE(made.exit_code == 0);
  Result<std::string> pub = bus::ReadPublicKeyFile(prefix + ".pub");
  Result<std::string> sec = bus::ReadSecretKeyFile(prefix + ".key");  // refuses a loose mode
  REQUIRE(pub.ok());
  REQUIRE(sec.ok());
  CHECK(made.output == *pub + "\n");
  CHECK(*bus::PublicKeyOf(*sec) == *pub);
  RunResult again = c.Run({"zcluster-keygen", prefix});
  CHECK(again.exit_code == 1);
  CHECK(again.output.find("exists") != std::string::npos);
  CHECK(*bus::ReadPublicKeyFile(prefix + ".pub") == *pub);
}

TEST_CASE("without -f the daemon detaches once started and stops on SIGTERM", "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  RunResult started = c.Run({"zclusterd", "-c", c.ConfigPath("master")});
  REQUIRE(started.exit_code == 0);
  // Started means serving: the control socket answers as soon as the parent has returned.
  CHECK(c.Nodes("master").size() == 1);
  pid_t pid = std::stoi(ReadFile(c.Home("master") + "/var/run/zclusterd.pid"));
  REQUIRE(::kill(pid, SIGTERM) == 0);
  // Not our child: wait for the pid file to go, which the daemon removes on a clean stop.
  CHECK(WaitFor(
      [&] { return ::access((c.Home("master") + "/var/run/zclusterd.pid").c_str(), F_OK) != 0; },
      10s));
  CHECK(c.WaitForLog("master", "INFO: [Master] [Main] Stopping", 5s));
}

TEST_CASE("port 0 binds the kernel's choice, reported in the ports file until a clean stop",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  nlohmann::json master = nlohmann::json::parse(ReadFile(c.Home("master") + "/ports.json"));
  nlohmann::json worker = nlohmann::json::parse(ReadFile(c.Home("w1") + "/ports.json"));
  REQUIRE(master.at("port").get<int>() > 0);
  CHECK(master.size() == 2);
  CHECK(worker.size() == 1);
  const std::string port = std::to_string(master.at("port").get<int>());
  const std::string stream = std::to_string(master.at("stream_port").get<int>());
  CHECK(c.WaitForLog(
      "master", "Listening on tcp://127.0.0.1:" + port + ", streams on tcp://127.0.0.1:" + stream,
      5s));
  // The worker found the master through the ports the file named, and listens where it says.
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  CHECK(worker.at("agent_port").get<int>() == c.AgentPort("w1"));
  c.Kill("w1", SIGTERM);
  CHECK(::access((c.Home("w1") + "/ports.json").c_str(), F_OK) != 0);
}

TEST_CASE("a frame larger than any worker message closes that connection and the master goes on",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Authorize("probe");
  c.Start("master");
  zmq::context_t ctx(1);
  std::optional<bus::DealerSocket> dealer = c.ConnectBareWorker(ctx, "probe");
  REQUIRE(std::holds_alternative<schemas::Welcome>(Exchange(
      *dealer,
      schemas::Encode(schemas::Hello{"itest", "probe", schemas::kProtocolVersion, "probe 1"}))));
  std::optional<bus::SocketEvents> events;
  {
    Result<bus::SocketEvents> watched = bus::SocketEvents::Watch(ctx, dealer->socket());
    REQUIRE(watched.ok());
    events.emplace(std::move(watched).value());
  }
  // 20 MiB of msgpack nils: each would cost the decoder an object of its own.
  REQUIRE(dealer->Send({"agent_info", std::string(20 << 20, '\xc0')}).ok());
  CHECK(WaitFor(
      [&] {
        for (const bus::SocketEvent& e : events->Drain()) {
          if (e.kind == bus::SocketEventKind::kDisconnected) return true;
        }
        return false;
      },
      15s));
  events.reset();
  CHECK(c.Running("master"));
  CHECK(WaitFor([&] { return !c.Nodes("master").empty(); }, 10s));
  dealer.reset();  // close the socket before its context
}

TEST_CASE("a frame of a worker's largest size made of one-byte objects costs the master no memory",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Authorize("probe");
  c.Start("master");
  zmq::context_t ctx(1);
  bus::DealerSocket dealer = c.ConnectBareWorker(ctx, "probe");
  REQUIRE(std::holds_alternative<schemas::Welcome>(Exchange(
      dealer,
      schemas::Encode(schemas::Hello{"itest", "probe", schemas::kProtocolVersion, "probe 1"}))));
  const double before = bench::StatsOf(c.Pid("master")).peak_rss_mb;
  REQUIRE(before > 0);
  // 15 MiB of nils in one array32, under the 16 MiB frame limit: decoded, it would be 360 MiB.
  const std::uint32_t n = 15 << 20;
  std::string body = "\xdd";
  for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((n >> shift) & 0xff);
  body.append(n, '\xc0');
  schemas::Message reply = Exchange(dealer, {schemas::Encode(schemas::Keepalive{1})[0], body});
  REQUIRE(std::holds_alternative<schemas::ErrorReply>(reply));
  CHECK(std::get<schemas::ErrorReply>(reply).message.find("more objects than") !=
        std::string::npos);
  // The frame itself passes through libzmq and one copy; nothing proportional to its objects.
  const double after = bench::StatsOf(c.Pid("master")).peak_rss_mb;
  INFO("peak RSS " << before << " MB before, " << after << " MB after");
  CHECK(after - before < 64);
  CHECK(c.Running("master"));
  CHECK(std::holds_alternative<schemas::KeepaliveAck>(
      Exchange(dealer, schemas::Encode(schemas::Keepalive{2}))));
}

TEST_CASE("1100 idle TCP connections to the master and to a worker's agent port take neither down",
          "[integration]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  auto keepalives = [&] {
    std::string log = c.Log("master");
    std::size_t n = 0;
    for (auto at = log.find("Received keep alive"); at != std::string::npos;
         at = log.find("Received keep alive", at + 1)) {
      ++n;
    }
    return n;
  };
  // More than the soft limit of 1024 descriptors a process gets by default.
  std::vector<int> idle;
  auto open_idle = [&](std::uint16_t port) {
    for (int i = 0; i < 1100; ++i) {
      int fd = ConnectTcp(port);
      REQUIRE(fd >= 0);
      idle.push_back(fd);
    }
  };
  open_idle(c.port());
  open_idle(c.AgentPort("w1"));
  // Both nodes go on serving their control sockets and their flows meanwhile.
  CHECK(c.WorkerNames("master") == std::set<std::string>{"w1"});
  RunResult listed = c.Run({"zcluster-control", "-c", c.ConfigPath("w1"), "--status"});
  CHECK(listed.exit_code == 0);
  std::size_t before = keepalives();
  CHECK(WaitFor([&] { return keepalives() > before; }, 10s));
  for (int fd : idle) ::close(fd);
  CHECK(c.Running("master"));
  CHECK(c.Running("w1"));
  CHECK(c.Log("master").find("Open files limit") != std::string::npos);
}

TEST_CASE("a worker that stops says goodbye and the master drops it at once with an INFO line",
          "[integration]") {
  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.max_silence = 120;  // silence cannot be why it goes
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  c.Kill("w1", SIGTERM);
  CHECK(WaitFor([&] { return c.WorkerNames("master").empty(); }, 10s));
  CHECK(c.Log("master").find("INFO: [Worker w1] [Main] Disconnected cleanly: stopping") !=
        std::string::npos);
  CHECK(c.Log("master").find("No keep alives have been received from w1") == std::string::npos);
}
