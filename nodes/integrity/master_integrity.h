// The master's file-integrity flows on a thread of their own (Wazuh's "Local integrity" and the
// sending side of "Integrity sync"): an actor (bus::Actor) that owns MasterFiles and the inotify
// watcher, scans and hashes the file set, answers workers' files syncs and fetches (reading and
// compressing chunks), and hands the loop what to send. The loop only forwards requests and
// sends the results, so no scan or chunk read ever holds up a keepalive or an agent-info ack.
//
// Threading: a MasterIntegrity (the loop's end) belongs to the master's loop thread; everything
// it owns besides the pipe runs on the actor's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "zcluster/bus/actor.h"
#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/schemas/messages.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

class MasterIntegrity {
 public:
  // What the loop caches of the actor's table, for heartbeats, keepalive checks and status.
  struct State {
    std::uint64_t seq = 0;     // files stream position
    std::uint64_t digest = 0;  // FileTableDigest of the table
    bool ready = false;        // the first complete scan is committed
  };
  // Where results go; each is called on the loop thread, from Drain.
  struct Outputs {
    std::function<void(const std::string& routing_id, bus::Frames)> to_worker;
    std::function<void(bus::Frames)> publish;  // a files delta for the PUB socket
    std::function<void(const std::string& client, bus::Frames)> to_control;
  };

  // Loads the table from `store` (which must outlive this) and starts the actor.
  static Result<std::unique_ptr<MasterIntegrity>> Start(zmq::context_t& ctx,
                                                        const ClusterConfig& config,
                                                        store::NodeStore& store, const Logger& log);
  ~MasterIntegrity();

  // Requests from workers the loop has authenticated, and from the control socket.
  void FilesSync(const std::string& routing_id, const std::string& worker,
                 const schemas::FilesSyncRequest& request);
  void FileFetch(const std::string& routing_id, const schemas::FileFetch& request);
  void FileTable(const std::string& control_client);

  // The actor's pipe, for the loop's reactor; Drain handles what it sent.
  zmq::socket_t& socket() { return actor_->socket(); }
  Status Drain(const Outputs& out);
  const State& state() const { return state_; }

 private:
  explicit MasterIntegrity(std::unique_ptr<bus::Actor> actor, State initial)
      : actor_(std::move(actor)), state_(initial) {}
  std::unique_ptr<bus::Actor> actor_;
  State state_;
};

}  // namespace zcluster::nodes
