// The keys a node runs with, loaded from its <curve> files or derived from the shared <key>.
#pragma once

#include <string>

#include "zcluster/bus/curve_keys.h"
#include "zcluster/bus/zap_authenticator.h"
#include "zcluster/nodes/cluster_config.h"

namespace zcluster::nodes {

// In compatibility mode every worker shares one key pair, so the key cannot tell workers apart:
// its ZAP User-Id is this marker and the master accepts any well-formed node name from it.
inline constexpr const char* kAnyWorkerUserId = "*shared-key*";

struct KeyMaterial {
  bus::CurveKeyPair own;      // this node's pair
  std::string master_public;  // workers: the master's public key
  // Keys let into this node's server sockets, by ZAP domain: on a master the workers' (cluster
  // domain, user id the node name); with <monitor><bind> the admins' (monitor domain).
  bus::AllowList allowed;
  bool shared_key_mode = false;  // keys derived from <key>
};

// Reads and checks every key file the config names (or derives the pairs from <key>). Errors name
// the element and the file: "config: <curve><authorized_keys> 'w1.pub': ...".
Result<KeyMaterial> LoadKeyMaterial(const ClusterConfig& config);

}  // namespace zcluster::nodes
