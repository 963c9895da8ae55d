// A master's agent table on a store in a temporary directory, with one registered agent, for the
// MasterAgents tests.
#pragma once

#include <catch2/catch.hpp>

#include "agent_info/master_agents.h"
#include "support/temp_dir.h"

namespace zcluster::testing {

// Applies `batch` as the master's loop takes it off the wire: encoded, then read in place.
inline Result<std::vector<schemas::AgentInfoAck>> ApplyFromWire(
    nodes::MasterAgents& agents, const std::string& worker, const schemas::AgentInfoBatch& batch,
    std::vector<std::string>* saved) {
  const std::string body = schemas::Encode(batch)[1];
  Result<schemas::AgentInfoView> view = schemas::ReadAgentInfo(body);
  if (!view.ok()) return view.status();
  return agents.ApplyAll({{&worker, &*view}}, saved);
}

struct MasterAgentsFixture {
  TempDir dir;
  nodes::ClusterLog log{false};
  std::unique_ptr<store::NodeStore> store;
  std::unique_ptr<nodes::MasterAgents> agents;
  std::string id;

  MasterAgentsFixture() {
    nodes::ClientKeys keys;
    id = keys.Add("web-1", "any")->id;
    REQUIRE(keys.Save(dir / "client.keys").ok());
    store = std::move(store::NodeStore::Open(dir / "db", {"c", "master", "master"})).value();
    agents = std::move(nodes::MasterAgents::Load(*store, dir / "client.keys",
                                                 nodes::Logger(log, "Master")))
                 .value();
  }
  void Send(const std::string& worker, schemas::AgentUpdate update) {
    schemas::AgentInfoBatch batch{1, 0, {std::move(update)}};
    std::vector<std::string> saved;
    Result<std::vector<schemas::AgentInfoAck>> acks = ApplyFromWire(*agents, worker, batch, &saved);
    REQUIRE(acks.ok());
    CHECK(acks->at(0).unknown.empty());  // acknowledged, applied or not
  }
  void Restart() {
    agents.reset();
    agents = std::move(nodes::MasterAgents::Load(*store, dir / "client.keys",
                                                 nodes::Logger(log, "Master")))
                 .value();
  }
  // Rows of `table`, and their bytes.
  std::pair<std::size_t, std::size_t> Rows(store::Table table) {
    std::pair<std::size_t, std::size_t> n{0, 0};
    REQUIRE(store
                ->ForEach(table,
                          [&](std::string_view, std::string_view value) {
                            ++n.first;
                            n.second += value.size();
                            return Status::Ok();
                          })
                .ok());
    return n;
  }
  schemas::AgentRecord Record() {
    Result<schemas::AgentList> list = agents->List({id});
    REQUIRE(list.ok());
    REQUIRE(list->agents.size() == 1);
    return list->agents[0];
  }
};

inline schemas::AgentState State(const std::string& version, std::uint64_t keepalive) {
  schemas::AgentState s;
  s.name = "web-1";
  s.version = version;
  s.labels = {{"site", version}};
  s.last_keepalive = keepalive;
  return s;
}

}  // namespace zcluster::testing
