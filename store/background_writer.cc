#include "zcluster/store/background_writer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace zcluster::store {

Result<std::unique_ptr<BackgroundWriter>> BackgroundWriter::Start(NodeStore& store) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    return Status::Unavailable(std::string("store: cannot make the writer's eventfd: ") +
                               std::strerror(errno));
  }
  std::unique_ptr<BackgroundWriter> w(new BackgroundWriter(store, fd));
  try {
    w->thread_ = std::thread([raw = w.get()] { raw->Loop(); });
  } catch (const std::system_error& e) {
    ::close(fd);
    return Status::Unavailable(std::string("store: cannot start the writer thread: ") + e.what());
  }
  return w;
}

BackgroundWriter::~BackgroundWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();  // after the write in flight, if any: nothing is left half-handed
  ::close(event_fd_);
}

Status BackgroundWriter::Submit(StoreBatch batch) {
  if (busy_) return Status::FailedPrecondition("store: a background write is still in flight");
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace(std::move(batch));
  }
  busy_ = true;
  wake_.notify_one();
  return Status::Ok();
}

Status BackgroundWriter::Collect() {
  if (!busy_) return Status::FailedPrecondition("store: no background write to collect");
  std::uint64_t done = 0;
  for (;;) {
    if (::read(event_fd_, &done, sizeof done) == sizeof done) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      return Status::Internal(std::string("store: writer's eventfd: ") + std::strerror(errno));
    }
    pollfd p{event_fd_, POLLIN, 0};
    ::poll(&p, 1, -1);  // not finished yet: wait for it
  }
  busy_ = false;
  std::lock_guard<std::mutex> lock(mu_);
  return result_;
}

void BackgroundWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || pending_.has_value(); });
    if (!pending_) return;  // stopping, and nothing handed over
    StoreBatch batch = std::move(*pending_);
    pending_.reset();
    lock.unlock();
    Status written = store_.Write(batch);
    lock.lock();
    result_ = std::move(written);
    std::uint64_t one = 1;
    // Cannot fail short of a closed descriptor: the counter is read back to 0 before the next.
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }
}

}  // namespace zcluster::store
