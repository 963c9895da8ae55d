// A synced write that runs on its own thread while the caller's loop goes on, the way LevelDB's
// writers wait on one log sync while the next group forms. One write at a time: the caller
// stages the next group while this one is in flight, and acknowledges what a write held only
// after Collect() has said it is durable.
//
// fd() becomes readable when the write in flight has finished, so an event loop can wait for it
// beside its sockets.
//
// Thread-safety: Submit, Collect, busy and fd belong to one thread (the loop); the writer thread
// touches only the batch it was handed and the store, whose writes are thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "zcluster/store/node_store.h"

namespace zcluster::store {

class BackgroundWriter {
 public:
  // Unavailable when the thread or its descriptor cannot be made.
  static Result<std::unique_ptr<BackgroundWriter>> Start(NodeStore& store);
  // Waits for the write in flight (its result is dropped) and ends the thread.
  ~BackgroundWriter();
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Hands `batch` to the writer thread. FailedPrecondition while the last one is not collected.
  Status Submit(StoreBatch batch);
  // The result of the write handed over last; waits for it when it has not finished yet.
  // FailedPrecondition when nothing was submitted.
  Status Collect();
  // A write was submitted and not collected yet.
  bool busy() const { return busy_; }
  int fd() const { return event_fd_; }

 private:
  BackgroundWriter(NodeStore& store, int event_fd) : store_(store), event_fd_(event_fd) {}
  void Loop();

  NodeStore& store_;
  const int event_fd_;
  bool busy_ = false;  // the loop's own view: submitted and not collected
  std::mutex mu_;
  std::condition_variable wake_;
  std::optional<StoreBatch> pending_;  // guarded by mu_
  bool stop_ = false;                  // guarded by mu_
  Status result_;                      // guarded by mu_; set before the fd is signalled
  std::thread thread_;
};

}  // namespace zcluster::store
