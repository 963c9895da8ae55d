// Measures the agent-info lag the way an administrator would see it: one agent reports a change
// through a worker's agent port, and the probe asks the master until its table shows the change.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "zcluster/bench/deployment.h"
#include "zcluster/nodes/agent_auth.h"
#include "zcluster/nodes/client_keys.h"

namespace zcluster::bench {

class AgentProbe {
 public:
  // `agents[i]` reports through `workers[i]`; none of them may be driven by anything else.
  static Result<std::unique_ptr<AgentProbe>> Open(Deployment& d,
                                                  const std::vector<std::string>& workers,
                                                  const std::vector<nodes::ClientKey>& agents);
  // One report with a new label through worker `i`; milliseconds until the master shows it.
  // `pause` between two looks at the master: under full load a probe that asks without one takes
  // a share of the cores from the flows it measures.
  Result<double> Sample(std::size_t i, std::chrono::milliseconds bound,
                        std::chrono::microseconds pause = std::chrono::microseconds(0));
  std::size_t size() const { return agents_.size(); }

 private:
  struct ProbeAgent {
    nodes::ClientKey key;
    nodes::AgentMacKey mac;
    std::uint64_t counter = 0;
  };
  explicit AgentProbe(Deployment& d) : d_(d) {}
  Deployment& d_;
  zmq::context_t ctx_{1};
  std::vector<bus::DealerSocket> sockets_;
  std::vector<ProbeAgent> agents_;
};

}  // namespace zcluster::bench
