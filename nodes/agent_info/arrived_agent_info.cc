#include "agent_info/arrived_agent_info.h"

namespace zcluster::nodes {

Status ArrivedAgentInfo::Take(std::string routing_id, std::string worker, std::string body) {
  // On the heap, so that the views stay where they point when batches_ grows.
  auto kept = std::make_unique<const std::string>(std::move(body));
  Result<schemas::AgentInfoView> view = schemas::ReadAgentInfo(*kept);
  if (!view.ok()) return view.status();
  updates_ += view->updates.size();
  bytes_ += kept->size();
  batches_.push_back(
      {std::move(routing_id), std::move(worker), std::move(kept), std::move(view).value()});
  return Status::Ok();
}

void ArrivedAgentInfo::Clear() {
  batches_.clear();
  updates_ = 0;
  bytes_ = 0;
}

}  // namespace zcluster::nodes
