// How many log lines what peers do may cost. Anything that reaches a port can repeat itself a
// thousand times a second, with a fresh key each time; a line per event would let it fill the
// disk. A budget allows one line per key (a peer's address) per interval and a fixed number of
// lines per interval in all, and counts what it held back so that the next line can say so.
//
// Threading: not thread-safe; owned by the thread that logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace zcluster::bus {

class LineBudget {
 public:
  using Clock = std::chrono::steady_clock;
  struct Verdict {
    bool log = false;
    std::uint64_t unlogged = 0;  // when log: lines for this key held back since its last one
  };

  LineBudget(std::chrono::seconds interval, std::size_t max_lines_per_interval,
             std::size_t max_keys = 4096)
      : interval_(interval), max_lines_(max_lines_per_interval), max_keys_(max_keys) {}

  Verdict Take(const std::string& key, Clock::time_point now);

 private:
  struct Seen {
    Clock::time_point at;
    bool logged = false;
    std::uint64_t unlogged = 0;
  };
  std::chrono::seconds interval_;
  std::size_t max_lines_;
  std::size_t max_keys_;
  std::map<std::string, Seen> seen_;  // bounded by max_keys_
  Clock::time_point window_start_{};
  std::size_t window_lines_ = 0;
};

}  // namespace zcluster::bus
