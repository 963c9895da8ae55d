// The master's side of a numbered stream (groups, files): its position and its bounded delta
// log, both in the store. A change is numbered when it is staged into the same write batch as
// the data it describes, so numbering survives a restart and a number is never reused. The log
// keeps the last kKeep changes: a worker a little behind catches up from it; one further behind,
// or ahead (a master restored from an older state), gets the whole table.
//
// Threading: owned by the master's loop thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

class StreamLog {
 public:
  static constexpr std::uint64_t kKeep = 200000;

  // `keep`: how many changes the log holds (kKeep unless a test says otherwise).
  static Result<StreamLog> Load(store::NodeStore& store, store::Table log, std::string stream,
                                std::uint64_t keep = kKeep);

  std::uint64_t seq() const { return seq_; }
  // Adds `entries` (changes seq()+1, seq()+2, …), the new position and the trimming of the log
  // to `batch`. The caller writes the batch, then calls Committed(); nothing changes before.
  void Stage(store::StoreBatch& batch, const std::vector<std::string>& entries);
  void Committed();
  // Stages a jump to `seq` with an empty log (the master takes a worker's table as its own,
  // after losing its store): numbering goes on from there, and every worker behind it gets the
  // whole table. The caller writes the batch, then calls Committed().
  void StageJump(store::StoreBatch& batch, std::uint64_t seq);
  // Whether a worker that applied up to `from` needs the whole table rather than the log.
  bool NeedsFull(std::uint64_t from) const { return from == 0 || from + 1 < first_ || from > seq_; }
  // Every logged entry after `from`, oldest first; DataLoss when one is missing.
  Status ReadAfter(
      std::uint64_t from,
      const std::function<Status(std::uint64_t seq, std::string_view entry)>& visit) const;

 private:
  StreamLog(store::NodeStore& store, store::Table log, std::string stream, std::uint64_t keep)
      : store_(&store), table_(log), stream_(std::move(stream)), keep_(keep) {}

  store::NodeStore* store_;
  store::Table table_;
  std::string stream_;
  std::uint64_t keep_;
  std::uint64_t seq_ = 0;
  std::uint64_t first_ = 1;  // oldest sequence number still in the log
  std::uint64_t staged_seq_ = 0, staged_first_ = 1;
};

}  // namespace zcluster::nodes
