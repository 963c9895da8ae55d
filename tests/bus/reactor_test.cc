// The reactor's contract: queued messages are handled before due timers fire, timers keep the
// deadlines their handlers give, and a flood delays timers by a bounded number of rounds only.
#include "zcluster/bus/reactor.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <unistd.h>

using namespace zcluster;
using namespace zcluster::bus;
using namespace std::chrono_literals;

namespace {

// A clock the test moves by hand.
struct FakeClock {
  Reactor::TimePoint t{std::chrono::seconds(1000)};
  std::function<Reactor::TimePoint()> fn() {
    return [this] { return t; };
  }
};

// Two ends of an inproc PAIR: the test sends on `in`, the reactor reads `out`.
struct Pipe {
  zmq::context_t ctx{1};
  zmq::socket_t out{ctx, zmq::socket_type::pair};
  zmq::socket_t in{ctx, zmq::socket_type::pair};
  Pipe() {
    out.bind("inproc://reactor-test");
    in.connect("inproc://reactor-test");
  }
  void Send(const std::string& s) { in.send(zmq::buffer(s), zmq::send_flags::none); }
  // Reads at most `budget` queued messages into `got`.
  void Drain(std::vector<std::string>& got, int budget) {
    for (; budget > 0; --budget) {
      zmq::message_t m;
      if (!out.recv(m, zmq::recv_flags::dontwait)) return;
      got.push_back(m.to_string());
    }
  }
};

}  // namespace

TEST_CASE("a queued message is handled before a due timer fires", "[reactor]") {
  FakeClock clock;
  Reactor reactor(clock.fn());
  Pipe pipe;
  std::vector<std::string> order;
  reactor.AddReader(pipe.out, [&] {
    pipe.Drain(order, 1000);
    return Status::Ok();
  });
  reactor.AddTimer(clock.t, [&](Reactor::TimePoint) -> std::optional<Reactor::TimePoint> {
    order.push_back("timer");
    return std::nullopt;
  });
  pipe.Send("ack");
  REQUIRE(reactor.RunOnce(1000ms).ok());
  REQUIRE(order == std::vector<std::string>{"ack", "timer"});
}

TEST_CASE("timers fire at their deadlines and keep the next one their handler gives", "[reactor]") {
  FakeClock clock;
  Reactor reactor(clock.fn());
  int fired = 0;
  Reactor::TimerId id = reactor.AddTimer(
      clock.t + 10ms, [&](Reactor::TimePoint now) -> std::optional<Reactor::TimePoint> {
        ++fired;
        if (fired == 2) return std::nullopt;
        return now + 10ms;
      });
  REQUIRE(reactor.RunOnce(0ms).ok());
  CHECK(fired == 0);
  clock.t += 10ms;
  REQUIRE(reactor.RunOnce(0ms).ok());
  CHECK(fired == 1);
  CHECK(reactor.deadline(id) == clock.t + 10ms);
  clock.t += 10ms;
  REQUIRE(reactor.RunOnce(0ms).ok());
  CHECK(fired == 2);
  CHECK(!reactor.deadline(id));  // ended
  clock.t += 1h;
  REQUIRE(reactor.RunOnce(0ms).ok());
  CHECK(fired == 2);
  reactor.Reschedule(id, clock.t);  // revived
  REQUIRE(reactor.RunOnce(0ms).ok());
  CHECK(fired == 3);
}

TEST_CASE("Wake brings a deadline forward and never pushes it back", "[reactor]") {
  FakeClock clock;
  Reactor reactor(clock.fn());
  Reactor::TimerId id = reactor.AddTimer(
      clock.t + 1h, [](Reactor::TimePoint) -> std::optional<Reactor::TimePoint> { return {}; });
  reactor.Wake(id, clock.t + 5s);
  CHECK(reactor.deadline(id) == clock.t + 5s);
  reactor.Wake(id, clock.t + 10s);
  CHECK(reactor.deadline(id) == clock.t + 5s);
  reactor.Reschedule(id, clock.t + 10s);
  CHECK(reactor.deadline(id) == clock.t + 10s);
}

TEST_CASE("a flood delays timers by a bounded number of drain rounds", "[reactor]") {
  FakeClock clock;
  Reactor reactor(clock.fn());
  Pipe pipe;
  std::vector<std::string> got;
  int calls = 0;
  reactor.AddReader(pipe.out, [&] {
    ++calls;
    pipe.Drain(got, 1);  // a budget of one message per call
    return Status::Ok();
  });
  bool fired = false;
  reactor.AddTimer(clock.t, [&](Reactor::TimePoint) -> std::optional<Reactor::TimePoint> {
    fired = true;
    return std::nullopt;
  });
  for (int i = 0; i < 100; ++i) pipe.Send(std::to_string(i));
  REQUIRE(reactor.RunOnce(0ms).ok());
  CHECK(fired);
  CHECK(calls == Reactor::kMaxDrainRounds);
  CHECK(got.size() == static_cast<std::size_t>(Reactor::kMaxDrainRounds));
}

TEST_CASE("a plain fd is a reader too, and Stop ends Run", "[reactor]") {
  Reactor reactor;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  reactor.AddReader(fds[0], [&] {
    char c;
    REQUIRE(::read(fds[0], &c, 1) == 1);
    reactor.Stop();
    return Status::Ok();
  });
  REQUIRE(reactor.Run().ok());
  CHECK(reactor.stopped());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a reader's error stops Run with that error", "[reactor]") {
  Reactor reactor;
  Pipe pipe;
  reactor.AddReader(pipe.out, [] { return Status::Unavailable("socket gone"); });
  pipe.Send("x");
  Status s = reactor.Run();
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message() == "socket gone");
}
