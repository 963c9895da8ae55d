#include "zcluster/nodes/client_keys.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;

TEST_CASE("client.keys in Wazuh's format round-trips with removed agents", "[nodes][agents]") {
  const std::string text =
      "001 web-1 any 1111111111111111111111111111111111111111111111111111111111111111\n"
      "002 !old-db 10.0.0.2 2222222222222222222222222222222222222222222222222222222222222222\n"
      "# a comment\n"
      "003 db-1 10.0.0.0/24 3333333333333333333333333333333333333333333333333333333333333333\n";
  Result<ClientKeys> keys = ClientKeys::Parse(text);
  REQUIRE(keys.ok());
  CHECK(keys->active() == 2);
  REQUIRE(keys->Find("001") != nullptr);
  CHECK(keys->Find("001")->name == "web-1");
  CHECK(keys->Find("002") == nullptr);
  CHECK(keys->entries()[1].removed);
  CHECK(keys->entries()[1].name == "old-db");
  CHECK(keys->Find("003")->ip == "10.0.0.0/24");
  CHECK(keys->Serialize() ==
        text.substr(0, text.find("# a comment")) + text.substr(text.find("003 db-1")));
}

TEST_CASE("malformed client.keys lines are named", "[nodes][agents]") {
  CHECK(ClientKeys::Parse("001 web-1 any\n").status().message() ==
        "client.keys line 1: expected 'ID NAME IP KEY'");
  CHECK(ClientKeys::Parse("001 a any k extra\n").status().code() == Code::kInvalidArgument);
  CHECK(ClientKeys::Parse("x01 a any k\n").status().message().find("bad id") != std::string::npos);
  CHECK(ClientKeys::Parse("001 a any k\n001 b any k\n").status().message().find("twice") !=
        std::string::npos);
}

TEST_CASE("add and remove keep ids unique and the file whole", "[nodes][agents]") {
  testing::TempDir dir;
  ClientKeys keys;
  Result<ClientKey> a = keys.Add("web-1", "any");
  REQUIRE(a.ok());
  CHECK(a->id == "001");
  CHECK(a->key.size() == 64);
  CHECK(keys.Add("web-1", "any").status().code() == Code::kAlreadyExists);
  CHECK(keys.Add("bad name", "any").status().code() == Code::kInvalidArgument);
  CHECK(keys.Add("x", "10.0.0.1; rm -rf").status().code() == Code::kInvalidArgument);
  for (const std::string bad :
       {"999.1.1.1", "10.0.0.0/99", "10.0.0.0/", "10.0.0.0/x", "::1/129", "10.0.0", "", "any/8"}) {
    INFO(bad);
    Result<ClientKey> refused = keys.Add("x", bad);
    CHECK(refused.status().code() == Code::kInvalidArgument);
    CHECK(refused.status().message().find("'" + bad + "'") != std::string::npos);
  }
  REQUIRE(keys.Add("web-2", "10.0.0.2").ok());
  REQUIRE(keys.Remove("002").ok());
  CHECK(keys.Remove("002").code() == Code::kNotFound);
  // A removed agent's id is never handed out again.
  CHECK(keys.Add("web-3", "any")->id == "003");
  // Its name may be registered again, under a new id.
  CHECK(keys.Add("web-2", "any")->id == "004");

  const std::string path = dir / "client.keys";
  REQUIRE(keys.Save(path).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  Result<ClientKeys> back = ClientKeys::Load(path);
  REQUIRE(back.ok());
  CHECK(back->Serialize() == keys.Serialize());
  CHECK(ClientKeys::Load(dir / "missing")->active() == 0);
}

TEST_CASE("an agent's IP is an address with an optional prefix, as Wazuh takes it",
          "[nodes][agents]") {
  ClientKeys keys;
  int n = 0;
  for (const std::string good : {"10.0.0.0/8", "192.168.1.7", "2001:db8::1", "2001:db8::/32"}) {
    INFO(good);
    CHECK(keys.Add("ip-" + std::to_string(++n), good).ok());
  }
}
