// The one error type: a stable code (the strings in API.md) plus a human sentence.
#pragma once

#include <string>
#include <string_view>

namespace tollgate {

enum class ErrorCode {
  kTokenMissing,
  kTokenInvalid,
  kInsufficientBalance,
  kSpendingLimitExceeded,
  kProviderKeyInvalid,
  kScopeDenied,
  kUnauthenticated,
  kInvalidCredentials,
  kForbidden,
  kCsrfFailed,
  kNotFound,
  kMethodNotAllowed,
  kEmailTaken,
  kIdempotencyConflict,
  kAlreadyRefunded,
  kInvalidRequest,
  kPayloadTooLarge,
  kHeadersTooLarge,
  kRateLimited,
  kPlatformUnavailable,
  kChargeFailed,
  kUpstreamError,
  kInternal,
};

// Stable wire string, e.g. "TOKEN_INVALID".
std::string_view to_string(ErrorCode code);
// HTTP status a REST response carries for this code.
unsigned http_status(ErrorCode code);
// Parses a wire string back (clients of the REST API use this); false if unknown.
bool parse_error_code(std::string_view text, ErrorCode& out);

struct Error {
  ErrorCode code;
  std::string message;
};

}  // namespace tollgate
