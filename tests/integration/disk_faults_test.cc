// Disk faults with real processes: a worker whose home fills up, or turns read-only, while
// changes flow stays up, says what is wrong, and converges by itself once the disk is usable.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "integration/cluster_fixture.h"
#include "support/small_disk.h"
#include "support/wait.h"
#include "zcluster/nodes/client_keys.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;

namespace {

// A master with `n` agents and the groups web and db, and worker w1 configured, not started.
std::vector<std::string> Setup(Cluster& c, std::size_t n) {
  NodeOptions master = NodeOptions::Master();
  master.local_integrity = 1;
  c.Configure("master", master);
  NodeOptions worker;
  worker.local_integrity = 1;
  c.Configure("w1", worker);
  c.Authorize("w1");
  nodes::ClientKeys keys;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i)
    ids.push_back(keys.Add("agent-" + std::to_string(i), "any")->id);
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/web");
  std::filesystem::create_directories(c.Home("master") + "/etc/shared/db");
  REQUIRE(keys.Save(c.Home("master") + "/etc/client.keys").ok());
  return ids;
}

// Fills the disk, or turns it read-only, makes changes on every stream, and gives it back.
void ChangesAgainstABadDisk(bool read_only) {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 2000);
  SmallDisk disk(24);
  if (!disk.available()) {
    WARN("skipped: " << disk.error());
    return;
  }
  // The worker's files and its database share the small disk; its log does not.
  REQUIRE(disk.Bind(c.Home("w1") + "/etc"));
  REQUIRE(disk.Bind(c.Home("w1") + "/var"));
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  c.Assign(ids, {"web"});
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));

  // RocksDB keeps its log open for writing, so only the files can turn read-only under it. A
  // mount turns read-only only while no file on it is open for writing (EBUSY otherwise), and the
  // worker may still be installing the master's files: tried until it takes.
  const bool faulted =
      read_only ? WaitFor([&] { return disk.SetReadOnly(c.Home("w1") + "/etc", true); }, 20s)
                : disk.Fill();
  INFO(disk.error());
  REQUIRE(faulted);
  // 80,000 group changes: enough to outgrow what RocksDB's log file has set aside.
  for (int round = 0; round < 40; ++round) c.Assign(ids, {round % 2 ? "web" : "db"}, true);
  const std::string rule(256 << 10, 'r');
  WriteFile(c.Home("master") + "/etc/rules/after_fault.xml", rule);
  CHECK(c.WaitForLog("w1", read_only ? "Read-only file system" : "No space left on device", 30s));
  if (read_only) CHECK(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  CHECK(c.Running("w1"));
  if (!read_only) {
    // The operator's view names the node with the disk problem while it lasts.
    CHECK(WaitFor(
        [&] {
          RunResult i = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i"});
          return i.output.find("Disk problem on w1: store: write") != std::string::npos;
        },
        20s));
  }

  if (read_only) {
    REQUIRE(disk.SetReadOnly(c.Home("w1") + "/etc", false));
  } else {
    disk.Free();
  }
  CHECK(WaitFor(
      [&] {
        return c.SameGroupTable("w1") &&
               ReadFile(c.Home("w1") + "/etc/rules/after_fault.xml") == rule;
      },
      60s));
  CHECK(c.Running("w1"));
  c.Kill("w1", SIGTERM);
}

}  // namespace

TEST_CASE("a worker whose disk fills while changes flow stays up and converges once it is freed",
          "[integration][disk]") {
  ChangesAgainstABadDisk(false);
}

TEST_CASE(
    "a worker whose files turn read-only stays up and says so and converges once they are back",
    "[integration][disk]") {
  ChangesAgainstABadDisk(true);
}

TEST_CASE("a master whose disk fills refuses changes with the reason and takes them once freed",
          "[integration][disk]") {
  Cluster c;
  std::vector<std::string> ids = Setup(c, 200);
  SmallDisk disk(24);
  if (!disk.available()) {
    WARN("skipped: " << disk.error());
    return;
  }
  REQUIRE(disk.Bind(c.Home("master") + "/var"));
  c.Start("master");
  c.Start("w1");
  REQUIRE(c.WaitForWorkers("master", {"w1"}, 15s));
  c.Assign(ids, {"web"});
  REQUIRE(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  const schemas::GroupTable before = c.GroupTableOf("master");

  REQUIRE(disk.Fill());
  // RocksDB's log may have room set aside: changes go on until one is refused for the disk.
  int round = 0;
  std::string refusal;
  CHECK(WaitFor(
      [&] {
        std::optional<schemas::Message> m = c.Ask(
            "master", schemas::GroupAssign{ids, {round++ % 2 ? "web" : "db"}, /*replace=*/true});
        const auto* error = m ? std::get_if<schemas::ErrorReply>(&*m) : nullptr;
        if (error != nullptr) refusal = error->message;
        return error != nullptr;
      },
      30s));
  CHECK(refusal.find("No space left on device") != std::string::npos);
  CHECK(c.Running("master"));
  CHECK(WaitFor(
      [&] {
        RunResult i = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i"});
        return i.output.find("Disk problem on the master") != std::string::npos;
      },
      10s));
  // What was refused was not applied, and the workers hold what the master holds.
  CHECK(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  CHECK(c.GroupTableOf("master").seq >= before.seq);

  disk.Free();
  CHECK(WaitFor(
      [&] {
        std::optional<schemas::Message> m =
            c.Ask("master", schemas::GroupAssign{ids, {"db"}, /*replace=*/true});
        return m && std::holds_alternative<schemas::GroupsChanged>(*m);
      },
      30s));
  CHECK(WaitFor([&] { return c.SameGroupTable("w1"); }, 20s));
  CHECK(c.GroupTableOf("w1").groups.at(ids[0]) == std::vector<std::string>{"db"});
  std::string health;
  if (!WaitFor(
          [&] {
            health = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i"}).output;
            return health.find("Disk problem") == std::string::npos;
          },
          10s)) {
    FAIL_CHECK("the disk problem is still shown:\n" << health);
  }
}

TEST_CASE("a node whose database folder is read-only says so and does not start",
          "[integration][disk]") {
  Cluster c;
  c.Configure("master", NodeOptions::Master());
  SmallDisk disk(4);
  if (!disk.available()) {
    WARN("skipped: " << disk.error());
    return;
  }
  REQUIRE(disk.Bind(c.Home("master") + "/var"));
  REQUIRE(disk.SetReadOnly(c.Home("master") + "/var", true));
  RunResult start = c.Run({"zclusterd", "-c", c.ConfigPath("master")});
  INFO(start.output);
  CHECK(start.exit_code == 1);
  CHECK(start.output.find("Read-only file system") != std::string::npos);
  CHECK(start.output.find(c.Home("master") + "/var") != std::string::npos);
}
