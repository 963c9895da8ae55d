// Waiting on a condition with a bound: the only way tests wait.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace zcluster::testing {

// Re-checks `condition` every few milliseconds until it holds (true) or `bound` passes (false).
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace zcluster::testing
