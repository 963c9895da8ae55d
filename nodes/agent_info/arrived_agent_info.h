// The master's group commit of agent-info batches: batches read from the router queue wait here
// until the queue is drained or the group is full, then share one synced write. Each batch is
// read in place, so the frame its views point into waits with it; the group is bounded by updates
// and by frame bytes, because a key sending frames full of fields nobody reads must not pile up
// a thousand 16 MiB frames before the write.
//
// Threading: owned by the master's loop thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "zcluster/schemas/agent_info_view.h"

namespace zcluster::nodes {

class ArrivedAgentInfo {
 public:
  struct Batch {
    std::string routing_id, worker;
    std::unique_ptr<const std::string> body;  // the frame `view` points into
    schemas::AgentInfoView view;
  };

  ArrivedAgentInfo(std::size_t max_updates, std::size_t max_bytes)
      : max_updates_(max_updates), max_bytes_(max_bytes) {}

  // Reads `body` in place and keeps it; InvalidArgument naming the field when it is not an
  // agent_info body, and then nothing is kept.
  Status Take(std::string routing_id, std::string worker, std::string body);
  // Time for the write: the updates or the frames waiting reached their bound.
  bool full() const { return updates_ >= max_updates_ || bytes_ >= max_bytes_; }
  bool empty() const { return batches_.empty(); }
  const std::vector<Batch>& batches() const { return batches_; }
  std::size_t updates() const { return updates_; }
  std::size_t bytes() const { return bytes_; }
  // After the write (or its failure) has been answered.
  void Clear();

 private:
  std::size_t max_updates_, max_bytes_;
  std::vector<Batch> batches_;
  std::size_t updates_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace zcluster::nodes
