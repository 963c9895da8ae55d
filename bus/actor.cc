#include "zcluster/bus/actor.h"

#include <atomic>
#include <future>

#include "frames.h"

namespace zcluster::bus {
namespace {

zmq::socket_t PipeSocket(zmq::context_t& ctx) {
  zmq::socket_t s(ctx, zmq::socket_type::pair);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);  // see the header: the flows bound the depth, not the pipe
  s.set(zmq::sockopt::rcvhwm, 0);
  return s;
}

}  // namespace

Status PipeEnd::Send(const Frames& frames) { return SendFrames(socket_, nullptr, frames); }

Status PipeEnd::Send(Frames&& frames) { return SendFrames(socket_, nullptr, std::move(frames)); }

Result<std::optional<Frames>> PipeEnd::Receive() {
  try {
    zmq::message_t first;
    if (!socket_.recv(first, zmq::recv_flags::dontwait)) return std::optional<Frames>();
    bool too_many = false;
    Frames frames = TakeFrames(socket_, first, &too_many);
    if (too_many) return Status::Internal("actor pipe: more than 16 frames");
    return std::optional<Frames>(std::move(frames));
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("actor pipe: ") + e.what());
  }
}

Result<std::unique_ptr<Actor>> Actor::Start(zmq::context_t& ctx, Body body) {
  static std::atomic<unsigned> counter{0};
  std::string endpoint = "inproc://zcluster-actor-" + std::to_string(counter.fetch_add(1));
  std::unique_ptr<Actor> actor;
  try {
    zmq::socket_t loop_end = PipeSocket(ctx);
    loop_end.bind(endpoint);
    actor.reset(new Actor(PipeEnd(std::move(loop_end))));
    zmq::socket_t actor_end = PipeSocket(ctx);
    actor_end.connect(endpoint);
    // The actor's socket is made here and handed over whole: a socket may move between threads
    // with a full memory barrier, which starting the thread is.
    actor->thread_ =
        std::thread([body = std::move(body), pipe = PipeEnd(std::move(actor_end))]() mutable {
          std::string why = "its body returned before it was told to stop";
          try {
            body(pipe);
          } catch (const std::exception& e) {
            why = std::string("exception: ") + e.what();
          } catch (...) {
            why = "an exception of unknown type";
          }
          // After $TERM nobody reads this; before it, the loop learns that the flow is gone.
          pipe.Send({kEnded, why}).IgnoreError();
        });
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("actor: ") + e.what());
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("actor thread: ") + e.what());
  }
  return actor;
}

Status Actor::Ended(const Frames& frames) {
  if (frames.size() != 2 || frames[0] != kEnded) return Status::Ok();
  return Status::Internal("actor ended: " + frames[1]);
}

Actor::~Actor() {
  if (!thread_.joinable()) return;
  // Never fails: no high-water mark, and the actor's end is connected until the body returns.
  pipe_.Send({kTerm}).IgnoreError();
  thread_.join();
}

}  // namespace zcluster::bus
