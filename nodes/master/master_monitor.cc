// The master's monitor view: its own counters and every worker's, with the lags and keepalive
// times that only the master knows.
#include <algorithm>

#include "master/master_impl.h"

namespace zcluster::nodes {

schemas::NodeStats Master::Impl::OwnStats() const {
  schemas::NodeStats s = monitor.Stats();
  s.state = "up";
  s.groups_seq = groups->seq();
  s.files_seq = integrity->state().seq;
  SetAgentCounts(s, agents->CountByStatus());
  return s;
}

schemas::ClusterStats Master::Impl::ClusterView() const {
  schemas::ClusterStats view{config.name, config.node_name, schemas::kProtocolVersion, {}};
  view.nodes.push_back(OwnStats());
  std::map<std::string, double> last_keepalive;
  for (const schemas::NodeInfo& n : sessions.Connected()) last_keepalive[n.name] = n.last_keepalive;
  const std::uint64_t groups_head = groups->seq();
  const std::uint64_t files_head = integrity->state().seq;
  for (const auto& [name, stats] : worker_stats) {
    schemas::NodeStats w = stats;
    auto seen = last_keepalive.find(name);
    w.state = seen != last_keepalive.end() ? "up" : "down";
    if (seen != last_keepalive.end()) w.last_keepalive = seen->second;
    // The stats come every second, keepalives every <keep_alive>: the later position wins.
    if (auto ka = worker_state.find(name); ka != worker_state.end()) {
      w.groups_seq = std::max(w.groups_seq, ka->second.groups_seq);
      w.files_seq = std::max(w.files_seq, ka->second.files_seq);
    }
    w.groups_lag = groups_head > w.groups_seq ? groups_head - w.groups_seq : 0;
    w.files_lag = files_head > w.files_seq ? files_head - w.files_seq : 0;
    view.nodes.push_back(std::move(w));
  }
  return view;
}

}  // namespace zcluster::nodes
