#include "integrity/file_scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace zcluster::nodes {
namespace {

std::int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

std::string HashBytes(std::string_view bytes) {
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

Result<std::string> HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::Unavailable("cannot read '" + path + "': " + std::strerror(errno));
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  std::vector<unsigned char> buf(1 << 16);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
    crypto_generichash_update(&state, buf.data(), static_cast<unsigned long long>(n));
  }
  int saved = errno;
  ::close(fd);
  if (n < 0) return Status::Unavailable("cannot read '" + path + "': " + std::strerror(saved));
  unsigned char out[32];
  crypto_generichash_final(&state, out, sizeof out);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return std::string(hex);
}

std::uint64_t FileRowDigest(const schemas::FileEntry& e) {
  std::string row = e.path + '\0' + e.hash + '\0' + std::to_string(e.mode);
  unsigned char h[8];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(row.data()), row.size(),
                     nullptr, 0);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | h[i];
  return v;
}

std::uint64_t FileTableDigest(const std::map<std::string, schemas::FileEntry>& files) {
  std::uint64_t sum = 0;
  for (const auto& [path, e] : files) sum += FileRowDigest(e);
  return sum;
}

void FileScanner::Walk(const std::string& rel_dir, std::vector<std::string>* out) const {
  DIR* dir = ::opendir((home_ + "/" + rel_dir).c_str());
  if (dir == nullptr) return;
  while (dirent* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    std::string rel = rel_dir + "/" + name;
    struct stat st {};
    if (::lstat((home_ + "/" + rel).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      Walk(rel, out);
    } else if (S_ISREG(st.st_mode)) {
      out->push_back(rel);
    }  // symlinks, sockets, devices: never synced
  }
  ::closedir(dir);
}

std::map<std::string, ScannedFile> FileScanner::Scan(std::int64_t settle_ns,
                                                     std::vector<std::string>* unsettled,
                                                     const std::set<std::string>* closed) {
  std::vector<std::string> paths;
  for (const FileSetEntry& e : set_.entries()) {
    if (e.folder) {
      Walk(e.path, &paths);
    } else {
      paths.push_back(e.path);
    }
  }
  std::int64_t now = NowNs();
  std::map<std::string, ScannedFile> found;
  for (const std::string& rel : paths) {
    const FileSetEntry* entry = set_.Match(rel);
    if (entry == nullptr) continue;
    struct stat st {};
    if (::lstat((home_ + "/" + rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    FileStat fs{static_cast<std::uint64_t>(st.st_size),
                std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, st.st_ino,
                static_cast<std::uint32_t>(st.st_mode & 07777)};
    auto cached = cache_.find(rel);
    if (cached != cache_.end() && cached->second.stat.size == fs.size &&
        cached->second.stat.mtime_ns == fs.mtime_ns && cached->second.stat.inode == fs.inode) {
      cached->second.stat.mode = fs.mode;
      found.emplace(rel, cached->second);
      continue;
    }
    if (now - fs.mtime_ns < settle_ns && (closed == nullptr || !closed->count(home_ + "/" + rel))) {
      if (unsettled != nullptr) unsettled->push_back(rel);
      if (cached != cache_.end()) found.emplace(rel, cached->second);
      continue;
    }
    Result<std::string> hash = HashFile(home_ + "/" + rel);
    if (!hash.ok()) continue;  // vanished between the walk and the read
    ScannedFile sf{{rel, *hash, fs.size, entry->mode}, fs};
    cache_[rel] = sf;
    found.emplace(rel, std::move(sf));
  }
  // Forget what is gone, so a file that comes back is hashed again.
  std::erase_if(cache_, [&](const auto& kv) { return !found.count(kv.first); });
  return found;
}

std::optional<ScannedFile> FileScanner::ScanOne(const std::string& rel) {
  const FileSetEntry* entry = set_.Match(rel);
  struct stat st {};
  if (entry == nullptr || ::lstat((home_ + "/" + rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    cache_.erase(rel);
    return std::nullopt;
  }
  FileStat fs{static_cast<std::uint64_t>(st.st_size),
              std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, st.st_ino,
              static_cast<std::uint32_t>(st.st_mode & 07777)};
  Result<std::string> hash = HashFile(home_ + "/" + rel);
  if (!hash.ok()) {
    cache_.erase(rel);
    return std::nullopt;
  }
  ScannedFile sf{{rel, *hash, fs.size, entry->mode}, fs};
  cache_[rel] = sf;
  return sf;
}

std::vector<std::string> FileScanner::LeftoverDownloads() const {
  std::vector<std::string> paths, stray;
  for (const FileSetEntry& e : set_.entries()) {
    std::string dir = e.folder ? e.path : e.path.substr(0, e.path.rfind('/'));
    DIR* d = ::opendir((home_ + "/" + dir).c_str());
    if (d == nullptr) continue;
    ::closedir(d);
    // Walk collects regular files, download files included.
    std::vector<std::string> all;
    Walk(dir, &all);
    for (const std::string& p : all) {
      std::string suffix = kDownloadSuffix;
      if (p.size() > suffix.size() &&
          p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
        stray.push_back(p);
      }
    }
  }
  std::sort(stray.begin(), stray.end());
  stray.erase(std::unique(stray.begin(), stray.end()), stray.end());
  return stray;
}

}  // namespace zcluster::nodes
