#include "integrity/master_integrity.h"

#include <charconv>
#include <optional>
#include <set>
#include <vector>

#include "integrity/file_watcher.h"
#include "integrity/master_files.h"
#include "streams/delta_chunks.h"
#include "zcluster/bus/reactor.h"

namespace zcluster::nodes {
namespace {

// The pipe's messages: the first frame says what the rest is.
constexpr const char* kSyncRequest = "sync";    // routing id, worker, from
constexpr const char* kFetchRequest = "fetch";  // routing id, file_fetch frames
constexpr const char* kTableRequest = "table";  // control client
constexpr const char* kToWorker = "to";         // routing id, message frames
constexpr const char* kPublish = "pub";         // message frames
constexpr const char* kToControl = "ctl";       // control client, message frames
constexpr const char* kState = "state";         // seq, digest, ready

std::optional<std::uint64_t> ParseU64(const std::string& s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Everything that runs on the actor's thread.
class Engine {
 public:
  Engine(const ClusterConfig& config, std::unique_ptr<MasterFiles> files,
         std::optional<FileWatcher> watcher, const Logger& log, bus::PipeEnd& pipe)
      : config_(config),
        files_(std::move(files)),
        watcher_(std::move(watcher)),
        log_(log),
        pipe_(pipe) {}

  void Run() {
    bus::Reactor reactor;
    reactor.AddReader(pipe_.socket(), [&] { return OnPipe(reactor); });
    bus::Reactor::TimerId rescan =
        reactor.AddTimer(reactor.now(), [this](SteadyClock::time_point t) {
          Rescan(t);
          return std::optional(next_rescan_);
        });
    if (watcher_) {
      reactor.AddReader(watcher_->fd(), [this, &reactor, rescan] {
        // Due at once: the reactor drains every event queued meanwhile before the scan, so a
        // burst is still one scan, and a file closed by its writer is published without delay.
        if (NoteFileEvents()) reactor.Wake(rescan, reactor.now());
        return Status::Ok();
      });
    }
    if (Status s = reactor.Run(); !s.ok()) log_.Error("Local integrity", "{}", s.ToString());
  }

 private:
  Status OnPipe(bus::Reactor& reactor) {
    for (int budget = 1000; budget > 0; --budget) {
      Result<std::optional<bus::Frames>> got = pipe_.Receive();
      if (!got.ok()) return got.status();
      if (!got->has_value()) break;
      const bus::Frames& f = **got;
      if (bus::Actor::IsTerm(f)) {
        reactor.Stop();
        return Status::Ok();
      }
      if (f[0] == kSyncRequest && f.size() == 4) {
        std::optional<std::uint64_t> from = ParseU64(f[3]);
        if (!files_->ready()) {
          waiting_.push_back({f[1], f[2], from.value_or(0)});  // answered after the first scan
        } else {
          AnswerSync(f[1], f[2], from.value_or(0));
        }
      } else if (f[0] == kFetchRequest && f.size() >= 2) {
        Result<schemas::Message> m = schemas::Decode(bus::WithoutFirst(f, 2));
        if (const auto* fetch = m.ok() ? std::get_if<schemas::FileFetch>(&*m) : nullptr) {
          Send(bus::WithPrefix({kToWorker, f[1]}, schemas::Encode(files_->Serve(*fetch))));
        }
      } else if (f[0] == kTableRequest && f.size() == 2) {
        Send(bus::WithPrefix({kToControl, f[1]}, schemas::Encode(files_->Table())));
      }
    }
    return Status::Ok();
  }

  void Send(bus::Frames f) {
    // The pipe has no high-water mark: this fails only while the loop is tearing down.
    pipe_.Send(std::move(f)).IgnoreError();
  }

  void SendState() {
    Send({kState, std::to_string(files_->seq()), std::to_string(files_->digest()),
          files_->ready() ? "1" : "0"});
  }

  void AnswerSync(const std::string& routing_id, const std::string& worker, std::uint64_t from) {
    Result<schemas::FilesSync> sync = files_->SyncFrom(from);
    schemas::Message reply =
        sync.ok() ? schemas::Message(*sync)
                  : schemas::ErrorReply{sync.status().code(), sync.status().message(),
                                        "files_sync_request"};
    if (sync.ok()) {
      log_.WithTag("Worker " + worker)
          .At(sync->full || !sync->changes.empty() ? LogLevel::kInfo : LogLevel::kDebug,
              "Integrity check", "Sync from {}: {} to {}", from,
              sync->full ? fmt::format("whole table, {} files", sync->files.size())
                         : fmt::format("{} changes", sync->changes.size()),
              sync->seq);
    }
    Send(bus::WithPrefix({kToWorker, routing_id}, schemas::Encode(reply)));
  }

  bool NoteFileEvents() {
    bool other = false;
    if (!watcher_->Drain(&closed_files_, &other)) return false;
    // A file its writer has closed is settled already: no need to wait for its mtime to age.
    other_file_events_ = other_file_events_ || other;
    return true;
  }

  void Rescan(SteadyClock::time_point now) {
    auto start = SteadyClock::now();
    Result<MasterFiles::Changes> changes = MasterFiles::Changes{};
    bool quick = files_->ready() && !other_file_events_ && !retry_unsettled_ &&
                 !closed_files_.empty() && now < next_full_rescan_;
    if (quick) {
      // Only files were written: look at those, not at the whole tree.
      changes = files_->RescanFiles(closed_files_);
    } else {
      std::size_t unsettled = 0;
      changes = files_->Rescan(&unsettled, &closed_files_);
      if (watcher_) watcher_->WatchAll(config_.home, FileSet::FromConfig(config_));
      next_full_rescan_ =
          now + std::chrono::duration_cast<SteadyClock::duration>(
                    std::chrono::duration<double>(config_.intervals.local_integrity));
      retry_unsettled_ = unsettled > 0;
    }
    closed_files_.clear();
    other_file_events_ = false;
    next_rescan_ = next_full_rescan_;
    // A file still being written is looked at again soon, and published once it has settled.
    if (retry_unsettled_) {
      next_rescan_ = std::min(next_rescan_, now + std::chrono::milliseconds(50));
    }
    if (!changes.ok()) {
      log_.Error("Local integrity", "{}", changes.status().ToString());
      return;
    }
    if (!changes->empty()) {
      std::size_t deleted = 0;
      for (const auto& c : *changes) deleted += c.deleted ? 1 : 0;
      log_.Info("Local integrity",
                "{} files changed, {} deleted; stream at {}. Finished in {:.3f}s.",
                changes->size() - deleted, deleted, files_->seq(),
                std::chrono::duration<double>(SteadyClock::now() - start).count());
      ForEachDelta<schemas::FilesDelta>(*changes, static_cast<std::size_t>(config_.delta_batch),
                                        [this](const schemas::FilesDelta& d) {
                                          Send(bus::WithPrefix({kPublish}, schemas::Encode(d)));
                                        });
    }
    // After the deltas: the loop's heartbeat never announces a position before its delta.
    if (!changes->empty() || files_->ready() != was_ready_) SendState();
    was_ready_ = files_->ready();
    if (files_->ready()) {
      for (const Waiting& w : waiting_) AnswerSync(w.routing_id, w.worker, w.from);
      waiting_.clear();
    }
  }

  struct Waiting {
    std::string routing_id, worker;
    std::uint64_t from;
  };
  ClusterConfig config_;
  std::unique_ptr<MasterFiles> files_;
  std::optional<FileWatcher> watcher_;
  Logger log_;
  bus::PipeEnd& pipe_;
  std::vector<Waiting> waiting_;
  std::set<std::string> closed_files_;  // written and closed since the last rescan
  bool other_file_events_ = false;      // since the last rescan: only a full one will do
  bool retry_unsettled_ = false;        // the last full rescan met files mid-write
  bool was_ready_ = false;
  SteadyClock::time_point next_full_rescan_{};
  SteadyClock::time_point next_rescan_{};
};

}  // namespace

Result<std::unique_ptr<MasterIntegrity>> MasterIntegrity::Start(zmq::context_t& ctx,
                                                                const ClusterConfig& config,
                                                                store::NodeStore& store,
                                                                const Logger& log) {
  Result<std::unique_ptr<MasterFiles>> files =
      MasterFiles::Load(store, FileScanner(config.home, FileSet::FromConfig(config)), log);
  if (!files.ok()) return files.status();
  std::optional<FileWatcher> watcher;
  if (Result<FileWatcher> w = FileWatcher::Open(); w.ok()) {
    watcher.emplace(std::move(w).value());
    watcher->WatchAll(config.home, FileSet::FromConfig(config));
  } else {
    log.Warning("Local integrity", "No inotify ({}): rescanning every {}s only",
                w.status().message(), config.intervals.local_integrity);
  }
  State initial{(*files)->seq(), (*files)->digest(), false};
  // Moved into the thread whole: the engine and what it owns never meet the loop thread again.
  auto engine =
      std::make_shared<std::pair<std::unique_ptr<MasterFiles>, std::optional<FileWatcher>>>(
          std::move(files).value(), std::move(watcher));
  Result<std::unique_ptr<bus::Actor>> actor =
      bus::Actor::Start(ctx, [config, log, engine](bus::PipeEnd& pipe) {
        Engine(config, std::move(engine->first), std::move(engine->second), log, pipe).Run();
      });
  if (!actor.ok()) return actor.status();
  return std::unique_ptr<MasterIntegrity>(new MasterIntegrity(std::move(actor).value(), initial));
}

MasterIntegrity::~MasterIntegrity() = default;

void MasterIntegrity::FilesSync(const std::string& routing_id, const std::string& worker,
                                const schemas::FilesSyncRequest& request) {
  actor_->Send({kSyncRequest, routing_id, worker, std::to_string(request.from)}).IgnoreError();
}

void MasterIntegrity::FileFetch(const std::string& routing_id, const schemas::FileFetch& request) {
  actor_->Send(bus::WithPrefix({kFetchRequest, routing_id}, schemas::Encode(request)))
      .IgnoreError();
}

void MasterIntegrity::FileTable(const std::string& control_client) {
  actor_->Send({kTableRequest, control_client}).IgnoreError();
}

Status MasterIntegrity::Drain(const Outputs& out) {
  for (int budget = 1000; budget > 0; --budget) {
    Result<std::optional<bus::Frames>> got = actor_->Receive();
    if (!got.ok()) return got.status();
    if (!got->has_value()) return Status::Ok();
    bus::Frames& f = **got;
    // A dead integrity flow stops the node with its reason, rather than leave it up unsynced.
    if (Status ended = bus::Actor::Ended(f); !ended.ok()) {
      return Status::Internal("the integrity thread stopped: " + ended.message());
    }
    if (f[0] == kToWorker && f.size() >= 2) {
      std::string routing_id = std::move(f[1]);
      out.to_worker(routing_id, bus::WithoutFirst(std::move(f), 2));
    } else if (f[0] == kPublish) {
      out.publish(bus::WithoutFirst(std::move(f), 1));
    } else if (f[0] == kToControl && f.size() >= 2) {
      std::string client = std::move(f[1]);
      out.to_control(client, bus::WithoutFirst(std::move(f), 2));
    } else if (f[0] == kState && f.size() == 4) {
      state_ = {ParseU64(f[1]).value_or(0), ParseU64(f[2]).value_or(0), f[3] == "1"};
    }
  }
  return Status::Ok();
}

}  // namespace zcluster::nodes
