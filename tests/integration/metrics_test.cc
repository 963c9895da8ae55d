// The master's Prometheus endpoint with real components: promtool checks the exposition, and a
// real Prometheus server on loopback scrapes the master and answers a query for every node.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"
#include "support/wait.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A port nothing listens on now, for a server that cannot report the port it chose. Prometheus
// binds it a moment later; another process taking it in between fails the test, never passes it.
std::uint16_t UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("the master's /metrics passes promtool and a real Prometheus scrapes every node",
          "[integration][monitor][metrics]") {
  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.extra = "<monitor><metrics_bind>127.0.0.1:0</metrics_bind></monitor>";
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Configure("w2", {});
  c.Authorize("w1");
  c.Authorize("w2");
  c.Start("master");
  c.Start("w1");
  c.Start("w2");
  REQUIRE(c.WaitForWorkers("master", {"w1", "w2"}, 15s));
  std::uint16_t port = c.ReportedPort("master", "metrics_port");
  REQUIRE(port != 0);

  httplib::Client http("127.0.0.1", port);
  std::string text;
  // Published once a second; both workers' stats arrive within a second or two of their hello.
  REQUIRE(WaitFor(
      [&] {
        auto res = http.Get("/metrics");
        if (!res || res->status != 200) return false;
        text = res->body;
        return text.find("zcluster_up{node=\"w1\"} 1") != std::string::npos &&
               text.find("zcluster_up{node=\"w2\"} 1") != std::string::npos &&
               text.find("type=\"keepalive\",direction=\"in\"") != std::string::npos;
      },
      20s));
  CHECK(text.find("# TYPE zcluster_messages_total counter") != std::string::npos);
  CHECK(text.find("zcluster_agents{status=\"never_connected\"} 0") != std::string::npos);
  CHECK(text.find("zcluster_stream_lag{node=\"w1\",stream=\"groups\"}") != std::string::npos);
  CHECK(http.Get("/nothing")->status == 404);

  std::string dir = std::filesystem::path(c.Home("master")).parent_path();
  { std::ofstream(dir + "/metrics.txt") << text; }
  int checked = std::system(
      ("promtool check metrics < " + dir + "/metrics.txt > " + dir + "/promtool.out 2>&1").c_str());
  std::ifstream promtool_out(dir + "/promtool.out");
  INFO(std::string(std::istreambuf_iterator<char>(promtool_out), {}));
  CHECK(checked == 0);

  std::uint16_t web = UnusedPort();
  {
    std::ofstream config(dir + "/prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
              "scrape_configs:\n  - job_name: zcluster\n    static_configs:\n"
              "      - targets: ['127.0.0.1:"
           << port << "']\n";
  }
  BackgroundProcess prometheus({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                                "--storage.tsdb.path=" + dir + "/prometheus-data",
                                "--web.listen-address=127.0.0.1:" + std::to_string(web)},
                               dir + "/prometheus.log");
  httplib::Client api("127.0.0.1", web);
  json answer;
  bool all = WaitFor(
      [&] {
        auto res = api.Get("/api/v1/query?query=zcluster_up");
        if (!res || res->status != 200) return false;
        answer = json::parse(res->body, nullptr, false);
        if (answer.is_discarded() || answer["status"] != "success") return false;
        std::set<std::string> up;
        for (const json& r : answer["data"]["result"]) {
          if (r["value"][1] == "1") up.insert(r["metric"]["node"].get<std::string>());
        }
        return up == std::set<std::string>{"master", "w1", "w2"};
      },
      60s);
  INFO(answer.dump());
  CHECK(all);
}
