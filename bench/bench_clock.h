// The clock every scenario times with, and its readings as numbers.
#pragma once

#include <chrono>

namespace zcluster::bench {

using Clock = std::chrono::steady_clock;
inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace zcluster::bench
