// Any text as client.keys: an administrator's edit or a damaged file gives an error naming the
// line, never a crash; what parses saves and parses again to the same agents.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "zcluster/nodes/client_keys.h"

using namespace zcluster::nodes;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  zcluster::Result<ClientKeys> keys =
      ClientKeys::Parse(std::string(reinterpret_cast<const char*>(data), size));
  if (!keys.ok()) return 0;
  for (const ClientKey& k : keys->entries()) {
    if (!keys->Find(k.id) && !k.removed) std::abort();
  }
  // Saving keeps every line: what is read back is the same registry.
  zcluster::Result<ClientKeys> again = ClientKeys::Parse(keys->Serialize());
  if (!again.ok() || again->Serialize() != keys->Serialize()) std::abort();
  return 0;
}
