// The loop scenario: is the master's loop ever held by another flow's slow work? A probe worker
// (in this process, over its own CURVE DEALER, authorized like any worker) sends a keepalive,
// waits for its ack and sends the next, timing each round trip, first on an idle master and then
// while the slow work runs: a fresh worker syncing F files (the master reads and compresses every
// chunk) and a control client listing all A agents, again and again. The fresh worker's own loop
// is timed the same way through its control socket (status queries) while it installs the files.
#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "cluster_setup.h"
#include "zcluster/nodes/control.h"

namespace zcluster::bench {
namespace {

// Says hello as `name`, then keepalive after keepalive until `stop`; each round trip in ms goes to
// `idle` or `loaded` by the flag. Fails when the master does not welcome or stops acking.
Status ProbeKeepalives(const std::string& endpoint, const bus::CurveKeyPair& keys,
                       const std::string& master_public, const std::string& cluster,
                       const std::string& name, const std::atomic<bool>& loaded,
                       const std::atomic<bool>& stop, std::vector<double>* idle,
                       std::vector<double>* under_load, std::atomic<bool>* welcomed,
                       std::atomic<bool>* failed) {
  struct Done {  // whatever the outcome, the harness stops waiting for a welcome
    std::atomic<bool>* failed;
    std::atomic<bool>* welcomed;
    ~Done() {
      if (!welcomed->load()) failed->store(true);
    }
  } done{failed, welcomed};
  zmq::context_t ctx(1);
  Result<bus::DealerSocket> s =
      bus::DealerSocket::ConnectCurve(ctx, keys, master_public, endpoint, name + "-probe", {});
  if (!s.ok()) return s.status();
  std::vector<bus::PollItem> items{{&s->socket(), -1, false}};
  // Waits up to `bound` for the next message of type M; other messages (heartbeat acks) skipped.
  auto await = [&](auto type_tag, std::chrono::milliseconds bound) -> Status {
    using M = decltype(type_tag);
    auto deadline = Clock::now() + bound;
    while (Clock::now() < deadline) {
      ZC_RETURN_IF_ERROR(bus::Poll(items, std::chrono::milliseconds(100)));
      if (!items[0].readable) continue;
      Result<std::optional<bus::Frames>> f = s->Receive();
      if (!f.ok()) return f.status();
      if (!f->has_value()) continue;
      Result<schemas::Message> m = schemas::Decode(**f);
      if (m.ok() && std::holds_alternative<M>(*m)) return Status::Ok();
    }
    return Status::Unavailable(fmt::format("no {} within {} ms", M::kType, bound.count()));
  };
  auto hello_deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (Clock::now() > hello_deadline) return Status::Unavailable("the probe was not welcomed");
    schemas::Hello hello{cluster, name, schemas::kProtocolVersion, "zcluster-bench"};
    if (s->Send(schemas::Encode(hello)).ok() &&
        await(schemas::Welcome{}, std::chrono::milliseconds(500)).ok()) {
      break;
    }
  }
  welcomed->store(true);
  for (std::uint64_t n = 1; !stop.load(); ++n) {
    auto sent = Clock::now();
    bool was_loaded = loaded.load();
    ZC_RETURN_IF_ERROR(s->Send(schemas::Encode(schemas::Keepalive{n})));
    ZC_RETURN_IF_ERROR(await(schemas::KeepaliveAck{}, std::chrono::seconds(10)));
    (was_loaded ? under_load : idle)->push_back(Millis(Clock::now() - sent));
    // Paced at about 200 round trips a second: a worker's keepalive, not a flood.
    std::this_thread::sleep_until(sent + std::chrono::milliseconds(5));
  }
  return Status::Ok();
}

}  // namespace

Result<ScenarioResult> RunLoop(const BenchOptions& o, const RawFigures& raw) {
  (void)raw;  // no raw figure matches a round trip under load
  auto start = Clock::now();
  std::size_t f = o.files ? o.files : o.smoke ? 200 : 10000;
  std::size_t a = o.agents ? o.agents : o.smoke ? 2000 : 100000;
  std::size_t bytes = o.file_bytes ? o.file_bytes : 4096;
  ScenarioResult r;
  r.scenario = "loop";
  r.parameters = {{"files", std::to_string(f)}, {"agents", std::to_string(a)}};
  const std::string fresh = "w01";
  nodes::ClientKeys agents = MakeAgents(a);
  ClusterPlan plan;
  plan.workers = {fresh};
  plan.start_workers = false;
  plan.master_spec.max_silence = 60;
  std::vector<bus::CurveKeyPair> probe_keys;
  plan.clients = {"probe"};
  plan.client_keys = &probe_keys;
  plan.prepare = [&](const std::string& name, const std::string& home) -> Status {
    if (name != "master") return Status::Ok();
    ZC_RETURN_IF_ERROR(WriteManagerFiles(home, f, bytes));
    return agents.Save(home + "/etc/client.keys");
  };
  if (o.progress) o.progress(fmt::format("loop: master with {} files and {} agents", f, a));
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;

  std::atomic<bool> loaded{false}, stop{false}, welcomed{false}, probe_failed{false};
  std::vector<double> idle_ms, loaded_ms;
  Status probe_status;
  std::thread probe([&] {
    probe_status = ProbeKeepalives(fmt::format("tcp://127.0.0.1:{}", d.port()), probe_keys[0],
                                   d.KeysOf("master").public_z85, d.cluster(), "probe", loaded,
                                   stop, &idle_ms, &loaded_ms, &welcomed, &probe_failed);
  });
  auto finish_probe = [&] {
    stop.store(true);
    probe.join();
  };
  // The idle baseline: a second of round trips once the probe is in.
  auto bound = Clock::now() + std::chrono::seconds(30);
  while (!welcomed.load() && !probe_failed.load() && Clock::now() < bound) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));

  // The load: listings of every agent, one after the other, while the fresh worker syncs.
  loaded.store(true);
  std::atomic<bool> listing_stop{false}, listing_failed{false};
  std::atomic<std::size_t> listings{0};
  std::string listing_error;
  const std::string master_control = d.ControlPath("master");
  std::thread lister([&] {
    while (!listing_stop.load()) {
      Result<schemas::Message> m =
          nodes::ControlRequest(master_control, schemas::AgentsQuery{}, std::chrono::seconds(60));
      const auto* list = m.ok() ? std::get_if<schemas::AgentList>(&*m) : nullptr;
      if (list == nullptr || list->agents.size() != a) {
        listing_error = m.ok() ? "a listing did not hold every agent" : m.status().ToString();
        listing_failed.store(true);
        return;
      }
      listings.fetch_add(1);
    }
  });
  auto t0 = Clock::now();
  Status synced = d.Start(fresh);
  std::vector<double> worker_ms;  // the fresh worker's control round trips while it syncs
  while (synced.ok()) {
    auto asked = Clock::now();
    Result<std::vector<schemas::NodeStatus>> s = d.StatusOfAll({"master", fresh});
    if (s.ok()) {
      worker_ms.push_back(Millis(Clock::now() - asked));
      if ((*s)[1].files_synced && (*s)[1].files_seq == (*s)[0].files_seq) break;
    }
    if (Clock::now() - t0 > std::chrono::seconds(120)) {
      synced = Status::Unavailable("the fresh worker did not sync within 120 s");
    }
    std::this_thread::sleep_until(asked + std::chrono::milliseconds(5));
  }
  double sync_s = Seconds(Clock::now() - t0);
  // At least one whole listing falls inside the loaded window.
  bound = Clock::now() + std::chrono::seconds(60);
  while (listings.load() == 0 && !listing_failed.load() && Clock::now() < bound) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  listing_stop.store(true);
  lister.join();
  finish_probe();
  ZC_RETURN_IF_ERROR(synced);
  ZC_RETURN_IF_ERROR(probe_status);
  if (!listing_error.empty()) return Status::Internal("listing: " + listing_error);
  if (listings.load() == 0) return Status::Internal("no listing of every agent completed");
  RecordProcessStats(d, fresh, r);

  LatencySeries idle{"keepalive round trip, idle master", idle_ms, std::nullopt, std::nullopt};
  LatencySeries under{
      fmt::format("keepalive round trip, {} files synced and {} agents listed", f, a), loaded_ms,
      20.0, std::nullopt};
  LatencySeries worker{"fresh worker's control round trip while it syncs", worker_ms, std::nullopt,
                       std::nullopt};
  r.figures = {
      Figure("keepalive round trip p99 under load", under.Percentile(99), "ms").Target(20, false),
      Figure("  idle p99", idle.Percentile(99), "ms"),
      Figure("fresh worker synced in", sync_s, "s"),
      Figure("agent listings during the sync", static_cast<double>(listings.load()), "listings"),
  };
  r.latencies = {idle, under, worker};
  r.notes.push_back(fmt::format(
      "checked: the fresh worker holds the master's files stream, every listing held {} agents",
      a));
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
