#include "zcluster/bench/deployment.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "zcluster/nodes/control.h"

extern char** environ;

namespace zcluster::bench {
namespace fs = std::filesystem;
namespace {

Status WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  out.close();
  if (!out) return Status::Unavailable("cannot write '" + path + "'");
  return Status::Ok();
}

// The value after `key` in a /proc/PID/status line such as "VmHWM:   12345 kB".
double StatusField(const std::string& text, const std::string& key) {
  std::size_t at = text.find(key + ":");
  if (at == std::string::npos) return 0;
  return std::strtod(text.c_str() + at + key.size() + 1, nullptr);
}

// A reply that came after its question was given up on must not answer the next one.
void DropStaleReplies(bus::DealerSocket& dealer) {
  for (;;) {
    Result<std::optional<bus::Frames>> late = dealer.Receive();
    if (!late.ok() || !late->has_value()) return;
  }
}

// The fields of /proc/PID/stat after the command name, from the state (field 3) on; the name is
// in parentheses and may hold spaces and parentheses itself. Empty when the process is gone.
std::string StatFields(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::getline(stat, line);
  std::size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? std::string()
                                                                : line.substr(close + 2);
}

}  // namespace

ProcessStats StatsOf(pid_t pid) {
  ProcessStats s;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::stringstream text;
  text << status.rdbuf();
  s.peak_rss_mb = StatusField(text.str(), "VmHWM") / 1024.0;
  s.rss_mb = StatusField(text.str(), "VmRSS") / 1024.0;
  // utime and stime are fields 14 and 15.
  if (std::string after = StatFields(pid); !after.empty()) {
    std::istringstream fields(after);
    std::string f;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i >= 14) ticks += std::strtod(f.c_str(), nullptr);
    }
    s.cpu_seconds = ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  if (DIR* fds = ::opendir(fmt::format("/proc/{}/fd", pid).c_str())) {
    while (const dirent* e = ::readdir(fds)) s.open_fds += e->d_name[0] != '.';
    ::closedir(fds);
  }
  return s;
}

nodes::ClientKeys MakeAgents(std::size_t count) {
  // ClientKeys::Add checks every name against the rest, so many agents are written as text.
  std::string text;
  text.reserve(count * 100);
  unsigned char raw[32];
  char hex[65];
  for (std::size_t i = 1; i <= count; ++i) {
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    text += fmt::format("{:03} agent-{:03} any {}\n", i, i, hex);
  }
  return *nodes::ClientKeys::Parse(text);
}

Result<std::unique_ptr<Deployment>> Deployment::Create(std::string tools_dir, bool keep,
                                                       std::string cluster) {
  // Short: the control socket's path must fit in a sockaddr_un.
  std::string templ = "/tmp/zcb-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Status::Unavailable(std::string("cannot make a temporary folder: ") + strerror(errno));
  }
  fs::create_directories(templ + "/keys/authorized");
  return std::unique_ptr<Deployment>(
      new Deployment(templ, std::move(tools_dir), std::move(cluster), keep));
}

Deployment::~Deployment() {
  if (dump_pid_ > 0) {
    ::kill(dump_pid_, SIGTERM);
    int status = 0;
    ::waitpid(dump_pid_, &status, 0);
  }
  if (poller_.joinable()) {
    {
      std::lock_guard lock(poller_mu_);
      poller_stop_ = true;
    }
    poller_cv_.notify_all();
    poller_.join();
  }
  control_.clear();
  for (auto& [name, pid] : pids_) {
    if (pid > 0) (void)Stop(name, std::chrono::seconds(10));
  }
  if (keep_) {
    std::fprintf(stderr, "zcluster-bench: kept %s\n", dir_.c_str());
    return;
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

Status Deployment::EnsureKey(const std::string& name) {
  if (keys_.count(name)) return Status::Ok();
  Result<bus::CurveKeyPair> pair = bus::GenerateKeyPair();
  if (!pair.ok()) return pair.status();
  ZC_RETURN_IF_ERROR(bus::WriteKeyPair(KeyPrefix(name), *pair));
  keys_[name] = *pair;
  return Status::Ok();
}

Status Deployment::Authorize(const std::string& key_name) {
  ZC_RETURN_IF_ERROR(EnsureKey(key_name));
  return WriteText(dir_ + "/keys/authorized/" + key_name + ".pub",
                   keys_.at(key_name).public_z85 + "\n");
}

Status Deployment::Configure(const NodeSpec& spec) {
  const std::string& key_name = spec.key_name.empty() ? spec.name : spec.key_name;
  if (!spec.shared_key) {
    ZC_RETURN_IF_ERROR(EnsureKey("master"));
    ZC_RETURN_IF_ERROR(EnsureKey(key_name));
  }
  if (!spec.master && spec.authorize && !spec.shared_key) ZC_RETURN_IF_ERROR(Authorize(key_name));
  specs_[spec.name] = spec;
  return WriteConfig(spec);
}

Status Deployment::WriteConfig(const NodeSpec& spec) {
  const std::string& key_name = spec.key_name.empty() ? spec.name : spec.key_name;
  std::string curve;
  if (!spec.shared_key) {
    curve =
        "<curve><secret_key>" + KeyPrefix(key_name) + ".key</secret_key><public_key>" +
        KeyPrefix(key_name) + ".pub</public_key>" +
        (spec.master ? "<authorized_keys>" + dir_ + "/keys/authorized</authorized_keys>"
                     : "<master_public_key>" + KeyPrefix("master") + ".pub</master_public_key>") +
        "</curve>";
  }
  std::string extra = spec.extra;
  if (!knows_rate_limit_) {
    // An older zclusterd (--tools-dir, for before/after figures) refuses what it does not know.
    std::ifstream binary(tools_dir_ + "/zclusterd", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(binary)), std::istreambuf_iterator<char>());
    knows_rate_limit_ = bytes.find("agent_reports_per_second") != std::string::npos;
  }
  if (*knows_rate_limit_ && extra.find("agent_reports_per_second") == std::string::npos) {
    std::string limit = fmt::format("<agent_reports_per_second>{}</agent_reports_per_second>",
                                    spec.agent_reports_per_second);
    if (std::size_t at = extra.find("<tuning>"); at != std::string::npos) {
      extra.insert(at + std::string_view("<tuning>").size(), limit);
    } else {
      extra += "<tuning>" + limit + "</tuning>";
    }
  }
  // Port 0 until the node has bound one: the kernel chooses, the ports file tells.
  std::string conf = fmt::format(
      "<ossec_config>\n  <cluster>\n    <name>{}</name>\n    <node_name>{}</node_name>\n"
      "    <node_type>{}</node_type>\n    <key>0123456789abcdef0123456789ABCDEF</key>\n"
      "    <port>{}</port>\n    <stream_port>{}</stream_port>\n"
      "    <bind_addr>{}</bind_addr>\n"
      "    <nodes><node>127.0.0.1</node></nodes>\n    <hidden>no</hidden>\n"
      "    <disabled>no</disabled>\n    <home>{}</home>\n    <agent_port>{}</agent_port>\n"
      "    {}\n    <intervals><keep_alive>{}</keep_alive><max_allowed_time_without_keepalive>{}"
      "</max_allowed_time_without_keepalive><agents_disconnection_time>{}"
      "</agents_disconnection_time><local_integrity>{}</local_integrity>"
      "<integrity_check>{}</integrity_check></intervals>\n    {}\n  </cluster>\n"
      "</ossec_config>\n",
      spec.cluster.empty() ? cluster_ : spec.cluster, spec.name, spec.master ? "master" : "worker",
      port_, stream_port_, spec.bind_addr, Home(spec.name), AgentPort(spec.name), curve,
      spec.keep_alive, spec.max_silence, spec.agents_disconnection_time, spec.local_integrity,
      spec.integrity_check, extra);
  return WriteText(ConfigPath(spec.name), conf);
}

Result<std::vector<bus::CurveKeyPair>> Deployment::AuthorizeClients(
    const std::vector<std::string>& names) {
  std::vector<bus::CurveKeyPair> pairs;
  for (const std::string& name : names) {
    Result<bus::CurveKeyPair> pair = bus::GenerateKeyPair();
    if (!pair.ok()) return pair.status();
    ZC_RETURN_IF_ERROR(
        WriteText(dir_ + "/keys/authorized/" + name + ".pub", pair->public_z85 + "\n"));
    pairs.push_back(*pair);
  }
  return pairs;
}

Status Deployment::FillInPorts(const std::string& name) {
  std::ifstream in(ConfigPath(name), std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + ConfigPath(name));
  std::stringstream text;
  text << in.rdbuf();
  const std::string before = text.str();
  std::string conf = before;
  // Only a 0 is filled in, so the rest of a config a test has edited by hand stays as it is.
  auto fill = [&conf](const std::string& element, std::uint16_t port) {
    const std::string zero = "<" + element + ">0</" + element + ">";
    std::size_t at = conf.find(zero);
    if (port == 0 || at == std::string::npos) return;
    conf.replace(at, zero.size(), fmt::format("<{0}>{1}</{0}>", element, port));
  };
  fill("port", port_);
  fill("stream_port", stream_port_);
  fill("agent_port", AgentPort(name));
  return conf == before ? Status::Ok() : WriteText(ConfigPath(name), conf);
}

Status Deployment::Start(const std::string& name) {
  auto spec = specs_.find(name);
  if (spec != specs_.end() && !spec->second.master && port_ == 0) {
    return Status::FailedPrecondition("start the master before worker " + name);
  }
  ZC_RETURN_IF_ERROR(FillInPorts(name));
  std::string zclusterd = tools_dir_ + "/zclusterd", config = ConfigPath(name);
  std::string output = Home(name) + "/stdout.log", ports = Home(name) + "/ports.json";
  fs::create_directories(Home(name));
  ::unlink(ports.c_str());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args{zclusterd, "-f", "-c", config, "--ports-file", ports};
  if (spec != specs_.end() && spec->second.debug) args.push_back("-d");
  // `prlimit` and `ip netns exec` each set up and exec the next: the pid stays the daemon's.
  if (spec != specs_.end() && spec->second.open_files_limit != 0) {
    const std::string n = std::to_string(spec->second.open_files_limit);
    args.insert(args.begin(), {"prlimit", "--nofile=" + n + ":" + n, "--"});
  }
  if (spec != specs_.end() && !spec->second.netns.empty()) {
    args.insert(args.begin(), {"ip", "netns", "exec", spec->second.netns});
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::Unavailable("cannot start " + zclusterd + ": " + strerror(rc));
  pids_[name] = pid;
  return AwaitPorts(name);
}

Status Deployment::Observe(const std::string& mode) {
  const std::string master = ConfigPath("master");
  if (mode == "monitor") {
    const std::string path = Home("master") + "/queue/cluster/monitor.sock";
    Result<schemas::Message> first =
        nodes::ControlRequest(path, schemas::MonitorQuery{}, std::chrono::seconds(5));
    if (!first.ok()) return first.status();
    poller_ = std::thread([this, path] {
      std::unique_lock lock(poller_mu_);
      while (!poller_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return poller_stop_; })) {
        lock.unlock();
        (void)nodes::ControlRequest(path, schemas::MonitorQuery{}, std::chrono::seconds(2));
        lock.lock();
      }
    });
    return Status::Ok();
  }
  if (mode != "dump") return Status::InvalidArgument("--observe is monitor or dump");
  std::string monitor = tools_dir_ + "/zcluster-monitor", output = dir_ + "/dump.jsonl";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string config = master;
  std::vector<char*> argv{monitor.data(), const_cast<char*>("--dump"), const_cast<char*>("-c"),
                          config.data(), nullptr};
  int rc = ::posix_spawn(&dump_pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::Unavailable("cannot start " + monitor + ": " + strerror(rc));
  // Attached once the first message shows (the master hears keepalives all the time).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::error_code ec;
  while (fs::file_size(output, ec) == 0 || ec) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("zcluster-monitor --dump printed nothing within 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Ok();
}

Status Deployment::AwaitPorts(const std::string& name) {
  const std::string path = Home(name) + "/ports.json";
  // Generous: a sanitized build on a loaded 2-core machine opens RocksDB slowly.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::access(path.c_str(), F_OK) != 0) {
    int status = 0;
    if (::waitpid(pids_.at(name), &status, WNOHANG) == pids_.at(name)) {
      pids_[name] = -1;
      return Status::Unavailable(fmt::format("{} ended while starting (status {}); see {}", name,
                                             status, Home(name) + "/stdout.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable(name + " did not bind its ports within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::ifstream in(path);
  nlohmann::json ports = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!ports.is_object()) return Status::DataLoss(path + " is not a JSON object");
  auto port = [&ports](const char* key) { return ports.value<std::uint16_t>(key, 0); };
  // A restarted node reports the ports it had: they are written only when new, so that threads
  // reading them (a scenario's simulators while a worker restarts) race with no write.
  if (port("port") != 0 && port_ != port("port")) port_ = port("port");
  if (port("stream_port") != 0 && stream_port_ != port("stream_port")) {
    stream_port_ = port("stream_port");
  }
  if (port("agent_port") != 0 && AgentPort(name) != port("agent_port")) {
    agent_ports_[name] = port("agent_port");
  }
  // The node's config now names its ports, so a restart, or zclusterd run by hand, keeps them.
  return FillInPorts(name);
}

std::vector<std::string> Deployment::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, pid] : pids_) names.push_back(name);
  return names;
}

std::uint16_t Deployment::AgentPort(const std::string& name) const {
  auto it = agent_ports_.find(name);
  return it == agent_ports_.end() ? 0 : it->second;
}

Status Deployment::Kill(const std::string& name, int signal) {
  control_.erase(name);
  pid_t pid = Pid(name);
  if (pid <= 0) return Status::FailedPrecondition(name + " is not running");
  if (::kill(pid, signal) != 0) return Status::Unavailable(name + ": " + strerror(errno));
  ::waitpid(pid, nullptr, 0);
  pids_[name] = -1;
  return Status::Ok();
}

bool Deployment::Running(const std::string& name) {
  pid_t pid = Pid(name);
  if (pid <= 0) return false;
  if (::waitpid(pid, nullptr, WNOHANG) == 0) return true;
  pids_[name] = -1;  // reaped: the number may be another process's soon
  return false;
}

Status Deployment::Stop(const std::string& name, std::chrono::milliseconds bound) {
  control_.erase(name);
  pid_t pid = Pid(name);
  if (pid <= 0) return Status::Ok();
  ::kill(pid, SIGCONT);  // a frozen node cannot act on SIGTERM
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + bound;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      pids_[name] = -1;
      return Status::Unavailable(name + " did not stop on SIGTERM");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pids_[name] = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal(fmt::format("{} ended badly (status {}); see {}", name, status,
                                        Home(name) + "/stdout.log"));
  }
  return Status::Ok();
}

Status Deployment::Signal(const std::string& name, int signal) {
  if (::kill(Pid(name), signal) != 0) return Status::Unavailable(name + " is not running");
  return Status::Ok();
}

Status Deployment::StillFrozen(const std::string& name) const {
  std::string fields = StatFields(Pid(name));
  if (fields.empty()) return Status::Unavailable(name + " is not running");
  if (fields[0] == 'T') return Status::Ok();
  return Status::FailedPrecondition(
      name +
      " was resumed during its freeze by something other than this bench (a "
      "stopped process group that loses its shell gets SIGHUP and SIGCONT): "
      "the drain measured after it would be false; run the bench from a shell "
      "that stays open");
}

pid_t Deployment::Pid(const std::string& name) const {
  auto it = pids_.find(name);
  return it == pids_.end() ? -1 : it->second;
}

std::string Deployment::ControlPath(const std::string& name) const {
  return Home(name) + "/queue/cluster/control.sock";
}

Result<bus::DealerSocket*> Deployment::ControlOf(const std::string& name) {
  auto it = control_.find(name);
  if (it != control_.end()) return &it->second;
  if (::access(ControlPath(name).c_str(), F_OK) != 0) {
    return Status::Unavailable(name + " has no control socket yet");
  }
  Result<bus::DealerSocket> dealer = bus::DealerSocket::ConnectLocal(ctx_, ControlPath(name));
  if (!dealer.ok()) return dealer.status();
  return &control_.emplace(name, std::move(dealer).value()).first->second;
}

Result<schemas::Message> Deployment::Ask(const std::string& name, const schemas::Message& request,
                                         std::chrono::milliseconds timeout) {
  Result<bus::DealerSocket*> dealer = ControlOf(name);
  if (!dealer.ok()) return dealer.status();
  DropStaleReplies(**dealer);
  ZC_RETURN_IF_ERROR((*dealer)->Send(schemas::Encode(request)));
  std::vector<bus::PollItem> items{{&(*dealer)->socket(), -1, false}};
  ZC_RETURN_IF_ERROR(bus::Poll(items, timeout));
  Result<std::optional<bus::Frames>> frames = (*dealer)->Receive();
  if (!frames.ok() || !frames->has_value()) {
    control_.erase(name);  // a late reply must not answer the next question
    return Status::Unavailable(
        fmt::format("{} did not answer within {} ms", name, timeout.count()));
  }
  return schemas::Decode(**frames);
}

Result<schemas::NodeStatus> Deployment::StatusOf(const std::string& name) {
  Result<std::vector<schemas::NodeStatus>> all = StatusOfAll({name});
  if (!all.ok()) return all.status();
  return all->front();
}

Result<std::vector<schemas::NodeStatus>> Deployment::StatusOfAll(
    const std::vector<std::string>& names) {
  // Every question first, then every answer: one sweep costs one round trip, not N.
  const bus::Frames query = schemas::Encode(schemas::StatusQuery{});
  std::vector<bus::DealerSocket*> sockets;
  for (const std::string& name : names) {
    Result<bus::DealerSocket*> dealer = ControlOf(name);
    if (!dealer.ok()) return dealer.status();
    sockets.push_back(*dealer);
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    DropStaleReplies(*sockets[i]);
    if (Status sent = sockets[i]->Send(query); !sent.ok()) {
      for (std::size_t j = 0; j <= i; ++j) control_.erase(names[j]);
      return sent;
    }
  }
  std::vector<schemas::NodeStatus> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::vector<bus::PollItem> items{{&sockets[i]->socket(), -1, false}};
    ZC_RETURN_IF_ERROR(bus::Poll(items, std::chrono::milliseconds(10000)));
    Result<std::optional<bus::Frames>> frames = sockets[i]->Receive();
    Result<schemas::Message> m = frames.ok() && frames->has_value()
                                     ? schemas::Decode(**frames)
                                     : Result<schemas::Message>(Status::Unavailable("no reply"));
    if (!m.ok() || !std::holds_alternative<schemas::NodeStatus>(*m)) {
      for (std::size_t j = i; j < names.size(); ++j) control_.erase(names[j]);
      return Status::Unavailable(names[i] + " did not answer its status");
    }
    out.push_back(std::get<schemas::NodeStatus>(*m));
  }
  return out;
}

Status Deployment::WaitForStatus(
    const std::vector<std::string>& names,
    const std::function<bool(const std::vector<schemas::NodeStatus>&)>& done,
    std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    Result<std::vector<schemas::NodeStatus>> all = StatusOfAll(names);
    if (all.ok() && done(*all)) return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable(fmt::format("not reached within {} ms", bound.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(all.ok() ? 1 : 20));
  }
}

}  // namespace zcluster::bench
