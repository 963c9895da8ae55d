#include "monitor/metrics_server.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace zcluster::nodes {
namespace {

// httplib's own pool queues every accepted connection, each holding a descriptor, without bound:
// a flood of idle connections to this port would take every descriptor the node has. This one
// makes the accepting thread wait while `kMaxHeld` connections are queued or served, so that the
// rest wait in the kernel's backlog, where they cost the node nothing; each served connection
// ends within the read timeout.
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  static constexpr std::size_t kMaxHeld = 16;
  explicit BoundedTaskQueue(std::size_t threads) : pool_(threads) {}

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock lock(mu_);
      room_.wait(lock, [this] { return held_ < kMaxHeld || down_; });
      ++held_;
    }
    pool_.enqueue([this, fn = std::move(fn)] {
      fn();
      {
        std::lock_guard lock(mu_);
        --held_;
      }
      room_.notify_one();
    });
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      down_ = true;
    }
    room_.notify_all();
    pool_.shutdown();
  }

 private:
  httplib::ThreadPool pool_;
  std::mutex mu_;
  std::condition_variable room_;
  std::size_t held_ = 0;  // guarded by mu_
  bool down_ = false;     // guarded by mu_
};

}  // namespace

struct MetricsServer::State {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::string text;  // guarded by mu
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host,
                                                            std::uint16_t port) {
  auto state = std::make_unique<State>();
  State* s = state.get();
  // Two threads are plenty for a scraper or two; a client that stalls is cut off by the
  // timeouts, and no request may carry a body worth reading.
  s->server.new_task_queue = [] { return new BoundedTaskQueue(2); };
  s->server.set_read_timeout(5, 0);
  s->server.set_write_timeout(5, 0);
  s->server.set_keep_alive_max_count(100);
  s->server.set_payload_max_length(1024);
  s->server.Get("/metrics", [s](const httplib::Request&, httplib::Response& res) {
    std::string body;
    {
      std::lock_guard lock(s->mu);
      body = s->text;
    }
    res.set_content(std::move(body), "text/plain; version=0.0.4; charset=utf-8");
  });
  s->port = port == 0 ? s->server.bind_to_any_port(host.c_str())
                      : (s->server.bind_to_port(host.c_str(), port) ? port : -1);
  if (s->port <= 0) {
    return Status::Unavailable("cannot listen for metrics on " + host + ":" + std::to_string(port));
  }
  s->thread = std::thread([s] { s->server.listen_after_bind(); });
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(state)));
  // httplib's stop() does nothing until the server runs: a stop that came first would leave the
  // thread listening forever. Returned only once it runs, so the destructor can always stop it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!s->server.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Internal("the metrics server did not start within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return server;
}

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() {
  state_->server.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

void MetricsServer::Publish(std::string text) {
  std::lock_guard lock(state_->mu);
  state_->text = std::move(text);
}

std::uint16_t MetricsServer::port() const { return static_cast<std::uint16_t>(state_->port); }

}  // namespace zcluster::nodes
