#include "zcluster/nodes/key_material.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;

namespace {

ClusterConfig CurveMaster(const testing::TempDir& dir) {
  ClusterConfig c;
  c.curve = CurveFiles{dir / "m.key", dir / "m.pub", "", dir / "authorized"};
  return c;
}

}  // namespace

TEST_CASE("shared-key mode derives matching pairs on both sides", "[nodes][keys]") {
  ClusterConfig master;
  master.key = "c98b62a9b6169ac5f67dae55ae4a9088";
  ClusterConfig worker = master;
  worker.node_type = NodeType::kWorker;
  Result<KeyMaterial> m = LoadKeyMaterial(master);
  Result<KeyMaterial> w = LoadKeyMaterial(worker);
  REQUIRE(m.ok());
  REQUIRE(w.ok());
  CHECK(m->shared_key_mode);
  CHECK(w->master_public == m->own.public_z85);
  CHECK(m->allowed.Find(w->own.public_z85) == std::string(kAnyWorkerUserId));
  CHECK(m->allowed.size() == 1);
}

TEST_CASE("per-node keys: the allow-list comes from authorized_keys", "[nodes][keys]") {
  testing::TempDir dir;
  REQUIRE(bus::WriteKeyPair(dir / "m", *bus::GenerateKeyPair()).ok());
  ::mkdir((dir / "authorized").c_str(), 0755);
  bus::CurveKeyPair w1 = *bus::GenerateKeyPair(), w2 = *bus::GenerateKeyPair();
  REQUIRE(bus::WriteKeyPair(dir / "authorized/w1", w1).ok());
  REQUIRE(bus::WriteKeyPair(dir / "authorized/w2", w2).ok());

  Result<KeyMaterial> m = LoadKeyMaterial(CurveMaster(dir));
  REQUIRE(m.ok());
  CHECK_FALSE(m->shared_key_mode);
  CHECK(m->allowed.size() == 2);
  CHECK(m->allowed.Find(w1.public_z85) == std::string("w1"));
  CHECK(m->allowed.Find(w2.public_z85) == std::string("w2"));

  SECTION("a key filed twice is refused") {
    testing::WriteFile(dir / "authorized/w3.pub", w1.public_z85 + "\n");
    Result<KeyMaterial> dup = LoadKeyMaterial(CurveMaster(dir));
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.status().message().find("repeats another's key") != std::string::npos);
  }
  SECTION("a file not named after a node is refused") {
    testing::WriteFile(dir / "authorized/bad name.pub", bus::GenerateKeyPair()->public_z85);
    CHECK_FALSE(LoadKeyMaterial(CurveMaster(dir)).ok());
  }
  SECTION("a public key that is not the secret key's pair is refused") {
    ClusterConfig c = CurveMaster(dir);
    c.curve->public_key = dir / "authorized/w1.pub";
    Result<KeyMaterial> bad = LoadKeyMaterial(c);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().find("<public_key>") != std::string::npos);
  }
  SECTION("admin keys are listed for the monitor domain only") {
    ::mkdir((dir / "admins").c_str(), 0755);
    bus::CurveKeyPair ops = *bus::GenerateKeyPair();
    REQUIRE(bus::WriteKeyPair(dir / "admins/ops", ops).ok());
    ClusterConfig c = CurveMaster(dir);
    c.monitor_port = 0;
    c.monitor_authorized_keys = dir / "admins";
    Result<KeyMaterial> with = LoadKeyMaterial(c);
    REQUIRE(with.ok());
    const char* monitor = bus::ZapAuthenticator::kMonitorDomain;
    CHECK(with->allowed.Find(ops.public_z85, monitor) == std::string("ops"));
    CHECK_FALSE(with->allowed.Find(ops.public_z85).has_value());
    CHECK_FALSE(with->allowed.Find(w1.public_z85, monitor).has_value());
    CHECK(with->allowed.size() == 2);
    // A worker's key may also be an admin's: the two lists do not collide.
    REQUIRE(bus::WriteKeyPair(dir / "admins/w1", w1).ok());
    CHECK(LoadKeyMaterial(c).ok());
    // An empty admin folder would be a TCP endpoint nobody may use: refused.
    ::mkdir((dir / "none").c_str(), 0755);
    c.monitor_authorized_keys = dir / "none";
    Result<KeyMaterial> empty = LoadKeyMaterial(c);
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.status().message().find("<monitor><authorized_keys>") != std::string::npos);
  }
  SECTION("a missing folder is named") {
    ClusterConfig c = CurveMaster(dir);
    c.curve->authorized_keys = dir / "nope";
    Result<KeyMaterial> bad = LoadKeyMaterial(c);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message().find("<authorized_keys>") != std::string::npos);
  }
}
