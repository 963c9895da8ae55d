#include "zcluster/bus/actor.h"

#include <catch2/catch.hpp>
#include <stdexcept>

#include "support/wait.h"

using namespace zcluster;
using namespace zcluster::bus;
using namespace std::chrono_literals;

namespace {

// The next message from the actor, waited for with a bound.
std::optional<Frames> Next(Actor& actor) {
  std::optional<Frames> got;
  bool arrived = testing::WaitFor(
      [&] {
        Result<std::optional<Frames>> r = actor.Receive();
        return r.ok() && (got = *r).has_value();
      },
      5s);
  return arrived ? got : std::nullopt;
}

// Echoes every message until it is told to stop.
void Echo(PipeEnd& pipe) {
  for (;;) {
    std::optional<Frames> got;
    while (!got) {
      std::vector<PollItem> items{{&pipe.socket(), -1, false}};
      if (!Poll(items, std::chrono::milliseconds(1000)).ok()) return;
      Result<std::optional<Frames>> r = pipe.Receive();
      if (!r.ok()) return;
      got = *r;
    }
    if (Actor::IsTerm(*got)) return;
    pipe.Send(std::move(*got)).IgnoreError();
  }
}

}  // namespace

TEST_CASE("an actor answers over its pipe and stops when it goes away", "[bus][actor]") {
  zmq::context_t ctx(1);
  Result<std::unique_ptr<Actor>> actor = Actor::Start(ctx, Echo);
  REQUIRE(actor.ok());
  REQUIRE((*actor)->Send({"ping", std::string(1 << 20, 'p')}).ok());
  std::optional<Frames> back = Next(**actor);
  REQUIRE(back.has_value());
  CHECK(back->at(0) == "ping");
  CHECK(back->at(1).size() == std::size_t{1} << 20);
  CHECK(Actor::Ended(*back).ok());
  actor->reset();  // $TERM, then join: returns only because Echo returned
}

TEST_CASE("an actor that dies tells the loop why", "[bus][actor]") {
  zmq::context_t ctx(1);
  SECTION("by an exception") {
    Result<std::unique_ptr<Actor>> actor =
        Actor::Start(ctx, [](PipeEnd&) { throw std::runtime_error("disk on fire"); });
    REQUIRE(actor.ok());
    std::optional<Frames> last = Next(**actor);
    REQUIRE(last.has_value());
    Status ended = Actor::Ended(*last);
    CHECK(ended.code() == Code::kInternal);
    CHECK(ended.message() == "actor ended: exception: disk on fire");
  }
  SECTION("by returning before it was told to") {
    Result<std::unique_ptr<Actor>> actor = Actor::Start(ctx, [](PipeEnd&) {});
    REQUIRE(actor.ok());
    std::optional<Frames> last = Next(**actor);
    REQUIRE(last.has_value());
    CHECK(Actor::Ended(*last).message() ==
          "actor ended: its body returned before it was told to stop");
  }
}
