// zclusterd -c FILE [-f] [-t] [-d] [-u USER] [--ports-file FILE]: the cluster daemon, master or
// worker by its config.
#include <CLI/CLI.hpp>

#include <grp.h>
#include <pwd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/key_material.h"
#include "zcluster/nodes/master.h"
#include "zcluster/nodes/process.h"
#include "zcluster/nodes/worker.h"

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

template <typename Node>
Status StartAndRun(const ClusterConfig& config, KeyMaterial keys, ClusterLog& log, int ready_fd,
                   int stop_fd, const std::string& ports_file) {
  Result<std::unique_ptr<Node>> node = Node::Start(config, std::move(keys), log);
  Status started = node.status();
  // Written before start-up is reported, so whoever waits for either can connect at once.
  if (started.ok() && !ports_file.empty()) started = WritePortsFile(ports_file, (*node)->ports());
  ReportStarted(ready_fd, started);
  if (!started.ok()) return started;
  // Under systemd (Type=notify) the unit is started once the ports are bound; a no-op elsewhere.
  sd_notify(0, "READY=1\nSTATUS=Serving");
  Status ran = (*node)->Run(stop_fd);
  sd_notify(0, "STOPPING=1");
  if (!ports_file.empty()) ::unlink(ports_file.c_str());
  return ran;
}

// Becomes `user` (its uid, gid and groups) when started as root. Every port zcluster binds is
// above 1024 (<port> must be; the agent port's default is 1514), so nothing the daemon does needs
// root: it gives it up before it creates a file, and every file it makes is the user's.
Status DropPrivileges(const std::string& user) {
  if (user.empty()) return Status::Ok();
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) return Status::NotFound("--user: no user '" + user + "' on this host");
  if (::geteuid() != 0) {
    if (::geteuid() == pw->pw_uid) return Status::Ok();
    return Status::PermissionDenied("--user " + user + " needs zclusterd to start as root");
  }
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 ||
      ::setuid(pw->pw_uid) != 0) {
    return Status::PermissionDenied("--user " + user + ": " + std::strerror(errno));
  }
  if (::setuid(0) == 0) return Status::Internal("--user " + user + ": root could be regained");
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zclusterd: the zcluster daemon (master or worker, by its <cluster> config)"};
  std::string config_path, ports_file;
  bool foreground = false, test_only = false, debug = false;
  app.add_option("-c,--config", config_path, "ossec.conf-format file with a <cluster> block")
      ->required();
  app.add_flag("-f,--foreground", foreground, "stay in the foreground and log to stderr too");
  app.add_flag("-t,--test", test_only, "check the configuration and key files, then exit");
  app.add_flag("-d,--debug", debug, "log DEBUG lines");
  app.add_option("--ports-file", ports_file,
                 "once bound, write the listening ports here as JSON (for <port>0 and "
                 "<agent_port>0, where the kernel chooses)");
  std::string user;
  app.add_option("-u,--user", user,
                 "when started as root, run as this user (and its groups) from the start");
  app.set_version_flag("-V,--version", "zclusterd " ZCLUSTER_VERSION);
  CLI11_PARSE(app, argc, argv);

  Result<ClusterConfig> config = LoadClusterConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "zclusterd: %s\n", config.status().message().c_str());
    return 1;
  }
  // Before anything else is checked: Wazuh's stock block is disabled, with no key.
  if (config->disabled) {
    std::fprintf(stderr, "zclusterd: the cluster is disabled (<cluster><disabled>yes); exiting\n");
    // A systemd unit on a disabled config ends as a clean exit, not a failed start.
    if (!test_only) sd_notify(0, "READY=1\nSTATUS=The cluster is disabled");
    return 0;
  }
  for (const std::string& warning : config->warnings) {
    std::fprintf(stderr, "zclusterd: warning: %s\n", warning.c_str());
  }
  Result<KeyMaterial> keys = LoadKeyMaterial(*config);
  if (!keys.ok()) {
    std::fprintf(stderr, "zclusterd: %s\n", keys.status().message().c_str());
    return 1;
  }
  if (test_only) {
    if (Status bind = CheckBindAddress(config->bind_addr); !bind.ok()) {
      std::fprintf(stderr, "zclusterd: %s\n", bind.message().c_str());
      return 1;
    }
    return 0;
  }
  if (Status dropped = DropPrivileges(user); !dropped.ok()) {
    std::fprintf(stderr, "zclusterd: %s\n", dropped.message().c_str());
    return 1;
  }
  int ready_fd = -1;
  if (!foreground) {
    Result<int> fd = Daemonize();
    if (!fd.ok()) {
      std::fprintf(stderr, "zclusterd: %s\n", fd.status().ToString().c_str());
      return 1;
    }
    ready_fd = *fd;
  }
  const std::uint64_t open_files = RaiseOpenFileLimit();
  Result<StopSignal> stop = StopSignal::Install();
  Result<std::unique_ptr<ClusterLog>> log =
      ClusterLog::Open(config->log_path(), foreground, debug,
                       config->log_json ? config->json_log_path() : "", config->log_plain);
  // Wazuh's wazuh_clusterd.debug turns DEBUG lines on too, and SIGHUP re-reads it.
  if (log.ok()) (*log)->SetDebug(ClusterDebugLevel(config->home) >= 1);
  Status status = !stop.ok() ? stop.status() : log.status();
  if (status.ok()) status = WritePidFile(config->pid_path());
  const std::string tag =
      config->node_type == NodeType::kMaster ? "Master" : "Worker " + config->node_name;
  if (status.ok()) {
    (*log)->Write(LogLevel::kInfo, tag, "Main",
                  fmt::format("Open files limit {} (every TCP peer holds one)", open_files));
    for (const std::string& warning : config->warnings) {
      (*log)->Write(LogLevel::kWarning, tag, "Main", warning);
    }
    status = config->node_type == NodeType::kMaster
                 ? StartAndRun<Master>(*config, std::move(keys).value(), **log, ready_fd,
                                       stop->fd(), ports_file)
                 : StartAndRun<Worker>(*config, std::move(keys).value(), **log, ready_fd,
                                       stop->fd(), ports_file);
    RemovePidFile(config->pid_path());
  } else {
    ReportStarted(ready_fd, status);
  }
  if (!status.ok()) {
    if (log.ok()) (*log)->Write(LogLevel::kError, tag, "Main", status.ToString());
    std::fprintf(stderr, "zclusterd: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
