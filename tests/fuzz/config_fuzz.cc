// Any text as ossec.conf: every error is one line, and nothing crashes the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "zcluster/nodes/cluster_config.h"

using namespace zcluster::nodes;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  zcluster::Result<ClusterConfig> config = ParseClusterConfig(
      std::string_view(reinterpret_cast<const char*>(data), size), "/nonexistent");
  if (!config.ok() && config.status().message().find('\n') != std::string::npos) std::abort();
  return 0;
}
