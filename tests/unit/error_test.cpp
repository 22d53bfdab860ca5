// The error table: one stable wire string per code and the HTTP status API.md gives it.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "common/error.hpp"

namespace tollgate {
namespace {

// kInternal is the enum's last value; every value up to it must have its own row.
std::vector<ErrorCode> all_codes() {
  std::vector<ErrorCode> out;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) out.push_back(static_cast<ErrorCode>(i));
  return out;
}

TEST(ErrorCodes, EveryCodeHasADistinctStableString) {
  std::set<std::string> seen;
  for (ErrorCode code : all_codes()) {
    std::string name(to_string(code));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(seen.insert(name).second) << "two codes share " << name << " (a code missing from the table?)";
    for (char c : name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || c == '_') << name;
    ErrorCode parsed{};
    ASSERT_TRUE(parse_error_code(name, parsed)) << name;
    EXPECT_EQ(parsed, code) << name;
  }
}

TEST(ErrorCodes, HttpStatusesAreThoseOfApiMd) {
  const std::map<std::string, unsigned> api_md = {
      {"TOKEN_MISSING", 400},      {"TOKEN_INVALID", 401},         {"INSUFFICIENT_BALANCE", 402},
      {"SPENDING_LIMIT_EXCEEDED", 402}, {"PROVIDER_KEY_INVALID", 401}, {"SCOPE_DENIED", 403},
      {"UNAUTHENTICATED", 401},    {"NOT_FOUND", 404},             {"IDEMPOTENCY_CONFLICT", 409},
      {"INVALID_REQUEST", 400},    {"PAYLOAD_TOO_LARGE", 413},     {"RATE_LIMITED", 429},
      {"PLATFORM_UNAVAILABLE", 503},
  };
  for (const auto& [name, status] : api_md) {
    ErrorCode code{};
    ASSERT_TRUE(parse_error_code(name, code)) << name << " is in API.md but not in the table";
    EXPECT_EQ(http_status(code), status) << name;
  }
  // Codes this implementation adds, with the statuses their meaning implies.
  EXPECT_EQ(http_status(ErrorCode::kHeadersTooLarge), 431u);
  EXPECT_EQ(http_status(ErrorCode::kMethodNotAllowed), 405u);
  EXPECT_EQ(http_status(ErrorCode::kEmailTaken), 409u);
  EXPECT_EQ(http_status(ErrorCode::kCsrfFailed), 403u);
  EXPECT_EQ(http_status(ErrorCode::kInvalidCredentials), 401u);
  EXPECT_EQ(http_status(ErrorCode::kInternal), 500u);
}

TEST(ErrorCodes, EveryStatusIsAnHttpErrorStatus) {
  for (ErrorCode code : all_codes()) {
    unsigned status = http_status(code);
    EXPECT_GE(status, 400u) << to_string(code);
    EXPECT_LE(status, 599u) << to_string(code);
  }
}

TEST(ErrorCodes, UnknownStringsDoNotParse) {
  ErrorCode code = ErrorCode::kNotFound;
  EXPECT_FALSE(parse_error_code("", code));
  EXPECT_FALSE(parse_error_code("token_invalid", code));
  EXPECT_FALSE(parse_error_code("TOKEN_INVALID ", code));
  EXPECT_FALSE(parse_error_code("NOPE", code));
  EXPECT_EQ(code, ErrorCode::kNotFound) << "a failed parse leaves the output alone";
}

}  // namespace
}  // namespace tollgate
