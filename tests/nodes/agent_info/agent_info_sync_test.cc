// The worker's agent-info flow toward the master, with an injected clock and a fake link: the
// window of batches in flight, acks, send failures, stale batches and new sessions.
#include "agent_info/agent_info_sync.h"

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  testing::TempDir dir;
  ClusterLog log{false};
  std::unique_ptr<store::NodeStore> store;
  std::unique_ptr<WorkerAgents> agents;
  std::optional<AgentInfoSync> sync;
  SteadyClock::time_point t0 = SteadyClock::now();
  std::vector<schemas::AgentInfoBatch> sent;
  bool link_up = true;

  Fixture() {
    store = std::move(store::NodeStore::Open(dir / "db", {"c", "w1", "worker"})).value();
    WorkerAgentsParams params;
    params.node = "w1";
    params.max_batch_updates = 2;
    params.max_in_flight = 2;
    params.ack_timeout = 10s;
    agents = std::move(WorkerAgents::Load(*store, params)).value();
    sync.emplace(*agents, Logger(log, "Worker w1"));
    for (int i = 1; i <= 5; ++i) {
      schemas::AgentState s;
      s.name = "agent" + std::to_string(i);
      s.last_keepalive = 100;
      REQUIRE(agents->Apply({{"00" + std::to_string(i), 1, s}}, t0).ok());
    }
  }
  std::size_t Pump(SteadyClock::time_point now) {
    std::size_t before = sent.size();
    sync->Pump(now, [this](const schemas::AgentInfoBatch& b) {
      if (link_up) sent.push_back(b);
      return link_up;
    });
    return sent.size() - before;
  }
  void Ack(const schemas::AgentInfoBatch& b, SteadyClock::time_point now) {
    REQUIRE(sync->OnAck({b.batch, {}, {}}, now).ok());
  }
};

std::size_t Updates(const std::vector<schemas::AgentInfoBatch>& batches) {
  std::size_t n = 0;
  for (const auto& b : batches) n += b.updates.size();
  return n;
}

}  // namespace

TEST_CASE("batches fill the window, and each ack makes room for the next",
          "[nodes][agents][sync]") {
  Fixture f;
  CHECK(f.Pump(f.t0) == 2);  // two in flight, two agents each
  CHECK(f.Pump(f.t0) == 0);
  f.Ack(f.sent[0], f.t0);
  CHECK(f.Pump(f.t0) == 1);
  f.Ack(f.sent[1], f.t0);
  f.Ack(f.sent[2], f.t0);
  CHECK(f.Pump(f.t0) == 0);
  CHECK(Updates(f.sent) == 5);
  CHECK(f.agents->pending() == 0);
}

TEST_CASE("a batch that could not be sent goes out with the next pump", "[nodes][agents][sync]") {
  Fixture f;
  f.link_up = false;
  CHECK(f.Pump(f.t0) == 0);
  f.link_up = true;
  CHECK(f.Pump(f.t0) == 2);
  CHECK(Updates(f.sent) == 4);
}

TEST_CASE("batches unacknowledged past the timeout or lost with a session are sent again",
          "[nodes][agents][sync]") {
  Fixture f;
  REQUIRE(f.Pump(f.t0) == 2);
  SECTION("timeout") {
    REQUIRE(f.sync->Housekeeping(f.t0 + 5s).ok());
    CHECK(f.Pump(f.t0 + 5s) == 0);  // not yet stale
    REQUIRE(f.sync->Housekeeping(f.t0 + 11s).ok());
    CHECK(f.Pump(f.t0 + 11s) == 2);
  }
  SECTION("new session or new connection") {
    CHECK(f.sync->SendInFlightAgain() == 2);
    CHECK(f.Pump(f.t0) == 2);
  }
  // Whatever was resent, every agent is still pending until an ack covers it.
  CHECK(f.agents->pending() == 5);
  std::vector<schemas::AgentInfoBatch> resent(f.sent.begin() + 2, f.sent.end());
  for (const auto& b : resent) f.Ack(b, f.t0 + 12s);
  CHECK(f.agents->pending() == 1);
}
