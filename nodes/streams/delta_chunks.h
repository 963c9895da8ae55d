// Large bursts of stream changes go out as several deltas of at most <tuning><delta_batch>
// changes each, so that no message outgrows a subscriber's queue slot or frame limit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace zcluster::nodes {

// Calls `emit` with each delta of `changes`, in order, `chunk` (> 0) changes at most each.
template <typename Delta, typename Change, typename Emit>
void ForEachDelta(const std::vector<Change>& changes, std::size_t chunk, Emit&& emit) {
  for (std::size_t i = 0; i < changes.size(); i += chunk) {
    Delta delta;
    auto end = std::min(changes.size(), i + chunk);
    delta.changes.assign(changes.begin() + static_cast<std::ptrdiff_t>(i),
                         changes.begin() + static_cast<std::ptrdiff_t>(end));
    emit(delta);
  }
}

}  // namespace zcluster::nodes
