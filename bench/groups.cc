// The groups scenario: K assignment changes at once until every worker's table equals the
// master's, then single changes timed to each of W workers.
#include <fmt/format.h>

#include <filesystem>
#include <thread>

#include "cluster_setup.h"

namespace zcluster::bench {
namespace {

Result<schemas::GroupsChanged> Assign(Deployment& d, schemas::GroupAssign request) {
  Result<schemas::Message> m = d.Ask("master", std::move(request), std::chrono::seconds(60));
  if (!m.ok()) return m.status();
  if (const auto* e = std::get_if<schemas::ErrorReply>(&*m)) {
    return Status::Internal("the master refused the assignment: " + e->message);
  }
  return std::get<schemas::GroupsChanged>(*m);
}

Result<schemas::GroupTable> TableOf(Deployment& d, const std::string& node) {
  Result<schemas::Message> m = d.Ask(node, schemas::GroupTableQuery{}, std::chrono::seconds(60));
  if (!m.ok()) return m.status();
  if (!std::holds_alternative<schemas::GroupTable>(*m)) {
    return Status::Internal(node + " sent no group table");
  }
  return std::get<schemas::GroupTable>(*m);
}

}  // namespace

Result<std::vector<double>> TimeOneGroupChange(Deployment& d,
                                               const std::vector<std::string>& workers,
                                               const std::string& agent, const std::string& group,
                                               std::chrono::microseconds pause) {
  auto sent = Clock::now();
  Result<schemas::GroupsChanged> one = Assign(d, {{agent}, {group}, true});
  if (!one.ok()) return one.status();
  std::vector<double> arrived(workers.size(), -1);
  std::size_t left = workers.size();
  auto deadline = sent + std::chrono::seconds(10);
  while (left > 0) {
    Result<std::vector<schemas::NodeStatus>> st = d.StatusOfAll(workers);
    double now = Millis(Clock::now() - sent);
    if (st.ok()) {
      for (std::size_t i = 0; i < workers.size(); ++i) {
        if (arrived[i] < 0 && (*st)[i].groups_seq >= one->seq) {
          arrived[i] = now;
          --left;
        }
      }
    }
    if (Clock::now() > deadline) return Status::Unavailable("a change never reached a worker");
    // The probe's pace, not a wait for the condition (that is the loop around it).
    if (left > 0 && pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  return arrived;
}

Result<ScenarioResult> RunGroups(const BenchOptions& o, const RawFigures& raw) {
  auto start = Clock::now();
  std::size_t w = o.workers ? o.workers : o.smoke ? 2 : 16;
  std::size_t k = o.changes ? o.changes : o.smoke ? 1000 : 100000;
  std::size_t samples = o.samples ? o.samples : o.smoke ? 20 : 200;
  ScenarioResult r;
  r.scenario = "groups";
  r.parameters = {{"workers", std::to_string(w)},
                  {"changes", std::to_string(k)},
                  {"samples", std::to_string(samples)}};
  nodes::ClientKeys agents = MakeAgents(k);
  std::vector<std::string> workers = WorkerNames(w);
  ClusterPlan plan;
  plan.workers = workers;
  plan.prepare = [&](const std::string& name, const std::string& home) -> Status {
    std::filesystem::create_directories(home + "/etc");
    if (name != "master") return agents.Save(home + "/etc/client.keys");
    for (const char* group : {"web", "db"}) {
      ZC_RETURN_IF_ERROR(
          WriteFileText(home + "/etc/shared/" + group + "/agent.conf", "<agent_config/>\n"));
    }
    return agents.Save(home + "/etc/client.keys");
  };
  if (o.progress) o.progress(fmt::format("groups: {} agents, {} workers", k, w));
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;
  auto reached = [&](std::uint64_t seq) {
    return [seq](const std::vector<schemas::NodeStatus>& s) {
      for (const auto& n : s) {
        if (n.groups_seq < seq) return false;
      }
      return true;
    };
  };
  // The master gives every registered agent "default" when it starts: let that settle first.
  Result<schemas::NodeStatus> m0 = d.StatusOf("master");
  if (!m0.ok()) return m0.status();
  ZC_RETURN_IF_ERROR(d.WaitForStatus(workers, reached(m0->groups_seq), std::chrono::seconds(60)));

  // 1. K changes in one request, until every worker has applied them.
  schemas::GroupAssign bulk;
  for (const nodes::ClientKey& a : agents.entries()) bulk.agents.push_back(a.id);
  bulk.groups = {"web"};
  if (o.progress) o.progress(fmt::format("groups: assigning {} agents at once", k));
  auto t0 = Clock::now();
  Result<schemas::GroupsChanged> changed = Assign(d, bulk);
  if (!changed.ok()) return changed.status();
  double committed_s = Seconds(Clock::now() - t0);
  ZC_RETURN_IF_ERROR(d.WaitForStatus(workers, reached(changed->seq), std::chrono::seconds(120)));
  double converge_s = Seconds(Clock::now() - t0);
  if (changed->changed != k) {
    return Status::Internal(fmt::format("{} of {} agents changed", changed->changed, k));
  }
  Result<schemas::GroupTable> master_table = TableOf(d, "master");
  if (!master_table.ok()) return master_table.status();
  for (const std::string& worker : workers) {
    Result<schemas::GroupTable> t = TableOf(d, worker);
    if (!t.ok()) return t.status();
    if (t->groups != master_table->groups) {
      return Status::Internal(worker + "'s group table differs from the master's");
    }
  }
  if (o.progress)
    o.progress(fmt::format("groups: converged in {:.3f} s; one change x{}", converge_s, samples));

  // 2. One change at a time: from the request to each worker's table.
  LatencySeries each{
      fmt::format("one change -> each of {} workers", w), {}, std::nullopt, std::nullopt};
  LatencySeries all{fmt::format("one change -> all {} workers", w), {}, 20.0, std::nullopt};
  for (std::size_t s = 0; s < samples; ++s) {
    Result<std::vector<double>> arrived =
        TimeOneGroupChange(d, workers, bulk.agents[s % k], s % 2 ? "web" : "db");
    if (!arrived.ok()) return arrived.status();
    each.samples_ms.insert(each.samples_ms.end(), arrived->begin(), arrived->end());
    all.samples_ms.push_back(*std::max_element(arrived->begin(), arrived->end()));
  }
  RecordProcessStats(d, workers[0], r);

  double delivered = static_cast<double>(k * w) / converge_s;
  std::optional<double> ratio;
  if (raw.subscribers == w) ratio = delivered / raw.changes_per_s;
  r.figures = {
      Figure(fmt::format("{} changes converged on {} workers", k, w), converge_s, "s")
          .Target(2, false),
      Figure("  of which the master's commit (durable)", committed_s, "s"),
      Figure("changes delivered and applied", delivered, "changes/s"),
  };
  if (ratio) r.figures.back().Ratio(*ratio, "CURVE PUB->SUB");
  r.latencies = {each, all};
  r.notes.push_back(fmt::format("checked: {} worker tables equal the master's ({} agents)", w,
                                master_table->groups.size()));
  r.notes.push_back(
      "latency includes the master's synced write; resolution: one status sweep "
      "of all workers over their control sockets");
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
