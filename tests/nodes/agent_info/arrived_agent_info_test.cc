// The master's group commit of agent-info batches: full by updates or by frame bytes, whichever
// comes first; a body that is not agent_info is refused and leaves nothing behind; the views of
// every batch kept still read their frames after many more arrived.
#include "agent_info/arrived_agent_info.h"

#include <catch2/catch.hpp>
#include <msgpack.hpp>

#include "zcluster/schemas/messages.h"

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

// A body of `updates` keepalive-only updates (ids from `first`), and a field nobody reads of
// `padding` bytes: what a worker's key may send to make frames large and updates few.
std::string Body(std::uint32_t updates, std::size_t padding, std::uint32_t first = 1) {
  schemas::AgentInfoBatch batch{7, 0, {}};
  for (std::uint32_t i = 0; i < updates; ++i) {
    schemas::AgentState state;
    state.last_keepalive = 1700000000 + i;
    batch.updates.push_back({std::to_string(first + i), false, state, i + 1});
  }
  std::string known = schemas::Encode(batch)[1];
  // The encoder writes a fixmap of three fields: the same map with a fourth field.
  REQUIRE(static_cast<std::uint8_t>(known[0]) == 0x83);
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(4);
  b.write(known.data() + 1, known.size() - 1);
  pk.pack(std::string("padding"));
  pk.pack(std::string(padding, 'x'));
  return {b.data(), b.size()};
}

}  // namespace

TEST_CASE("agent-info batches wait for one write until their updates reach the bound",
          "[agents][master]") {
  ArrivedAgentInfo arrived(8000, 32 << 20);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(arrived.Take("r", "w1", Body(2000, 0, 1 + 2000 * i)).ok());
    CHECK_FALSE(arrived.full());
  }
  REQUIRE(arrived.Take("r", "w2", Body(2000, 0, 6001)).ok());
  CHECK(arrived.full());
  CHECK(arrived.updates() == 8000);
  REQUIRE(arrived.batches().size() == 4);
  // Every view still reads its own frame.
  for (std::size_t b = 0; b < 4; ++b) {
    const schemas::AgentInfoView& view = arrived.batches()[b].view;
    REQUIRE(view.updates.size() == 2000);
    CHECK(view.updates.front().id == std::to_string(1 + 2000 * b));
    CHECK(view.updates.back().last_keepalive == 1700000000 + 1999);
  }
  CHECK(arrived.batches()[3].worker == "w2");
  arrived.Clear();
  CHECK(arrived.empty());
  CHECK_FALSE(arrived.full());
  CHECK(arrived.updates() == 0);
  CHECK(arrived.bytes() == 0);
}

TEST_CASE("agent-info frames of few updates and many bytes fill the group by their bytes",
          "[agents][master]") {
  constexpr std::size_t kBound = 4 << 20;
  ArrivedAgentInfo arrived(8000, kBound);
  const std::string large = Body(1, 1 << 20);
  std::size_t taken = 0;
  while (!arrived.full()) {
    REQUIRE(arrived.Take("r", "w1", large).ok());
    ++taken;
    REQUIRE(taken <= kBound / large.size() + 1);
  }
  // Four frames of a little over 1 MiB: full at the fourth, with four updates waiting.
  CHECK(taken == 4);
  CHECK(arrived.updates() == 4);
  CHECK(arrived.bytes() >= kBound);
  CHECK(arrived.bytes() < kBound + large.size());
}

TEST_CASE("a body that is not agent_info is refused by the group and leaves nothing in it",
          "[agents][master]") {
  ArrivedAgentInfo arrived(8000, 32 << 20);
  Status refused = arrived.Take("r", "w1",
                                std::string("\x81\xa5"
                                            "batch\xa1x",
                                            9));
  CHECK(refused.code() == Code::kInvalidArgument);
  CHECK(refused.message().find("agent_info.batch") != std::string::npos);
  CHECK(arrived.empty());
  CHECK(arrived.bytes() == 0);
  REQUIRE(arrived.Take("r", "w1", Body(3, 0)).ok());
  REQUIRE(arrived.Take("r", "w1", std::string("\xc1", 1)).code() == Code::kInvalidArgument);
  CHECK(arrived.batches().size() == 1);
  CHECK(arrived.updates() == 3);
}
