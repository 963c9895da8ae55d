// The monitor endpoint on TCP (<monitor><bind>): CurveZMQ with its own allow-list of admin keys,
// failing closed like the cluster sockets. Real processes on loopback.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "integration/cluster_fixture.h"
#include "support/wait.h"
#include "zcluster/bus/curve_keys.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::size_t Lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("a remote monitor sees the cluster with an admin key and gets nothing without one",
          "[integration][monitor]") {
  Cluster c;
  const std::string dir = std::filesystem::path(c.Home("master")).parent_path();
  std::filesystem::create_directories(dir + "/admins");
  bus::CurveKeyPair ops = *bus::GenerateKeyPair();
  REQUIRE(bus::WriteKeyPair(dir + "/ops", ops).ok());
  std::filesystem::copy_file(dir + "/ops.pub", dir + "/admins/ops.pub");
  REQUIRE(bus::WriteKeyPair(dir + "/stranger", *bus::GenerateKeyPair()).ok());

  NodeOptions master = NodeOptions::Master();
  master.extra = "<monitor><bind>127.0.0.1:0</bind><authorized_keys>" + dir +
                 "/admins</authorized_keys></monitor>";
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Authorize("w1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  std::uint16_t port = c.ReportedPort("master", "monitor_port");
  REQUIRE(port != 0);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  const std::string server_key = c.KeyPrefix("master") + ".pub";
  auto remote = [&](const std::string& key_prefix) {
    return c.Run({"zcluster-monitor", "--once", "--json", "--timeout", "5000", "--endpoint",
                  endpoint, "--server-key", server_key, "--key", key_prefix});
  };

  // An admin sees the whole cluster, the worker's counters included once its stats arrive.
  std::optional<json> view;
  REQUIRE(WaitFor(
      [&] {
        RunResult r = remote(dir + "/ops");
        if (r.exit_code != 0) return false;
        view = json::parse(r.output);
        return (*view)["nodes"].size() == 2;
      },
      15s));
  CHECK((*view)["node"] == "master");
  CHECK((*view)["nodes"][1]["name"] == "w1");

  SECTION("an unlisted key is refused at once, in one line, and seen by the master") {
    RunResult r = remote(dir + "/stranger");
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output ==
          "zcluster-monitor: '" + endpoint + "' refused this key (not one of its admins)\n");
    std::optional<json> local;
    CHECK(WaitFor(
        [&] {
          RunResult l =
              c.Run({"zcluster-monitor", "--once", "--json", "-c", c.ConfigPath("master")});
          if (l.exit_code != 0) return false;
          local = json::parse(l.output);
          for (const json& e : (*local)["nodes"][0]["events"]) {
            if (e["kind"] == "auth_refused" && e["socket"] == "monitor") return true;
          }
          return false;
        },
        10s));
    CHECK(c.WaitForLog("master", "Refused CURVE handshake on the monitor endpoint from 127.0.0.1",
                       5s));
  }
  SECTION("a worker's key opens the cluster sockets, not the monitor") {
    RunResult r = remote(c.KeyPrefix("w1"));
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("refused this key") != std::string::npos);
  }
  SECTION("a wrong server key or a closed port fails in one line, never hangs") {
    RunResult wrong =
        c.Run({"zcluster-monitor", "--once", "--timeout", "5000", "--endpoint", endpoint,
               "--server-key", c.KeyPrefix("w1") + ".pub", "--key", dir + "/ops"});
    INFO(wrong.output);
    CHECK(wrong.exit_code != 0);
    CHECK(Lines(wrong.output) == 1);
    CHECK(wrong.output.find("server key") != std::string::npos);
    c.Kill("master", SIGTERM);
    RunResult gone = remote(dir + "/ops");
    INFO(gone.output);
    CHECK(gone.exit_code != 0);
    CHECK(Lines(gone.output) == 1);
    CHECK(gone.output.find("nothing accepts connections") != std::string::npos);
  }
  SECTION("remote options are checked before anything connects") {
    RunResult dump = c.Run({"zcluster-monitor", "--dump", "--endpoint", endpoint, "--server-key",
                            server_key, "--key", dir + "/ops"});
    CHECK(dump.exit_code != 0);
    CHECK(dump.output.find("--dump reads the node's local tap") != std::string::npos);
    RunResult no_key =
        c.Run({"zcluster-monitor", "--once", "--endpoint", endpoint, "--server-key", server_key});
    CHECK(no_key.exit_code != 0);
    CHECK(no_key.output == "zcluster-monitor: --endpoint needs --server-key and --key\n");
    RunResult bad_key = c.Run({"zcluster-monitor", "--once", "--endpoint", endpoint, "--server-key",
                               server_key, "--key", dir + "/nobody"});
    CHECK(bad_key.exit_code != 0);
    CHECK(bad_key.output.rfind("zcluster-monitor: --key: ", 0) == 0);
  }
}
