#include "zcluster/bus/curve_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace zcluster::bus {
namespace {

std::string Z85(const unsigned char* bytes32) {
  std::array<char, 41> out{};
  zmq_z85_encode(out.data(), bytes32, 32);
  return std::string(out.data(), 40);
}

Result<std::string> ReadKeyFile(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(std::string(what) + " file '" + path +
                                   "' is a folder, not a key file");
  }
  std::ifstream in(path);
  if (!in) return Status::NotFound(std::string(what) + " file '" + path + "' cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!IsValidZ85Key(text)) {
    return Status::InvalidArgument(std::string(what) + " file '" + path +
                                   "' does not hold a 40-character Z85 CURVE key");
  }
  return text;
}

Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  if (::access(path.c_str(), F_OK) == 0) {
    return Status::AlreadyExists("'" + path + "' exists; remove it first to make a new key");
  }
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable("cannot create '" + tmp + "': " + std::strerror(errno));
  std::string line = text + "\n";
  bool ok = ::fchmod(fd, mode) == 0 &&
            ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot write '" + path + "': " + std::strerror(saved));
  }
  return Status::Ok();
}

}  // namespace

Result<CurveKeyPair> GenerateKeyPair() {
  std::array<char, 41> pub{}, sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{std::string(pub.data(), 40), std::string(sec.data(), 40)};
}

CurveKeyPair DeriveKeyPair(std::string_view shared_key, std::string_view role) {
  // seed = BLAKE2b-256(key = shared key, message = "zcluster-curve-v1/" + role)
  std::string label = "zcluster-curve-v1/" + std::string(role);
  std::array<unsigned char, crypto_box_SEEDBYTES> seed{};
  crypto_generichash(seed.data(), seed.size(), reinterpret_cast<const unsigned char*>(label.data()),
                     label.size(), reinterpret_cast<const unsigned char*>(shared_key.data()),
                     shared_key.size());
  std::array<unsigned char, crypto_box_PUBLICKEYBYTES> pk{};
  std::array<unsigned char, crypto_box_SECRETKEYBYTES> sk{};
  crypto_box_seed_keypair(pk.data(), sk.data(), seed.data());
  CurveKeyPair pair{Z85(pk.data()), Z85(sk.data())};
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(sk.data(), sk.size());
  return pair;
}

bool IsValidZ85Key(std::string_view z85) {
  if (z85.size() != 40) return false;
  std::string copy(z85);
  std::array<std::uint8_t, 32> bytes{};
  return zmq_z85_decode(bytes.data(), copy.c_str()) != nullptr;
}

Result<std::string> PublicKeyOf(const std::string& secret_z85) {
  std::array<char, 41> pub{};
  if (!IsValidZ85Key(secret_z85) || zmq_curve_public(pub.data(), secret_z85.c_str()) != 0) {
    return Status::InvalidArgument("not a Z85 CURVE secret key");
  }
  return std::string(pub.data(), 40);
}

Result<std::string> ReadPublicKeyFile(const std::string& path) {
  // zcluster-keygen writes PREFIX.key (secret) beside PREFIX.pub: a .key given where a public
  // key belongs would hand the secret to whoever reads this config's peers.
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".key") == 0) {
    return Status::InvalidArgument("public key file '" + path +
                                   "' is named like a secret key (.key); give its .pub");
  }
  return ReadKeyFile(path, "public key");
}

Result<std::string> ReadSecretKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    return Status::PermissionDenied("secret key file '" + path +
                                    "' is readable by group or others; chmod 600 it");
  }
  return ReadKeyFile(path, "secret key");
}

Status WriteKeyPair(const std::string& prefix, const CurveKeyPair& pair) {
  // Check both names before writing either, so a refusal leaves no half of a pair behind.
  for (const std::string& path : {prefix + ".key", prefix + ".pub"}) {
    if (::access(path.c_str(), F_OK) == 0) {
      return Status::AlreadyExists("'" + path + "' exists; remove it first to make a new key");
    }
  }
  ZC_RETURN_IF_ERROR(WriteNewFile(prefix + ".key", pair.secret_z85, 0600));
  return WriteNewFile(prefix + ".pub", pair.public_z85, 0644);
}

}  // namespace zcluster::bus
