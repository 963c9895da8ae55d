// Connection floods against nodes that run under a small open-files limit (512, set with
// prlimit): from one address, the cap per address closes what is past it; from many addresses,
// the descriptor budget does, and the reserve it leaves keeps the control socket, the store and
// the workers' flows working. No key is needed for any of it: these are bare TCP connections.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include "integration/cluster_fixture.h"
#include "support/raw_tcp.h"
#include "support/wait.h"
#include "zcluster/bench/deployment.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/nodes/process.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kOpenFiles = 512;  // the nodes' limit: a budget of 256 connections
constexpr std::size_t kPerAddress = 16;    // <tuning>'s caps in this test
constexpr int kFlood = 300;                // connections from one address
// Less than the handshake timeout (10 s): a connection ended within it was ended by the guard.
constexpr auto kShedBound = 8s;

std::vector<int> Flood(std::uint16_t port, const std::string& source, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = ConnectTcp(port, source);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  return fds;
}

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("connection floods from one address and from many are shed and the cluster goes on",
          "[integration][hostile]") {
  nodes::RaiseOpenFileLimit();  // the test holds more connections than a default limit allows
  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.open_files_limit = kOpenFiles;
  master.extra =
      "<tuning><connections_per_address>16</connections_per_address></tuning>"
      "<monitor><metrics_bind>127.0.0.1:0</metrics_bind></monitor>";
  c.Configure("master", master);
  NodeOptions worker;
  worker.open_files_limit = kOpenFiles;
  worker.extra =
      "<tuning><agent_connections_per_address>16</agent_connections_per_address></tuning>";
  c.Configure("w1", worker);
  c.Configure("w2", {});
  c.Authorize("w1");
  c.Authorize("w2");
  nodes::ClientKeys keys = bench::MakeAgents(2);
  for (const std::string n : {"master", "w1"}) {
    std::filesystem::create_directories(c.Home(n) + "/etc");
    REQUIRE(keys.Save(c.Home(n) + "/etc/client.keys").ok());
  }
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/web");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  CHECK(c.Log("master").find("Connections: 16 per address on the cluster and streams ports, "
                             "256 in all") != std::string::npos);
  const std::size_t fds_before = bench::StatsOf(c.Pid("master")).open_fds;

  SECTION("one address") {
    std::vector<int> to_master = Flood(c.port(), "127.0.0.2", kFlood);
    std::vector<int> to_agents = Flood(c.AgentPort("w1"), "127.0.0.2", kFlood);
    std::size_t ended_master = 0, ended_agents = 0;
    WaitFor(
        [&] {
          ended_master = CountPeerEnded(to_master);
          ended_agents = CountPeerEnded(to_agents);
          return ended_master >= kFlood - kPerAddress && ended_agents >= kFlood - kPerAddress;
        },
        kShedBound);
    CHECK(ended_master >= kFlood - kPerAddress);
    CHECK(ended_agents >= kFlood - kPerAddress);
    // Meanwhile a worker from another address joins, and both nodes answer their control socket.
    c.Start("w2");
    CHECK(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
    CHECK(c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-l"}).exit_code == 0);
    CHECK(c.Run({"zcluster-control", "-c", c.ConfigPath("w1"), "--status"}).exit_code == 0);
    const std::string master_log = c.Log("master"), worker_log = c.Log("w1");
    CHECK(master_log.find("Closed a connection from 127.0.0.2 on the cluster port: it holds 17, "
                          "more than <tuning><connections_per_address> 16") != std::string::npos);
    CHECK(worker_log.find("Closed a connection from 127.0.0.2 on the agents port: it holds 17, "
                          "more than <tuning><agent_connections_per_address> 16") !=
          std::string::npos);
    // One line for the address in the interval, however many it sent.
    CHECK(Count(master_log, "Closed a connection from 127.0.0.2") == 1);
    CHECK(Count(worker_log, "Closed a connection from 127.0.0.2") == 1);
    CloseAll(to_master);
    CloseAll(to_agents);
  }

  SECTION("many addresses") {
    // 40 addresses with 12 connections each: under the cap, over the budget of 256.
    std::vector<int> flood;
    for (int a = 0; a < 40; ++a) {
      std::vector<int> more = Flood(c.port(), "127.0.1." + std::to_string(a + 1), 12);
      flood.insert(flood.end(), more.begin(), more.end());
    }
    // What the budget leaves open: 256 less the workers' own connections.
    CHECK(WaitFor([&] { return CountPeerEnded(flood) >= flood.size() - 256; }, kShedBound));
    CHECK(c.Running("master"));
    CHECK(c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-l"}).exit_code == 0);
    CHECK(c.WorkerNames("master") == std::set<std::string>{"w1"});
    const std::string log = c.Log("master");
    CHECK(log.find("connections, its budget of 256 keeps the rest of the open-files limit") !=
          std::string::npos);
    // Bounded lines: at most kMaxRefusalLinesPerInterval (20) in the interval, for 40 addresses.
    const std::size_t lines = Count(log, "Closed a connection from");
    CHECK(lines >= 1);
    CHECK(lines <= 20);
    // The node keeps its flows while the flood stands: a group change reaches the worker.
    std::vector<std::string> ids;
    for (const auto& k : keys.entries()) ids.push_back(k.id);
    c.Assign(ids, {"web"});
    CHECK(WaitFor([&] { return c.SameGroupTable("w1"); }, 15s));
    CloseAll(flood);
  }

  SECTION("the metrics port") {
    // Plain HTTP, served beside the loop: 600 idle connections, more than the node's limit less
    // what it holds. Those it cannot serve wait in the kernel's backlog, not in its descriptors.
    const std::uint16_t metrics_port = c.ReportedPort("master", "metrics_port");
    REQUIRE(metrics_port != 0);
    std::vector<int> flood = Flood(metrics_port, "127.0.0.2", 600);
    CHECK(c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-l"}).exit_code == 0);
    std::size_t fds = bench::StatsOf(c.Pid("master")).open_fds;
    INFO("master descriptors during the flood: " << fds);
    CHECK(fds < fds_before + 64);
    c.Assign({keys.entries()[0].id}, {"web"});
    CHECK(WaitFor([&] { return c.SameGroupTable("w1"); }, 15s));
    CloseAll(flood);
    // Once they are gone, a scrape is served.
    std::string page;
    CHECK(WaitFor(
        [&] {
          int fd = ConnectTcp(metrics_port);
          if (fd < 0) return false;
          const std::string get = "GET /metrics HTTP/1.0\r\n\r\n";
          ::send(fd, get.data(), get.size(), MSG_NOSIGNAL);
          page = ReadUntilEnd(fd, 2s);
          ::close(fd);
          return page.find("zcluster_") != std::string::npos;
        },
        30s));
  }

  // The attackers gone, the node gives back what they took.
  std::size_t fds_after = 0;
  CHECK(WaitFor(
      [&] {
        fds_after = bench::StatsOf(c.Pid("master")).open_fds;
        return fds_after <= fds_before + 8;
      },
      15s));
  INFO("master descriptors: " << fds_before << " before, " << fds_after << " after");
  CHECK(c.Running("master"));
  CHECK(c.Running("w1"));
}
