// The worker's file-integrity flows on a thread of their own (Wazuh's "Integrity check" and
// "Integrity sync"): an actor (bus::Actor) that owns WorkerFiles, follows the files stream,
// installs files (temp file, fsync or syncfs, rename), checks its copy for drift and runs the
// reload command. The loop forwards the files messages it receives and sends the requests the
// actor hands it, so no install or hash ever holds up a keepalive or an agent report.
//
// Threading: a WorkerIntegrity (the loop's end) belongs to the worker's loop thread; everything
// it owns besides the pipe runs on the actor's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "integrity/worker_files.h"
#include "zcluster/bus/actor.h"
#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

class WorkerIntegrity {
 public:
  // What the loop caches of the actor's state, for keepalives and status.
  struct State {
    std::uint64_t applied = 0;  // files stream position
    std::uint64_t digest = 0;   // FileTableDigest of what is on disk
    IntegritySyncStats last_sync;
    bool synced = false;  // a sync with the master was applied in this process
    std::size_t downloading = 0;
  };
  struct Outputs {
    // Sends to the master; false when it could not be queued.
    std::function<bool(bus::Frames)> to_master;
    std::function<void(const std::string& client, bus::Frames)> to_control;
  };

  static Result<std::unique_ptr<WorkerIntegrity>> Start(zmq::context_t& ctx,
                                                        const ClusterConfig& config,
                                                        store::NodeStore& store, const Logger& log);
  ~WorkerIntegrity();

  // True for the frames of a message this flow takes from the master's DEALER replies
  // (files_sync, file_data); those go to FromMaster undecoded.
  bool Takes(const bus::Frames& frames) const;
  void FromMaster(bus::Frames frames);
  // The stream's messages: a files delta (undecoded) and the files stream's heartbeat.
  void OnDelta(bus::Frames frames);
  void OnHeartbeat(const schemas::StreamHeartbeat& heartbeat);
  // A session with the master began (sync from where we are) or ended (nothing in flight will
  // be answered; send nothing until the next one).
  void SessionStarted();
  void SessionEnded();
  void FileTable(const std::string& control_client);

  zmq::socket_t& socket() { return actor_->socket(); }
  Status Drain(const Outputs& out);
  const State& state() const { return state_; }

 private:
  WorkerIntegrity(std::unique_ptr<bus::Actor> actor, State initial);
  std::unique_ptr<bus::Actor> actor_;
  State state_;
  std::string sync_type_, data_type_;  // the type frames of files_sync and file_data
};

}  // namespace zcluster::nodes
