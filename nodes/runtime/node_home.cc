#include "runtime/node_home.h"

#include <filesystem>

namespace zcluster::nodes {

Result<std::unique_ptr<store::NodeStore>> OpenNodeHome(const ClusterConfig& config,
                                                       const Logger& log) {
  for (const std::filesystem::path& dir :
       {std::filesystem::path(config.db_path()),
        std::filesystem::path(config.control_path()).parent_path()}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Unavailable("cannot create '" + dir.string() + "': " + ec.message());
  }
  return store::NodeStore::Open(
      config.db_path(),
      {config.name, config.node_name, std::string(NodeTypeName(config.node_type))},
      [log](bool error, std::string_view line) {
        if (error) {
          log.Error("Store", "RocksDB: {}", line);
        } else {
          log.Warning("Store", "RocksDB: {}", line);
        }
      });
}

void FlushNodeHomeAtStop(store::NodeStore& store, const Logger& log) {
  if (Status flushed = store.Flush(); !flushed.ok()) {
    log.Warning("Main", "Store not flushed at stop; the next start replays its log: {}",
                flushed.message());
  }
}

}  // namespace zcluster::nodes
