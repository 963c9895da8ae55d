#include "zcluster/nodes/cluster_log.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>

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

ClusterLog::ClusterLog(bool debug) : debug_(debug), forced_debug_(debug) {}

namespace {

Result<std::FILE*> OpenForAppend(const std::string& path) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("log: cannot create '" + dir.string() + "': " + ec.message());
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (f == nullptr) {
    return Status::Unavailable("log: cannot open '" + path + "': " + std::strerror(errno));
  }
  ::chmod(path.c_str(), 0660);
  return f;
}

}  // namespace

Result<std::unique_ptr<ClusterLog>> ClusterLog::Open(const std::string& path, bool echo_stderr,
                                                     bool debug, const std::string& json_path,
                                                     bool plain) {
  auto log = std::make_unique<ClusterLog>(debug);
  log->echo_stderr_ = echo_stderr;
  if (plain) log->path_ = path;
  log->json_path_ = json_path;
  ZC_RETURN_IF_ERROR(log->Reopen());
  return log;
}

Status ClusterLog::Reopen() {
  std::FILE* plain = nullptr;
  std::FILE* json = nullptr;
  if (!path_.empty()) {
    Result<std::FILE*> f = OpenForAppend(path_);
    if (!f.ok()) return f.status();
    plain = *f;
  }
  if (!json_path_.empty()) {
    Result<std::FILE*> f = OpenForAppend(json_path_);
    if (!f.ok()) {
      if (plain != nullptr) std::fclose(plain);
      return f.status();
    }
    json = *f;
  }
  std::lock_guard lock(mu_);
  if (file_ != nullptr) std::fclose(file_);
  if (json_file_ != nullptr) std::fclose(json_file_);
  file_ = plain;
  json_file_ = json;
  return Status::Ok();
}

ClusterLog::~ClusterLog() {
  if (file_ != nullptr) std::fclose(file_);
  if (json_file_ != nullptr) std::fclose(json_file_);
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
  std::string json_line;
  if (!json_path_.empty()) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &utc);
    // Messages quote what peers sent: invalid UTF-8 is replaced rather than refused.
    json_line = nlohmann::json{{"time", iso},
                               {"level", LevelName(level)},
                               {"tag", tag},
                               {"subtag", subtag},
                               {"message", message}}
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n";
  }
  std::lock_guard lock(mu_);
  // Flushed per line: an administrator tails these files, and a crash must not eat the last lines.
  if (file_ != nullptr) {
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }
  if (json_file_ != nullptr) {
    std::fwrite(json_line.data(), 1, json_line.size(), json_file_);
    std::fflush(json_file_);
  }
  if (echo_stderr_) {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace zcluster::nodes
