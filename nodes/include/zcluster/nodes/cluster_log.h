// cluster.log in Wazuh's format, so that an administrator's greps keep working:
//   2026/11/24 10:00:00 INFO: [Worker w1] [Keep alive] Successfully connected to master.
// Tags are "Master" or "Worker <name>"; subtags name the flow ("Main", "Keep alive", ...).
//
// Thread-safe: the ZAP handler's thread logs refusals while the node's loop logs the rest.
#pragma once

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "zcluster/schemas/status.h"

namespace zcluster::nodes {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class ClusterLog {
 public:
  // Appends to `path` (its folder is created, mode 0750); `echo_stderr` also prints each line
  // (foreground mode). `debug` enables DEBUG lines. With a `json_path`, every line is also
  // written there as one JSON object: {"time" (ISO 8601 UTC), "level", "tag", "subtag",
  // "message"}; with `plain` false, only there.
  static Result<std::unique_ptr<ClusterLog>> Open(const std::string& path, bool echo_stderr,
                                                  bool debug, const std::string& json_path = "",
                                                  bool plain = true);
  // A log that only prints to stderr (tools, -t).
  ClusterLog(bool debug);
  ~ClusterLog();
  ClusterLog(const ClusterLog&) = delete;
  ClusterLog& operator=(const ClusterLog&) = delete;

  void Write(LogLevel level, std::string_view tag, std::string_view subtag,
             std::string_view message);
  // Closes and opens the files again by name, so that lines go to a new file once logrotate has
  // moved the old one away (its postrotate sends SIGHUP). On failure the old files stay in use.
  Status Reopen();
  // Turns DEBUG lines on or off at run time (SIGHUP re-reads Wazuh's wazuh_clusterd.debug). A
  // log opened with `debug` (zclusterd -d) keeps them on whatever this says.
  void SetDebug(bool on) { debug_ = forced_debug_ || on; }
  bool debug() const { return debug_; }

 private:
  std::mutex mu_;
  std::string path_, json_path_;
  std::FILE* file_ = nullptr;       // guarded by mu_; the plain log, when kept
  std::FILE* json_file_ = nullptr;  // guarded by mu_; the JSON log, when kept
  bool echo_stderr_ = true;
  std::atomic<bool> debug_{false};
  bool forced_debug_ = false;
};

// A ClusterLog with its tag fixed: Logger(log, "Worker w1").Info("Keep alive", "sent {}", n).
class Logger {
 public:
  Logger(ClusterLog& log, std::string tag) : log_(&log), tag_(std::move(tag)) {}
  const std::string& tag() const { return tag_; }
  ClusterLog& sink() const { return *log_; }
  // The same log under another tag: log.WithTag("Worker w1").
  Logger WithTag(std::string tag) const { return Logger(*log_, std::move(tag)); }

  template <typename... Args>
  void At(LogLevel level, std::string_view subtag, fmt::format_string<Args...> f,
          Args&&... args) const {
    log_->Write(level, tag_, subtag, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void Debug(std::string_view subtag, fmt::format_string<Args...> f, Args&&... args) const {
    log_->Write(LogLevel::kDebug, tag_, subtag, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void Info(std::string_view subtag, fmt::format_string<Args...> f, Args&&... args) const {
    log_->Write(LogLevel::kInfo, tag_, subtag, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void Warning(std::string_view subtag, fmt::format_string<Args...> f, Args&&... args) const {
    log_->Write(LogLevel::kWarning, tag_, subtag, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void Error(std::string_view subtag, fmt::format_string<Args...> f, Args&&... args) const {
    log_->Write(LogLevel::kError, tag_, subtag, fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  ClusterLog* log_;
  std::string tag_;
};

}  // namespace zcluster::nodes
