// CurveZMQ key pairs as Z85 text, the form libzmq's ZMQ_CURVE_* options and zcluster-keygen's
// files use: 40 characters for 32 bytes.
#pragma once

#include <string>
#include <string_view>

#include "zcluster/schemas/status.h"

namespace zcluster::bus {

struct CurveKeyPair {
  std::string public_z85;  // 40 Z85 characters
  std::string secret_z85;  // 40 Z85 characters; never logged
};

// A fresh random pair (libsodium's CSPRNG via zmq_curve_keypair).
Result<CurveKeyPair> GenerateKeyPair();

// A pair derived from Wazuh's 32-character shared cluster <key> and a role label ("master",
// "worker"). Everyone who knows the shared key can derive every pair: the compatibility mode is
// exactly as secure as Wazuh's shared key and no more.
CurveKeyPair DeriveKeyPair(std::string_view shared_key, std::string_view role);

// True when `z85` is 40 Z85 characters that decode to 32 bytes.
bool IsValidZ85Key(std::string_view z85);

// The public key that belongs to a secret key (both Z85).
Result<std::string> PublicKeyOf(const std::string& secret_z85);

// Reads a key file written by WriteKeyPair (one Z85 key, optional trailing newline). A secret key
// file readable by group or others is refused, as ssh refuses such private keys.
Result<std::string> ReadPublicKeyFile(const std::string& path);
Result<std::string> ReadSecretKeyFile(const std::string& path);

// Writes PREFIX.key (secret, mode 0600) and PREFIX.pub (public, mode 0644). Refuses to overwrite
// existing files; each file is written to a temporary name and renamed, so none is half-written.
Status WriteKeyPair(const std::string& prefix, const CurveKeyPair& pair);

}  // namespace zcluster::bus
