// A throw-away cluster of real zclusterd processes on 127.0.0.1: fresh keys, homes and configs in
// a temporary folder. Every node binds port 0 the first time it starts and reports the kernel's
// choice in its --ports-file; the master's ports are written into a worker's config when it
// starts, and a restarted node keeps the ports it had. The bench and the integration tests drive
// it; every process is stopped and every file removed when the Deployment goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::bench {

struct NodeSpec {
  std::string name;
  bool master = false;
  double keep_alive = 1;
  double max_silence = 20;
  double agents_disconnection_time = 600;
  double local_integrity = 60;
  double integrity_check = 60;
  std::string extra;        // more XML inside <cluster>
  std::string cluster;      // <name>; empty: the deployment's
  std::string key_name;     // whose key pair the node presents; empty: its own
  bool shared_key = false;  // no <curve>: the keys derive from <key>
  bool authorize = true;    // a worker's public key goes into the master's authorized_keys
  bool debug = false;       // zclusterd -d
  std::string bind_addr = "127.0.0.1";  // <bind_addr>: the master's ports, a worker's agent port
  std::string netns;  // a network namespace to run in (`ip netns exec`); empty: this machine's
  // Soft and hard open-files limit the node runs under (`prlimit`); 0: the harness's own.
  std::uint64_t open_files_limit = 0;
  // <tuning><agent_reports_per_second> on a worker. Off by default here: a simulator drives a
  // few hundred agents far faster than real agents report, to stand for many more of them.
  int agent_reports_per_second = 0;
};

// Peak resident memory and CPU time of a running process, from /proc.
struct ProcessStats {
  double peak_rss_mb = 0;  // VmHWM
  double cpu_seconds = 0;
  double rss_mb = 0;         // VmRSS, when read
  std::size_t open_fds = 0;  // entries of /proc/PID/fd
};
ProcessStats StatsOf(pid_t pid);

// `count` agents named agent-001, agent-002, … with ids 001, 002, … and fresh keys, as
// client.keys would hold them; made as text, so that 100,000 take milliseconds.
nodes::ClientKeys MakeAgents(std::size_t count);

class Deployment {
 public:
  // `tools_dir` holds zclusterd. Unavailable when no temporary folder can be made.
  // `keep`: the folder (homes, cluster.log files) stays for a post-mortem.
  static Result<std::unique_ptr<Deployment>> Create(std::string tools_dir, bool keep = false,
                                                    std::string cluster = "bench");
  ~Deployment();
  Deployment(const Deployment&) = delete;
  Deployment& operator=(const Deployment&) = delete;

  // Writes the node's ossec.conf and key pair; a worker's public key goes into the master's
  // authorized_keys folder unless the spec says otherwise. Configuring a node again rewrites its
  // config; the ports it was given stay.
  Status Configure(const NodeSpec& spec);
  // Files the public key of `key_name` (made now if new) in the master's authorized_keys.
  Status Authorize(const std::string& key_name);
  // Fresh key pairs filed under these names in authorized_keys, for in-process clients.
  Result<std::vector<bus::CurveKeyPair>> AuthorizeClients(const std::vector<std::string>& names);
  // Starts `zclusterd -f` and waits until it has bound its ports (FailedPrecondition for a worker
  // before the master has started; Unavailable when the process ends first). A node that was not
  // configured here runs from the ossec.conf found in its home.
  Status Start(const std::string& name);
  // SIGTERM, then SIGKILL after `bound`; Internal when the node did not exit 0.
  Status Stop(const std::string& name, std::chrono::milliseconds bound);
  // Sends `signal` and reaps the process.
  Status Kill(const std::string& name, int signal);
  Status Signal(const std::string& name, int signal);
  // Ok while the node is stopped (SIGSTOP); FailedPrecondition once anything resumed it. The kernel
  // sends SIGHUP and SIGCONT to a stopped process group that becomes orphaned (a bench started from
  // a shell that exited), which would end a freeze early and make a drain look instant.
  Status StillFrozen(const std::string& name) const;
  pid_t Pid(const std::string& name) const;
  bool Running(const std::string& name);
  // Every node started here, running or not.
  std::vector<std::string> Names() const;

  // One request over the node's control socket, through a connection kept open for the next.
  Result<schemas::Message> Ask(const std::string& name, const schemas::Message& request,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  Result<schemas::NodeStatus> StatusOf(const std::string& name);
  // The same question to several nodes at once; replies in the order of `names`.
  Result<std::vector<schemas::NodeStatus>> StatusOfAll(const std::vector<std::string>& names);
  // Waits until `done` holds for the statuses of `names`, up to `bound`; DeadlineExceeded after.
  Status WaitForStatus(const std::vector<std::string>& names,
                       const std::function<bool(const std::vector<schemas::NodeStatus>&)>& done,
                       std::chrono::milliseconds bound);

  // Watches the master as an operator would while the scenario runs: "monitor" asks its monitor
  // endpoint once a second (as zcluster-monitor's view does), "dump" runs zcluster-monitor
  // --dump on it (every message decoded, to a file). Returns once the watcher is attached.
  Status Observe(const std::string& mode);

  const std::string& dir() const { return dir_; }
  std::string Home(const std::string& name) const { return dir_ + "/" + name; }
  std::string ConfigPath(const std::string& name) const { return Home(name) + "/ossec.conf"; }
  std::string ControlPath(const std::string& name) const;
  std::string KeyPrefix(const std::string& name) const { return dir_ + "/keys/" + name; }
  const bus::CurveKeyPair& KeysOf(const std::string& name) const { return keys_.at(name); }
  // The master's ROUTER port (0 until the master has started).
  std::uint16_t port() const { return port_; }
  std::uint16_t stream_port() const { return stream_port_; }  // the master's PUB
  // A worker's agent port (0 until it has started).
  std::uint16_t AgentPort(const std::string& name) const;
  const std::string& cluster() const { return cluster_; }

 private:
  Deployment(std::string dir, std::string tools_dir, std::string cluster, bool keep)
      : dir_(std::move(dir)),
        tools_dir_(std::move(tools_dir)),
        cluster_(std::move(cluster)),
        keep_(keep) {}
  Result<bus::DealerSocket*> ControlOf(const std::string& name);
  Status EnsureKey(const std::string& name);
  Status WriteConfig(const NodeSpec& spec);
  // Writes the ports known by now where the node's ossec.conf says 0.
  Status FillInPorts(const std::string& name);
  // Waits for the ports file of the node just started and keeps its ports.
  Status AwaitPorts(const std::string& name);

  std::string dir_, tools_dir_, cluster_;
  std::uint16_t port_ = 0, stream_port_ = 0;
  bool keep_;
  std::map<std::string, NodeSpec> specs_;
  std::optional<bool> knows_rate_limit_;  // whether this zclusterd reads the report limit
  std::map<std::string, bus::CurveKeyPair> keys_;
  std::map<std::string, std::uint16_t> agent_ports_;
  std::map<std::string, pid_t> pids_;
  zmq::context_t ctx_{1};
  std::map<std::string, bus::DealerSocket> control_;
  pid_t dump_pid_ = -1;
  std::thread poller_;
  std::mutex poller_mu_;
  std::condition_variable poller_cv_;
  bool poller_stop_ = false;  // guarded by poller_mu_
};

}  // namespace zcluster::bench
