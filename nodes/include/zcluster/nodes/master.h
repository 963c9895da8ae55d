// The master node: the composition of its flows (keepalive, agent info, local agent-groups and
// their send, local integrity and the sending side of integrity sync) and the control socket.
//
// Start() brings the node up in the only safe order: store (refuses another cluster's data), ZAP
// handler, then the CURVE ROUTER (which cannot be made without the handler), then the control
// socket. Run() is the event loop (one reactor; the integrity flows run on their actor thread);
// it owns every cluster socket and returns when `stop_fd` is readable.
#pragma once

#include <memory>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/nodes/key_material.h"
#include "zcluster/nodes/process.h"
#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

class Master {
 public:
  static Result<std::unique_ptr<Master>> Start(const ClusterConfig& config, KeyMaterial keys,
                                               ClusterLog& log);
  ~Master();
  Status Run(int stop_fd);
  // What Start() bound; the kernel's choice where the config says port 0.
  ListeningPorts ports() const;

 private:
  struct Impl;
  explicit Master(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zcluster::nodes
