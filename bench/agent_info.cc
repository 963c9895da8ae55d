// The agent-info scenario: W workers × N agents report; how fast the master persists them, and
// how long one agent's change takes to reach the master's table under load.
#include <signal.h>

#include <fmt/format.h>

#include <filesystem>
#include <thread>

#include "agent_load.h"
#include "agent_probe.h"
#include "cluster_setup.h"
#include "zcluster/agent_sim/agent_simulator.h"

namespace zcluster::bench {

Result<ScenarioResult> RunAgentInfo(const BenchOptions& o, const RawFigures& raw) {
  auto start = Clock::now();
  std::size_t w = o.workers ? o.workers : 2;
  std::size_t n = o.agents ? o.agents : o.smoke ? 500 : 50000;
  double duration = o.duration > 0 ? o.duration : o.smoke ? 1 : 5;
  // The master also holds a manager's files, so that its memory is that of a real one.
  std::size_t files = o.files ? o.files : o.smoke ? 100 : 10000;
  ScenarioResult r;
  r.scenario = "agent-info";
  r.parameters = {{"workers", std::to_string(w)},
                  {"agents_per_worker", std::to_string(n)},
                  {"master_files", std::to_string(files)},
                  {"churn", "0.1"},
                  {"lag_seconds", fmt::format("{}", duration)}};
  if (o.progress) o.progress(fmt::format("agent-info: registering {} agents", w * n + w));
  // The first w*n agents are the simulators'; the last w are the probes', one per worker.
  nodes::ClientKeys agents = MakeAgents(w * n + w);
  std::vector<std::string> workers = WorkerNames(w);
  ClusterPlan plan;
  plan.workers = workers;
  // Every node starts with the registry, as after an earlier sync: this measures agent info.
  plan.prepare = [&](const std::string& name, const std::string& home) -> Status {
    std::filesystem::create_directories(home + "/etc");
    if (name == "master") ZC_RETURN_IF_ERROR(WriteManagerFiles(home, files, 4096));
    return agents.Save(home + "/etc/client.keys");
  };
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;
  auto [slices, probes] = SplitAgents(agents, w, n);

  // 1. Backlog: the master is frozen while every agent reports, then it drains the workers'
  // backlog: the master's persistence rate with W workers feeding it at full speed. The first
  // round is every agent's first sighting (each also gets the default group); the second is
  // what a running cluster sees, every agent with a changed full record.
  auto backlog = [&](bool first) -> Result<std::pair<double, SimRun>> {
    // What the last phase left (RocksDB compacting) would otherwise run during the drain.
    Result<double> quiet = WaitForQuiet(d, workers);
    if (!quiet.ok()) return quiet.status();
    Result<schemas::NodeStatus> before = d.StatusOf("master");
    if (!before.ok()) return before.status();
    ZC_RETURN_IF_ERROR(d.Signal("master", SIGSTOP));
    if (o.progress) {
      o.progress(fmt::format("agent-info: {} agents report{}, master frozen", w * n,
                             first ? " for the first time" : " a change"));
    }
    SimRun front =
        Simulate(d, workers, slices, {.churn = first ? 0.0 : 1.0, .churn_first_round = !first});
    ZC_RETURN_IF_ERROR(d.StillFrozen("master"));
    auto thawed = Clock::now();
    ZC_RETURN_IF_ERROR(d.Signal("master", SIGCONT));
    ZC_RETURN_IF_ERROR(front.status);
    Result<std::uint64_t> drained = WaitForDrain(d, workers, before->agents_stored + w * n);
    if (!drained.ok()) return drained.status();
    double seconds = Seconds(Clock::now() - thawed);
    if (o.progress) o.progress(fmt::format("agent-info: drained in {:.2f} s", seconds));
    return std::make_pair(static_cast<double>(w * n) / seconds, front);
  };
  Result<std::pair<double, SimRun>> first_seen = backlog(true);
  if (!first_seen.ok()) return first_seen.status();
  Result<std::pair<double, SimRun>> changed = backlog(false);
  if (!changed.ok()) return changed.status();
  double drain_rate = changed->first;
  const SimRun& front = changed->second;

  // 2. Live: agents report with churn as fast as the workers acknowledge, master running.
  if (o.progress) o.progress(fmt::format("agent-info: {} s of unpaced reports", duration));
  Result<schemas::NodeStatus> live_before = d.StatusOf("master");
  if (!live_before.ok()) return live_before.status();
  auto live_start = Clock::now();
  SimRun live = Simulate(d, workers, slices, {.duration = duration, .churn = 0.1});
  ZC_RETURN_IF_ERROR(live.status);
  Result<std::uint64_t> live_stored = WaitForDrain(d, workers, 0);
  if (!live_stored.ok()) return live_stored.status();
  double live_s = Seconds(Clock::now() - live_start);
  double live_rate = static_cast<double>(*live_stored - live_before->agents_stored) / live_s;

  // 3. Lag at half the load the master sustains (or the agents can make, if that is less).
  double half = 0.5 * std::min(drain_rate, static_cast<double>(live.acked) / live.seconds);
  if (o.progress) o.progress(fmt::format("agent-info: lag at {:.0f} reports/s", half));
  Result<std::unique_ptr<AgentProbe>> probe = AgentProbe::Open(d, workers, probes);
  if (!probe.ok()) return probe.status();
  LatencySeries lag{"report -> master store, at half load", {}, 100.0, std::nullopt};
  SimRun paced;
  std::thread load([&] {
    paced = Simulate(d, workers, slices,
                     {.rate = half / static_cast<double>(w), .duration = duration, .churn = 0.1});
  });
  auto lag_end = Clock::now() + std::chrono::duration<double>(duration);
  Status probe_status;
  for (std::size_t i = 0; Clock::now() < lag_end; ++i) {
    Result<double> ms = (*probe)->Sample(i % w, std::chrono::seconds(30));
    if (!ms.ok()) {
      probe_status = ms.status();
      break;
    }
    lag.samples_ms.push_back(*ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // spacing, not synchronisation
  }
  load.join();
  ZC_RETURN_IF_ERROR(probe_status);
  ZC_RETURN_IF_ERROR(paced.status);

  // Before the check below: listing 100,000 agents at once is the bench's question, not load.
  RecordProcessStats(d, workers[0], r);
  // The master at rest with all those agents and files: restarted, so that the figure is what it
  // holds, not what the drain above once needed. The check below then also proves that every
  // acknowledged record survived the restart.
  ZC_RETURN_IF_ERROR(d.Stop("master", std::chrono::seconds(30)));
  ZC_RETURN_IF_ERROR(d.Start("master"));
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      {"master"}, [](const auto& st) { return st[0].files_synced; }, std::chrono::seconds(60)));
  ProcessStats at_rest = StatsOf(d.Pid("master"));
  // Right, not only fast: the master holds every agent, each from its own worker.
  Result<schemas::Message> list = d.Ask("master", schemas::AgentsQuery{}, std::chrono::seconds(60));
  if (!list.ok()) return list.status();
  std::size_t right = 0;
  for (const schemas::AgentRecord& a : std::get<schemas::AgentList>(*list).agents) {
    std::size_t index = std::stoul(a.id) - 1;
    std::size_t worker = index < w * n ? index / n : index - w * n;
    if (a.node == workers[worker] && a.state.status == schemas::AgentStatus::kActive) ++right;
  }
  if (right != w * n + w) {
    return Status::Internal(
        fmt::format("the master holds {} of {} agents from the right worker", right, w * n + w));
  }

  double live_reports = static_cast<double>(live.acked) / live.seconds;
  r.figures = {
      Figure("agent records persisted (backlog of changes)", drain_rate, "records/s")
          .Target(300000, true)
          .Ratio(drain_rate / raw.pipeline_records_per_s, "msgpack parse + RocksDB write"),
      Figure("  first sightings (record + default group)", first_seen->first, "records/s"),
      {"agent reports accepted by workers (master frozen)",
       static_cast<double>(front.acked) / front.seconds, "reports/s"},
      {"agent records persisted (live, churn 0.1)", live_rate, "records/s"},
      Figure("agent reports accepted by workers (live)", live_reports, "reports/s")
          .Ratio(live_reports / raw.report_msgs_per_s, "CURVE DEALER->ROUTER reports"),
      {"load during the lag probe", static_cast<double>(paced.acked) / paced.seconds, "reports/s"},
      Figure(
          fmt::format("master RSS at rest, {} agents and {} files (restarted)", w * n + w, files),
          at_rest.rss_mb, "MB")
          .Target(100, false),
  };
  r.latencies.push_back(std::move(lag));
  r.notes.push_back(
      fmt::format("checked: all {} agents on the master, each from its worker", w * n + w));
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
