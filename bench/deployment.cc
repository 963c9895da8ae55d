#include "zcluster/bench/deployment.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace zcluster::bench {
namespace fs = std::filesystem;
namespace {

bool Bindable(std::uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(s);
  return ok;
}

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

}  // namespace

std::uint16_t FreePorts(int count) {
  for (;;) {
    auto base = static_cast<std::uint16_t>(20000 + randombytes_uniform(12000));
    bool all = true;
    for (int i = 0; i < count && all; ++i) all = Bindable(static_cast<std::uint16_t>(base + i));
    if (all) return base;
  }
}

ProcessStats StatsOf(pid_t pid) {
  ProcessStats s;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::stringstream text;
  text << status.rdbuf();
  s.peak_rss_mb = StatusField(text.str(), "VmHWM") / 1024.0;
  s.rss_mb = StatusField(text.str(), "VmRSS") / 1024.0;
  // /proc/PID/stat: utime and stime are fields 14 and 15, after the parenthesised command name.
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::getline(stat, line);
  std::size_t close = line.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(line.substr(close + 2));
    std::string f;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i >= 14) ticks += std::strtod(f.c_str(), nullptr);
    }
    s.cpu_seconds = ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return s;
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
      new Deployment(templ, std::move(tools_dir), std::move(cluster), FreePorts(2), keep));
}

Deployment::~Deployment() {
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

Status Deployment::Configure(const NodeSpec& spec) {
  for (const std::string& name : {std::string("master"), spec.name}) {
    if (keys_.count(name)) continue;
    Result<bus::CurveKeyPair> pair = bus::GenerateKeyPair();
    if (!pair.ok()) return pair.status();
    ZC_RETURN_IF_ERROR(bus::WriteKeyPair(KeyPrefix(name), *pair));
    keys_[name] = *pair;
  }
  if (!spec.master) {
    ZC_RETURN_IF_ERROR(WriteText(dir_ + "/keys/authorized/" + spec.name + ".pub",
                                 keys_.at(spec.name).public_z85 + "\n"));
  }
  std::uint16_t agent_port;
  do {
    agent_port = FreePorts(1);
  } while (agent_port == port_ || agent_port == port_ + 1);
  agent_ports_[spec.name] = agent_port;
  std::string curve =
      "<curve><secret_key>" + KeyPrefix(spec.name) + ".key</secret_key><public_key>" +
      KeyPrefix(spec.name) + ".pub</public_key>" +
      (spec.master ? "<authorized_keys>" + dir_ + "/keys/authorized</authorized_keys>"
                   : "<master_public_key>" + KeyPrefix("master") + ".pub</master_public_key>") +
      "</curve>";
  std::string conf = fmt::format(
      "<ossec_config>\n  <cluster>\n    <name>{}</name>\n    <node_name>{}</node_name>\n"
      "    <node_type>{}</node_type>\n    <key>0123456789abcdef0123456789ABCDEF</key>\n"
      "    <port>{}</port>\n    <bind_addr>127.0.0.1</bind_addr>\n"
      "    <nodes><node>127.0.0.1</node></nodes>\n    <hidden>no</hidden>\n"
      "    <disabled>no</disabled>\n    <home>{}</home>\n    <agent_port>{}</agent_port>\n"
      "    {}\n    <intervals><keep_alive>{}</keep_alive><max_allowed_time_without_keepalive>{}"
      "</max_allowed_time_without_keepalive><local_integrity>{}</local_integrity>"
      "<integrity_check>{}</integrity_check></intervals>\n    {}\n  </cluster>\n</ossec_config>\n",
      cluster_, spec.name, spec.master ? "master" : "worker", port_, Home(spec.name), agent_port,
      curve, spec.keep_alive, spec.max_silence, spec.local_integrity, spec.integrity_check,
      spec.extra);
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

Status Deployment::Start(const std::string& name) {
  std::string zclusterd = tools_dir_ + "/zclusterd", config = ConfigPath(name);
  std::string output = Home(name) + "/stdout.log";
  fs::create_directories(Home(name));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv{zclusterd.data(), const_cast<char*>("-f"), const_cast<char*>("-c"),
                          config.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Status::Unavailable("cannot start " + zclusterd + ": " + strerror(rc));
  pids_[name] = pid;
  return Status::Ok();
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
