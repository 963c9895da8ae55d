// The worker node: the composition of its flows. This flows: keepalive (MasterLink) and
// the control socket. Later flows (agent port, agent info, groups and integrity receivers) join.
//
// Run() is the event loop; it owns every socket and returns when `stop_fd` is readable.
#pragma once

#include <memory>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/nodes/key_material.h"
#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> Start(const ClusterConfig& config, KeyMaterial keys,
                                               ClusterLog& log);
  ~Worker();
  Status Run(int stop_fd);

 private:
  struct Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zcluster::nodes
