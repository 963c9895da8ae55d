// The worker node: the composition of its flows (keepalive, the agent port and agent info, the
// groups and files receivers, integrity check and sync) and the control socket.
//
// Run() is the event loop (one reactor; the integrity flows run on their actor thread); it owns
// every cluster socket and returns when `stop_fd` is readable.
#pragma once

#include <memory>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/nodes/key_material.h"
#include "zcluster/nodes/process.h"
#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> Start(const ClusterConfig& config, KeyMaterial keys,
                                               ClusterLog& log);
  ~Worker();
  Status Run(int stop_fd);
  // What Start() bound; the kernel's choice where the config says port 0.
  ListeningPorts ports() const;

 private:
  struct Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zcluster::nodes
