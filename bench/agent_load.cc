#include "agent_load.h"

#include <fmt/format.h>

#include <thread>

#include "cluster_setup.h"
#include "zcluster/agent_sim/agent_simulator.h"

namespace zcluster::bench {

AgentSplit SplitAgents(const nodes::ClientKeys& all, std::size_t workers, std::size_t per_worker) {
  AgentSplit split;
  for (std::size_t i = 0; i < workers; ++i) {
    split.slices.push_back(all.Slice(i * per_worker, (i + 1) * per_worker));
    split.probes.push_back(all.entries()[workers * per_worker + i]);
  }
  return split;
}

SimRun Simulate(Deployment& d, const std::vector<std::string>& workers,
                const std::vector<nodes::ClientKeys>& agents, const SimLoad& load) {
  std::vector<Result<nodes::AgentSimResult>> results(workers.size(), Status::Internal("not run"));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      nodes::AgentSimOptions o;
      o.endpoint = fmt::format("tcp://127.0.0.1:{}", d.AgentPort(workers[i]));
      o.server_public_z85 = d.KeysOf(workers[i]).public_z85;
      o.rate = load.rate;
      o.duration = load.duration;
      o.churn = load.churn;
      o.churn_first_round = load.churn_first_round;
      o.connections = 8;
      o.drain = load.drain;
      o.keep_truth = load.keep_truth;
      o.stop = load.stop;
      o.relay = load.relay;
      results[i] = nodes::RunAgentSimulation(agents[i], o);
    });
  }
  for (std::thread& t : threads) t.join();
  SimRun run;
  run.seconds = Seconds(Clock::now() - start);
  for (auto& r : results) {
    if (!r.ok()) {
      run.status = r.status();
      continue;
    }
    run.acked += r->acked;
    run.errors += r->errors;
    if (r->acked != r->sent) run.status = Status::Internal("a simulator lost acknowledgements");
  }
  if (run.errors > 0) run.status = Status::Internal(fmt::format("{} reports refused", run.errors));
  return run;
}

Result<std::uint64_t> WaitForDrain(Deployment& d, const std::vector<std::string>& workers,
                                   std::uint64_t stored_at_least, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  };
  // The master alone first: asking every worker too, a thousand times a second, would take
  // from the two cores the drain being measured needs.
  std::uint64_t stored = 0;
  Status s = d.WaitForStatus(
      {"master"},
      [&](const std::vector<schemas::NodeStatus>& st) {
        stored = st[0].agents_stored;
        return stored >= stored_at_least;
      },
      left());
  std::vector<std::string> all = workers;
  all.insert(all.begin(), "master");
  if (s.ok()) {
    s = d.WaitForStatus(
        all,
        [&](const std::vector<schemas::NodeStatus>& st) {
          stored = st[0].agents_stored;
          if (stored < stored_at_least) return false;
          for (std::size_t i = 1; i < st.size(); ++i) {
            if (st[i].agents_pending != 0) return false;
          }
          return true;
        },
        std::max(left(), std::chrono::milliseconds(1)));
  }
  if (!s.ok()) return Status::Unavailable("agent info did not drain to the master: " + s.message());
  return stored;
}

Result<double> WaitForQuiet(Deployment& d, const std::vector<std::string>& workers,
                            std::chrono::milliseconds bound) {
  constexpr auto kWindow = std::chrono::milliseconds(200);
  constexpr double kQuietCores = 0.1;
  auto cpu = [&] {
    double seconds = StatsOf(d.Pid("master")).cpu_seconds;
    for (const std::string& w : workers) seconds += StatsOf(d.Pid(w)).cpu_seconds;
    return seconds;
  };
  const auto start = Clock::now();
  double last = cpu();
  for (;;) {
    // The window is the measurement: CPU time is only known from /proc at clock ticks.
    std::this_thread::sleep_for(kWindow);
    const double now = cpu();
    const double waited = Seconds(Clock::now() - start);
    if (now - last < kQuietCores * std::chrono::duration<double>(kWindow).count()) return waited;
    if (Clock::now() - start > bound) {
      return Status::Unavailable(fmt::format("the cluster was still busy after {:.0f} s", waited));
    }
    last = now;
  }
}

}  // namespace zcluster::bench
