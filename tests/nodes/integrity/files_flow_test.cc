// Both ends of the file-integrity flow on temp-dir stores, without sockets: the master's table
// (MasterFiles) answers a worker's syncs and fetches, the worker (WorkerFiles) installs what it
// is served; each step is what the integrity actors would hand across their pipes.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <filesystem>

#include "integrity/master_files.h"
#include "integrity/worker_files.h"
#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;
using zcluster::testing::ReadFile;
using zcluster::testing::TempDir;
using zcluster::testing::WriteFile;

namespace {

struct Side {
  TempDir dir;
  std::unique_ptr<ClusterLog> log_file =
      std::move(ClusterLog::Open(dir / "cluster.log", false, false)).value();
  ClusterLog& log = *log_file;
  std::unique_ptr<store::NodeStore> store;
  std::string home() const { return dir / "home"; }
  std::string Log() const { return ReadFile(dir / "cluster.log"); }
  explicit Side(const char* type) {
    std::filesystem::create_directories(home() + "/etc/rules");
    store = std::move(store::NodeStore::Open(dir / "db", {"c", type, type})).value();
  }
};

struct MasterSide : Side {
  std::unique_ptr<MasterFiles> files;
  MasterSide() : Side("master") { Reload(); }
  void Reload() {
    files.reset();
    files = std::move(MasterFiles::Load(*store, FileScanner(home(), FileSet::Default()),
                                        Logger(log, "Master")))
                .value();
  }
  MasterFiles::Changes Rescan() {
    std::size_t unsettled = 0;
    Result<MasterFiles::Changes> c = files->Rescan(&unsettled);
    REQUIRE(c.ok());
    return *c;
  }
};

struct WorkerSide : Side {
  std::unique_ptr<WorkerFiles> files;
  WorkerSide() : Side("worker") { Reload(); }
  // As a restarted worker: the same store and disk, nothing in memory.
  void Reload() {
    files.reset();
    files = std::move(WorkerFiles::Load(*store, FileScanner(home(), FileSet::Default()),
                                        Logger(log, "Worker w"), WorkerFilesParams{}))
                .value();
  }
};

// Serves every fetch the worker has to send until it has none left.
void ServeAll(MasterSide& m, WorkerSide& w) {
  for (int round = 0; round < 100; ++round) {
    std::optional<schemas::FileFetch> fetch = w.files->NextFetch();
    if (!fetch) return;
    REQUIRE(w.files->OnData(m.files->Serve(*fetch)).ok());
  }
  FAIL("the worker kept fetching");
}

void BackdateAll(const std::string& home) {
  // Files written a moment ago may still be mid-write: the scanner waits for them to settle.
  for (const auto& e : std::filesystem::recursive_directory_iterator(home)) {
    if (e.is_regular_file()) {
      std::filesystem::last_write_time(
          e.path(), std::filesystem::last_write_time(e.path()) - std::chrono::seconds(5));
    }
  }
}

}  // namespace

TEST_CASE("a worker installs the master's files from a full sync and fetched chunks",
          "[nodes][integrity]") {
  MasterSide m;
  WriteFile(m.home() + "/etc/rules/local_rules.xml", "<group name=\"local\"/>\n");
  WriteFile(m.home() + "/etc/lists/big", std::string(3 << 20, 'x'));  // several chunks
  BackdateAll(m.home());
  MasterFiles::Changes first = m.Rescan();
  CHECK(first.size() == 2);
  CHECK(m.files->ready());

  WorkerSide w;
  REQUIRE(w.files->Start().ok());
  Result<schemas::FilesSync> sync = m.files->SyncFrom(w.files->sync_from());
  REQUIRE(sync.ok());
  REQUIRE(w.files->OnSync(*sync).ok());
  CHECK(w.files->busy());
  ServeAll(m, w);
  CHECK_FALSE(w.files->busy());
  CHECK(w.files->synced());
  CHECK(ReadFile(w.home() + "/etc/rules/local_rules.xml") == "<group name=\"local\"/>\n");
  CHECK(ReadFile(w.home() + "/etc/lists/big") == std::string(3 << 20, 'x'));
  struct stat st {};
  REQUIRE(::stat((w.home() + "/etc/lists/big").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(w.files->digest() == m.files->digest());
  CHECK(w.files->applied() == m.files->seq());
  CHECK(w.files->last_sync().created == 2);
}

TEST_CASE("a change on the master reaches the worker as a delta, a deletion too",
          "[nodes][integrity]") {
  MasterSide m;
  WriteFile(m.home() + "/etc/rules/a.xml", "one");
  BackdateAll(m.home());
  m.Rescan();
  WorkerSide w;
  REQUIRE(w.files->Start().ok());
  REQUIRE(w.files->OnSync(*m.files->SyncFrom(0)).ok());
  ServeAll(m, w);

  WriteFile(m.home() + "/etc/rules/a.xml", "two, longer");
  WriteFile(m.home() + "/etc/rules/b.xml", "new");
  BackdateAll(m.home());
  MasterFiles::Changes changes = m.Rescan();
  REQUIRE(changes.size() == 2);
  CHECK_FALSE(changes[0].content.empty());  // small files ride with their change
  Result<bool> needs_sync = w.files->OnDelta(schemas::FilesDelta{changes});
  REQUIRE(needs_sync.ok());
  CHECK_FALSE(*needs_sync);
  ServeAll(m, w);
  CHECK(ReadFile(w.home() + "/etc/rules/a.xml") == "two, longer");
  CHECK(ReadFile(w.home() + "/etc/rules/b.xml") == "new");

  std::filesystem::remove(m.home() + "/etc/rules/b.xml");
  MasterFiles::Changes gone = m.Rescan();
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].deleted);
  REQUIRE(w.files->OnDelta(schemas::FilesDelta{gone}).ok());
  CHECK_FALSE(std::filesystem::exists(w.home() + "/etc/rules/b.xml"));
  CHECK(w.files->digest() == m.files->digest());
  // The digest kept row by row is the sum over the whole table, as a fresh count gives it.
  std::map<std::string, schemas::FileEntry> on_disk;
  for (const schemas::FileEntry& e : w.files->Table().files) on_disk[e.path] = e;
  CHECK(w.files->digest() == FileTableDigest(on_disk));
  REQUIRE(w.files->Reconcile(true).ok());  // a rescan rebuilds it from nothing
  CHECK(w.files->digest() == FileTableDigest(on_disk));
}

TEST_CASE("a chunk of a version the master no longer has is served stale", "[nodes][integrity]") {
  MasterSide m;
  WriteFile(m.home() + "/etc/rules/a.xml", "one");
  BackdateAll(m.home());
  m.Rescan();
  schemas::FileFetch fetch{{{"etc/rules/a.xml", std::string(64, '0'), 0, 3}}};
  schemas::FileData data = m.files->Serve(fetch);
  REQUIRE(data.chunks.size() == 1);
  CHECK(data.chunks[0].stale);
  CHECK(data.chunks[0].data.empty());
}

TEST_CASE("a restarted master keeps its table and stream and rehashes nothing unchanged",
          "[nodes][integrity]") {
  MasterSide m;
  WriteFile(m.home() + "/etc/rules/a.xml", "one");
  BackdateAll(m.home());
  REQUIRE(m.Rescan().size() == 1);
  std::uint64_t seq = m.files->seq(), digest = m.files->digest();
  m.Reload();
  CHECK(m.files->seq() == seq);
  CHECK(m.files->digest() == digest);
  CHECK(m.Rescan().empty());
  CHECK(m.files->seq() == seq);
}

TEST_CASE("a worker's files row that cannot be read stops its load with DataLoss",
          "[nodes][integrity]") {
  Side w("worker");
  store::StoreBatch bad;
  bad.Put(store::Table::kFiles, "etc/rules/a.xml", "\xc1");
  REQUIRE(w.store->Write(bad).ok());
  Status s = WorkerFiles::Load(*w.store, FileScanner(w.home(), FileSet::Default()),
                               Logger(w.log, "Worker w"), WorkerFilesParams{})
                 .status();
  CHECK(s.code() == Code::kDataLoss);
  CHECK(s.message().find("etc/rules/a.xml") != std::string::npos);
}

TEST_CASE("a file_data reply leaves out whole the chunks past its budget, never cutting one",
          "[nodes][integrity]") {
  MasterSide m;
  const std::uint64_t MiB = 1 << 20;
  WriteFile(m.home() + "/etc/rules/big.xml", std::string(20 * MiB, 'r'));
  BackdateAll(m.home());
  m.Rescan();
  std::string hash;
  for (const schemas::FileEntry& e : m.files->Table().files) {
    if (e.path == "etc/rules/big.xml") hash = e.hash;
  }
  REQUIRE_FALSE(hash.empty());
  schemas::FileFetch fetch;
  for (std::uint64_t at = 0; at < 18 * MiB; at += 3 * MiB) {
    fetch.chunks.push_back({"etc/rules/big.xml", hash, at, 3 * MiB});
  }
  fetch.chunks.push_back({"etc/rules/gone.xml", hash, 0, 1});
  schemas::FileData data = m.files->Serve(fetch);
  // Five chunks of 3 MiB fit the 16 MiB budget; the sixth would not, and is absent rather
  // than cut to 1 MiB. A path the master does not have is still answered, stale.
  REQUIRE(data.chunks.size() == 6);
  for (int i = 0; i < 5; ++i) {
    CHECK(data.chunks[i].offset == i * 3 * MiB);
    CHECK(data.chunks[i].raw_length == 3 * MiB);
  }
  CHECK(data.chunks[5].path == "etc/rules/gone.xml");
  CHECK(data.chunks[5].stale);
}

TEST_CASE("a worker restarted in sync fetches and rewrites nothing", "[nodes][integrity]") {
  MasterSide m;
  WriteFile(m.home() + "/etc/rules/a.xml", "one");
  WriteFile(m.home() + "/etc/lists/big", std::string(3 << 20, 'x'));
  BackdateAll(m.home());
  m.Rescan();
  WorkerSide w;
  REQUIRE(w.files->Start().ok());
  REQUIRE(w.files->OnSync(*m.files->SyncFrom(0)).ok());
  ServeAll(m, w);
  REQUIRE(w.files->digest() == m.files->digest());
  auto inode = [&](const std::string& rel) {
    struct stat st {};
    REQUIRE(::stat((w.home() + "/" + rel).c_str(), &st) == 0);
    return st.st_ino;
  };
  ino_t rules = inode("etc/rules/a.xml"), big = inode("etc/lists/big");

  // What the worker's integrity actor does when it connects after a start.
  w.Reload();
  w.files->SessionLost();
  Result<bool> ask = w.files->Start();
  REQUIRE(ask.ok());
  CHECK_FALSE(w.files->NextFetch().has_value());
  REQUIRE(w.files->OnSync(*m.files->SyncFrom(w.files->sync_from())).ok());
  CHECK_FALSE(w.files->NextFetch().has_value());
  CHECK_FALSE(w.files->busy());
  // Installed files are replaced by a rename: the same inodes mean nothing was rewritten.
  CHECK(inode("etc/rules/a.xml") == rules);
  CHECK(inode("etc/lists/big") == big);
  CHECK(w.files->digest() == m.files->digest());
}

TEST_CASE("a chunk that cannot be written stops neither the others nor the next repair",
          "[nodes][integrity]") {
  MasterSide m;
  for (const char* name : {"a", "b", "c"}) {
    WriteFile(m.home() + "/etc/rules/" + name + ".xml", std::string("rule ") + name);
  }
  BackdateAll(m.home());
  m.Rescan();
  WorkerSide w;
  REQUIRE(w.files->Start().ok());
  REQUIRE(w.files->OnSync(*m.files->SyncFrom(0)).ok());
  // A folder where b's temporary file must go: its open fails as a full disk's write would.
  std::filesystem::create_directories(w.home() + "/etc/rules/.b.xml.zc-tmp");
  std::optional<schemas::FileFetch> fetch = w.files->NextFetch();
  REQUIRE(fetch.has_value());
  CHECK_FALSE(w.files->NextFetch().has_value());  // all three in one fetch
  Status wrote = w.files->OnData(m.files->Serve(*fetch));
  CHECK(wrote.message().find("cannot write") != std::string::npos);
  CHECK(ReadFile(w.home() + "/etc/rules/a.xml") == "rule a");
  CHECK(ReadFile(w.home() + "/etc/rules/c.xml") == "rule c");
  CHECK_FALSE(std::filesystem::exists(w.home() + "/etc/rules/b.xml"));
  // Nothing waits for a chunk that will not come, so the integrity check may run and repair.
  CHECK_FALSE(w.files->busy());
  // The round's line adds up with "Files to create: 3": two created, one not.
  INFO(w.Log());
  CHECK(w.Log().find("Files to create: 3 | Files to update: 0 | Files to delete: 0") !=
        std::string::npos);
  CHECK(w.Log().find("Created 2, updated 0, deleted 0; 1 did not complete (planned again at the "
                     "next check)") != std::string::npos);
  CHECK(w.Log().find("INFO: [Worker w] [Integrity sync] Starting.") != std::string::npos);
  std::filesystem::remove(w.home() + "/etc/rules/.b.xml.zc-tmp");
  REQUIRE(w.files->Reconcile(true).ok());
  CHECK(w.files->busy());
  ServeAll(m, w);
  CHECK(ReadFile(w.home() + "/etc/rules/b.xml") == "rule b");
  CHECK(w.files->digest() == m.files->digest());
}

TEST_CASE("a download whose chunk a reply left out is planned again, not waited for",
          "[nodes][integrity]") {
  MasterSide m;
  WriteFile(m.home() + "/etc/lists/big", std::string(3 << 20, 'x'));  // three chunks
  BackdateAll(m.home());
  m.Rescan();
  WorkerSide w;
  REQUIRE(w.files->Start().ok());
  REQUIRE(w.files->OnSync(*m.files->SyncFrom(0)).ok());
  std::optional<schemas::FileFetch> fetch = w.files->NextFetch();
  REQUIRE(fetch.has_value());
  schemas::FileData data = m.files->Serve(*fetch);
  REQUIRE(data.chunks.size() == 3);
  data.chunks.pop_back();
  REQUIRE(w.files->OnData(data).ok());
  CHECK_FALSE(w.files->busy());
  CHECK_FALSE(std::filesystem::exists(w.home() + "/etc/lists/big"));
  REQUIRE(w.files->Reconcile(true).ok());
  ServeAll(m, w);
  CHECK(ReadFile(w.home() + "/etc/lists/big") == std::string(3 << 20, 'x'));
  CHECK(w.files->digest() == m.files->digest());
}
