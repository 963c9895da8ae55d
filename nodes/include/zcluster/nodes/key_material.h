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

// The ZAP domain of the master's remote administration endpoint (<admin><bind>). Its keys' user
// ids are "read:NAME" or "admin:NAME": the role, then the key file's name.
inline constexpr const char* kAdminDomain = "zcluster-admin";

struct KeyMaterial {
  bus::CurveKeyPair own;      // this node's pair
  std::string master_public;  // workers: the master's public key
  // Keys let into this node's server sockets, by ZAP domain: on a master the workers' (cluster
  // domain, user id the node name); with <monitor><bind> the admins' (monitor domain); with
  // <admin><bind> the administrators' (kAdminDomain, user id "read:NAME" or "admin:NAME").
  bus::AllowList allowed;
  bool shared_key_mode = false;  // keys derived from <key>
};

// Reads and checks every key file the config names (or derives the pairs from <key>). Errors name
// the element and the file: "config: <curve><authorized_keys> 'w1.pub': ...".
Result<KeyMaterial> LoadKeyMaterial(const ClusterConfig& config);

}  // namespace zcluster::nodes
