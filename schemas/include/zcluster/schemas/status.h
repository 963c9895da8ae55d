// Errors as values. A Status says what went wrong and, through its code, what the caller should
// do about it (abseil's sense): retry the call (Unavailable), fix the input (InvalidArgument),
// or not until someone fixes the state (FailedPrecondition). The codes travel on the wire in
// error replies, so their numbers are part of the protocol: never renumber, only append.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zcluster {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument = 1,     // the input is malformed or out of range: fix it, do not retry
  kNotFound = 2,            // the named thing does not exist
  kAlreadyExists = 3,       // e.g. a node name already connected
  kPermissionDenied = 4,    // the peer's key does not allow this
  kFailedPrecondition = 5,  // the state forbids it (wrong cluster, incompatible protocol)
  kUnavailable = 6,         // transient: retry later, with backoff
  kInternal = 7,            // a bug or an unexpected library failure
  kDataLoss = 8,            // stored data is corrupt or unreadable
  kUnauthenticated = 9,     // the peer has not said hello yet
  kOutOfRange = 10,         // a sequence or size beyond what is held
};

// Stable lower-case name of a code, e.g. "permission_denied"; "unknown" for numbers not listed.
std::string_view CodeName(Code code);
// The code for a wire number; nullopt for numbers this build does not know.
std::optional<Code> CodeFromNumber(std::uint64_t number);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status DataLoss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {Code::kOutOfRange, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "permission_denied: key of w1 may not speak as w2"
  std::string ToString() const;
  // Swallowing an error on purpose is explicit and greppable.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must not be ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace zcluster

// Propagates a non-ok Status to the caller.
#define ZC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::zcluster::Status zc_status_ = (expr);  \
    if (!zc_status_.ok()) return zc_status_; \
  } while (0)
