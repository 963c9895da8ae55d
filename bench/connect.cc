// The connect scenario: W workers connect to one master at once, each with its own CURVE key,
// and say hello; timed until the master has welcomed them all. The workers run in this process
// (a thousand zclusterd processes do not fit on one small machine) with the worker's own hello
// and keepalive code, MasterLink; the master is the real zclusterd with its ZAP allow-list of
// W keys.
#include <fmt/format.h>

#include <thread>

#include "cluster_setup.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/nodes/master_link.h"

namespace zcluster::bench {

Result<ScenarioResult> RunConnect(const BenchOptions& o, const RawFigures& raw) {
  auto start = Clock::now();
  std::size_t w = o.workers ? o.workers : o.smoke ? 20 : 1000;
  ScenarioResult r;
  r.scenario = "connect";
  r.parameters = {{"workers", std::to_string(w)}};
  Result<std::unique_ptr<Deployment>> made = Deployment::Create(o.tools_dir, o.keep);
  if (!made.ok()) return made.status();
  Deployment& d = **made;
  NodeSpec master;
  master.name = "master";
  master.master = true;
  master.max_silence = 60;
  // Every worker here connects from 127.0.0.1: one address holds them all.
  master.extra = "<tuning><connections_per_address>0</connections_per_address></tuning>";
  ZC_RETURN_IF_ERROR(d.Configure(master));
  std::vector<std::string> names = WorkerNames(w);
  Result<std::vector<bus::CurveKeyPair>> keys = d.AuthorizeClients(names);
  if (!keys.ok()) return keys.status();
  ZC_RETURN_IF_ERROR(d.Start("master"));
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      {"master"}, [](const auto&) { return true; }, std::chrono::seconds(30)));
  if (o.progress) o.progress(fmt::format("connect: {} workers connecting at once", w));

  // Each client is the worker's own keepalive state machine (MasterLink) over its own CURVE
  // DEALER; the harness plays the worker loop's part: send what Next() says once the transport
  // takes it (the worker sends its hello as the CURVE handshake completes), feed the replies.
  zmq::context_t ctx(1);
  nodes::ClusterLog quiet(false);
  std::vector<bus::DealerSocket> sockets;
  std::vector<nodes::MasterLink> links;
  std::size_t welcome_count = 0;
  const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", d.port());
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < w; ++i) {
    Result<bus::DealerSocket> s = bus::DealerSocket::ConnectCurve(
        ctx, (*keys)[i], d.KeysOf("master").public_z85, endpoint, names[i], bus::SocketOptions{});
    if (!s.ok()) return s.status();
    sockets.push_back(std::move(s).value());
    links.emplace_back(nodes::MasterLinkParams{d.cluster(), names[i]},
                       nodes::Logger(quiet, "Worker " + names[i]));
  }
  auto deadline = t0 + std::chrono::seconds(120);
  while (welcome_count < w) {
    if (Clock::now() > deadline) {
      return Status::Unavailable(fmt::format("{} of {} workers welcomed", welcome_count, w));
    }
    auto now = Clock::now();
    for (std::size_t i = 0; i < w; ++i) {
      std::optional<schemas::Message> due = links[i].Next(now);
      if (due && sockets[i].Send(schemas::Encode(*due)).ok()) links[i].Sent(*due, true, now);
    }
    std::vector<bus::PollItem> items;
    for (auto& s : sockets) items.push_back({&s.socket(), -1, false});
    ZC_RETURN_IF_ERROR(bus::Poll(items, std::chrono::milliseconds(1)));
    for (std::size_t i = 0; i < w; ++i) {
      if (!items[i].readable) continue;
      Result<std::optional<bus::Frames>> f = sockets[i].Receive();
      if (!f.ok() || !f->has_value()) continue;
      Result<schemas::Message> m = schemas::Decode(**f);
      if (!m.ok() || !std::holds_alternative<schemas::Welcome>(*m)) {
        return Status::Internal(names[i] + " was not welcomed");
      }
      bool was = links[i].state() == nodes::MasterLink::State::kConnected;
      links[i].OnReply(*m, Clock::now());
      if (!was && links[i].state() == nodes::MasterLink::State::kConnected) ++welcome_count;
    }
  }
  double seconds = Seconds(Clock::now() - t0);
  Result<schemas::Message> listed = d.Ask("master", schemas::NodesQuery{});
  if (!listed.ok()) return listed.status();
  std::size_t workers_listed = std::get<schemas::NodeList>(*listed).nodes.size() - 1;
  if (workers_listed != w) {
    return Status::Internal(fmt::format("the master lists {} of {} workers", workers_listed, w));
  }
  RecordProcessStats(d, "", r);
  double rate = static_cast<double>(w) / seconds;
  r.figures = {
      Figure(fmt::format("{} workers hello'd", w), seconds, "s").Target(3, false),
      Figure("  handshakes and hellos", rate, "workers/s")
          .Ratio(rate / raw.handshakes_per_s, "CURVE handshakes"),
  };
  r.notes.push_back(fmt::format("checked: the master lists all {} workers", w));
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
