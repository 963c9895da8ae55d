// Serves GET /metrics over HTTP (cpp-httplib) on a thread of its own, from the text the loop
// last published: a scrape never waits for the loop, and never touches the loop's state. Any
// other path is 404; any other method 405.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

class MetricsServer {
 public:
  // Binds host:port (port 0: any free port) and starts serving.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& host, std::uint16_t port);
  ~MetricsServer();  // stops serving and joins the thread

  // Replaces what the next scrape gets.
  void Publish(std::string text);
  std::uint16_t port() const;

  struct State;

 private:
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace zcluster::nodes
