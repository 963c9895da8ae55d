#include "zcluster/schemas/status.h"

namespace zcluster {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kPermissionDenied:
      return "permission_denied";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kInternal:
      return "internal";
    case Code::kDataLoss:
      return "data_loss";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kOutOfRange:
      return "out_of_range";
  }
  return "unknown";
}

std::optional<Code> CodeFromNumber(std::uint64_t number) {
  if (number > static_cast<std::uint64_t>(Code::kOutOfRange)) return std::nullopt;
  return static_cast<Code>(number);
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace zcluster
