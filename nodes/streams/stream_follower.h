// The worker's side of a sequence-numbered stream, after the zguide "Clone" pattern. The worker
// subscribes first, then asks for a sync from its last applied sequence number; deltas that
// arrive meanwhile wait in a buffer; once the sync is applied, buffered changes at or below its
// sequence are dropped and the rest applied. A gap (a delta that does not follow the last applied
// change, or a heartbeat ahead of it) means PUB dropped something: it leads to a new sync, never
// to silent divergence. Duplicates are ignored.
//
// Pure bookkeeping (no sockets, no store), so the merge rules are tested on their own. `Change`
// is any type with a `std::uint64_t seq` member.
// Threading: owned by one thread.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace zcluster::nodes {

template <typename Change>
class StreamFollower {
 public:
  // Most changes held while a sync is under way; beyond it the buffer is dropped and another
  // sync follows this one (a full snapshot is cheaper than unbounded memory).
  static constexpr std::size_t kMaxBuffered = 1000000;

  struct Step {
    std::vector<Change> apply;  // changes to apply now, in order
    bool request_sync = false;  // ask the master for a sync from applied()
  };

  explicit StreamFollower(std::uint64_t applied) : applied_(applied) {}

  std::uint64_t applied() const { return applied_; }
  bool syncing() const { return syncing_; }

  // The worker (re)starts a session: everything must be checked against the master.
  Step Start() {
    syncing_ = true;
    buffer_.clear();
    overflowed_ = false;
    return {{}, true};
  }

  // The last step's changes could not be made durable: back to `durable`, where the store
  // stands, and a sync from there, so that the master sends them again.
  Step Rewind(std::uint64_t durable) {
    applied_ = durable;
    return Start();
  }

  Step OnDelta(std::vector<Change> changes) {
    if (syncing_) {
      Buffer(std::move(changes));
      return {};
    }
    Step step;
    for (Change& c : changes) {
      if (c.seq <= applied_) continue;  // duplicate
      if (c.seq != applied_ + 1) {      // gap: PUB dropped something
        syncing_ = true;
        Buffer({std::move(c)});
        step.request_sync = true;
        continue;
      }
      if (syncing_) {
        Buffer({std::move(c)});
        continue;
      }
      applied_ = c.seq;
      step.apply.push_back(std::move(c));
    }
    return step;
  }

  // The latest sequence number on the master: ahead of us with no sync under way is a gap.
  Step OnHeartbeat(std::uint64_t seq) {
    if (syncing_ || seq <= applied_) return {};
    syncing_ = true;
    return {{}, true};
  }

  // The caller has applied a sync reply current up to `seq`. Returns the buffered changes that
  // follow it, or asks for another sync if they do not.
  Step OnSynced(std::uint64_t seq) {
    applied_ = seq;
    syncing_ = false;
    std::vector<Change> buffered = std::move(buffer_);
    buffer_.clear();
    if (std::exchange(overflowed_, false)) {
      syncing_ = true;
      return {{}, true};
    }
    Step step = OnDelta(std::move(buffered));
    return step;
  }

 private:
  void Buffer(std::vector<Change> changes) {
    if (overflowed_) return;
    if (buffer_.size() + changes.size() > kMaxBuffered) {
      buffer_.clear();
      overflowed_ = true;
      return;
    }
    for (Change& c : changes) buffer_.push_back(std::move(c));
  }

  std::uint64_t applied_;
  bool syncing_ = false;
  bool overflowed_ = false;
  std::vector<Change> buffer_;
};

}  // namespace zcluster::nodes
