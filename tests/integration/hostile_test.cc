// What an attacker sends, port by port: the master's ROUTER with an authorized worker key and
// without one, its PUB port, a worker's agent port and the local control socket. After each
// attack the node is up and answers, the cluster's state (groups, files, agents) is what it was,
// and its descriptors and resident memory come back to where they were.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <limits>

#include "integration/cluster_fixture.h"
#include "support/raw_tcp.h"
#include "support/wait.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/client_keys.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kHuge = std::numeric_limits<std::uint64_t>::max();

// What a node holds of the machine: checked to come back after each attack.
struct Footprint {
  std::size_t fds = 0;
  double rss_mb = 0;
};

Footprint FootprintOf(pid_t pid) {
  const bench::ProcessStats stats = bench::StatsOf(pid);
  return {stats.open_fds, stats.rss_mb};
}

// The cluster's state as the master's control socket shows it.
struct State {
  schemas::GroupTable groups;
  schemas::Message files, agents;
  bool operator==(const State&) const = default;
};

std::ostream& operator<<(std::ostream& out, const State& s) {
  schemas::Frames files = schemas::Encode(s.files), agents = schemas::Encode(s.agents);
  return out << "groups at " << s.groups.seq << " for " << s.groups.groups.size()
             << " agents; files " << files.back().size() << " bytes; agents "
             << agents.back().size() << " bytes";
}

State StateOf(Cluster& c) {
  State s;
  s.groups = c.GroupTableOf("master");
  s.files = c.Ask("master", schemas::FileTableQuery{}).value_or(schemas::ErrorReply{});
  s.agents = c.Ask("master", schemas::AgentsQuery{}).value_or(schemas::ErrorReply{});
  return s;
}

// A msgpack array32 header that claims `n` elements, with none of them.
std::string ClaimsArrayOf(std::uint32_t n) {
  std::string h = "\xdd";
  for (int shift = 24; shift >= 0; shift -= 8) h += static_cast<char>((n >> shift) & 0xff);
  return h;
}

// Plain TCP, no ZMTP: garbage on the port, then the connection closed.
void SendRawTcp(std::uint16_t port, const std::string& bytes) {
  int fd = ConnectTcp(port);
  REQUIRE(fd >= 0);
  ::fcntl(fd, F_SETFL, 0);  // blocking: all of it is sent, or the node closes the connection
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ::close(fd);
}

// Sends every message and reads whatever comes back within a moment: the attacker does not
// care for answers, but an answer must never carry what it asked for.
std::vector<schemas::Frames> Fire(bus::DealerSocket& dealer,
                                  const std::vector<schemas::Frames>& messages) {
  std::vector<schemas::Frames> replies;
  for (const schemas::Frames& m : messages) {
    REQUIRE(WaitFor([&] { return dealer.Send(m).ok(); }, 10s));
  }
  // Each message that is answered is answered at once; stop after a quiet second.
  while (WaitFor(
      [&] {
        Result<std::optional<schemas::Frames>> r = dealer.Receive();
        if (!r.ok() || !r->has_value()) return false;
        replies.push_back(**r);
        return true;
      },
      1s)) {
  }
  return replies;
}

std::string Garbage(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u) >> 13);
  return s;
}

// Master with w1 running, three agents in web, and rule files; returns the agents' ids.
std::vector<std::string> StartTarget(Cluster& c) {
  c.Configure("master", NodeOptions::Master());
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Authorize("probe");
  nodes::ClientKeys keys = bench::MakeAgents(3);
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/web");
  WriteFile(c.Home("master") + "/etc/rules/local_rules.xml", "<rule id=\"100001\"/>\n");
  for (const std::string n : {"master", "w1"}) {
    std::filesystem::create_directories(c.Home(n) + "/etc");
    REQUIRE(keys.Save(c.Home(n) + "/etc/client.keys").ok());
  }
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  std::vector<std::string> ids;
  for (const auto& k : keys.entries()) ids.push_back(k.id);
  c.Assign(ids, {"web"});
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 15s));
  // And w1 holds the master's files, once the master has scanned them.
  auto status = [&](const std::string& node) {
    std::optional<schemas::Message> m = c.Ask(node, schemas::StatusQuery{});
    return m && std::holds_alternative<schemas::NodeStatus>(*m) ? std::get<schemas::NodeStatus>(*m)
                                                                : schemas::NodeStatus{};
  };
  bool synced = WaitFor(
      [&] {
        schemas::NodeStatus m = status("master"), w = status("w1");
        return m.files_synced && m.files_seq > 0 && w.files_synced && w.files_seq == m.files_seq;
      },
      30s);
  if (!synced) FAIL("files not in sync; the master's log:\n" << c.Log("master"));
  return ids;
}

// The node is up, answers its control socket, and gives back what the attack took.
void CheckRecovered(Cluster& c, const std::string& node, const Footprint& before) {
  REQUIRE(c.Running(node));
  CHECK(c.Ask(node, schemas::StatusQuery{}).has_value());
  Footprint after;
  // Closed connections are torn down by libzmq's I/O thread: give it a bounded moment.
  bool fds_back = WaitFor(
      [&] {
        after = FootprintOf(c.Pid(node));
        return after.fds <= before.fds + 2;
      },
      15s);
  INFO(node << ": " << before.fds << " descriptors before, " << after.fds << " after; RSS "
            << before.rss_mb << " MB before, " << after.rss_mb << " MB after");
  CHECK(fds_back);
  CHECK(after.rss_mb - before.rss_mb < 48);
}

}  // namespace

TEST_CASE("an authorized worker key gets errors for absurd positions counts and paths",
          "[integration][hostile]") {
  Cluster c;
  std::vector<std::string> ids = StartTarget(c);
  const State state = StateOf(c);
  const Footprint before = FootprintOf(c.Pid("master"));
  zmq::context_t ctx(1);
  {
    bus::DealerSocket dealer = c.ConnectBareWorker(ctx, "probe");
    REQUIRE(std::holds_alternative<schemas::Welcome>(Exchange(
        dealer,
        schemas::Encode(schemas::Hello{"itest", "probe", schemas::kProtocolVersion, "probe"}))));
    schemas::Keepalive absurd;
    absurd.n = kHuge;
    absurd.groups_seq = kHuge;
    absurd.files_seq = kHuge;
    absurd.files_created = kHuge;
    schemas::FileFetch escape;
    for (const char* path : {"../../../../etc/passwd", "/etc/passwd", "etc/rules/../../ossec.conf",
                             "etc/rules/../../../../../etc/shadow", ""}) {
      escape.chunks.push_back({path, "", 0, 1 << 20});
    }
    // A real file, asked for from beyond its end and for more than exists.
    escape.chunks.push_back({"etc/rules/local_rules.xml", "", kHuge, kHuge});
    schemas::AgentInfoBatch strangers;
    strangers.batch = kHuge;
    strangers.pending = kHuge;
    for (const char* id : {"99999", "../001", "", "001\n002"}) {
      schemas::AgentUpdate u;
      u.id = id;
      u.counter = kHuge;
      strangers.updates.push_back(u);
    }
    std::vector<schemas::Frames> replies =
        Fire(dealer,
             {schemas::Encode(schemas::GroupsSyncRequest{kHuge}),
              // A table of its own at a position beyond the master's, unasked: it must not replace
              // the master's assignments.
              schemas::Encode(schemas::GroupTable{kHuge, {{ids[0], {"evil"}}}, {"evil"}}),
              schemas::Encode(schemas::FilesSyncRequest{kHuge}),
              schemas::Encode(absurd),
              schemas::Encode(escape),
              schemas::Encode(strangers),
              {schemas::Encode(schemas::Keepalive{})[0], ClaimsArrayOf(0xffffffff)},
              {"agent_info", ClaimsArrayOf(0xffffffff)},
              {"bogus_type", "\x80"},
              {},
              {"keepalive"},
              schemas::Frames(200, "\xc0"),
              // Another node's name with this key.
              schemas::Encode(schemas::Hello{"itest", "w1", schemas::kProtocolVersion, "probe"})});
    CHECK_FALSE(replies.empty());
    for (const schemas::Frames& r : replies) {
      Result<schemas::Message> m = schemas::Decode(r);
      if (!m.ok()) continue;
      if (const auto* data = std::get_if<schemas::FileData>(&*m)) {
        for (const schemas::FileChunk& chunk : data->chunks) {
          INFO("chunk of '" << chunk.path << "'");
          CHECK((chunk.stale || chunk.path == "etc/rules/local_rules.xml"));
          CHECK(chunk.data.size() < 4096);
          CHECK(chunk.data.find("root:") == std::string::npos);
        }
      }
    }
  }
  CheckRecovered(c, "master", before);
  CHECK(StateOf(c) == state);
  CHECK(c.WorkerNames("master").count("w1"));
  CHECK(c.SameGroupTable("w1"));
}

TEST_CASE("without a key the master's ports take garbage and unlisted keys and change nothing",
          "[integration][hostile]") {
  Cluster c;
  StartTarget(c);
  const State state = StateOf(c);
  const Footprint before = FootprintOf(c.Pid("master"));
  for (std::uint16_t port : {c.port(), c.StreamPort()}) {
    SendRawTcp(port, Garbage(1 << 20));
    // A ZMTP greeting that claims CURVE, then a handshake of garbage.
    SendRawTcp(port, std::string("\xff\0\0\0\0\0\0\0\x01\x7f\x03\x00", 12) + "CURVE" +
                         std::string(15, '\0') + Garbage(4096));
  }
  zmq::context_t ctx(1);
  for (int i = 0; i < 20; ++i) {
    Result<bus::DealerSocket> stranger = bus::DealerSocket::ConnectCurve(
        ctx, *bus::GenerateKeyPair(), *bus::ReadPublicKeyFile(c.KeyPrefix("master") + ".pub"),
        "tcp://127.0.0.1:" + std::to_string(c.port()), "", bus::SocketOptions{});
    REQUIRE(stranger.ok());
    // Queued for a handshake that the master refuses: never sent.
    (void)stranger->Send(schemas::Encode(schemas::GroupsSyncRequest{kHuge}));
  }
  CheckRecovered(c, "master", before);
  CHECK(StateOf(c) == state);
  CHECK(c.WorkerNames("master") == std::set<std::string>{"w1"});
}

TEST_CASE("a worker's agent port takes garbage and hostile reports and changes nothing",
          "[integration][hostile]") {
  Cluster c;
  StartTarget(c);
  const State state = StateOf(c);
  const Footprint before = FootprintOf(c.Pid("w1"));
  SendRawTcp(c.AgentPort("w1"), Garbage(1 << 20));
  zmq::context_t ctx(1);
  {
    // Agents may connect with any key: the agent port checks each report's MAC instead.
    Result<bus::DealerSocket> agent = bus::DealerSocket::ConnectCurve(
        ctx, *bus::GenerateKeyPair(), *bus::ReadPublicKeyFile(c.KeyPrefix("w1") + ".pub"),
        "tcp://127.0.0.1:" + std::to_string(c.AgentPort("w1")), "", bus::SocketOptions{});
    REQUIRE(agent.ok());
    std::vector<schemas::Frames> replies =
        Fire(*agent, {{"agent_report", ClaimsArrayOf(0xffffffff)},
                      {"agent_report", "\x80"},
                      {"agent_report"},
                      {"bogus_type", Garbage(100)},
                      {"hello", "\x80"},
                      schemas::Frames(100, "\xc0")});
    for (const schemas::Frames& r : replies) {
      Result<schemas::Message> m = schemas::Decode(r);
      REQUIRE(m.ok());
      CHECK(std::holds_alternative<schemas::ErrorReply>(*m));
    }
    // Over the agent port's frame limit: the connection is closed unread.
    CHECK(agent->Send({"agent_report", std::string(1 << 20, '\xc0')}).ok());
  }
  CheckRecovered(c, "w1", before);
  CHECK(c.Running("master"));
  CHECK(StateOf(c) == state);
  CHECK(c.SameGroupTable("w1"));
}

TEST_CASE("the control socket refuses hostile requests and changes nothing",
          "[integration][hostile]") {
  Cluster c;
  std::vector<std::string> ids = StartTarget(c);
  const State state = StateOf(c);
  const Footprint before = FootprintOf(c.Pid("master"));
  zmq::context_t ctx(1);
  {
    Result<bus::DealerSocket> control =
        bus::DealerSocket::ConnectLocal(ctx, c.Home("master") + "/queue/cluster/control.sock");
    REQUIRE(control.ok());
    std::vector<std::string> many(100000, "99999");
    std::vector<schemas::Frames> replies =
        Fire(*control, {schemas::Encode(schemas::GroupAssign{many, {"web"}, false}),
                        schemas::Encode(schemas::GroupAssign{{ids[0]}, {"../../etc"}, false}),
                        schemas::Encode(schemas::GroupAssign{{"../001"}, {"web"}, false}),
                        schemas::Encode(schemas::AgentRemove{"../001"}),
                        schemas::Encode(schemas::AgentAdd{"bad name\n", "999.1.1.1", {}}),
                        schemas::Encode(schemas::AgentsQuery{many}),
                        {"group_assign", ClaimsArrayOf(0xffffffff)},
                        {"bogus_type", Garbage(64)},
                        {"nodes_query", "\x80"}});
    REQUIRE_FALSE(replies.empty());
    for (const schemas::Frames& r : replies) {
      Result<schemas::Message> m = schemas::Decode(r);
      REQUIRE(m.ok());
      // The listing of 100,000 unknown ids is an empty list; everything else is refused.
      if (const auto* list = std::get_if<schemas::AgentList>(&*m)) {
        CHECK(list->agents.empty());
      } else {
        CHECK(std::holds_alternative<schemas::ErrorReply>(*m));
      }
    }
    // Over the control socket's frame limit: closed unread.
    CHECK(control->Send({"nodes_query", std::string(4 << 20, '\xc0')}).ok());
  }
  CheckRecovered(c, "master", before);
  CHECK(StateOf(c) == state);
  CHECK(c.SameGroupTable("w1"));
}
