// Any bytes as each kind of stored row: a damaged database must give DataLoss, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "zcluster/store/node_store.h"
#include "zcluster/store/records.h"

using namespace zcluster::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The start's summary of a row agrees with the whole record wherever the record reads.
  zcluster::Result<zcluster::schemas::AgentRecord> record = DecodeAgentRow("001", bytes);
  zcluster::Result<zcluster::schemas::AgentRecordSummary> summary = SummarizeAgentRow("001", bytes);
  if (record.ok() && (!summary.ok() || summary->status != record->state.status ||
                      summary->counter != record->counter || summary->node != record->node)) {
    __builtin_trap();
  }
  DecodeAgentSeenRow("001", bytes).status().IgnoreError();
  ForEachSeenLogEntry(1, bytes, [](const SeenLogEntry&) {
    return zcluster::Status::Ok();
  }).IgnoreError();
  DecodeAgentCounterRow("001", bytes).status().IgnoreError();
  DecodeGroupsRow("001", bytes).status().IgnoreError();
  DecodeGroupChangeRow(1, bytes).status().IgnoreError();
  DecodeMasterFileRow("etc/rules/a.xml", bytes).status().IgnoreError();
  DecodeExpectedFileRow("etc/rules/a.xml", bytes).status().IgnoreError();
  DecodeFileChangeRow(1, bytes).status().IgnoreError();
  DecodeU64(bytes).status().IgnoreError();
  return 0;
}
