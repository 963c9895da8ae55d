// A node's <home>: the folders it writes (logs/, queue/cluster/, var/db/) and its store.
#pragma once

#include <memory>

#include "zcluster/nodes/cluster_config.h"
#include "zcluster/nodes/cluster_log.h"
#include "zcluster/store/node_store.h"

namespace zcluster::nodes {

// Creates the folders the node needs and opens its store as this config's node (refusing a
// database of another cluster, name or type). RocksDB's warnings and errors go to `log`.
Result<std::unique_ptr<store::NodeStore>> OpenNodeHome(const ClusterConfig& config,
                                                       const Logger& log);

// At a clean stop: writes the store's memtables out, so that the next start replays no log; a
// failure is logged (what is still in the log is replayed then). What the actors write while
// they stop is written out by the store's close.
void FlushNodeHomeAtStop(store::NodeStore& store, const Logger& log);

}  // namespace zcluster::nodes
