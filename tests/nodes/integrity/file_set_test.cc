#include "integrity/file_set.h"
#include "zcluster/nodes/cluster_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "integrity/file_scanner.h"
#include "support/temp_dir.h"
#include "zcluster/schemas/files.h"

using namespace zcluster;
using namespace zcluster::nodes;

TEST_CASE("the default file set is Wazuh's cluster.json", "[nodes][files]") {
  FileSet set = FileSet::Default();
  REQUIRE(set.Match("etc/client.keys") != nullptr);
  CHECK(set.Match("etc/client.keys")->mode == 0640);
  CHECK(set.Match("etc/shared/default/agent.conf")->mode == 0660);
  CHECK(set.Match("etc/shared/web/sub/deep.txt") != nullptr);
  CHECK(set.Match("etc/rules/local_rules.xml")->reload);
  CHECK(set.Match("etc/decoders/local_decoder.xml") != nullptr);
  CHECK(set.Match("etc/lists/amazon/aws-eventnames") != nullptr);
  CHECK(set.Match("etc/ossec.conf") == nullptr);
  CHECK(set.Match("etc/shared/ar.conf") == nullptr);
  CHECK(set.Match("etc/rules/x.xml~") == nullptr);
  CHECK(set.Match("etc/rules/x.tmp") == nullptr);
  CHECK(set.Match("etc/rules/x.lock") == nullptr);
  CHECK(set.Match("etc/rules/.x.xml.swp") == nullptr);
  CHECK(set.Match("etc/rules/.x.xml.zc-tmp") == nullptr);
  CHECK(set.Match("etc/internal_options.conf") == nullptr);
  CHECK(set.Match("etc/rules") == nullptr);  // the folder itself is no file
  CHECK(set.Match("etc/rulesX/a") == nullptr);
}

TEST_CASE("every path escape is refused", "[nodes][files]") {
  for (const char* bad :
       {"", "/etc/passwd", "../etc/passwd", "etc/rules/../../x", "etc//rules/a", "etc/./rules/a",
        "etc/rules/a/", "etc\\rules", "./etc/rules/a", "etc/rules/.."}) {
    INFO(bad);
    CHECK_FALSE(schemas::IsSafeRelativePath(bad));
    CHECK(FileSet::Default().Match(bad) == nullptr);
  }
  CHECK_FALSE(schemas::IsSafeRelativePath(std::string("etc/rules/a\0b", 13)));
  CHECK_FALSE(schemas::IsSafeRelativePath("etc/" + std::string(256, 'x')));
  CHECK(schemas::IsSafeRelativePath("etc/rules/..hidden"));
}

TEST_CASE("writes through a symlink are refused", "[nodes][files]") {
  testing::TempDir home, outside;
  FileSet set = FileSet::Default();
  testing::WriteFile(home / "etc/rules/ok.xml", "x");
  CHECK(CheckWritablePath(home.path(), "etc/rules/ok.xml", set).ok());
  CHECK(CheckWritablePath(home.path(), "etc/rules/new.xml", set).ok());
  CHECK(CheckWritablePath(home.path(), "etc/ossec.conf", set).code() == Code::kPermissionDenied);
  REQUIRE(::symlink(outside.path().c_str(), (home / "etc/shared").c_str()) == 0);
  Status s = CheckWritablePath(home.path(), "etc/shared/default/agent.conf", set);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().find("symlink") != std::string::npos);
  REQUIRE(::symlink("/etc/passwd", (home / "etc/rules/link.xml").c_str()) == 0);
  CHECK_FALSE(CheckWritablePath(home.path(), "etc/rules/link.xml", set).ok());
}

TEST_CASE("the scanner hashes files and skips symlinks and excluded names", "[nodes][files]") {
  testing::TempDir home;
  testing::WriteFile(home / "etc/rules/a.xml", "hello");
  testing::WriteFile(home / "etc/rules/a.xml~", "backup");
  testing::WriteFile(home / "etc/ossec.conf", "<ossec_config/>");
  REQUIRE(::symlink((home / "etc/rules/a.xml").c_str(), (home / "etc/rules/b.xml").c_str()) == 0);
  FileScanner scanner(home.path(), FileSet::Default());
  auto files = scanner.Scan(0, nullptr);
  REQUIRE(files.size() == 1);
  const schemas::FileEntry& e = files.at("etc/rules/a.xml").entry;
  CHECK(e.size == 5);
  CHECK(e.mode == 0660);
  CHECK(e.hash == *HashFile(home / "etc/rules/a.xml"));
  CHECK(e.hash.size() == 64);
  // A file written a moment ago is left for the next scan when asked to let it settle.
  testing::WriteFile(home / "etc/rules/new.xml", "fresh");
  std::vector<std::string> unsettled;
  auto again = scanner.Scan(60'000'000'000, &unsettled);
  CHECK(unsettled == std::vector<std::string>{"etc/rules/new.xml"});
  CHECK(again.count("etc/rules/new.xml") == 0);
}

TEST_CASE("the file table digest changes with any hash or mode", "[nodes][files]") {
  std::map<std::string, schemas::FileEntry> a{
      {"etc/rules/a", {"etc/rules/a", std::string(64, 'a'), 1, 0660}},
      {"etc/rules/b", {"etc/rules/b", std::string(64, 'b'), 1, 0660}}};
  auto b = a;
  CHECK(FileTableDigest(a) == FileTableDigest(b));
  b["etc/rules/a"].mode = 0640;
  CHECK(FileTableDigest(a) != FileTableDigest(b));
  b = a;
  b["etc/rules/b"].hash = std::string(64, 'c');
  CHECK(FileTableDigest(a) != FileTableDigest(b));
  b = a;
  b.erase("etc/rules/b");
  CHECK(FileTableDigest(a) != FileTableDigest(b));
}

TEST_CASE("a config's sync_files join the set", "[nodes][files]") {
  ClusterConfig config;
  config.sync_files.push_back({"etc/extra", true, 0640, true});
  FileSet set = FileSet::FromConfig(config);
  REQUIRE(set.Match("etc/extra/a.conf") != nullptr);
  CHECK(set.Match("etc/extra/a.conf")->mode == 0640);
  CHECK(set.Match("etc/extra/a.conf")->reload);
  CHECK(set.Match("etc/rules/a.xml") != nullptr);
}
