// Any bytes as each kind of stored row: a damaged database must give DataLoss, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "zcluster/store/node_store.h"
#include "zcluster/store/records.h"

using namespace zcluster::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeAgentRow("001", bytes).status().IgnoreError();
  DecodeGroupsRow("001", bytes).status().IgnoreError();
  DecodeGroupChangeRow(1, bytes).status().IgnoreError();
  DecodeMasterFileRow("etc/rules/a.xml", bytes).status().IgnoreError();
  DecodeExpectedFileRow("etc/rules/a.xml", bytes).status().IgnoreError();
  DecodeFileChangeRow(1, bytes).status().IgnoreError();
  DecodeU64(bytes).status().IgnoreError();
  return 0;
}
