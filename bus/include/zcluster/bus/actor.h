// Work that must not block a loop, after czmq's zactor: a thread of its own that owns no cluster
// socket and talks to the loop that started it over an inproc PAIR, in frames. The loop sends it
// requests and reads its results like any other socket (register `socket()` with the Reactor).
//
// The pipe never blocks a sender and never drops (no high-water mark on either end): what waits
// in it is bounded by what the flows on both ends may have in flight, not by the pipe.
//
// An actor whose body returns before it was told to (an exception, a pipe that failed) sends a
// last message, which IsEnded recognises: the loop must hear that a flow has died, not go on
// without it.
//
// Threading: an Actor (the loop's end) belongs to the thread that started it; the Pipe handed to
// the body belongs to the actor's thread.
#pragma once

#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>

#include <zmq.hpp>

#include "zcluster/bus/sockets.h"
#include "zcluster/schemas/status.h"

namespace zcluster::bus {

// A pipe message: its tag (and address) in `head`, then the message itself, moved in.
inline Frames WithPrefix(std::initializer_list<std::string> head, Frames message) {
  Frames f(head);
  f.insert(f.end(), std::make_move_iterator(message.begin()),
           std::make_move_iterator(message.end()));
  return f;
}

// The frames after the first `n` (a pipe message's tag and address): moved out of an rvalue,
// copied from an lvalue, which stays whole.
inline Frames WithoutFirst(Frames frames, std::size_t n) {
  frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(n));
  return frames;
}

// One end of an actor's pipe.
class PipeEnd {
 public:
  Status Send(const Frames& frames);
  Status Send(Frames&& frames);  // large frames not copied
  // The next message without blocking; nullopt when none is queued.
  Result<std::optional<Frames>> Receive();
  zmq::socket_t& socket() { return socket_; }

 private:
  friend class Actor;
  explicit PipeEnd(zmq::socket_t s) : socket_(std::move(s)) {}
  zmq::socket_t socket_;
};

class Actor {
 public:
  // Runs on the actor's thread until it reads the terminate message (IsTerm), then returns.
  using Body = std::function<void(PipeEnd& pipe)>;

  // Starts the thread; returns once its end of the pipe is connected.
  static Result<std::unique_ptr<Actor>> Start(zmq::context_t& ctx, Body body);
  // Sends the terminate message and waits for the body to return.
  ~Actor();
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  Status Send(const Frames& frames) { return pipe_.Send(frames); }
  Status Send(Frames&& frames) { return pipe_.Send(std::move(frames)); }
  Result<std::optional<Frames>> Receive() { return pipe_.Receive(); }
  zmq::socket_t& socket() { return pipe_.socket(); }

  static bool IsTerm(const Frames& frames) { return frames.size() == 1 && frames[0] == kTerm; }
  // The body's last message: Internal, with what ended it, for frames that are one; else ok.
  static Status Ended(const Frames& frames);

 private:
  static constexpr const char* kTerm = "$TERM";
  static constexpr const char* kEnded = "$ENDED";
  explicit Actor(PipeEnd pipe) : pipe_(std::move(pipe)) {}
  PipeEnd pipe_;
  std::thread thread_;
};

}  // namespace zcluster::bus
