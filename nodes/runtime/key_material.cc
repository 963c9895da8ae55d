#include "zcluster/nodes/key_material.h"

#include <filesystem>

#include "zcluster/schemas/messages.h"

namespace zcluster::nodes {
namespace {

Status InElement(std::string_view element, const Status& s) {
  return Status(s.code(), "config: <cluster><curve><" + std::string(element) + "> " + s.message());
}

// Every NAME.pub of `dir`, listed for `domain` under `user_prefix` + NAME. Errors name
// `element`.
Status LoadAuthorizedKeys(const std::string& dir, const std::string& domain,
                          std::string_view element, bus::AllowList* out,
                          const std::string& user_prefix = "") {
  auto In = [element](const Status& s) {
    return Status(s.code(), "config: <cluster>" + std::string(element) + " " + s.message());
  };
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return In(Status::NotFound("'" + dir + "': " + ec.message()));
  for (const auto& entry : it) {
    std::filesystem::path p = entry.path();
    if (p.extension() != ".pub" || !entry.is_regular_file()) continue;
    std::string node = p.stem().string();
    if (!schemas::IsValidName(node)) {
      return In(Status::InvalidArgument("'" + p.string() + "' is not named NAME.pub"));
    }
    Result<std::string> key = bus::ReadPublicKeyFile(p.string());
    if (!key.ok()) return In(key.status());
    if (out->Find(*key, domain)) {
      return In(Status::InvalidArgument("'" + p.string() + "' repeats another's key"));
    }
    ZC_RETURN_IF_ERROR(out->Add(*key, user_prefix + node, domain));
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
    if (master) ZC_RETURN_IF_ERROR(k.allowed.Add(worker_pair.public_z85, kAnyWorkerUserId));
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
    ZC_RETURN_IF_ERROR(LoadAuthorizedKeys(f.authorized_keys, bus::ZapAuthenticator::kDomain,
                                          "<curve><authorized_keys>", &k.allowed));
  } else {
    Result<std::string> m = bus::ReadPublicKeyFile(f.master_public_key);
    if (!m.ok()) return InElement("master_public_key", m.status());
    k.master_public = *m;
  }
  if (config.admin_port) {
    // A role per folder: read/ may ask, admin/ may also change. A key in both is refused, so a
    // key's role is never a matter of which folder was read first.
    for (const char* role : {"read", "admin"}) {
      const std::string dir = config.admin_authorized_keys + "/" + role;
      if (!std::filesystem::is_directory(dir)) continue;
      ZC_RETURN_IF_ERROR(LoadAuthorizedKeys(dir, kAdminDomain,
                                            std::string("<admin><authorized_keys>/") + role,
                                            &k.allowed, std::string(role) + ":"));
    }
    if (k.allowed.size(kAdminDomain) == 0) {
      return Status::InvalidArgument("config: <cluster><admin><authorized_keys> '" +
                                     config.admin_authorized_keys +
                                     "' holds no read/NAME.pub or admin/NAME.pub: no admin could "
                                     "connect");
    }
  }
  if (config.monitor_port) {
    ZC_RETURN_IF_ERROR(LoadAuthorizedKeys(config.monitor_authorized_keys,
                                          bus::ZapAuthenticator::kMonitorDomain,
                                          "<monitor><authorized_keys>", &k.allowed));
    if (k.allowed.size(bus::ZapAuthenticator::kMonitorDomain) == 0) {
      return Status::InvalidArgument("config: <cluster><monitor><authorized_keys> '" +
                                     config.monitor_authorized_keys +
                                     "' holds no NAME.pub: no admin could connect");
    }
  }
  return k;
}

}  // namespace zcluster::nodes
