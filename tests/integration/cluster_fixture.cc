#include "integration/cluster_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/wait.h"
#include "zcluster/bench/deployment.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/nodes/control.h"

extern char** environ;

namespace zcluster::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::string& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

}  // namespace

schemas::Message Exchange(bus::DealerSocket& dealer, const schemas::Frames& frames) {
  REQUIRE(WaitFor([&] { return dealer.Send(frames).ok(); }, std::chrono::seconds(10)));
  std::optional<schemas::Frames> reply;
  REQUIRE(WaitFor(
      [&] {
        auto r = dealer.Receive();
        return r.ok() && (reply = *r).has_value();
      },
      std::chrono::seconds(10)));
  Result<schemas::Message> m = schemas::Decode(*reply);
  REQUIRE(m.ok());
  return *m;
}

Cluster::Cluster() : port_(bench::FreePorts(2)) {}  // the master's ROUTER and PUB

Cluster::~Cluster() {
  for (auto& [name, pid] : pids_) {
    if (pid <= 0) continue;
    ::kill(pid, SIGTERM);
    int status = 0;
    bool gone = WaitFor([&status, pid = pid] { return ::waitpid(pid, &status, WNOHANG) == pid; },
                        std::chrono::seconds(10));
    if (!gone) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    // A clean stop exits 0; anything else (a sanitizer report, a crash, a hang) fails the test.
    INFO("zclusterd " << name << " output:\n" << ReadFile(Home(name) + "/stdout.log"));
    CHECK(gone);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
}

void Cluster::EnsureKey(const std::string& key_name) {
  std::filesystem::create_directories(dir_ / "keys/authorized");
  if (::access((KeyPrefix(key_name) + ".key").c_str(), F_OK) == 0) return;
  REQUIRE(bus::WriteKeyPair(KeyPrefix(key_name), *bus::GenerateKeyPair()).ok());
}

void Cluster::Authorize(const std::string& worker_key_name) {
  EnsureKey(worker_key_name);
  std::filesystem::copy_file(KeyPrefix(worker_key_name) + ".pub",
                             dir_ / ("keys/authorized/" + worker_key_name + ".pub"),
                             std::filesystem::copy_options::overwrite_existing);
}

std::string Cluster::Configure(const std::string& name, const NodeOptions& o) {
  std::string key_name = o.key_name.empty() ? name : o.key_name;
  std::string curve;
  if (!o.shared_key) {
    EnsureKey(key_name);
    EnsureKey("master");
    curve = "<curve><secret_key>" + KeyPrefix(key_name) + ".key</secret_key><public_key>" +
            KeyPrefix(key_name) + ".pub</public_key>" +
            (o.type == "master"
                 ? "<authorized_keys>" + (dir_ / "keys/authorized") + "</authorized_keys>"
                 : "<master_public_key>" + KeyPrefix("master") + ".pub</master_public_key>") +
            "</curve>";
  }
  std::ostringstream conf;
  conf << "<ossec_config>\n  <cluster>\n"
       << "    <name>" << o.cluster << "</name>\n"
       << "    <node_name>" << name << "</node_name>\n"
       << "    <node_type>" << o.type << "</node_type>\n"
       << "    <key>0123456789abcdef0123456789ABCDEF</key>\n"
       << "    <port>" << port_ << "</port>\n"
       << "    <bind_addr>127.0.0.1</bind_addr>\n"
       << "    <nodes><node>127.0.0.1</node></nodes>\n"
       << "    <hidden>no</hidden>\n    <disabled>no</disabled>\n"
       << "    <home>" << Home(name) << "</home>\n"
       << "    <agent_port>" << AgentPort(name) << "</agent_port>\n"
       << "    " << curve << "\n"
       << "    <intervals><keep_alive>" << o.keep_alive << "</keep_alive>"
       << "<max_allowed_time_without_keepalive>" << o.max_silence
       << "</max_allowed_time_without_keepalive><agents_disconnection_time>"
       << o.agents_disconnection_time << "</agents_disconnection_time><local_integrity>"
       << o.local_integrity << "</local_integrity><integrity_check>" << o.integrity_check
       << "</integrity_check></intervals>\n"
       << "    " << o.extra << "\n"
       << "  </cluster>\n</ossec_config>\n";
  WriteFile(ConfigPath(name), conf.str());
  return ConfigPath(name);
}

std::uint16_t Cluster::AgentPort(const std::string& name) {
  auto it = agent_ports_.find(name);
  if (it != agent_ports_.end()) return it->second;
  std::uint16_t port;
  do {
    port = bench::FreePorts(1);
  } while (port == port_ || port == port_ + 1);
  return agent_ports_[name] = port;
}

pid_t Cluster::Start(const std::string& name) {
  pid_t pid = Spawn({std::string(ZC_TOOLS_DIR) + "/zclusterd", "-f", "-d", "-c", ConfigPath(name)},
                    Home(name) + "/stdout.log");
  pids_[name] = pid;
  return pid;
}

void Cluster::Kill(const std::string& name, int signal) {
  pid_t pid = pids_.at(name);
  REQUIRE(::kill(pid, signal) == 0);
  REQUIRE(::waitpid(pid, nullptr, 0) == pid);
  pids_[name] = -1;
}

void Cluster::Signal(const std::string& name, int signal) {
  REQUIRE(::kill(pids_.at(name), signal) == 0);
}

bool Cluster::Running(const std::string& name) {
  pid_t pid = pids_.at(name);
  return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0;
}

std::vector<schemas::NodeInfo> Cluster::Nodes(const std::string& name) {
  Result<schemas::Message> reply =
      nodes::ControlRequest(Home(name) + "/queue/cluster/control.sock", schemas::NodesQuery{},
                            std::chrono::milliseconds(2000));
  if (!reply.ok() || !std::holds_alternative<schemas::NodeList>(*reply)) return {};
  return std::get<schemas::NodeList>(*reply).nodes;
}

std::set<std::string> Cluster::WorkerNames(const std::string& master) {
  std::set<std::string> names;
  for (const schemas::NodeInfo& n : Nodes(master)) {
    if (n.type == "worker") names.insert(n.name);
  }
  return names;
}

bool Cluster::WaitForWorkers(const std::string& master, const std::set<std::string>& workers,
                             std::chrono::milliseconds bound) {
  return WaitFor([&] { return WorkerNames(master) == workers; }, bound);
}

std::string Cluster::Log(const std::string& name) const {
  return ReadFile(Home(name) + "/logs/cluster.log");
}

bool Cluster::WaitForLog(const std::string& name, const std::string& text,
                         std::chrono::milliseconds bound) {
  return WaitFor([&] { return Log(name).find(text) != std::string::npos; }, bound);
}

RunResult Cluster::Run(const std::vector<std::string>& argv) {
  std::vector<std::string> full = argv;
  full[0] = std::string(ZC_TOOLS_DIR) + "/" + argv[0];
  std::string out = dir_ / ("run-" + std::to_string(::getpid()) + ".out");
  ::unlink(out.c_str());
  pid_t pid = Spawn(full, out);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.output = ReadFile(out);
  return r;
}

}  // namespace zcluster::testing
