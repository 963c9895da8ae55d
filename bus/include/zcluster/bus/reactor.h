// One thread's event loop, after czmq's zloop: sockets and file descriptors register a reader,
// flows register timers, and one poll waits until the nearest timer is due.
//
// The rule that makes silence checks safe: in every turn, each readable socket is drained (a
// reader handles what is queued, within its own budget) and polled again until nothing is left
// or kMaxDrainRounds have passed, and only then do due timers fire. A timer that declares a peer
// lost therefore never fires while the message that would have answered it is queued.
//
// Threading: a Reactor and every socket registered with it belong to the thread that calls Run.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include <zmq.hpp>

#include "zcluster/schemas/status.h"

namespace zcluster::bus {

class Reactor {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  // Handles what is queued on its socket or fd. An error stops Run with that status.
  using ReadHandler = std::function<Status()>;
  // Called when due with the reactor's now; returns the next deadline, or nullopt to end.
  using TimerHandler = std::function<std::optional<TimePoint>(TimePoint now)>;
  using TimerId = std::size_t;

  // Polls at most this many times in a row for queued messages before timers get their turn,
  // so that a flood on one socket delays timers by a bounded amount only.
  static constexpr int kMaxDrainRounds = 16;

  // `now` is the clock timers are measured against (tests inject their own).
  explicit Reactor(std::function<TimePoint()> now = Clock::now) : now_(std::move(now)) {}
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // `socket` (or `fd`) must outlive the reactor's use of it.
  void AddReader(zmq::socket_t& socket, ReadHandler handler);
  void AddReader(int fd, ReadHandler handler);
  TimerId AddTimer(TimePoint first, TimerHandler handler);
  // Moves a timer's deadline to `when`, sooner or later; revives an ended timer.
  void Reschedule(TimerId id, TimePoint when);
  // Brings a timer's deadline forward to `when` if that is sooner (readers use it to ask for a
  // timer's work after the drain: Wake(id, now)).
  void Wake(TimerId id, TimePoint when);
  std::optional<TimePoint> deadline(TimerId id) const;

  // Makes Run return OK once the handler that called it has returned.
  void Stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }
  TimePoint now() const { return now_(); }

  // Turns until Stop or a handler's error.
  Status Run();
  // One turn: waits up to `max_wait` (less when a timer is due sooner), drains every readable
  // reader, then fires the due timers.
  Status RunOnce(std::chrono::milliseconds max_wait);

 private:
  struct Reader {
    zmq::socket_t* socket;
    int fd;
    ReadHandler handler;
  };
  struct Timer {
    std::optional<TimePoint> deadline;
    TimerHandler handler;
  };
  // Polls every reader for `timeout`; fills `ready_` with the readable ones.
  Status PollReaders(std::chrono::milliseconds timeout);
  Status FireDueTimers();

  std::function<TimePoint()> now_;
  // Deques: a handler may register more while it runs without moving the one running.
  std::deque<Reader> readers_;
  std::deque<Timer> timers_;
  std::vector<zmq::pollitem_t> items_;
  std::vector<std::size_t> ready_;
  bool stopped_ = false;
};

}  // namespace zcluster::bus
