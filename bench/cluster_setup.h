// What the cluster scenarios share: a started master and workers, agents to register, clocks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "zcluster/bench/deployment.h"
#include "zcluster/bench/scenarios.h"
#include "zcluster/nodes/client_keys.h"

namespace zcluster::bench {

// "w01", "w02", … (or "w001" … for more than 99).
std::vector<std::string> WorkerNames(std::size_t count);

struct ClusterPlan {
  std::vector<std::string> workers;
  NodeSpec master_spec;  // name and role are filled in
  NodeSpec worker_spec;
  // Called with each node's name and home before anything starts: files, client.keys, groups.
  std::function<Status(const std::string& name, const std::string& home)> prepare;
  bool start_workers = true;  // false: configured (and authorized) only; the scenario starts them
  // In-process clients authorized like workers before the master starts (its allow-list is read
  // then); their key pairs go to `client_keys`.
  std::vector<std::string> clients;
  std::vector<bus::CurveKeyPair>* client_keys = nullptr;
};

// A manager's cluster: `files` files of 4 KiB and the groups web and db on the master, and
// `agents` in every node's client.keys. `agents` must outlive the plan's use.
ClusterPlan ManagerPlan(const std::vector<std::string>& workers, const nodes::ClientKeys& agents,
                        std::size_t files);

// Configures and starts the master, then the workers, and waits until the master lists every
// worker and every worker has its copy of the master's files.
Status StartWorkers(Deployment& d, const std::vector<std::string>& workers);
Result<std::unique_ptr<Deployment>> StartCluster(const BenchOptions& options,
                                                 const ClusterPlan& plan);

// Waits for every worker in `workers` to hold the master's files stream position and nothing
// left to fetch.
Status WaitForFilesSynced(Deployment& d, const std::vector<std::string>& workers,
                          std::chrono::milliseconds bound);

// Stats of the master and the first worker, read while they still run.
void RecordProcessStats(Deployment& d, const std::string& worker, ScenarioResult& r);

Status WriteFileText(const std::string& path, const std::string& text);

// (files.cc) `count` files of `bytes` random text under the master's etc/rules, etc/decoders and
// etc/lists, plus etc/rules/local_rules.xml, the file the edits change.
Status WriteManagerFiles(const std::string& home, std::size_t count, std::size_t bytes);
// (files.cc) Rewrites the master's etc/rules/local_rules.xml in place, as an editor saving it
// would, and returns, per worker, the milliseconds until
// its copy holds the new content. The harness does not poll: it waits on inotify watches of the
// workers' etc/rules and, when `streams` is given (a subscriber to the master's files deltas),
// on the master's publication, whose milliseconds go to `published_ms` (-1 if none was seen).
// So the figure is not inflated by the harness competing for the cores it measures.
Result<std::vector<double>> TimeOneEdit(Deployment& d, const std::vector<std::string>& workers,
                                        std::size_t bytes, std::chrono::milliseconds bound,
                                        bus::SubscriberSocket* streams = nullptr,
                                        double* published_ms = nullptr);
// A subscriber to the master's files deltas and heartbeats, as client `key` (authorized through
// ClusterPlan::clients), returned once the subscription has been seen to work.
Result<bus::SubscriberSocket> SubscribeToFiles(zmq::context_t& ctx, Deployment& d,
                                               const bus::CurveKeyPair& key);

// (groups.cc) Moves one agent to `group` on the master; returns for each worker the milliseconds
// from the request until its status shows the change applied. `pause` between two sweeps of the
// workers' statuses (none: the finest resolution, at the price of the workers' time).
Result<std::vector<double>> TimeOneGroupChange(
    Deployment& d, const std::vector<std::string>& workers, const std::string& agent,
    const std::string& group, std::chrono::microseconds pause = std::chrono::microseconds(0));

}  // namespace zcluster::bench
