// Real zclusterd processes on 127.0.0.1: a bench::Deployment (fresh keys and homes in a temporary
// folder, ports the daemons choose and report) with the tests' defaults, and each failure a
// failed REQUIRE. Every node must exit 0 when the fixture stops it; every file is removed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "zcluster/bench/deployment.h"
#include "zcluster/bus/sockets.h"
#include "zcluster/nodes/client_keys.h"
#include "zcluster/schemas/messages.h"

namespace zcluster::testing {

struct NodeOptions {
  std::string type = "worker";    // "master" or "worker"
  std::string cluster = "itest";  // <name>
  std::string key_name;           // whose key pair to use; default: the node's own
  bool shared_key = false;        // no <curve>: keys derived from <key>
  double keep_alive = 0.5;
  double max_silence = 2;
  double agents_disconnection_time = 600;
  double local_integrity = 5;
  double integrity_check = 5;
  std::string extra;  // more XML inside <cluster>
  std::string bind_addr = "127.0.0.1";
  std::string netns;                   // runs inside this network namespace
  std::uint64_t open_files_limit = 0;  // soft and hard limit (prlimit); 0: the test's own
  bool debug = true;                   // zclusterd -d

  static NodeOptions Master() {
    NodeOptions o;
    o.type = "master";
    return o;
  }
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Sends `frames` once the connection is up and returns the decoded reply, as a bare client
// (pyzmq and msgpack) would; fails the test when either takes longer than 10 s.
schemas::Message Exchange(bus::DealerSocket& dealer, const schemas::Frames& frames);

// A program from PATH (or a path), in the background, its output to a file; stopped (SIGTERM,
// then waited for) on destruction.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& output);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  // SIGTERM, then the exit status (128 + signal when killed by one).
  int Stop();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

class Cluster {
 public:
  Cluster();
  ~Cluster();

  // Writes the node's ossec.conf (and its key pair, if new) and returns the config path. A
  // worker's key is not authorized here: tests say which keys the master accepts.
  std::string Configure(const std::string& name, const NodeOptions& options);
  void Authorize(const std::string& worker_key_name);
  // Starts `zclusterd -f -d -c` and waits until it has bound its ports; returns its pid.
  pid_t Start(const std::string& name);
  // Configures a master and `workers` with these options, authorizes the workers, gives every
  // node `agents` as its client.keys, starts them all and waits until the master lists them.
  void StartWithAgents(const nodes::ClientKeys& agents,
                       const std::set<std::string>& workers = {"w1", "w2"},
                       const NodeOptions& master = NodeOptions::Master(),
                       const NodeOptions& worker = {});
  void Kill(const std::string& name, int signal);    // and waits for the process to end
  void Signal(const std::string& name, int signal);  // SIGSTOP, SIGCONT: the process lives on
  bool Running(const std::string& name) { return d_->Running(name); }
  pid_t Pid(const std::string& name) const { return d_->Pid(name); }

  // The node's answer to `request` on its control socket; nullopt when it gives none in 20 s.
  std::optional<schemas::Message> Ask(const std::string& name, const schemas::Message& request);
  // The node's answer to nodes_query (empty on error).
  std::vector<schemas::NodeInfo> Nodes(const std::string& name);
  // The node's group table (empty on error), and whether a worker's equals the master's.
  schemas::GroupTable GroupTableOf(const std::string& name);
  bool SameGroupTable(const std::string& worker);
  // Assigns through the master's control socket and returns the stream position it reached.
  std::uint64_t Assign(std::vector<std::string> agents, std::vector<std::string> groups,
                       bool replace = false);
  std::set<std::string> WorkerNames(const std::string& master);
  // Waits until the master lists exactly `workers`, up to `bound`.
  bool WaitForWorkers(const std::string& master, const std::set<std::string>& workers,
                      std::chrono::milliseconds bound);
  bool WaitForLog(const std::string& name, const std::string& text,
                  std::chrono::milliseconds bound);
  std::string Log(const std::string& name) const;

  // Runs a tool from the build tree and collects its output.
  RunResult Run(const std::vector<std::string>& argv);
  // Runs any program from PATH (or a path) and collects its output.
  RunResult RunProgram(const std::vector<std::string>& argv);
  static std::string ToolPath(const std::string& tool) {
    return std::string(ZC_TOOLS_DIR) + "/" + tool;
  }
  std::string ConfigPath(const std::string& name) const { return d_->ConfigPath(name); }
  std::string Home(const std::string& name) const { return d_->Home(name); }
  std::string KeyPrefix(const std::string& key_name) const { return d_->KeyPrefix(key_name); }
  // The master's port, once it has started.
  std::uint16_t port() const { return d_->port(); }
  std::uint16_t StreamPort() const { return d_->stream_port(); }
  // A DEALER to the master's port with the key pair of `key_name`, as a worker written by hand
  // would open it (the master must have started).
  bus::DealerSocket ConnectBareWorker(zmq::context_t& ctx, const std::string& key_name);
  // A worker's agent port, once it has started.
  std::uint16_t AgentPort(const std::string& name) const { return d_->AgentPort(name); }
  // Any port a node reports in its ports file ("metrics_port", "monitor_port"); 0 when absent.
  std::uint16_t ReportedPort(const std::string& name, const std::string& key) const;

 private:
  std::unique_ptr<bench::Deployment> d_;
};

}  // namespace zcluster::testing
