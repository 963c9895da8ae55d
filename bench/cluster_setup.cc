#include "cluster_setup.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

namespace zcluster::bench {

std::vector<std::string> WorkerNames(std::size_t count) {
  std::vector<std::string> names;
  for (std::size_t i = 1; i <= count; ++i) {
    names.push_back(count > 99 ? fmt::format("w{:04}", i) : fmt::format("w{:02}", i));
  }
  return names;
}

Status WriteFileText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << text;
    if (!out) return Status::Unavailable("cannot write '" + path + "'");
  }
  std::filesystem::rename(tmp, path);
  return Status::Ok();
}

Result<std::unique_ptr<Deployment>> StartCluster(const BenchOptions& o, const ClusterPlan& plan) {
  Result<std::unique_ptr<Deployment>> made = Deployment::Create(o.tools_dir, o.keep);
  if (!made.ok()) return made.status();
  Deployment& d = **made;
  NodeSpec master = plan.master_spec;
  master.name = "master";
  master.master = true;
  ZC_RETURN_IF_ERROR(d.Configure(master));
  for (const std::string& w : plan.workers) {
    NodeSpec spec = plan.worker_spec;
    spec.name = w;
    spec.master = false;
    ZC_RETURN_IF_ERROR(d.Configure(spec));
  }
  if (!plan.clients.empty()) {
    Result<std::vector<bus::CurveKeyPair>> keys = d.AuthorizeClients(plan.clients);
    if (!keys.ok()) return keys.status();
    if (plan.client_keys != nullptr) *plan.client_keys = std::move(keys).value();
  }
  std::filesystem::create_directories(d.Home("master") + "/etc/shared/default");
  if (plan.prepare) {
    ZC_RETURN_IF_ERROR(plan.prepare("master", d.Home("master")));
    for (const std::string& w : plan.workers) ZC_RETURN_IF_ERROR(plan.prepare(w, d.Home(w)));
  }
  // Each scenario starts on a quiet disk: the writeback of the last one's gigabytes, or of the
  // files just prepared, would otherwise land in this one's fsyncs.
  ::sync();
  ZC_RETURN_IF_ERROR(d.Start("master"));
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      {"master"}, [](const auto& s) { return s[0].files_synced; }, std::chrono::seconds(60)));
  if (!plan.start_workers) return made;
  if (o.progress) o.progress(fmt::format("master up; starting {} workers", plan.workers.size()));
  ZC_RETURN_IF_ERROR(StartWorkers(d, plan.workers));
  if (!o.observe.empty()) {
    ZC_RETURN_IF_ERROR(d.Observe(o.observe));
    if (o.progress) o.progress("watched by: " + o.observe);
  }
  if (o.progress) o.progress("cluster up and in sync");
  return made;
}

Status StartWorkers(Deployment& d, const std::vector<std::string>& workers) {
  for (const std::string& w : workers) ZC_RETURN_IF_ERROR(d.Start(w));
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    Result<schemas::Message> nodes = d.Ask("master", schemas::NodesQuery{});
    if (nodes.ok() && std::holds_alternative<schemas::NodeList>(*nodes)) {
      std::size_t connected = 0;
      for (const schemas::NodeInfo& n : std::get<schemas::NodeList>(*nodes).nodes) {
        connected += std::count(workers.begin(), workers.end(), n.name);
      }
      if (connected == workers.size()) break;
    }
    if (Clock::now() > deadline) return Status::Unavailable("the workers did not all connect");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ZC_RETURN_IF_ERROR(WaitForFilesSynced(d, workers, std::chrono::seconds(120)));
  // The workers have just written their copies of the files: measurements start on a settled
  // disk, as in a running cluster, not behind the kernel's writeback of those copies.
  ::sync();
  return Status::Ok();
}

Status WaitForFilesSynced(Deployment& d, const std::vector<std::string>& workers,
                          std::chrono::milliseconds bound) {
  std::vector<std::string> all = workers;
  all.insert(all.begin(), "master");
  return d.WaitForStatus(
      all,
      [](const std::vector<schemas::NodeStatus>& s) {
        for (std::size_t i = 1; i < s.size(); ++i) {
          if (!s[i].files_synced || s[i].files_seq != s[0].files_seq) return false;
        }
        return true;
      },
      bound);
}

ClusterPlan ManagerPlan(const std::vector<std::string>& workers, const nodes::ClientKeys& agents,
                        std::size_t files) {
  ClusterPlan plan;
  plan.workers = workers;
  plan.prepare = [&agents, files](const std::string& name, const std::string& home) -> Status {
    std::filesystem::create_directories(home + "/etc");
    if (name == "master") {
      ZC_RETURN_IF_ERROR(WriteManagerFiles(home, files, 4096));
      for (const char* group : {"web", "db"}) {
        ZC_RETURN_IF_ERROR(
            WriteFileText(home + "/etc/shared/" + group + "/agent.conf", "<agent_config/>\n"));
      }
    }
    return agents.Save(home + "/etc/client.keys");
  };
  return plan;
}

void RecordProcessStats(Deployment& d, const std::string& worker, ScenarioResult& r) {
  r.master = StatsOf(d.Pid("master"));
  if (!worker.empty() && d.Pid(worker) > 0) r.worker = StatsOf(d.Pid(worker));
}

}  // namespace zcluster::bench
