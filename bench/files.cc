// The files scenario: a fresh worker copies F files of S bytes; then single rule edits on the
// master are timed until each of W workers holds them on disk.
#include <sodium.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cluster_setup.h"

namespace zcluster::bench {
namespace {

std::string RandomText(std::size_t bytes) {
  std::string raw(bytes / 2 + 1, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.resize(bytes);
  return hex;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<schemas::FileTable> FilesOf(Deployment& d, const std::string& node) {
  Result<schemas::Message> m = d.Ask(node, schemas::FileTableQuery{}, std::chrono::seconds(60));
  if (!m.ok()) return m.status();
  if (const auto* e = std::get_if<schemas::ErrorReply>(&*m)) {
    return Status::Internal(node + " refused the file table query: " + e->message);
  }
  if (!std::holds_alternative<schemas::FileTable>(*m)) {
    return Status::Internal(node + " sent no file table");
  }
  return std::get<schemas::FileTable>(*m);
}

}  // namespace

Status WriteManagerFiles(const std::string& home, std::size_t count, std::size_t bytes) {
  for (std::size_t i = 0; i < count; ++i) {
    const char* dir = i % 4 < 2 ? "etc/rules" : i % 4 == 2 ? "etc/decoders" : "etc/lists";
    std::string path = fmt::format("{}/{}/bench_{:05}{}", home, dir, i, i % 4 == 3 ? "" : ".xml");
    ZC_RETURN_IF_ERROR(WriteFileText(path, RandomText(bytes)));
  }
  return WriteFileText(home + "/etc/rules/local_rules.xml", RandomText(bytes));
}

Result<bus::SubscriberSocket> SubscribeToFiles(zmq::context_t& ctx, Deployment& d,
                                               const bus::CurveKeyPair& key) {
  Result<bus::SubscriberSocket> sub = bus::SubscriberSocket::ConnectCurve(
      ctx, key, d.KeysOf("master").public_z85, fmt::format("tcp://127.0.0.1:{}", d.stream_port()),
      bus::SocketOptions{}, 1000,
      {schemas::Encode(schemas::FilesDelta{})[0], schemas::Encode(schemas::StreamHeartbeat{})[0]});
  if (!sub.ok()) return sub.status();
  // A subscription takes effect some time after the connection: a heartbeat (two a second) says
  // it has.
  std::vector<bus::PollItem> items{{&sub->socket(), -1, false}};
  ZC_RETURN_IF_ERROR(bus::Poll(items, std::chrono::seconds(10)));
  Result<std::optional<bus::Frames>> first = sub->Receive();
  if (!first.ok()) return first.status();
  if (!first->has_value()) return Status::Unavailable("no heartbeat from the master's streams");
  return sub;
}

Result<std::vector<double>> TimeOneEdit(Deployment& d, const std::vector<std::string>& workers,
                                        std::size_t bytes, std::chrono::milliseconds bound,
                                        bus::SubscriberSocket* streams, double* published_ms) {
  const std::string dir = "/etc/rules", name = "local_rules.xml";
  const std::string delta_type = schemas::Encode(schemas::FilesDelta{})[0];
  std::string content = RandomText(bytes);
  int watch_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (watch_fd < 0) return Status::Unavailable(std::string("inotify: ") + strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(&watch_fd, [](int* fd) { ::close(*fd); });
  std::map<int, std::size_t> worker_of;  // watch descriptor -> index in `workers`
  for (std::size_t i = 0; i < workers.size(); ++i) {
    std::string path = d.Home(workers[i]) + dir;
    int wd = ::inotify_add_watch(watch_fd, path.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
    if (wd < 0) return Status::Unavailable("cannot watch " + path + ": " + strerror(errno));
    worker_of[wd] = i;
  }
  if (published_ms != nullptr) *published_ms = -1;
  if (streams != nullptr) {
    for (;;) {  // what was published before this edit
      Result<std::optional<bus::Frames>> old = streams->Receive();
      if (!old.ok()) return old.status();
      if (!old->has_value()) break;
    }
  }

  auto sent = Clock::now();
  {
    std::ofstream out(d.Home("master") + dir + "/" + name, std::ios::trunc | std::ios::binary);
    out << content;
    if (!out) return Status::Unavailable("cannot edit the master's rule file");
  }
  std::vector<double> arrived(workers.size(), -1);
  std::size_t left = workers.size();
  alignas(inotify_event) char events[16 << 10];
  while (left > 0) {
    auto waited = Clock::now() - sent;
    if (waited > bound) return Status::Unavailable("an edit never reached a worker");
    std::vector<bus::PollItem> items{{nullptr, watch_fd, false}};
    if (streams != nullptr && published_ms != nullptr && *published_ms < 0) {
      items.push_back({&streams->socket(), -1, false});
    }
    ZC_RETURN_IF_ERROR(
        bus::Poll(items, std::chrono::duration_cast<std::chrono::milliseconds>(bound - waited) +
                             std::chrono::milliseconds(1)));
    if (items.size() > 1 && items[1].readable) {
      for (;;) {
        Result<std::optional<bus::Frames>> m = streams->Receive();
        if (!m.ok()) return m.status();
        if (!m->has_value()) break;
        if ((**m)[0] == delta_type && *published_ms < 0) {
          *published_ms = Millis(Clock::now() - sent);
        }
      }
    }
    if (!items[0].readable) continue;
    ssize_t n = 0;
    while ((n = ::read(watch_fd, events, sizeof events)) > 0) {
      for (char* at = events; at < events + n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(at);
        at += sizeof(inotify_event) + e->len;
        auto w = worker_of.find(e->wd);
        if (w == worker_of.end() || e->len == 0 || name != e->name) continue;
        std::size_t i = w->second;
        // A worker installs by rename, so its copy is whole when the event comes.
        if (arrived[i] < 0 && Slurp(d.Home(workers[i]) + dir + "/" + name) == content) {
          arrived[i] = Millis(Clock::now() - sent);
          --left;
        }
      }
    }
  }
  return arrived;
}

Result<ScenarioResult> RunFiles(const BenchOptions& o, const RawFigures& raw) {
  auto start = Clock::now();
  std::size_t w = o.workers ? o.workers : o.smoke ? 2 : 16;
  std::size_t f = o.files ? o.files : o.smoke ? 200 : 10000;
  std::size_t bytes = o.file_bytes ? o.file_bytes : 4096;
  std::size_t samples = o.samples ? o.samples : o.smoke ? 5 : 100;
  ScenarioResult r;
  r.scenario = "files";
  r.parameters = {{"workers", std::to_string(w)},
                  {"files", std::to_string(f)},
                  {"file_bytes", std::to_string(bytes)},
                  {"samples", std::to_string(samples)}};
  std::vector<std::string> workers = WorkerNames(w);
  ClusterPlan plan;
  plan.workers = workers;
  plan.start_workers = false;
  std::vector<bus::CurveKeyPair> client_keys;
  plan.clients = {"bench-streams"};
  plan.client_keys = &client_keys;
  plan.prepare = [&](const std::string& name, const std::string& home) -> Status {
    return name == "master" ? WriteManagerFiles(home, f, bytes) : Status::Ok();
  };
  if (o.progress) o.progress(fmt::format("files: master with {} files of {} bytes", f, bytes));
  Result<std::unique_ptr<Deployment>> cluster = StartCluster(o, plan);
  if (!cluster.ok()) return cluster.status();
  Deployment& d = **cluster;

  // 1. A fresh worker, from its start to holding every file.
  auto t0 = Clock::now();
  ZC_RETURN_IF_ERROR(d.Start(workers[0]));
  ZC_RETURN_IF_ERROR(d.WaitForStatus(
      {"master", workers[0]},
      [](const std::vector<schemas::NodeStatus>& s) {
        return s[1].files_synced && s[1].files_seq == s[0].files_seq;
      },
      std::chrono::seconds(120)));
  double fresh_s = Seconds(Clock::now() - t0);
  Result<schemas::FileTable> on_master = FilesOf(d, "master");
  Result<schemas::FileTable> on_worker = FilesOf(d, workers[0]);
  if (!on_master.ok()) return on_master.status();
  if (!on_worker.ok()) return on_worker.status();
  if (on_master->files != on_worker->files) {
    return Status::Internal("the fresh worker's files differ from the master's");
  }
  if (o.progress) o.progress(fmt::format("files: fresh worker converged in {:.3f} s", fresh_s));

  // 2. The other workers, then single edits.
  std::vector<std::string> rest(workers.begin() + 1, workers.end());
  ZC_RETURN_IF_ERROR(StartWorkers(d, rest));
  LatencySeries each{
      fmt::format("one rule edit -> each of {} workers", w), {}, std::nullopt, std::nullopt};
  LatencySeries all{fmt::format("one rule edit -> all {} workers", w), {}, 100.0, std::nullopt};
  // Where the time goes: until the master has published the change (the harness subscribes).
  LatencySeries master_side{
      "  of which until the master published it", {}, std::nullopt, std::nullopt};
  zmq::context_t ctx(1);
  Result<bus::SubscriberSocket> streams = SubscribeToFiles(ctx, d, client_keys.at(0));
  if (!streams.ok()) return streams.status();
  if (o.progress) o.progress(fmt::format("files: {} rule edits", samples));
  for (std::size_t s = 0; s < samples; ++s) {
    double published = -1;
    Result<std::vector<double>> arrived =
        TimeOneEdit(d, workers, bytes, std::chrono::seconds(30), &*streams, &published);
    if (!arrived.ok()) return arrived.status();
    if (published >= 0) master_side.samples_ms.push_back(published);
    each.samples_ms.insert(each.samples_ms.end(), arrived->begin(), arrived->end());
    all.samples_ms.push_back(*std::max_element(arrived->begin(), arrived->end()));
  }
  RecordProcessStats(d, workers[0], r);

  double mb = static_cast<double>(f * bytes) / 1e6;
  r.figures = {
      Figure(fmt::format("fresh worker holds {} files", f), fresh_s, "s").Target(1, false),
      Figure("  content copied", mb / fresh_s, "MB/s")
          .Ratio(mb / fresh_s / raw.batch_mb_per_s, "CURVE DEALER->ROUTER batches"),
  };
  r.latencies = {each, all, master_side};
  r.notes.push_back(
      "checked: the fresh worker's file table (paths, hashes, sizes, modes) equals "
      "the master's");
  r.notes.push_back(
      "fresh-worker time counts from spawning zclusterd: start-up, CURVE handshake, "
      "table, fetches, writes");
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
