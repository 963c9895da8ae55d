// The qa scenario, in the shape of Wazuh's own performance suite: 25 workers, 50,000 agents
// reporting with churn, 5,000 files, group changes, all at once; every flow's worst-case lag.
#include <sodium.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "agent_load.h"
#include "agent_probe.h"
#include "cluster_setup.h"
#include "zcluster/nodes/control.h"

namespace zcluster::bench {

Result<ScenarioResult> RunQa(const BenchOptions& o, const RawFigures&) {
  auto start = Clock::now();
  std::size_t w = o.workers ? o.workers : o.smoke ? 2 : 25;
  std::size_t total = o.agents ? o.agents : o.smoke ? 200 : 50000;
  std::size_t f = o.files ? o.files : o.smoke ? 50 : 5000;
  double duration = o.duration > 0 ? o.duration : o.smoke ? 2 : 20;
  std::size_t per_worker = total / w;
  // A Wazuh agent sends its keepalive every 10 s: that is the steady report rate (every second in
  // the smoke run, so that one round fits in it).
  double interval = o.smoke ? 1 : 10;
  double rate = static_cast<double>(per_worker) / interval;
  ScenarioResult r;
  r.scenario = "qa";
  r.parameters = {{"workers", std::to_string(w)},
                  {"agents", std::to_string(per_worker * w)},
                  {"files", std::to_string(f)},
                  {"seconds", fmt::format("{}", duration)},
                  {"reports_per_s", fmt::format("{:.0f}", rate * static_cast<double>(w))}};
  nodes::ClientKeys agents = MakeAgents(per_worker * w + w);
  std::vector<std::string> workers = WorkerNames(w);
  ClusterPlan plan = ManagerPlan(workers, agents, f);
  if (o.progress) o.progress(fmt::format("qa: {} workers, {} agents, {} files", w, total, f));
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;
  auto [slices, probes] = SplitAgents(agents, w, per_worker);
  Result<std::unique_ptr<AgentProbe>> probe = AgentProbe::Open(d, workers, probes);
  if (!probe.ok()) return probe.status();

  // Background: every agent reporting at its keepalive pace, and an administrator moving 500
  // agents between groups twice a second. The foreground measures one change of each flow.
  if (o.progress) o.progress(fmt::format("qa: {} s of every flow at once", duration));
  // How much of the machine the cluster itself takes under this load: 26 processes on a small
  // machine are CPU-bound long before any one of them is.
  auto cluster_cpu = [&] {
    double seconds = StatsOf(d.Pid("master")).cpu_seconds;
    for (const std::string& worker : workers) seconds += StatsOf(d.Pid(worker)).cpu_seconds;
    return seconds;
  };
  double cpu_before = cluster_cpu();
  auto load_start = Clock::now();
  SimRun load;
  // The simulators' first round takes one interval at this pace; the rest of `duration` follows.
  std::atomic<bool> stop{false}, load_done{false};
  std::thread agents_thread([&] {
    load = Simulate(d, workers, slices,
                    {.rate = rate, .duration = std::max(0.0, duration - interval), .churn = 0.1});
    load_done = true;
  });
  std::atomic<std::uint64_t> group_batches{0};
  std::thread groups_thread([&] {
    std::string control = d.ControlPath("master");
    for (std::size_t round = 0; !stop; ++round) {
      schemas::GroupAssign a;
      for (int i = 0; i < 500; ++i) {
        a.agents.push_back(
            agents.entries()[randombytes_uniform(static_cast<std::uint32_t>(per_worker * w))].id);
      }
      a.groups = {round % 2 ? "web" : "db"};
      a.replace = true;
      if (nodes::ControlRequest(control, a, std::chrono::seconds(10)).ok()) ++group_batches;
      // The administrator's pace, not a wait for anything.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  LatencySeries agent_lag{"agent report -> master store", {}, std::nullopt, 1000.0};
  LatencySeries group_lag{
      fmt::format("group change -> all {} workers", w), {}, std::nullopt, 1000.0};
  LatencySeries file_lag{fmt::format("rule edit -> all {} workers", w), {}, std::nullopt, 1000.0};
  Status failed;
  // Under this load a probe that asks without a pause takes a share of the two cores from the
  // flows it measures: 2 ms between looks costs the figures at most 2 ms of resolution.
  const auto pace = std::chrono::milliseconds(2);
  for (std::size_t i = 0; !load_done && failed.ok(); ++i) {
    Result<double> a = (*probe)->Sample(i % w, std::chrono::seconds(30), pace);
    if (!a.ok())
      failed = a.status();
    else
      agent_lag.samples_ms.push_back(*a);
    Result<std::vector<double>> g =
        TimeOneGroupChange(d, workers, probes[i % w].id, i % 2 ? "web" : "db", pace);
    if (!g.ok())
      failed = g.status();
    else
      group_lag.samples_ms.push_back(*std::max_element(g->begin(), g->end()));
    Result<std::vector<double>> e = TimeOneEdit(d, workers, 4096, std::chrono::seconds(30));
    if (!e.ok())
      failed = e.status();
    else
      file_lag.samples_ms.push_back(*std::max_element(e->begin(), e->end()));
  }
  stop = true;
  groups_thread.join();
  agents_thread.join();
  ZC_RETURN_IF_ERROR(failed);
  ZC_RETURN_IF_ERROR(load.status);
  Result<std::uint64_t> drained = WaitForDrain(d, workers, 0);
  if (!drained.ok()) return drained.status();
  double cpu_share = (cluster_cpu() - cpu_before) /
                     (Seconds(Clock::now() - load_start) *
                      static_cast<double>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))));
  RecordProcessStats(d, workers[0], r);
  r.figures = {
      Figure("agent reports accepted", static_cast<double>(load.acked) / load.seconds, "reports/s"),
      Figure("group reassignments of 500 agents", static_cast<double>(group_batches), "batches"),
      Figure("CPU taken by the master and all workers", 100 * cpu_share, "% of machine"),
  };
  r.latencies = {agent_lag, group_lag, file_lag};
  r.notes.push_back("worst case = max of the samples; every sample waits for all workers");
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
