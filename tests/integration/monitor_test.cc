// The monitor with real processes: every node counts its traffic, workers send their counters to
// the master once a second, and zcluster-monitor shows the whole cluster from the master (as
// JSON for scripts, and as a terminal view under a real tmux pseudo-terminal).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/cluster_fixture.h"
#include "support/wait.h"
#include "zcluster/agent_sim/agent_simulator.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/control.h"
#include "zcluster/schemas/monitor.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Master and two workers sharing `agents`; each worker's agents report once.
void StartWithAgents(Cluster& c, const nodes::ClientKeys& agents) {
  c.StartWithAgents(agents);
  std::size_t half = agents.entries().size() / 2;
  for (const auto& [worker, from, to] :
       {std::tuple{"w1", std::size_t{0}, half}, std::tuple{"w2", half, agents.entries().size()}}) {
    nodes::AgentSimOptions o;
    o.endpoint = "tcp://127.0.0.1:" + std::to_string(c.AgentPort(worker));
    o.server_public_z85 = *bus::ReadPublicKeyFile(c.KeyPrefix(worker) + ".pub");
    o.connections = 2;
    Result<nodes::AgentSimResult> r = nodes::RunAgentSimulation(agents.Slice(from, to), o);
    REQUIRE(r.ok());
    REQUIRE(r->acked == to - from);
  }
}

nodes::ClientKeys MakeAgents(std::size_t n) {
  nodes::ClientKeys keys;
  for (std::size_t i = 0; i < n; ++i) REQUIRE(keys.Add("agent-" + std::to_string(i), "any").ok());
  return keys;
}

std::optional<json> Snapshot(Cluster& c, const std::string& node) {
  RunResult r = c.Run({"zcluster-monitor", "--once", "--json", "-c", c.ConfigPath(node)});
  if (r.exit_code != 0) return std::nullopt;
  return json::parse(r.output);
}

const json* NodeIn(const json& snapshot, const std::string& name) {
  for (const json& n : snapshot["nodes"]) {
    if (n["name"] == name) return &n;
  }
  return nullptr;
}

std::uint64_t Messages(const json& node, const std::string& peer, const std::string& type,
                       const std::string& direction) {
  for (const json& t : node["traffic"]) {
    if (t["peer"] == peer && t["type"] == type && t["direction"] == direction) {
      return t["messages"].get<std::uint64_t>();
    }
  }
  return 0;
}

}  // namespace

TEST_CASE("the master's monitor view counts each worker's keepalives and agent reports",
          "[integration][monitor]") {
  Cluster c;
  StartWithAgents(c, MakeAgents(40));

  std::optional<json> view;
  // Workers send their counters once a second and batch agent info every second or so.
  REQUIRE(WaitFor(
      [&] {
        view = Snapshot(c, "master");
        if (!view || (*view)["nodes"].size() != 3) return false;
        const json* master = NodeIn(*view, "master");
        const json* w1 = NodeIn(*view, "w1");
        const json* w2 = NodeIn(*view, "w2");
        return master && w1 && w2 && Messages(*master, "w1", "keepalive", "in") > 0 &&
               Messages(*master, "w2", "keepalive", "in") > 0 &&
               Messages(*w1, "agents", "agent_report", "in") == 20 &&
               Messages(*w2, "agents", "agent_report", "in") == 20 &&
               Messages(*w1, "master", "agent_info", "out") > 0 &&
               Messages(*w1, "streams", "stream_heartbeat", "in") > 0 &&
               (*master)["agents_active"] == 40;
      },
      30s));
  const json& v = *view;
  CHECK(v["cluster"] == "itest");
  CHECK(v["node"] == "master");
  CHECK(v["nodes"][0]["name"] == "master");
  const json& master = *NodeIn(v, "master");
  CHECK(master["state"] == "up");
  CHECK(master["agents_never_connected"] == 0);
  CHECK(master["rss_bytes"].get<std::uint64_t>() > 0);
  CHECK(Messages(master, "w1", "keepalive_ack", "out") > 0);
  CHECK(Messages(master, "w1", "node_stats", "in") > 0);
  CHECK(Messages(master, "streams", "stream_heartbeat", "out") > 0);
  CHECK(Messages(master, "monitor", "monitor_query", "in") > 0);
  const json& w1 = *NodeIn(v, "w1");
  CHECK(w1["state"] == "up");
  CHECK(w1["type"] == "worker");
  CHECK(w1["reports_accepted"] == 20);
  CHECK(w1["agents_active"] == 20);
  CHECK(Messages(w1, "agents", "agent_report_ack", "out") == 20);
  CHECK(Messages(w1, "streams", "stream_heartbeat", "in") > 0);
  bool connected = false;
  for (const json& e : w1["events"]) connected |= e["kind"] == "connected";
  CHECK(connected);

  SECTION("a worker's monitor view is itself alone") {
    std::optional<json> own = Snapshot(c, "w1");
    REQUIRE(own);
    REQUIRE((*own)["nodes"].size() == 1);
    CHECK((*own)["node"] == "w1");
    CHECK((*own)["nodes"][0]["name"] == "w1");
  }

  SECTION("the monitor endpoint answers its query and changes nothing") {
    Result<schemas::Message> reply =
        nodes::ControlRequest(c.Home("master") + "/queue/cluster/monitor.sock",
                              schemas::AgentAdd{"sneaky", "any", {}}, 5s);
    REQUIRE(reply.ok());
    REQUIRE(std::holds_alternative<schemas::ErrorReply>(*reply));
    CHECK(std::get<schemas::ErrorReply>(*reply).message == "this node does not serve agent_add");
    Result<nodes::ClientKeys> keys = nodes::ClientKeys::Load(c.Home("master") + "/etc/client.keys");
    REQUIRE(keys.ok());
    CHECK(keys->active() == 40);
  }

  SECTION("a worker that stops shows as down; a monitor of a stopped node fails in one line") {
    c.Kill("w2", SIGTERM);
    REQUIRE(WaitFor(
        [&] {
          view = Snapshot(c, "master");
          const json* w2 = view ? NodeIn(*view, "w2") : nullptr;
          return w2 != nullptr && (*w2)["state"] == "down";
        },
        15s));
    RunResult gone = c.Run({"zcluster-monitor", "--once", "-c", c.ConfigPath("w2")});
    INFO(gone.output);
    CHECK_FALSE(std::filesystem::exists(c.Home("w2") + "/queue/cluster/monitor.sock"));
    CHECK(gone.exit_code != 0);
    CHECK(gone.output.rfind("zcluster-monitor: no socket at", 0) == 0);
    CHECK(gone.output.find("is zclusterd running?") != std::string::npos);
    CHECK(std::count(gone.output.begin(), gone.output.end(), '\n') == 1);
  }
}

namespace {

// A detached tmux session on a private server socket, running one command in a real
// pseudo-terminal; the server is killed on destruction.
class Tmux {
 public:
  Tmux(std::string dir, const std::string& command, int width, int height)
      : socket_(dir + "/tmux.sock"), exit_file_(dir + "/tmux.exit") {
    std::string line = command + "; echo $? > " + exit_file_;
    REQUIRE(Shell(fmt::format("new-session -d -s view -x {} -y {} '{}'", width, height, line)) ==
            0);
  }
  ~Tmux() { Shell("kill-server"); }
  int Shell(const std::string& args) const {
    std::string cmd = "tmux -S " + socket_ + " -f /dev/null " + args + " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  }
  std::string Screen() const {
    std::string cmd = "tmux -S " + socket_ + " capture-pane -p -t view 2>/dev/null";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
      ::pclose(p);
    }
    return out;
  }
  std::optional<int> ExitCode() const {
    std::ifstream in(exit_file_);
    int code = -1;
    if (in >> code) return code;
    return std::nullopt;
  }

 private:
  std::string socket_, exit_file_;
};

// The row of the nodes table for `node`, split into its columns.
std::vector<std::string> RowOf(const std::string& screen, const std::string& node) {
  std::istringstream lines(screen);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(node + " ", 0) != 0) continue;
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string w; words >> w;) row.push_back(w);
    return row;
  }
  return {};
}

}  // namespace

TEST_CASE("the terminal view in a real terminal shows traffic and refusals, redraws, and quits",
          "[integration][monitor]") {
  Cluster c;
  StartWithAgents(c, MakeAgents(20));
  c.Configure("intruder", {});  // its key is not authorized: the master refuses its handshake
  c.Start("intruder");

  std::string dir = std::filesystem::path(c.Home("master")).parent_path();
  Tmux tmux(dir,
            std::string(ZC_TOOLS_DIR) + "/zcluster-monitor -d 0.5 -c " + c.ConfigPath("master"),
            100, 30);
  std::string screen;
  // Keepalives every half second: both workers have traffic in and out in every interval.
  auto moving = [](const std::vector<std::string>& row) {
    return row.size() >= 5 && row[2] == "up" && row[3] != "0" && row[4] != "0";
  };
  bool shown = WaitFor(
      [&] {
        screen = tmux.Screen();
        return screen.find("NODE") != std::string::npos &&
               screen.find("MESSAGE TYPE") != std::string::npos &&
               screen.find("auth_refused") != std::string::npos && moving(RowOf(screen, "w1")) &&
               moving(RowOf(screen, "w2"));
      },
      30s);
  INFO(screen);
  REQUIRE(shown);
  CHECK(screen.rfind("zcluster-monitor  cluster itest  node master", 0) == 0);

  REQUIRE(tmux.Shell("resize-window -t view -x 70 -y 20") == 0);
  CHECK(WaitFor([&] { return tmux.Screen().find("needs at least 80x24") != std::string::npos; },
                10s));
  REQUIRE(tmux.Shell("resize-window -t view -x 120 -y 40") == 0);
  CHECK(WaitFor(
      [&] {
        screen = tmux.Screen();
        return screen.find("NODE") != std::string::npos &&
               screen.find("needs at least") == std::string::npos;
      },
      10s));

  REQUIRE(tmux.Shell("send-keys -t view q") == 0);
  std::optional<int> code;
  CHECK(WaitFor([&] { return (code = tmux.ExitCode()).has_value(); }, 10s));
  CHECK(code == 0);
}

namespace {

std::vector<json> JsonLines(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) lines.push_back(std::move(j));
  }
  return lines;
}

}  // namespace

TEST_CASE("the dump decodes each message as it passes and never shows an agent's key",
          "[integration][monitor]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  std::string dir = std::filesystem::path(c.Home("master")).parent_path();
  const std::string monitor = std::string(ZC_TOOLS_DIR) + "/zcluster-monitor";
  BackgroundProcess keepalives(
      {monitor, "--dump", "--type", "keepalive", "-c", c.ConfigPath("master")},
      dir + "/keepalives.jsonl");
  BackgroundProcess everything({monitor, "--dump", "-c", c.ConfigPath("master")},
                               dir + "/all.jsonl");

  std::vector<json> lines;
  REQUIRE(WaitFor(
      [&] {
        lines = JsonLines(dir + "/keepalives.jsonl");
        return !lines.empty();
      },
      15s));
  for (const json& l : lines) {
    CHECK(l["type"] == "keepalive");
    CHECK(l["node"] == "master");
    CHECK(l["peer"] == "w1");
    CHECK(l["direction"] == "in");
    CHECK(l["body"]["n"].is_number());
    CHECK(l["body"].contains("groups_seq"));
    CHECK(l["bytes"].get<int>() > 0);
  }

  // A registration's reply carries the agent's new key: the dump shows the reply, not the key.
  RunResult added =
      c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "agent", "add", "web-9", "any"});
  REQUIRE(added.exit_code == 0);
  auto at = added.output.find("Key: ");
  REQUIRE(at != std::string::npos);
  std::string key = added.output.substr(at + 5, 64);
  REQUIRE(key.size() == 64);
  std::optional<json> entry;
  REQUIRE(WaitFor(
      [&] {
        for (const json& l : JsonLines(dir + "/all.jsonl")) {
          if (l["type"] == "agent_entry") entry = l;
        }
        return entry.has_value();
      },
      15s));
  CHECK((*entry)["peer"] == "control");
  CHECK((*entry)["direction"] == "out");
  CHECK((*entry)["body"]["name"] == "web-9");
  CHECK((*entry)["body"]["key"] == "(hidden)");
  std::ifstream all(dir + "/all.jsonl");
  std::string text(std::istreambuf_iterator<char>(all), {});
  CHECK(text.find(key) == std::string::npos);
  CHECK(text.find("\"type\":\"keepalive_ack\"") != std::string::npos);
  CHECK(everything.Stop() == 0);
  CHECK(keepalives.Stop() == 0);
}

namespace {

// A node whose monitor endpoint answers every request with `reply`: what a node of another
// protocol version looks like to this monitor. Serves on its own thread until destroyed.
class ForeignNode {
 public:
  ForeignNode(const std::string& path, bus::Frames reply) : reply_(std::move(reply)) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    Result<bus::RouterSocket> bound = bus::RouterSocket::BindLocal(ctx_, path);
    REQUIRE(bound.ok());
    router_.emplace(std::move(bound).value());
    thread_ = std::thread([this] { Serve(); });
  }
  ~ForeignNode() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Serve() {
    std::vector<bus::PollItem> items{{&router_->socket(), -1, false}};
    while (!stop_) {
      if (!bus::Poll(items, 50ms).ok() || !items[0].readable) continue;
      Result<std::optional<bus::Envelope>> got = router_->Receive();
      if (got.ok() && got->has_value()) router_->Send((*got)->routing_id, reply_).IgnoreError();
    }
  }
  zmq::context_t ctx_{1};
  std::optional<bus::RouterSocket> router_;
  bus::Frames reply_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a node of another protocol version gets a one-line refusal, never a garbled screen",
          "[integration][monitor]") {
  Cluster c;
  c.Configure("old", NodeOptions::Master());
  const std::string path = c.Home("old") + "/queue/cluster/monitor.sock";
  schemas::ClusterStats stats{"itest", "old", schemas::kProtocolVersion + 1, {}};

  SECTION("a newer protocol number") {
    ForeignNode node(path, schemas::Encode(stats));
    for (std::vector<std::string> argv :
         {std::vector<std::string>{"--once"}, {"--once", "--json"}, {}}) {
      argv.insert(argv.begin(), "zcluster-monitor");
      argv.insert(argv.end(), {"-c", c.ConfigPath("old")});
      RunResult r = c.Run(argv);
      INFO(r.output);
      CHECK(r.exit_code != 0);
      CHECK(r.output == fmt::format("zcluster-monitor: node 'old' speaks protocol {}; this "
                                    "monitor speaks {}\n",
                                    schemas::kProtocolVersion + 1, schemas::kProtocolVersion));
    }
  }
  SECTION("a reply this monitor cannot read") {
    bus::Frames garbled = schemas::Encode(stats);
    garbled[1] = "\xc1 not msgpack";
    ForeignNode node(path, garbled);
    RunResult r = c.Run({"zcluster-monitor", "--once", "--json", "-c", c.ConfigPath("old")});
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.rfind(
              "zcluster-monitor: '" + path + "' answered in a form this tool cannot read", 0) == 0);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  }
}

TEST_CASE("a dump of a node that was killed says so at once instead of waiting",
          "[integration][monitor]") {
  Cluster c;
  c.Configure("gone", NodeOptions::Master());
  const std::string path = c.Home("gone") + "/queue/cluster/tap.sock";
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  // What a killed node leaves behind: the socket file, with nobody listening on it.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  REQUIRE(std::filesystem::exists(path));
  RunResult r = c.Run({"zcluster-monitor", "--dump", "-c", c.ConfigPath("gone")});
  CHECK(r.exit_code != 0);
  CHECK(r.output == "zcluster-monitor: nothing listens at '" + path + "': is zclusterd running?\n");
}
