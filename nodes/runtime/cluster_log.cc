#include "zcluster/nodes/cluster_log.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace zcluster::nodes {
namespace {

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

}  // namespace

ClusterLog::ClusterLog(bool debug) : debug_(debug) {}

Result<std::unique_ptr<ClusterLog>> ClusterLog::Open(const std::string& path, bool echo_stderr,
                                                     bool debug) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("log: cannot create '" + dir.string() + "': " + ec.message());
  auto log = std::make_unique<ClusterLog>(debug);
  log->echo_stderr_ = echo_stderr;
  log->file_ = std::fopen(path.c_str(), "ae");
  if (log->file_ == nullptr) {
    return Status::Unavailable("log: cannot open '" + path + "': " + std::strerror(errno));
  }
  ::chmod(path.c_str(), 0660);
  return log;
}

ClusterLog::~ClusterLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void ClusterLog::Write(LogLevel level, std::string_view tag, std::string_view subtag,
                       std::string_view message) {
  if (level == LogLevel::kDebug && !debug_) return;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y/%m/%d %H:%M:%S", &tm);
  std::string line =
      fmt::format("{} {}: [{}] [{}] {}\n", when, LevelName(level), tag, subtag, message);
  std::lock_guard lock(mu_);
  if (file_ != nullptr) {
    std::fwrite(line.data(), 1, line.size(), file_);
    // Flushed per line: an administrator tails this file, and a crash must not eat the last lines.
    std::fflush(file_);
  }
  if (echo_stderr_) {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace zcluster::nodes
