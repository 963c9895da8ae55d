#include "zcluster/bus/reactor.h"

#include <algorithm>
#include <cerrno>

namespace zcluster::bus {

void Reactor::AddReader(zmq::socket_t& socket, ReadHandler handler) {
  readers_.push_back({&socket, -1, std::move(handler)});
}

void Reactor::AddReader(int fd, ReadHandler handler) {
  readers_.push_back({nullptr, fd, std::move(handler)});
}

Reactor::TimerId Reactor::AddTimer(TimePoint first, TimerHandler handler) {
  timers_.push_back({first, std::move(handler)});
  return timers_.size() - 1;
}

void Reactor::Reschedule(TimerId id, TimePoint when) { timers_.at(id).deadline = when; }

void Reactor::Wake(TimerId id, TimePoint when) {
  Timer& t = timers_.at(id);
  if (!t.deadline || when < *t.deadline) t.deadline = when;
}

std::optional<Reactor::TimePoint> Reactor::deadline(TimerId id) const {
  return timers_.at(id).deadline;
}

Status Reactor::Run() {
  while (!stopped_) {
    // The wait is bounded by the nearest timer; an hour is "no timer at all".
    ZC_RETURN_IF_ERROR(RunOnce(std::chrono::hours(1)));
  }
  return Status::Ok();
}

Status Reactor::RunOnce(std::chrono::milliseconds max_wait) {
  auto wait = max_wait;
  TimePoint now = now_();
  for (const Timer& t : timers_) {
    if (!t.deadline) continue;
    auto until = std::chrono::ceil<std::chrono::milliseconds>(*t.deadline - now);
    wait = std::min(wait, std::max(until, std::chrono::milliseconds(0)));
  }
  ZC_RETURN_IF_ERROR(PollReaders(wait));
  for (int round = 0; round < kMaxDrainRounds && !ready_.empty(); ++round) {
    for (std::size_t r : ready_) {
      ZC_RETURN_IF_ERROR(readers_[r].handler());
      if (stopped_) return Status::Ok();
    }
    ZC_RETURN_IF_ERROR(PollReaders(std::chrono::milliseconds(0)));
  }
  return FireDueTimers();
}

Status Reactor::PollReaders(std::chrono::milliseconds timeout) {
  items_.clear();
  for (const Reader& r : readers_) {
    items_.push_back({r.socket != nullptr ? r.socket->handle() : nullptr, r.fd, ZMQ_POLLIN, 0});
  }
  ready_.clear();
  if (zmq_poll(items_.data(), static_cast<int>(items_.size()), static_cast<long>(timeout.count())) <
      0) {
    if (errno == EINTR) return Status::Ok();  // a signal: the stop pipe says whether to stop
    return Status::Unavailable(std::string("poll: ") + zmq_strerror(errno));
  }
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].revents & ZMQ_POLLIN) ready_.push_back(i);
  }
  return Status::Ok();
}

Status Reactor::FireDueTimers() {
  TimePoint now = now_();
  // Only the timers there were when the turn began: one added by a handler waits a turn.
  for (std::size_t i = 0, n = timers_.size(); i < n && !stopped_; ++i) {
    Timer& t = timers_[i];
    if (!t.deadline || *t.deadline > now) continue;
    t.deadline = t.handler(now);
  }
  return Status::Ok();
}

}  // namespace zcluster::bus
