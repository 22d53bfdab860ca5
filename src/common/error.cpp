// Wire strings and HTTP statuses of the error codes; one table so they can't drift apart.
#include "common/error.hpp"

#include <array>

namespace tollgate {
namespace {

struct CodeInfo {
  ErrorCode code;
  std::string_view name;
  unsigned status;
};

constexpr std::array kCodes = {
    CodeInfo{ErrorCode::kTokenMissing, "TOKEN_MISSING", 400},
    CodeInfo{ErrorCode::kTokenInvalid, "TOKEN_INVALID", 401},
    CodeInfo{ErrorCode::kInsufficientBalance, "INSUFFICIENT_BALANCE", 402},
    CodeInfo{ErrorCode::kSpendingLimitExceeded, "SPENDING_LIMIT_EXCEEDED", 402},
    CodeInfo{ErrorCode::kProviderKeyInvalid, "PROVIDER_KEY_INVALID", 401},
    CodeInfo{ErrorCode::kScopeDenied, "SCOPE_DENIED", 403},
    CodeInfo{ErrorCode::kUnauthenticated, "UNAUTHENTICATED", 401},
    CodeInfo{ErrorCode::kInvalidCredentials, "INVALID_CREDENTIALS", 401},
    CodeInfo{ErrorCode::kForbidden, "FORBIDDEN", 403},
    CodeInfo{ErrorCode::kCsrfFailed, "CSRF_FAILED", 403},
    CodeInfo{ErrorCode::kNotFound, "NOT_FOUND", 404},
    CodeInfo{ErrorCode::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405},
    CodeInfo{ErrorCode::kEmailTaken, "EMAIL_TAKEN", 409},
    CodeInfo{ErrorCode::kIdempotencyConflict, "IDEMPOTENCY_CONFLICT", 409},
    CodeInfo{ErrorCode::kAlreadyRefunded, "ALREADY_REFUNDED", 409},
    CodeInfo{ErrorCode::kInvalidRequest, "INVALID_REQUEST", 400},
    CodeInfo{ErrorCode::kPayloadTooLarge, "PAYLOAD_TOO_LARGE", 413},
    CodeInfo{ErrorCode::kHeadersTooLarge, "HEADERS_TOO_LARGE", 431},
    CodeInfo{ErrorCode::kRateLimited, "RATE_LIMITED", 429},
    CodeInfo{ErrorCode::kPlatformUnavailable, "PLATFORM_UNAVAILABLE", 503},
    CodeInfo{ErrorCode::kChargeFailed, "CHARGE_FAILED", 502},
    CodeInfo{ErrorCode::kUpstreamError, "UPSTREAM_ERROR", 502},
    CodeInfo{ErrorCode::kInternal, "INTERNAL", 500},
};

const CodeInfo& info(ErrorCode code) {
  for (const auto& entry : kCodes) {
    if (entry.code == code) return entry;
  }
  return kCodes.back();
}

}  // namespace

std::string_view to_string(ErrorCode code) { return info(code).name; }
unsigned http_status(ErrorCode code) { return info(code).status; }

bool parse_error_code(std::string_view text, ErrorCode& out) {
  for (const auto& entry : kCodes) {
    if (entry.name == text) {
      out = entry.code;
      return true;
    }
  }
  return false;
}

}  // namespace tollgate
