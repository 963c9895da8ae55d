// The soak scenario: every flow churning for ten minutes while one worker after another is
// restarted every minute. What it shows is that nothing accumulates: the master's and the
// workers' resident memory and open descriptors stay flat, and the cluster converges at the end.
#include <sodium.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "agent_load.h"
#include "cluster_setup.h"
#include "zcluster/nodes/control.h"

namespace zcluster::bench {
namespace {

// One look at the master and at the worker that is never restarted, which lives through every
// restart of the others.
struct Sample {
  double seconds = 0;
  double master_rss_mb = 0, worker_rss_mb = 0;
  std::size_t master_fds = 0, worker_fds = 0;
};

Sample Look(Deployment& d, const std::string& steady_worker, double seconds) {
  Sample s;
  s.seconds = seconds;
  const ProcessStats master = StatsOf(d.Pid("master")), worker = StatsOf(d.Pid(steady_worker));
  s.master_rss_mb = master.rss_mb;
  s.master_fds = master.open_fds;
  s.worker_rss_mb = worker.rss_mb;
  s.worker_fds = worker.open_fds;
  return s;
}

}  // namespace

Result<ScenarioResult> RunSoak(const BenchOptions& o, const RawFigures&) {
  auto start = Clock::now();
  // One worker is never restarted: the others are, in turn.
  std::size_t w = std::max<std::size_t>(2, o.workers ? o.workers : o.smoke ? 2 : 4);
  std::size_t total = o.agents ? o.agents : o.smoke ? 100 : 4000;
  std::size_t f = o.files ? o.files : o.smoke ? 20 : 500;
  double duration = o.duration > 0 ? o.duration : o.smoke ? 6 : 600;
  // Ten restarts in a run: one a minute at the full length.
  double restart_every = duration / 10;
  std::size_t per_worker = total / w;
  // A Wazuh agent's keepalive pace (every second in the smoke run, so that a round fits in it).
  double interval = o.smoke ? 1 : 10;
  ScenarioResult r;
  r.scenario = "soak";
  r.parameters = {{"workers", std::to_string(w)},
                  {"agents", std::to_string(per_worker * w)},
                  {"files", std::to_string(f)},
                  {"seconds", fmt::format("{}", duration)},
                  {"restart_every_s", fmt::format("{}", restart_every)}};
  nodes::ClientKeys agents = MakeAgents(per_worker * w + w);
  std::vector<std::string> workers = WorkerNames(w);
  ClusterPlan plan = ManagerPlan(workers, agents, f);
  if (o.progress) {
    o.progress(fmt::format("soak: {} workers, {} agents, {} files, {} s, a restart every {} s", w,
                           total, f, duration, restart_every));
  }
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;
  auto [slices, probes] = SplitAgents(agents, w, per_worker);

  // The load, each at an operator's pace: every agent reporting every 10 s with churn, 100 agents
  // moved between groups twice a second, a rule edited every second, and a file added and an old
  // one removed every ten seconds.
  std::atomic<bool> stop{false};
  SimRun load;
  std::thread agents_thread([&] {
    // Reports lost with a restarted worker are what an agent would resend; they are counted,
    // not failures.
    // The first round takes one interval: the agents report through every look, and stop after
    // the last (the duration given is only a bound, for restarts that take far longer than
    // planned).
    load = Simulate(d, workers, slices,
                    {.rate = static_cast<double>(per_worker) / interval,
                     .duration = 3 * duration + 60,
                     .churn = 0.1,
                     .drain = std::chrono::seconds(5),
                     .stop = &stop});
  });
  std::atomic<std::uint64_t> group_batches{0}, edits{0};
  std::thread admin_thread([&] {
    const std::string control = d.ControlPath("master");
    const std::string rules = d.Home("master") + "/etc/rules/";
    for (std::size_t tick = 0; !stop; ++tick) {
      schemas::GroupAssign a;
      for (int i = 0; i < 100; ++i) {
        a.agents.push_back(
            agents.entries()[randombytes_uniform(static_cast<std::uint32_t>(per_worker * w))].id);
      }
      a.groups = {tick % 2 ? "web" : "db"};
      a.replace = true;
      if (nodes::ControlRequest(control, a, std::chrono::seconds(10)).ok()) ++group_batches;
      if (tick % 2 == 0 &&
          WriteFileText(rules + "local_rules.xml", fmt::format("<rule>{}</rule>\n", tick)).ok()) {
        ++edits;
      }
      if (tick % 20 == 0) {
        (void)WriteFileText(rules + fmt::format("soak_{}.xml", tick), "<rule/>\n");
        std::error_code ignored;
        if (tick >= 100) {
          std::filesystem::remove(rules + fmt::format("soak_{}.xml", tick - 100), ignored);
        }
      }
      // The administrator's pace, not a wait for anything.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });

  // Looks at memory and descriptors ten times per restart period; restarts the next worker at
  // the end of each period but the last (SIGTERM, then a start from its own home, as an operator
  // would). A period starts when the restart before it has finished, so that a slow restart (a
  // sanitizer build, a loaded machine) lengthens the run instead of eating the looks and restarts
  // that follow it.
  std::vector<Sample> samples;
  Status failed;
  std::size_t restarts = 0;
  const std::size_t periods = 10;
  const auto load_start = Clock::now();
  const auto look_every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(restart_every / 10));
  for (std::size_t period = 0; period < periods && failed.ok(); ++period) {
    const auto period_start = Clock::now();
    for (int look = 1; look <= 10; ++look) {
      std::this_thread::sleep_until(period_start + look_every * look);
      samples.push_back(Look(d, workers.back(), Seconds(Clock::now() - load_start)));
    }
    if (period + 1 == periods) break;
    const std::string& victim = workers[restarts % (w - 1)];
    if (o.progress) {
      o.progress(fmt::format("soak: {:.0f} s, master {:.1f} MB {} fds; restarting {}",
                             samples.back().seconds, samples.back().master_rss_mb,
                             samples.back().master_fds, victim));
    }
    failed = d.Stop(victim, std::chrono::seconds(30));
    if (failed.ok()) failed = d.Start(victim);
    ++restarts;
  }
  const double looked = Seconds(Clock::now() - load_start);
  stop = true;
  admin_thread.join();
  agents_thread.join();
  ZC_RETURN_IF_ERROR(failed);
  if (load.acked == 0) return Status::Internal("no agent report was acknowledged");

  // The end: every worker holds the master's files and group table.
  ZC_RETURN_IF_ERROR(WaitForFilesSynced(d, workers, std::chrono::seconds(120)));
  std::vector<std::string> all = workers;
  all.insert(all.begin(), "master");
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      all,
      [](const std::vector<schemas::NodeStatus>& s) {
        for (std::size_t i = 1; i < s.size(); ++i) {
          if (s[i].groups_seq != s[0].groups_seq) return false;
        }
        return true;
      },
      std::chrono::seconds(120)));
  RecordProcessStats(d, workers.back(), r);

  // Flat means: what the nodes hold after the first restart period (caches filled, every
  // connection made) is what they hold at the end.
  if (samples.size() < 20) return Status::Internal("too few samples for a trend");
  auto after_warmup = samples.begin() + 10;
  auto steady = [&](auto field) {
    double lo = 1e300, hi = 0;
    for (auto it = after_warmup; it != samples.end(); ++it) {
      lo = std::min(lo, static_cast<double>((*it).*field));
      hi = std::max(hi, static_cast<double>((*it).*field));
    }
    return std::pair{lo, hi};
  };
  auto [master_rss_lo, master_rss_hi] = steady(&Sample::master_rss_mb);
  auto [master_fds_lo, master_fds_hi] = steady(&Sample::master_fds);
  auto [worker_rss_lo, worker_rss_hi] = steady(&Sample::worker_rss_mb);
  auto [worker_fds_lo, worker_fds_hi] = steady(&Sample::worker_fds);
  const Sample& first = *after_warmup;
  const Sample& last = samples.back();
  r.figures = {
      Figure("master RSS after warm-up", first.master_rss_mb, "MB"),
      Figure("master RSS at the end", last.master_rss_mb, "MB"),
      Figure("master RSS spread after warm-up", master_rss_hi - master_rss_lo, "MB")
          .Target(16, false),
      Figure("master open descriptors at the end", static_cast<double>(last.master_fds), "fds"),
      Figure("master descriptors spread after warm-up", master_fds_hi - master_fds_lo, "fds")
          .Target(4, false),
      Figure("steady worker RSS after warm-up", first.worker_rss_mb, "MB"),
      Figure("steady worker RSS at the end", last.worker_rss_mb, "MB"),
      Figure("worker RSS spread after warm-up", worker_rss_hi - worker_rss_lo, "MB")
          .Target(16, false),
      Figure("worker descriptors spread after warm-up", worker_fds_hi - worker_fds_lo, "fds")
          .Target(4, false),
      Figure("workers restarted", static_cast<double>(restarts), "restarts"),
      Figure("agent reports acknowledged", static_cast<double>(load.acked), "reports"),
      Figure("group reassignments of 100 agents", static_cast<double>(group_batches), "batches"),
      Figure("rule edits", static_cast<double>(edits), "edits"),
  };
  std::string trend = "RSS MB / fds at each restart, master | steady worker:";
  for (std::size_t i = 9; i < samples.size(); i += 10) {
    trend += fmt::format(" {:.1f}/{} | {:.1f}/{};", samples[i].master_rss_mb, samples[i].master_fds,
                         samples[i].worker_rss_mb, samples[i].worker_fds);
  }
  r.notes.push_back(trend);
  r.notes.push_back(fmt::format(
      "{} is never restarted; spread = highest minus lowest sample after the first restart "
      "period; every worker converged at the end",
      workers.back()));
  r.notes.push_back(
      fmt::format("ten periods of ten looks took {:.1f} s with their restarts (planned: {:.0f} s)",
                  looked, duration));
  if (!load.status.ok()) r.notes.push_back("simulators: " + load.status.message());
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
