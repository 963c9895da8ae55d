#include "integration/cluster_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/wait.h"
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
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

}  // namespace

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
}

BackgroundProcess::~BackgroundProcess() { Stop(); }

int BackgroundProcess::Stop() {
  if (!status_) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return *status_;
}

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

bus::DealerSocket Cluster::ConnectBareWorker(zmq::context_t& ctx, const std::string& key_name) {
  bus::CurveKeyPair own{*bus::ReadPublicKeyFile(KeyPrefix(key_name) + ".pub"),
                        *bus::ReadSecretKeyFile(KeyPrefix(key_name) + ".key")};
  Result<bus::DealerSocket> dealer = bus::DealerSocket::ConnectCurve(
      ctx, own, *bus::ReadPublicKeyFile(KeyPrefix("master") + ".pub"),
      "tcp://127.0.0.1:" + std::to_string(port()), key_name, bus::SocketOptions{});
  REQUIRE(dealer.ok());
  return std::move(dealer).value();
}

Cluster::Cluster() {
  Result<std::unique_ptr<bench::Deployment>> d =
      bench::Deployment::Create(ZC_TOOLS_DIR, false, "itest");
  REQUIRE(d.ok());
  d_ = std::move(d).value();
}

Cluster::~Cluster() {
  for (const std::string& name : d_->Names()) {
    if (d_->Pid(name) <= 0) continue;
    // A clean stop exits 0; anything else (a sanitizer report, a crash, a hang) fails the test.
    Status stopped = d_->Stop(name, std::chrono::seconds(10));
    INFO("zclusterd " << name << " output:\n" << ReadFile(Home(name) + "/stdout.log"));
    CHECK(stopped.ToString() == "ok");
  }
}

void Cluster::Authorize(const std::string& worker_key_name) {
  Status s = d_->Authorize(worker_key_name);
  REQUIRE(s.ToString() == "ok");
}

std::string Cluster::Configure(const std::string& name, const NodeOptions& o) {
  bench::NodeSpec spec;
  spec.name = name;
  spec.master = o.type == "master";
  spec.cluster = o.cluster;
  spec.key_name = o.key_name;
  spec.shared_key = o.shared_key;
  spec.keep_alive = o.keep_alive;
  spec.max_silence = o.max_silence;
  spec.agents_disconnection_time = o.agents_disconnection_time;
  spec.local_integrity = o.local_integrity;
  spec.integrity_check = o.integrity_check;
  spec.extra = o.extra;
  spec.bind_addr = o.bind_addr;
  spec.netns = o.netns;
  spec.open_files_limit = o.open_files_limit;
  spec.authorize = false;
  spec.debug = o.debug;
  Status s = d_->Configure(spec);
  REQUIRE(s.ToString() == "ok");
  return ConfigPath(name);
}

pid_t Cluster::Start(const std::string& name) {
  Status s = d_->Start(name);
  INFO("zclusterd " << name << " output:\n" << ReadFile(Home(name) + "/stdout.log"));
  REQUIRE(s.ToString() == "ok");
  return d_->Pid(name);
}

void Cluster::StartWithAgents(const nodes::ClientKeys& agents, const std::set<std::string>& workers,
                              const NodeOptions& master, const NodeOptions& worker) {
  Configure("master", master);
  for (const std::string& w : workers) {
    Configure(w, worker);
    Authorize(w);
  }
  std::set<std::string> nodes = workers;
  nodes.insert("master");
  for (const std::string& n : nodes) {
    std::filesystem::create_directories(Home(n) + "/etc");
    REQUIRE(agents.Save(Home(n) + "/etc/client.keys").ok());
  }
  Start("master");
  for (const std::string& w : workers) Start(w);
  REQUIRE(WaitForWorkers("master", workers, std::chrono::seconds(15)));
}

void Cluster::Kill(const std::string& name, int signal) {
  Status s = d_->Kill(name, signal);
  REQUIRE(s.ToString() == "ok");
}

void Cluster::Signal(const std::string& name, int signal) {
  Status s = d_->Signal(name, signal);
  REQUIRE(s.ToString() == "ok");
}

std::optional<schemas::Message> Cluster::Ask(const std::string& name,
                                             const schemas::Message& request) {
  Result<schemas::Message> reply = nodes::ControlRequest(Home(name) + "/queue/cluster/control.sock",
                                                         request, std::chrono::seconds(20));
  if (!reply.ok()) return std::nullopt;
  return *reply;
}

schemas::GroupTable Cluster::GroupTableOf(const std::string& name) {
  std::optional<schemas::Message> m = Ask(name, schemas::GroupTableQuery{});
  if (!m || !std::holds_alternative<schemas::GroupTable>(*m)) return {};
  return std::get<schemas::GroupTable>(*m);
}

bool Cluster::SameGroupTable(const std::string& worker) {
  schemas::GroupTable master = GroupTableOf("master"), copy = GroupTableOf(worker);
  return master.seq > 0 && copy.seq == master.seq && copy.groups == master.groups;
}

std::uint64_t Cluster::Assign(std::vector<std::string> agents, std::vector<std::string> groups,
                              bool replace) {
  std::optional<schemas::Message> m =
      Ask("master", schemas::GroupAssign{std::move(agents), std::move(groups), replace});
  REQUIRE(m.has_value());
  INFO((std::holds_alternative<schemas::ErrorReply>(*m) ? std::get<schemas::ErrorReply>(*m).message
                                                        : ""));
  REQUIRE(std::holds_alternative<schemas::GroupsChanged>(*m));
  return std::get<schemas::GroupsChanged>(*m).seq;
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
  full[0] = ToolPath(argv[0]);
  return RunProgram(full);
}

RunResult Cluster::RunProgram(const std::vector<std::string>& full) {
  std::string out = d_->dir() + "/run-" + std::to_string(::getpid()) + ".out";
  ::unlink(out.c_str());
  pid_t pid = Spawn(full, out);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.output = ReadFile(out);
  return r;
}

std::uint16_t Cluster::ReportedPort(const std::string& name, const std::string& key) const {
  std::ifstream in(Home(name) + "/ports.json");
  nlohmann::json ports = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return ports.is_object() ? ports.value(key, std::uint16_t{0}) : 0;
}

}  // namespace zcluster::testing
