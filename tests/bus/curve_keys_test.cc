#include "zcluster/bus/curve_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::bus;

namespace {
mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}
}  // namespace

TEST_CASE("generated key pairs are Z85 and belong together", "[bus][keys]") {
  Result<CurveKeyPair> a = GenerateKeyPair();
  Result<CurveKeyPair> b = GenerateKeyPair();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(IsValidZ85Key(a->public_z85));
  CHECK(IsValidZ85Key(a->secret_z85));
  CHECK(a->public_z85 != b->public_z85);
  Result<std::string> pub = PublicKeyOf(a->secret_z85);
  REQUIRE(pub.ok());
  CHECK(*pub == a->public_z85);
}

TEST_CASE("derived pairs depend on the shared key and the role only", "[bus][keys]") {
  const std::string key = "abcdefghijklmnopqrstuvwxyz012345";
  CurveKeyPair m1 = DeriveKeyPair(key, "master");
  CurveKeyPair m2 = DeriveKeyPair(key, "master");
  CurveKeyPair w = DeriveKeyPair(key, "worker");
  CurveKeyPair other = DeriveKeyPair("bbcdefghijklmnopqrstuvwxyz012345", "master");
  CHECK(m1.public_z85 == m2.public_z85);
  CHECK(m1.public_z85 != w.public_z85);
  CHECK(m1.public_z85 != other.public_z85);
  CHECK(*PublicKeyOf(m1.secret_z85) == m1.public_z85);
}

TEST_CASE("Z85 key validation", "[bus][keys]") {
  CHECK_FALSE(IsValidZ85Key(""));
  CHECK_FALSE(IsValidZ85Key(std::string(39, 'a')));
  CHECK_FALSE(IsValidZ85Key(std::string(40, '"')));  // not in the Z85 alphabet
  CHECK(IsValidZ85Key(std::string(40, 'a')));
  CHECK_FALSE(PublicKeyOf("short").ok());
}

TEST_CASE("key files have strict modes and are never overwritten", "[bus][keys]") {
  testing::TempDir dir;
  const std::string prefix = dir / "node";
  CurveKeyPair pair = *GenerateKeyPair();
  REQUIRE(WriteKeyPair(prefix, pair).ok());
  CHECK(ModeOf(prefix + ".key") == 0600);
  CHECK(ModeOf(prefix + ".pub") == 0644);
  CHECK(*ReadPublicKeyFile(prefix + ".pub") == pair.public_z85);
  CHECK(*ReadSecretKeyFile(prefix + ".key") == pair.secret_z85);

  SECTION("an existing pair is never overwritten") {
    Status s = WriteKeyPair(prefix, *GenerateKeyPair());
    CHECK(s.code() == Code::kAlreadyExists);
    CHECK(*ReadSecretKeyFile(prefix + ".key") == pair.secret_z85);
  }
  SECTION("a refusal leaves no half pair behind") {
    testing::WriteFile(dir / "half.pub", "x\n");
    CHECK_FALSE(WriteKeyPair(dir / "half", pair).ok());
    CHECK(::access((dir / "half.key").c_str(), F_OK) != 0);
  }
  SECTION("a secret key readable by others is refused") {
    REQUIRE(::chmod((prefix + ".key").c_str(), 0644) == 0);
    CHECK(ReadSecretKeyFile(prefix + ".key").status().code() == Code::kPermissionDenied);
  }
  SECTION("garbage and missing files are refused with the path") {
    testing::WriteFile(dir / "bad.pub", "not a key\n");
    Result<std::string> bad = ReadPublicKeyFile(dir / "bad.pub");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().find("bad.pub") != std::string::npos);
    CHECK(ReadPublicKeyFile(dir / "missing.pub").status().code() == Code::kNotFound);
  }
}
