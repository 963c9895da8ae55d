#include "integrity/worker_integrity.h"

#include <sys/wait.h>

#include <charconv>
#include <optional>

#include "streams/sync_retry.h"
#include "zcluster/bus/reactor.h"
#include "zcluster/nodes/clock.h"

namespace zcluster::nodes {
namespace {

// The pipe's messages: the first frame says what the rest is.
constexpr const char* kFromMaster = "master";  // loop → actor: message frames; actor → loop too
constexpr const char* kDelta = "delta";        // message frames
constexpr const char* kHeartbeat = "hb";       // files stream position
constexpr const char* kUp = "up";              // a session began
constexpr const char* kDown = "down";          // the session ended
constexpr const char* kUnsent = "unsent";      // a message to the master could not be queued
constexpr const char* kTableRequest = "table";  // control client
constexpr const char* kToControl = "ctl";       // control client, message frames
constexpr const char* kState = "state";         // State's fields, in order

// After a message to the master could not be queued, fetches wait this long before the next try.
constexpr std::chrono::milliseconds kSendBackoff{100};
// The engine's own clock: retries, fetch pumping, reaping the reload command.
constexpr std::chrono::milliseconds kTick{100};

template <typename T>
T Parse(const std::string& s) {
  T v{};
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bus::Frames EncodeState(const WorkerIntegrity::State& s) {
  return {kState,
          std::to_string(s.applied),
          std::to_string(s.digest),
          fmt::format("{:.6f}", s.last_sync.start),
          fmt::format("{:.6f}", s.last_sync.end),
          std::to_string(s.last_sync.created),
          std::to_string(s.last_sync.updated),
          std::to_string(s.last_sync.deleted),
          s.synced ? "1" : "0",
          std::to_string(s.downloading)};
}

std::optional<WorkerIntegrity::State> DecodeState(const bus::Frames& f) {
  if (f.size() != 10) return std::nullopt;
  WorkerIntegrity::State s;
  s.applied = Parse<std::uint64_t>(f[1]);
  s.digest = Parse<std::uint64_t>(f[2]);
  s.last_sync.start = std::strtod(f[3].c_str(), nullptr);
  s.last_sync.end = std::strtod(f[4].c_str(), nullptr);
  s.last_sync.created = Parse<std::uint64_t>(f[5]);
  s.last_sync.updated = Parse<std::uint64_t>(f[6]);
  s.last_sync.deleted = Parse<std::uint64_t>(f[7]);
  s.synced = f[8] == "1";
  s.downloading = Parse<std::size_t>(f[9]);
  return s;
}

WorkerIntegrity::State StateOf(const WorkerFiles& files) {
  return {files.applied(), files.digest(), files.last_sync(), files.synced(), files.downloading()};
}

// Everything that runs on the actor's thread.
class Engine {
 public:
  Engine(const ClusterConfig& config, std::unique_ptr<WorkerFiles> files, const Logger& log,
         bus::PipeEnd& pipe)
      : config_(config), files_(std::move(files)), log_(log), pipe_(pipe) {}

  void Run() {
    bus::Reactor reactor;
    reactor.AddReader(pipe_.socket(), [&] {
      Status s = OnPipe(reactor);
      AfterEvents();
      return s;
    });
    reactor.AddTimer(reactor.now(), [this](SteadyClock::time_point now) {
      Tick(now);
      AfterEvents();
      return std::optional(now + kTick);
    });
    auto interval = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(config_.intervals.integrity_check));
    reactor.AddTimer(reactor.now() + interval, [this, interval](SteadyClock::time_point now) {
      CheckIntegrity();
      AfterEvents();
      return std::optional(now + interval);
    });
    if (Status s = reactor.Run(); !s.ok()) log_.Error("Integrity sync", "{}", s.ToString());
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
      Handle(f);
    }
    return Status::Ok();
  }

  void Handle(const bus::Frames& f) {
    const std::string& kind = f[0];
    if (kind == kFromMaster || kind == kDelta) {
      Result<schemas::Message> m = schemas::Decode(bus::WithoutFirst(f, 1));
      if (!m.ok()) {
        log_.Warning("Integrity sync", "Malformed message from master: {}", m.status().message());
        return;
      }
      if (const auto* delta = std::get_if<schemas::FilesDelta>(&*m)) {
        RequestSync(files_->OnDelta(*delta));
      } else if (const auto* sync = std::get_if<schemas::FilesSync>(&*m)) {
        RequestSync(files_->OnSync(*sync));
      } else if (const auto* data = std::get_if<schemas::FileData>(&*m)) {
        if (Status s = files_->OnData(*data); !s.ok()) {
          log_.Error("Integrity sync", "{}", s.ToString());
        }
      }
    } else if (kind == kHeartbeat && f.size() == 2) {
      RequestSync(files_->OnHeartbeat({"files", Parse<std::uint64_t>(f[1])}));
    } else if (kind == kUp) {
      connected_ = true;
      files_->SessionLost();
      RequestSync(files_->Start());  // subscribed already: now the snapshot
    } else if (kind == kDown) {
      connected_ = false;
    } else if (kind == kUnsent) {
      files_->SessionLost();
      hold_fetches_until_ = SteadyClock::now() + kSendBackoff;
    } else if (kind == kTableRequest && f.size() == 2) {
      Send(bus::WithPrefix({kToControl, f[1]}, schemas::Encode(files_->Table())));
    }
  }

  // Asks the master for the files stream from where we are, when `needed` says so.
  void RequestSync(const Result<bool>& needed) {
    if (!needed.ok()) {
      log_.Error("Integrity sync", "{}", needed.status().ToString());
      return;
    }
    if (!*needed || !connected_) return;
    Send(bus::WithPrefix({kFromMaster},
                         schemas::Encode(schemas::FilesSyncRequest{files_->sync_from()})));
    sync_retry_.Sent(SteadyClock::now());
  }

  void Tick(SteadyClock::time_point now) {
    if (connected_ && sync_retry_.Due(now, files_->syncing())) RequestSync(true);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }  // reload commands that finished
  }

  // Our own copy against the master's table; drift is repaired.
  void CheckIntegrity() {
    if (!files_->synced() || files_->syncing() || files_->busy()) return;
    log_.Debug("Integrity check", "Checking {} against the files stream at {}", config_.home,
               files_->applied());
    if (Status s = files_->Reconcile(true); !s.ok()) {
      log_.Error("Integrity check", "{}", s.ToString());
    }
  }

  // Fills the fetch window and tells the loop what changed.
  void AfterEvents() {
    if (connected_ && SteadyClock::now() >= hold_fetches_until_) {
      while (std::optional<schemas::FileFetch> fetch = files_->NextFetch()) {
        Send(bus::WithPrefix({kFromMaster}, schemas::Encode(*fetch)));
      }
    }
    bus::Frames state = EncodeState(StateOf(*files_));
    if (state != last_state_) {
      Send(state);
      last_state_ = std::move(state);
    }
  }

  void Send(bus::Frames f) {
    // The pipe has no high-water mark: this fails only while the loop is tearing down.
    pipe_.Send(std::move(f)).IgnoreError();
  }

  ClusterConfig config_;
  std::unique_ptr<WorkerFiles> files_;
  Logger log_;
  bus::PipeEnd& pipe_;
  bool connected_ = false;
  SyncRetry sync_retry_;
  SteadyClock::time_point hold_fetches_until_{};
  bus::Frames last_state_;
};

}  // namespace

WorkerIntegrity::WorkerIntegrity(std::unique_ptr<bus::Actor> actor, State initial)
    : actor_(std::move(actor)),
      state_(initial),
      sync_type_(schemas::Encode(schemas::FilesSync{})[0]),
      data_type_(schemas::Encode(schemas::FileData{})[0]) {}

Result<std::unique_ptr<WorkerIntegrity>> WorkerIntegrity::Start(zmq::context_t& ctx,
                                                                const ClusterConfig& config,
                                                                store::NodeStore& store,
                                                                const Logger& log) {
  WorkerFilesParams params;
  params.reload_command = config.reload_command;
  Result<std::unique_ptr<WorkerFiles>> files =
      WorkerFiles::Load(store, FileScanner(config.home, FileSet::FromConfig(config)), log, params);
  if (!files.ok()) return files.status();
  State initial = StateOf(**files);
  // Moved into the thread whole: the files flow never meets the loop thread again.
  auto owned = std::make_shared<std::unique_ptr<WorkerFiles>>(std::move(files).value());
  Result<std::unique_ptr<bus::Actor>> actor =
      bus::Actor::Start(ctx, [config, log, owned](bus::PipeEnd& pipe) {
        Engine(config, std::move(*owned), log, pipe).Run();
      });
  if (!actor.ok()) return actor.status();
  return std::unique_ptr<WorkerIntegrity>(new WorkerIntegrity(std::move(actor).value(), initial));
}

WorkerIntegrity::~WorkerIntegrity() = default;

bool WorkerIntegrity::Takes(const bus::Frames& frames) const {
  return !frames.empty() && (frames[0] == sync_type_ || frames[0] == data_type_);
}

void WorkerIntegrity::FromMaster(bus::Frames frames) {
  actor_->Send(bus::WithPrefix({kFromMaster}, std::move(frames))).IgnoreError();
}

void WorkerIntegrity::OnDelta(bus::Frames frames) {
  actor_->Send(bus::WithPrefix({kDelta}, std::move(frames))).IgnoreError();
}

void WorkerIntegrity::OnHeartbeat(const schemas::StreamHeartbeat& heartbeat) {
  actor_->Send({kHeartbeat, std::to_string(heartbeat.seq)}).IgnoreError();
}

void WorkerIntegrity::SessionStarted() { actor_->Send({kUp}).IgnoreError(); }
void WorkerIntegrity::SessionEnded() { actor_->Send({kDown}).IgnoreError(); }

void WorkerIntegrity::FileTable(const std::string& control_client) {
  actor_->Send({kTableRequest, control_client}).IgnoreError();
}

Status WorkerIntegrity::Drain(const Outputs& out) {
  for (int budget = 1000; budget > 0; --budget) {
    Result<std::optional<bus::Frames>> got = actor_->Receive();
    if (!got.ok()) return got.status();
    if (!got->has_value()) return Status::Ok();
    bus::Frames& f = **got;
    // A dead integrity flow stops the node with its reason, rather than leave it up unsynced.
    if (Status ended = bus::Actor::Ended(f); !ended.ok()) {
      return Status::Internal("the integrity thread stopped: " + ended.message());
    }
    if (f[0] == kFromMaster) {
      if (!out.to_master(bus::WithoutFirst(std::move(f), 1))) {
        actor_->Send({kUnsent}).IgnoreError();
      }
    } else if (f[0] == kToControl && f.size() >= 2) {
      std::string client = std::move(f[1]);
      out.to_control(client, bus::WithoutFirst(std::move(f), 2));
    } else if (std::optional<State> s = f[0] == kState ? DecodeState(f) : std::nullopt) {
      state_ = *s;
    }
  }
  return Status::Ok();
}

}  // namespace zcluster::nodes
