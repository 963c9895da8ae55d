// A file replaced atomically is whole, has its mode whatever the umask, and leaves no temporary
// behind, also when the write fails.
#include "runtime/atomic_file.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>

#include "support/temp_dir.h"

using namespace zcluster;
using namespace zcluster::nodes;
using zcluster::testing::ReadFile;
using zcluster::testing::TempDir;

TEST_CASE("a file is replaced whole with its mode and no temporary is left", "[nodes][runtime]") {
  TempDir dir;
  std::string path = dir / "client.keys";
  REQUIRE(WriteFileAtomically(path, "old", 0600).ok());
  mode_t old_umask = ::umask(0077);
  REQUIRE(WriteFileAtomically(path, "new content", 0640).ok());
  ::umask(old_umask);
  CHECK(ReadFile(path) == "new content");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("a failed replacement names the file and leaves the old one", "[nodes][runtime]") {
  TempDir dir;
  std::string path = dir / "sub/client.keys";  // the folder does not exist
  Status s = WriteFileAtomically(path, "x", 0640);
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message().find(path) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
  std::string dir_as_file = dir / "folder";
  std::filesystem::create_directories(dir_as_file);
  CHECK_FALSE(WriteFileAtomically(dir_as_file, "x", 0640).ok());  // a folder is not replaced
  CHECK(std::filesystem::is_directory(dir_as_file));
  CHECK_FALSE(std::filesystem::exists(dir_as_file + ".tmp"));
}

TEST_CASE("an Fd closes its descriptor once, and a moved-from one owns nothing",
          "[nodes][runtime]") {
  TempDir dir;
  int raw = -1;
  {
    Fd a(dir / "f", O_WRONLY | O_CREAT, 0600);
    REQUIRE(a.ok());
    raw = a.get();
    Fd b(std::move(a));
    CHECK_FALSE(a.ok());
    CHECK(b.get() == raw);
  }
  CHECK(::fcntl(raw, F_GETFD) == -1);  // closed when b went away
  CHECK_FALSE(SyncFolder(dir / "missing").ok());
  CHECK(SyncFolder(dir.path()).ok());
}
