#include "streams/stream_log.h"

namespace zcluster::nodes {

Result<StreamLog> StreamLog::Load(store::NodeStore& store, store::Table log, std::string stream,
                                  std::uint64_t keep) {
  StreamLog s(store, log, std::move(stream), keep);
  Result<std::uint64_t> seq = store.Position(s.stream_);
  if (!seq.ok()) return seq.status();
  s.seq_ = *seq;
  s.first_ = s.seq_ + 1;  // an empty log
  bool found = false;
  ZC_RETURN_IF_ERROR(store.ForEach(log, [&](std::string_view key, std::string_view) {
    if (found) return Status::Ok();
    Result<std::uint64_t> first = store::DecodeU64(key);
    if (!first.ok()) return first.status();
    s.first_ = *first;
    found = true;
    return Status::Ok();
  }));
  s.staged_seq_ = s.seq_;
  s.staged_first_ = s.first_;
  return s;
}

void StreamLog::Stage(store::StoreBatch& batch, const std::vector<std::string>& entries) {
  staged_seq_ = seq_;
  staged_first_ = first_;
  for (const std::string& e : entries) batch.Put(table_, store::EncodeU64(++staged_seq_), e);
  batch.SetPosition(stream_, staged_seq_);
  if (staged_seq_ >= keep_ && staged_seq_ - keep_ + 1 > staged_first_) {
    staged_first_ = staged_seq_ - keep_ + 1;
    batch.DeleteRange(table_, store::EncodeU64(0), store::EncodeU64(staged_first_));
  }
}

void StreamLog::StageJump(store::StoreBatch& batch, std::uint64_t seq) {
  batch.DeleteRange(table_, store::EncodeU64(0), store::EncodeU64(UINT64_MAX));
  batch.SetPosition(stream_, seq);
  staged_seq_ = seq;
  staged_first_ = seq + 1;
}

void StreamLog::Committed() {
  seq_ = staged_seq_;
  first_ = staged_first_;
}

Status StreamLog::ReadAfter(
    std::uint64_t from,
    const std::function<Status(std::uint64_t seq, std::string_view entry)>& visit) const {
  std::uint64_t expected = from + 1;
  ZC_RETURN_IF_ERROR(store_->Scan(
      table_, store::EncodeU64(from + 1), [&](std::string_view key, std::string_view value) {
        Result<std::uint64_t> seq = store::DecodeU64(key);
        if (!seq.ok()) return seq.status();
        if (*seq != expected) {
          return Status::DataLoss(stream_ + " log lacks entry " + std::to_string(expected));
        }
        ++expected;
        return visit(*seq, value);
      }));
  if (expected != seq_ + 1) {
    return Status::DataLoss(stream_ + " log ends at " + std::to_string(expected - 1) +
                            ", stream at " + std::to_string(seq_));
  }
  return Status::Ok();
}

}  // namespace zcluster::nodes
