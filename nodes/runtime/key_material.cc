#include "zcluster/nodes/key_material.h"

#include <filesystem>

#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {
namespace {

Status InElement(std::string_view element, const Status& s) {
  return Status(s.code(), "config: <cluster><curve><" + std::string(element) + "> " + s.message());
}

Status LoadAuthorizedKeys(const std::string& dir, bus::AllowList* out) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return InElement("authorized_keys", Status::NotFound("'" + dir + "': " + ec.message()));
  for (const auto& entry : it) {
    std::filesystem::path p = entry.path();
    if (p.extension() != ".pub" || !entry.is_regular_file()) continue;
    std::string node = p.stem().string();
    if (!schemas::IsValidName(node)) {
      return InElement("authorized_keys",
                       Status::InvalidArgument("'" + p.string() + "' is not named NODE_NAME.pub"));
    }
    Result<std::string> key = bus::ReadPublicKeyFile(p.string());
    if (!key.ok()) return InElement("authorized_keys", key.status());
    if (out->Find(*key)) {
      return InElement("authorized_keys",
                       Status::InvalidArgument("'" + p.string() + "' repeats another node's key"));
    }
    ZC_RETURN_IF_ERROR(out->Add(*key, node));
  }
  return Status::Ok();
}

}  // namespace

Result<KeyMaterial> LoadKeyMaterial(const ClusterConfig& config) {
  KeyMaterial k;
  bool master = config.node_type == NodeType::kMaster;
  if (!config.curve) {
    k.shared_key_mode = true;
    bus::CurveKeyPair master_pair = bus::DeriveKeyPair(config.key, "master");
    bus::CurveKeyPair worker_pair = bus::DeriveKeyPair(config.key, "worker");
    k.own = master ? master_pair : worker_pair;
    k.master_public = master_pair.public_z85;
    if (master) ZC_RETURN_IF_ERROR(k.workers.Add(worker_pair.public_z85, kAnyWorkerUserId));
    return k;
  }
  const CurveFiles& f = *config.curve;
  Result<std::string> secret = bus::ReadSecretKeyFile(f.secret_key);
  if (!secret.ok()) return InElement("secret_key", secret.status());
  Result<std::string> pub = bus::ReadPublicKeyFile(f.public_key);
  if (!pub.ok()) return InElement("public_key", pub.status());
  Result<std::string> derived = bus::PublicKeyOf(*secret);
  if (!derived.ok() || *derived != *pub) {
    return InElement("public_key", Status::InvalidArgument("'" + f.public_key +
                                                           "' is not the pair of <secret_key>"));
  }
  k.own = {*pub, *secret};
  if (master) {
    ZC_RETURN_IF_ERROR(LoadAuthorizedKeys(f.authorized_keys, &k.workers));
  } else {
    Result<std::string> m = bus::ReadPublicKeyFile(f.master_public_key);
    if (!m.ok()) return InElement("master_public_key", m.status());
    k.master_public = *m;
  }
  return k;
}

}  // namespace zcluster::nodes
