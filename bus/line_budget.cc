#include "zcluster/bus/line_budget.h"

namespace zcluster::bus {

LineBudget::Verdict LineBudget::Take(const std::string& key, Clock::time_point now) {
  if (now - window_start_ >= interval_) {
    window_start_ = now;
    window_lines_ = 0;
  }
  auto it = seen_.find(key);
  if (it == seen_.end()) {
    // A flood of keys forgets the old ones rather than growing the table; the line budget still
    // holds, so forgetting costs at most a few early lines.
    if (seen_.size() >= max_keys_) seen_.clear();
    it = seen_.emplace(key, Seen{}).first;
  }
  Seen& s = it->second;
  bool quiet = s.logged && now - s.at < interval_;
  if (quiet || window_lines_ >= max_lines_) {
    ++s.unlogged;
    return {};
  }
  Verdict v{true, s.unlogged};
  s = Seen{now, true, 0};
  ++window_lines_;
  return v;
}

}  // namespace zcluster::bus
