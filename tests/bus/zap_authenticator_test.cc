#include "zcluster/bus/zap_authenticator.h"

#include <catch2/catch.hpp>

#include "zcluster/bus/curve_keys.h"

using namespace zcluster;
using namespace zcluster::bus;

namespace {

std::string Binary(const std::string& z85) {
  std::string out(32, '\0');
  zmq_z85_decode(reinterpret_cast<uint8_t*>(out.data()), z85.c_str());
  return out;
}

std::vector<std::string> Request(const std::string& mechanism, const std::string& key_z85,
                                 const std::string& domain = ZapAuthenticator::kDomain) {
  return {"1.0", "req-1", domain, "192.0.2.7", "rid", mechanism, Binary(key_z85)};
}

}  // namespace

TEST_CASE("the ZAP decision allows listed keys only", "[bus][zap]") {
  CurveKeyPair w1 = *GenerateKeyPair();
  CurveKeyPair stranger = *GenerateKeyPair();
  AllowList list;
  REQUIRE(list.Add(w1.public_z85, "w1").ok());

  ZapVerdict ok = DecideZapRequest(list, Request("CURVE", w1.public_z85));
  CHECK(ok.status_code == "200");
  CHECK(ok.user_id == "w1");
  CHECK(ok.address == "192.0.2.7");

  ZapVerdict no = DecideZapRequest(list, Request("CURVE", stranger.public_z85));
  CHECK(no.status_code == "400");
  CHECK(no.user_id.empty());
  CHECK(no.public_z85 == stranger.public_z85);

  CHECK(DecideZapRequest(list, Request("CURVE", w1.public_z85, "other")).status_code == "400");
  CHECK(DecideZapRequest(list, {"1.0", "r", "zcluster", "a", "rid", "NULL"}).status_code == "400");
  std::vector<std::string> plain = {"1.0", "r", "zcluster", "a", "rid", "PLAIN", "u", "p"};
  CHECK(DecideZapRequest(list, plain).status_code == "400");
  CHECK(DecideZapRequest(list, {"2.0", "r"}).status_code == "500");
  CHECK(DecideZapRequest(list, {}).status_code == "500");
  std::vector<std::string> short_key = {"1.0", "r", "zcluster", "a", "rid", "CURVE", "abc"};
  CHECK(DecideZapRequest(list, short_key).status_code == "400");
}

TEST_CASE("an open domain admits any key but the cluster domain stays closed", "[bus][zap]") {
  AllowList list;
  REQUIRE(list.OpenDomain(ZapAuthenticator::kAgentDomain, "agent").ok());
  CHECK(list.OpenDomain(ZapAuthenticator::kDomain, "x").code() == Code::kInvalidArgument);
  std::string any = GenerateKeyPair()->public_z85;
  ZapVerdict agent = DecideZapRequest(list, Request("CURVE", any, ZapAuthenticator::kAgentDomain));
  CHECK(agent.status_code == "200");
  CHECK(agent.user_id == "agent");
  CHECK(DecideZapRequest(list, Request("CURVE", any)).status_code == "400");
}

TEST_CASE("a key listed for one domain opens no other", "[bus][zap]") {
  CurveKeyPair worker = *GenerateKeyPair();
  CurveKeyPair admin = *GenerateKeyPair();
  AllowList list;
  REQUIRE(list.Add(worker.public_z85, "w1").ok());
  REQUIRE(list.Add(admin.public_z85, "ops", ZapAuthenticator::kMonitorDomain).ok());
  CHECK(list.size() == 1);
  CHECK(list.size(ZapAuthenticator::kMonitorDomain) == 1);

  const char* monitor = ZapAuthenticator::kMonitorDomain;
  ZapVerdict ops = DecideZapRequest(list, Request("CURVE", admin.public_z85, monitor));
  CHECK(ops.status_code == "200");
  CHECK(ops.user_id == "ops");
  // The admin's key does not make it a worker, nor the worker's an admin.
  CHECK(DecideZapRequest(list, Request("CURVE", admin.public_z85)).status_code == "400");
  CHECK(DecideZapRequest(list, Request("CURVE", worker.public_z85, monitor)).status_code == "400");
  // A listed domain cannot be opened afterwards, and an open one cannot list keys.
  CHECK(list.OpenDomain(monitor, "anyone").code() == Code::kInvalidArgument);
  REQUIRE(list.OpenDomain(ZapAuthenticator::kAgentDomain, "agent").ok());
  CHECK(list.Add(admin.public_z85, "ops", ZapAuthenticator::kAgentDomain).code() ==
        Code::kInvalidArgument);
}

TEST_CASE("an empty allow-list refuses everyone", "[bus][zap]") {
  AllowList empty;
  CHECK(DecideZapRequest(empty, Request("CURVE", GenerateKeyPair()->public_z85)).status_code ==
        "400");
}

TEST_CASE("the allow-list refuses malformed entries", "[bus][zap]") {
  AllowList list;
  CHECK(list.Add("short", "w1").code() == Code::kInvalidArgument);
  CHECK(list.Add(GenerateKeyPair()->public_z85, "").code() == Code::kInvalidArgument);
  CHECK(list.size() == 0);
}

TEST_CASE("only one ZAP handler per context", "[bus][zap]") {
  zmq::context_t ctx(1);
  auto first = ZapAuthenticator::Start(ctx, AllowList{}, nullptr);
  REQUIRE(first.ok());
  auto second = ZapAuthenticator::Start(ctx, AllowList{}, nullptr);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kFailedPrecondition);
}
