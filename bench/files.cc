// The files scenario: a fresh worker copies F files of S bytes; then single rule edits on the
// master are timed until each of W workers holds them on disk.
#include <sodium.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
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

Result<std::vector<double>> TimeOneEdit(Deployment& d, const std::vector<std::string>& workers,
                                        std::size_t bytes, std::chrono::milliseconds bound,
                                        double* published_ms) {
  const std::string rel = "/etc/rules/local_rules.xml";
  std::string content = RandomText(bytes);
  std::uint64_t seq_before = 0;
  if (published_ms != nullptr) {
    Result<schemas::NodeStatus> master = d.StatusOf("master");
    if (!master.ok()) return master.status();
    seq_before = master->files_seq;
    *published_ms = -1;
  }
  auto sent = Clock::now();
  {
    std::ofstream out(d.Home("master") + rel, std::ios::trunc | std::ios::binary);
    out << content;
    if (!out) return Status::Unavailable("cannot edit the master's rule file");
  }
  std::vector<double> arrived(workers.size(), -1);
  std::size_t left = workers.size();
  while (left > 0) {
    if (published_ms != nullptr && *published_ms < 0) {
      Result<schemas::NodeStatus> master = d.StatusOf("master");
      if (master.ok() && master->files_seq > seq_before)
        *published_ms = Millis(Clock::now() - sent);
    }
    for (std::size_t i = 0; i < workers.size(); ++i) {
      if (arrived[i] < 0 && Slurp(d.Home(workers[i]) + rel) == content) {
        arrived[i] = Millis(Clock::now() - sent);
        --left;
      }
    }
    if (Clock::now() - sent > bound) return Status::Unavailable("an edit never reached a worker");
    // How often the copies are looked at: the resolution of the figure, not a wait for it.
    if (left > 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
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
  // Where the time goes: until the master has published the change (its files stream moved).
  LatencySeries master_side{
      "  of which until the master published it", {}, std::nullopt, std::nullopt};
  if (o.progress) o.progress(fmt::format("files: {} rule edits", samples));
  for (std::size_t s = 0; s < samples; ++s) {
    double published = -1;
    Result<std::vector<double>> arrived =
        TimeOneEdit(d, workers, bytes, std::chrono::seconds(30), &published);
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
