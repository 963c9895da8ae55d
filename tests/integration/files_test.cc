// File integrity with real processes: a worker's copy of the master's files converges byte for
// byte, follows changes, repairs hand edits, and never shows a partial file.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "integration/cluster_fixture.h"
#include "support/wait.h"
#include "zcluster/nodes/control.h"

using namespace zcluster;
using namespace zcluster::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSynced = {"etc/client.keys", "etc/shared", "etc/rules",
                                          "etc/decoders", "etc/lists"};

unsigned ModeOf(const fs::path& p) {
  std::error_code ec;
  return static_cast<unsigned>(fs::status(p, ec).permissions());
}

// path → (content, mode) of every synced regular file under a home. The worker may be adding or
// removing files meanwhile: a file that vanishes mid-walk is simply not listed.
std::map<std::string, std::pair<std::string, unsigned>> Tree(const std::string& home) {
  std::map<std::string, std::pair<std::string, unsigned>> out;
  for (const std::string& top : kSynced) {
    fs::path root = home + "/" + top;
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) {
      out[top] = {ReadFile(root), ModeOf(root)};
      continue;
    }
    if (!fs::is_directory(root, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& e = *it;
      std::error_code type_ec;
      if (!e.is_regular_file(type_ec)) continue;
      std::string name = e.path().filename().string();
      if (name.ends_with(".swp") || name.ends_with("~") || name.ends_with(".zc-tmp") ||
          name.ends_with(".tmp") || name.ends_with(".lock") || name == "ar.conf" ||
          name == "ossec.conf") {
        continue;  // never synced (nodes/file_set.cc)
      }
      std::string rel = e.path().string().substr(home.size() + 1);
      out[rel] = {ReadFile(e.path()), ModeOf(e.path())};
    }
  }
  return out;
}

// Same bytes; the worker's modes are the file set's (0640 client.keys, 0660 the rest).
bool Converged(Cluster& c, const std::string& worker) {
  auto master = Tree(c.Home("master")), copy = Tree(c.Home(worker));
  if (master.size() != copy.size()) return false;
  for (const auto& [path, v] : master) {
    auto it = copy.find(path);
    if (it == copy.end() || it->second.first != v.first) return false;
    unsigned want = path == "etc/client.keys" ? 0640 : 0660;
    if (it->second.second != want) return false;
  }
  return true;
}

void Write(Cluster& c, const std::string& node, const std::string& rel, const std::string& text) {
  WriteFile(c.Home(node) + "/" + rel, text);
}

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return s;
}

void StartMasterAndWorker(Cluster& c, NodeOptions worker = {}) {
  NodeOptions master = NodeOptions::Master();
  master.local_integrity = 1;
  c.Configure("master", master);
  c.Configure("w1", worker);
  c.Authorize("w1");
}

}  // namespace

TEST_CASE("a fresh worker converges to 2000 files byte for byte", "[integration][files]") {
  Cluster c;
  StartMasterAndWorker(c);
  for (int i = 0; i < 2000; ++i) {
    std::string dir = i % 4 == 0   ? "etc/rules"
                      : i % 4 == 1 ? "etc/decoders"
                      : i % 4 == 2 ? "etc/lists/sub"
                                   : "etc/shared/group" + std::to_string(i % 7);
    Write(c, "master", dir + "/f" + std::to_string(i) + ".xml", "content " + std::to_string(i));
  }
  Write(c, "master", "etc/client.keys", "001 a any " + std::string(64, 'a') + "\n");
  Write(c, "master", "etc/rules/editor.swp", "never synced");
  Write(c, "master", "etc/shared/ar.conf", "never synced");
  c.Start("master");
  c.Start("w1");
  bool converged = WaitFor([&] { return Converged(c, "w1"); }, 30s);
  REQUIRE(converged);
  CHECK(Tree(c.Home("w1")).size() == 2001);
  CHECK_FALSE(fs::exists(c.Home("w1") + "/etc/rules/editor.swp"));
  CHECK_FALSE(fs::exists(c.Home("w1") + "/etc/shared/ar.conf"));
  // One or two rounds, as the master publishes files once they have settled.
  CHECK(c.WaitForLog("w1", "[Integrity sync] Files to create: ", 5s));
  CHECK(c.WaitForLog("w1", "| Files to update: 0 | Files to delete: 0", 5s));
  CHECK(c.WaitForLog("w1", "[Integrity sync] Created ", 5s));

  // The dumps agree (paths, hashes, sizes, modes).
  RunResult m =
      c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "--local", "files", "--json"});
  RunResult w = c.Run({"zcluster-control", "-c", c.ConfigPath("w1"), "--local", "files", "--json"});
  REQUIRE(m.exit_code == 0);
  CHECK(m.output == w.output);
}

TEST_CASE("creates and changes and deletes on the master arrive", "[integration][files]") {
  Cluster c;
  NodeOptions worker;
  worker.extra = "<reload_command>touch " + c.Home("w1") + "/reloaded</reload_command>";
  StartMasterAndWorker(c, worker);
  Write(c, "master", "etc/rules/local_rules.xml", "<group name=\"local\"/>");
  Write(c, "master", "etc/lists/bad-ips", "1.2.3.4:\n");
  Write(c, "master", "etc/shared/web/agent.conf", "<agent_config/>");
  c.Start("master");
  c.Start("w1");
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 20s));
  REQUIRE(WaitFor([&] { return fs::exists(c.Home("w1") + "/reloaded"); }, 10s));
  fs::remove(c.Home("w1") + "/reloaded");

  Write(c, "master", "etc/rules/local_rules.xml", "<group name=\"local,changed\"/>");
  Write(c, "master", "etc/decoders/new_decoder.xml", "<decoder name=\"new\"/>");
  fs::remove(c.Home("master") + "/etc/shared/web/agent.conf");
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 20s));
  CHECK(ReadFile(c.Home("w1") + "/etc/rules/local_rules.xml") == "<group name=\"local,changed\"/>");
  // A small file travels with its change: no fetch round trip.
  CHECK(c.WaitForLog("w1", "etc/rules/local_rules.xml arrived with its change", 5s));
  CHECK_FALSE(fs::exists(c.Home("w1") + "/etc/shared/web/agent.conf"));
  // The empty subfolder goes right after its last file, so the tree can look converged a moment
  // before the folder is gone.
  CHECK(WaitFor([&] { return !fs::exists(c.Home("w1") + "/etc/shared/web"); }, 5s));
  CHECK(WaitFor([&] { return fs::exists(c.Home("w1") + "/reloaded"); }, 10s));
  CHECK(c.WaitForLog("master", "[Local integrity]", 5s));
}

TEST_CASE("a hand edit and a deletion and an extra file on a worker are repaired",
          "[integration][files]") {
  Cluster c;
  NodeOptions worker;
  worker.integrity_check = 0.5;
  StartMasterAndWorker(c, worker);
  Write(c, "master", "etc/rules/a.xml", "rule a");
  Write(c, "master", "etc/rules/b.xml", "rule b");
  c.Start("master");
  c.Start("w1");
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 20s));
  Write(c, "w1", "etc/rules/a.xml", "edited by hand");
  fs::remove(c.Home("w1") + "/etc/rules/b.xml");
  Write(c, "w1", "etc/decoders/stray.xml", "not on the master");
  ::chmod((c.Home("w1") + "/etc/rules/a.xml").c_str(), 0600);
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 10s));
  CHECK_FALSE(fs::exists(c.Home("w1") + "/etc/decoders/stray.xml"));
  CHECK(c.WaitForLog("w1", "Files to create: 1 | Files to update: 1 | Files to delete: 1", 5s));
  // The master's health sees the copy back in sync.
  REQUIRE(WaitFor(
      [&] {
        RunResult h = c.Run({"zcluster-control", "-c", c.ConfigPath("master"), "-i", "--json"});
        nlohmann::json j = nlohmann::json::parse(h.output);
        if (j["workers"].size() != 1) return false;
        const auto& f = j["workers"][0]["files"];
        return f["state"] == "in sync" && f["integrity_sync"]["created"] == 1 &&
               f["integrity_sync"]["updated"] == 1 && f["integrity_sync"]["deleted"] == 1;
      },
      10s));
}

TEST_CASE("a 50 MiB file arrives intact", "[integration][files]") {
  Cluster c;
  StartMasterAndWorker(c);
  Write(c, "master", "etc/lists/big.cdb", RandomBytes(50u << 20, 7));
  c.Start("master");
  c.Start("w1");
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 60s));
}

TEST_CASE("a worker killed in the middle of a large sync leaves no partial file",
          "[integration][files]") {
  Cluster c;
  StartMasterAndWorker(c);
  const std::string big = RandomBytes(200u << 20, 11);
  Write(c, "master", "etc/lists/huge.cdb", big);
  c.Start("master");
  c.Start("w1");
  const std::string partial = c.Home("w1") + "/etc/lists/.huge.cdb.zc-tmp";
  REQUIRE(WaitFor([&] { return fs::exists(partial); }, 30s));
  c.Kill("w1", SIGKILL);
  // Whatever was written went to the temporary name: the real one is absent or whole.
  std::string final_path = c.Home("w1") + "/etc/lists/huge.cdb";
  CHECK((!fs::exists(final_path) || ReadFile(final_path) == big));
  c.Start("w1");
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 60s));
  CHECK_FALSE(fs::exists(partial));
}

TEST_CASE("every kind of edit on the master is published from its file events alone",
          "[integration][files]") {
  // No periodic rescan within the test: only inotify can move anything.
  Cluster c;
  NodeOptions master = NodeOptions::Master();
  master.local_integrity = 600;
  c.Configure("master", master);
  c.Configure("w1", {});
  c.Authorize("w1");
  Write(c, "master", "etc/rules/local_rules.xml", "v1");
  c.Start("master");
  c.Start("w1");
  REQUIRE(WaitFor([&] { return Converged(c, "w1"); }, 20s));
  const std::string rules = c.Home("w1") + "/etc/rules/";
  {
    std::ofstream in_place(c.Home("master") + "/etc/rules/local_rules.xml", std::ios::trunc);
    in_place << "v2";  // rewritten in place: a close-after-write event only
  }
  CHECK(WaitFor([&] { return ReadFile(rules + "local_rules.xml") == "v2"; }, 5s));
  Write(c, "master", "etc/rules/new.xml", "new");  // a new file in a watched folder
  CHECK(WaitFor([&] { return fs::exists(rules + "new.xml"); }, 5s));
  Write(c, "master", "etc/rules/sub/deep.xml", "deep");  // a new folder: a full rescan
  CHECK(WaitFor([&] { return fs::exists(rules + "sub/deep.xml"); }, 5s));
  Write(c, "master", "etc/rules/sub/deeper.xml", "deeper");  // and the new folder is watched
  CHECK(WaitFor([&] { return fs::exists(rules + "sub/deeper.xml"); }, 5s));
  fs::remove(c.Home("master") + "/etc/rules/new.xml");
  CHECK(WaitFor([&] { return !fs::exists(rules + "new.xml"); }, 5s));
  Write(c, "master", "etc/rules/editor.swp", "never synced");
  Write(c, "master", "etc/rules/local_rules.xml", "v3");
  CHECK(WaitFor([&] { return ReadFile(rules + "local_rules.xml") == "v3"; }, 5s));
  CHECK_FALSE(fs::exists(rules + "editor.swp"));
  CHECK(Converged(c, "w1"));
}
