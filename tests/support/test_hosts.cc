#include "support/test_hosts.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

extern char** environ;

namespace zcluster::testing {

int RunProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // Quiet: a failure is told by the status, and the caller says what failed.
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return 127;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return 127;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TestHosts::TestHosts(const std::vector<std::string>& spokes)
    : prefix_("zc" + std::to_string(::getpid()) + "-"), spokes_(spokes) {
  if (spokes_.size() > 200) {
    error_ = "at most 200 spokes";
    return;
  }
  if (RunProgram({"nft", "--version"}) != 0) {
    error_ = "nftables (nft) is not installed";
    return;
  }
  auto make = [this](const std::string& ns) {
    if (RunProgram({"ip", "netns", "add", ns}) != 0) return false;
    made_.push_back(ns);
    return RunProgram({"ip", "-n", ns, "link", "set", "lo", "up"}) == 0;
  };
  if (!make(Namespace("hub"))) {
    error_ = "cannot make a network namespace (ip netns add needs root)";
    return;
  }
  for (std::size_t i = 0; i < spokes_.size(); ++i) {
    const std::string n = std::to_string(i + 1), hub = Namespace("hub"), ns = Namespace(spokes_[i]);
    const std::string hub_if = "zh" + n, spoke_if = "zs" + n, net = "198.18." + n + ".";
    // Made inside the namespaces, so that no name is ever taken in the machine's own.
    bool ok = make(ns) &&
              RunProgram({"ip", "link", "add", "name", hub_if, "netns", hub, "type", "veth", "peer",
                          "name", spoke_if, "netns", ns}) == 0 &&
              RunProgram({"ip", "-n", hub, "addr", "add", net + "1/24", "dev", hub_if}) == 0 &&
              RunProgram({"ip", "-n", ns, "addr", "add", net + "2/24", "dev", spoke_if}) == 0 &&
              RunProgram({"ip", "-n", hub, "link", "set", hub_if, "up"}) == 0 &&
              RunProgram({"ip", "-n", ns, "link", "set", spoke_if, "up"}) == 0;
    if (!ok) {
      error_ = "cannot link " + spokes_[i] + " to the hub";
      return;
    }
  }
  available_ = true;
}

TestHosts::~TestHosts() {
  // A namespace's veth ends go with it, and the peer end with them.
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) RunProgram({"ip", "netns", "del", *it});
}

std::string TestHosts::Namespace(const std::string& host) const { return prefix_ + host; }

std::vector<std::string> TestHosts::In(const std::string& host,
                                       std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", Namespace(host)});
  return argv;
}

int TestHosts::Index(const std::string& spoke) const {
  for (std::size_t i = 0; i < spokes_.size(); ++i) {
    if (spokes_[i] == spoke) return static_cast<int>(i) + 1;
  }
  return 0;
}

std::string TestHosts::HubAddress(const std::string& spoke) const {
  return "198.18." + std::to_string(Index(spoke)) + ".1";
}

bool TestHosts::Nft(const std::string& spoke, const std::string& script) {
  return RunProgram(In(spoke, {"nft", script})) == 0;
}

bool TestHosts::SetLoss(const std::string& spoke, int percent) {
  const std::string dev = "zs" + std::to_string(Index(spoke));
  // numgen draws 0..99 per packet: below `percent` is dropped.
  const std::string drop = "numgen random mod 100 < " + std::to_string(percent) + " drop; ";
  (void)Nft(spoke, "delete table inet zcloss");
  if (percent <= 0) return true;
  return Nft(spoke,
             "add table inet zcloss; "
             "add chain inet zcloss in { type filter hook input priority 0; }; "
             "add chain inet zcloss out { type filter hook output priority 0; }; "
             "add rule inet zcloss in iifname " +
                 dev + " " + drop + "add rule inet zcloss out oifname " + dev + " " + drop);
}

bool TestHosts::Cut(const std::string& spoke, bool cut) {
  const std::string dev = "zs" + std::to_string(Index(spoke));
  if (!cut) return Nft(spoke, "delete table inet zccut");
  // Priority -10: ahead of the loss rules, so nothing gets through.
  return Nft(spoke,
             "add table inet zccut; "
             "add chain inet zccut in { type filter hook input priority -10; }; "
             "add chain inet zccut out { type filter hook output priority -10; }; "
             "add rule inet zccut in iifname " +
                 dev +
                 " drop; "
                 "add rule inet zccut out oifname " +
                 dev + " drop");
}

}  // namespace zcluster::testing
