#include "zcluster/nodes/client_keys.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cstdio>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;

TEST_CASE("client.keys in Wazuh's format round-trips with removed agents and comments",
          "[nodes][agents]") {
  const std::string text =
      "001 web-1 any 1111111111111111111111111111111111111111111111111111111111111111\n"
      "002 !old-db 10.0.0.2 2222222222222222222222222222222222222222222222222222222222222222\n"
      "# a comment\n"
      "003 db-1 10.0.0.0/24 3333333333333333333333333333333333333333333333333333333333333333\n";
  Result<ClientKeys> keys = ClientKeys::Parse(text);
  REQUIRE(keys.ok());
  CHECK(keys->active() == 2);
  CHECK(keys->skipped() == 0);
  REQUIRE(keys->Find("001").has_value());
  CHECK(keys->Find("001")->name == "web-1");
  CHECK_FALSE(keys->Find("002").has_value());
  CHECK(keys->entries()[1].removed);
  CHECK(keys->entries()[1].name == "old-db");
  CHECK(keys->Find("003")->ip == "10.0.0.0/24");
  CHECK(keys->IndexOf("003") == 2);
  CHECK(keys->IndexOf("3") == ClientKeys::npos);  // "3" is not "003"
  CHECK(keys->IndexOf("x") == ClientKeys::npos);
  CHECK(keys->Serialize() == text);
}

TEST_CASE("lines that are not agents are named, skipped and kept, and the rest load",
          "[nodes][agents]") {
  const std::string k64(64, 'a');
  const std::string text =
      "001 web-1 any\n"  // line 1: too few fields
      "002 a any " +
      k64 +
      " extra\n"  // too many
      "x03 b any " +
      k64 +
      "\n"  // bad id
      "004 c any " +
      k64 +
      "\n"  // good
      "004 d any " +
      k64 +
      "\n"  // id seen before
      "\n"  // empty: nothing
      "006 e any " +
      std::string(300, 'k') +
      "\n"  // a field too long
      "007 f any " +
      k64 + "\r\n";  // CRLF: good
  Result<ClientKeys> keys = ClientKeys::Parse(text);
  REQUIRE(keys.ok());
  CHECK(keys->active() == 2);
  CHECK(keys->Find("004")->name == "c");
  CHECK(keys->Find("007")->key == k64);
  CHECK(keys->skipped() == 5);
  CHECK(keys->problems() ==
        std::vector<std::string>{"client.keys line 1: expected 'ID NAME IP KEY'",
                                 "client.keys line 2: expected 'ID NAME IP KEY'",
                                 "client.keys line 3: bad id 'x03'",
                                 "client.keys line 7: a field is longer than 255 characters",
                                 "client.keys line 5: id 004 appears twice"});
  // Saving keeps every line an administrator wrote, in place, so that it can be mended.
  Result<ClientKeys> again = ClientKeys::Parse(keys->Serialize());
  REQUIRE(again.ok());
  CHECK(again->skipped() == 5);
  CHECK(keys->Serialize().find("001 web-1 any\n") == 0);
  CHECK(keys->Serialize().find("004 d any") != std::string::npos);

  // Only the first lines are named; all are counted.
  std::string many;
  for (int i = 0; i < 50; ++i) many += "bad line\n";
  Result<ClientKeys> lots = ClientKeys::Parse(many);
  REQUIRE(lots.ok());
  CHECK(lots->skipped() == 50);
  CHECK(lots->problems().size() == ClientKeys::kMaxProblems);
}

TEST_CASE("a registry of a million agents is held in about a hundred bytes each",
          "[nodes][agents]") {
  testing::TempDir dir;
  std::string text;
  const std::size_t n = 1000000;
  text.reserve(n * 90);
  for (std::size_t i = 1; i <= n; ++i) {
    text += fmt::format("{:03} agent-{:07} any {:064}\n", i, i, i);
  }
  text += "999 broken\n";
  {
    std::FILE* f = std::fopen((dir / "client.keys").c_str(), "w");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
    std::fclose(f);
  }
  Result<ClientKeys> keys = ClientKeys::Load(dir / "client.keys");
  REQUIRE(keys.ok());
  CHECK(keys->active() == n);
  CHECK(keys->problems() ==
        std::vector<std::string>{"client.keys line 1000001: expected 'ID NAME IP KEY'"});
  // The fields take 86 bytes an agent here; a string per field and a map node per id took 270.
  INFO(keys->memory());
  CHECK(keys->memory() < n * 120);
  CHECK(keys->Find("500000")->name == "agent-0500000");
  CHECK(keys->IndexOf("001") == 0);
  CHECK(keys->IndexOf("1000000") == n - 1);
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
