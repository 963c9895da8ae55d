// The scale scenario: a million registered agents reporting keepalives at Wazuh's pace (each
// agent every 10 s) with 1 % full changes, through W workers. What the cluster sustains, the
// report → master store lag, the CPU each side spends per million reports, the master's memory,
// and how long the master takes to start with that many agents.
#include <signal.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "agent_load.h"
#include "agent_probe.h"
#include "cluster_setup.h"

namespace zcluster::bench {
namespace {

// CPU seconds this process (the simulators and the probe) has used so far.
double OwnCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

struct CpuMark {
  double master = 0, workers = 0, simulators = 0;
};

CpuMark MarkCpu(Deployment& d, const std::vector<std::string>& workers) {
  CpuMark m;
  m.master = StatsOf(d.Pid("master")).cpu_seconds;
  for (const std::string& w : workers) m.workers += StatsOf(d.Pid(w)).cpu_seconds;
  m.simulators = OwnCpuSeconds();
  return m;
}

}  // namespace

Result<ScenarioResult> RunScale(const BenchOptions& o, const RawFigures& raw) {
  auto start = Clock::now();
  const std::size_t w = o.workers ? o.workers : o.smoke ? 2 : 10;
  const std::size_t total = o.agents ? o.agents : o.smoke ? 2000 : 1000000;
  const std::size_t files = o.files ? o.files : o.smoke ? 100 : 10000;
  const double duration = o.duration > 0 ? o.duration : o.smoke ? 2 : 60;
  const std::size_t per_worker = total / w;
  const std::size_t relay = std::max<std::size_t>(1, o.relay);
  const std::size_t agents_n = per_worker * w;
  // Wazuh's agents report every 10 s (every second in the smoke run, so that rounds fit in it).
  const double rate = o.rate > 0 ? o.rate : static_cast<double>(agents_n) / (o.smoke ? 1 : 10);
  ScenarioResult r;
  r.scenario = "scale";
  r.parameters = {{"workers", std::to_string(w)},
                  {"agents", std::to_string(agents_n)},
                  {"master_files", std::to_string(files)},
                  {"reports_per_s_asked", fmt::format("{:.0f}", rate)},
                  {"full_changes", "0.01"},
                  {"reports_per_message", std::to_string(relay)},
                  {"seconds", fmt::format("{}", duration)}};
  if (o.progress) o.progress(fmt::format("scale: registering {} agents", agents_n + w));
  // The first agents_n are the simulators'; the last w are the probes', one per worker.
  nodes::ClientKeys agents = MakeAgents(agents_n + w);
  std::vector<std::string> workers = WorkerNames(w);
  ClusterPlan plan = ManagerPlan(workers, agents, files);
  if (o.progress) o.progress(fmt::format("scale: starting a master and {} workers", w));
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;
  auto [slices, probes] = SplitAgents(agents, w, per_worker);
  // Keepalive-only updates need a record to land on: every agent is first seen once.
  auto seen_start = Clock::now();
  if (o.progress) o.progress("scale: every agent reports once (first sightings)");
  SimRun first = Simulate(d, workers, slices, {.keep_truth = false, .relay = relay});
  ZC_RETURN_IF_ERROR(first.status);
  Result<std::uint64_t> first_stored = WaitForDrain(d, workers, agents_n);
  if (!first_stored.ok()) return first_stored.status();
  double first_rate = static_cast<double>(agents_n) / Seconds(Clock::now() - seen_start);

  // 1. A backlog of keepalive-only changes: the master frozen while every agent reports once
  // with nothing new but its keepalive time, then thawed. Keepalive times are whole seconds: a
  // report in the same second as the last one changes nothing. The first sightings' compactions
  // are over first: frozen with the master, they would run during the drain.
  Result<double> quiet = WaitForQuiet(d, workers);
  if (!quiet.ok()) return quiet.status();
  if (o.progress) o.progress(fmt::format("scale: quiet after {:.1f} s", *quiet));
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(
      std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now())));
  if (o.progress) o.progress("scale: every agent sends a keepalive, master frozen");
  Result<schemas::NodeStatus> before = d.StatusOf("master");
  if (!before.ok()) return before.status();
  ZC_RETURN_IF_ERROR(d.Signal("master", SIGSTOP));
  SimRun front = Simulate(d, workers, slices, {.keep_truth = false, .relay = relay});
  ZC_RETURN_IF_ERROR(d.StillFrozen("master"));
  auto thawed = Clock::now();
  ZC_RETURN_IF_ERROR(d.Signal("master", SIGCONT));
  ZC_RETURN_IF_ERROR(front.status);
  Result<std::uint64_t> drained = WaitForDrain(d, workers, before->agents_stored + agents_n);
  if (!drained.ok()) return drained.status();
  double keepalive_drain = static_cast<double>(agents_n) / Seconds(Clock::now() - thawed);

  // 2. Steady: keepalives at the pace asked, 1 % of them full changes, lag probed meanwhile.
  if (o.progress) {
    o.progress(fmt::format("scale: {:.0f} reports/s for {} s after a first round", rate, duration));
  }
  Result<std::unique_ptr<AgentProbe>> probe = AgentProbe::Open(d, workers, probes);
  if (!probe.ok()) return probe.status();
  Result<schemas::NodeStatus> steady_before = d.StatusOf("master");
  if (!steady_before.ok()) return steady_before.status();
  CpuMark cpu0 = MarkCpu(d, workers);
  SimRun steady;
  std::atomic<bool> loading{true};
  std::thread load([&] {
    steady = Simulate(d, workers, slices,
                      {.rate = rate / static_cast<double>(w),
                       .duration = duration,
                       .churn = 0.01,
                       .keep_truth = false,
                       .relay = relay});
    loading = false;
  });
  LatencySeries lag{"report -> master store, steady load", {}, 1000.0, std::nullopt};
  // A probe's report that waits longer than the bound means the asked rate is more than the
  // cluster holds: the bound is kept as its sample (the figure then reads "at least"), and the
  // probe stops, so that the run still tells what was sustained.
  constexpr auto kProbeBound = std::chrono::seconds(30);
  bool overrun = false;
  for (std::size_t i = 0; loading; ++i) {
    Result<double> ms = (*probe)->Sample(i % w, kProbeBound, std::chrono::microseconds(2000));
    if (!ms.ok()) {
      lag.samples_ms.push_back(std::chrono::duration<double, std::milli>(kProbeBound).count());
      overrun = true;
      break;
    }
    lag.samples_ms.push_back(*ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // spacing, not synchronisation
  }
  load.join();
  ZC_RETURN_IF_ERROR(steady.status);
  Result<std::uint64_t> steady_stored = WaitForDrain(d, workers, 0, std::chrono::seconds(600));
  if (!steady_stored.ok()) return steady_stored.status();
  CpuMark cpu1 = MarkCpu(d, workers);
  RecordProcessStats(d, workers[0], r);
  ProcessStats master_loaded = *r.master;
  double reports_per_s = static_cast<double>(steady.acked) / steady.seconds;
  double millions = static_cast<double>(steady.acked) / 1e6;
  double cpu_master = (cpu1.master - cpu0.master) / millions;
  double cpu_workers = (cpu1.workers - cpu0.workers) / millions;
  double cpu_sims = (cpu1.simulators - cpu0.simulators) / millions;
  double worker_rss = 0;
  for (const std::string& name : workers)
    worker_rss = std::max(worker_rss, StatsOf(d.Pid(name)).rss_mb);

  // 3. The master restarted with every agent in its store: its start time and its memory at rest.
  if (o.progress) o.progress("scale: restarting the master");
  // A restart is a stop and a start: what the stop leaves undone, the start does.
  auto stopping = Clock::now();
  ZC_RETURN_IF_ERROR(d.Stop("master", std::chrono::seconds(60)));
  double stop_seconds = Seconds(Clock::now() - stopping);
  auto restart = Clock::now();
  ZC_RETURN_IF_ERROR(d.Start("master"));
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      {"master"}, [](const auto&) { return true; }, std::chrono::seconds(60)));
  double start_seconds = Seconds(Clock::now() - restart);
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      {"master"}, [](const auto& st) { return st[0].files_synced; }, std::chrono::seconds(120)));
  ProcessStats at_rest = StatsOf(d.Pid("master"));
  Result<schemas::NodeStatus> counted = d.StatusOf("master");
  if (!counted.ok()) return counted.status();

  r.figures = {
      Figure("agent reports sustained (keepalives, 1 % full changes)", reports_per_s, "reports/s")
          .Target(100000, true)
          .Ratio(reports_per_s / raw.report_msgs_per_s, "CURVE DEALER->ROUTER reports"),
      Figure("keepalive-only updates persisted (backlog)", keepalive_drain, "updates/s")
          .Target(1000000, true)
          .Ratio(keepalive_drain / raw.seen_rows_per_s, "RocksDB 28-byte rows"),
      {"first sightings persisted (every agent once, unpaced)", first_rate, "records/s"},
      Figure("master CPU per million reports", cpu_master, "CPU-s"),
      Figure("workers' CPU per million reports (all together)", cpu_workers, "CPU-s"),
      Figure("cluster CPU per million reports (master and workers)", cpu_master + cpu_workers,
             "CPU-s")
          .Target(5, false),
      Figure("simulators' CPU per million reports (the bench process)", cpu_sims, "CPU-s"),
      Figure("master peak RSS (VmHWM) through the run", master_loaded.peak_rss_mb, "MB")
          .Target(400, false),
      Figure("master RSS at rest (restarted)", at_rest.rss_mb, "MB").Target(250, false),
      Figure("largest worker RSS after the steady load", worker_rss, "MB"),
      Figure(fmt::format("master start with {} agents (to its first answer)", agents_n + w),
             start_seconds, "s")
          .Target(2, false),
      Figure("master stop before it (SIGTERM to exit)", stop_seconds, "s"),
  };
  r.latencies.push_back(std::move(lag));
  if (overrun || reports_per_s < 0.95 * rate) {
    r.notes.push_back(fmt::format(
        "the asked rate is more than this machine holds: {:.0f} reports/s sustained{}; run "
        "again with a lower --rate for the lag at a rate that holds",
        reports_per_s, overrun ? ", and a probe's report waited over 30 s" : ""));
  }
  r.notes.push_back(
      fmt::format("asked {:.0f} reports/s, sustained {:.0f}; {} reports acknowledged in {:.1f} s",
                  rate, reports_per_s, steady.acked, steady.seconds));
  r.notes.push_back(fmt::format(
      "CPU over the steady load: master {:.1f} s, workers {:.1f} s, simulators {:.1f} s",
      cpu1.master - cpu0.master, cpu1.workers - cpu0.workers, cpu1.simulators - cpu0.simulators));
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
