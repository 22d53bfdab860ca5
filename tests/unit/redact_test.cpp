// redact_secrets, the one place that keeps keys and session tokens out of logs: full and
// truncated secrets, secrets inside URLs, JSON and headers, several on one line.
#include <gtest/gtest.h>

#include <string>

#include "common/log.hpp"

namespace tollgate {
namespace {

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc7e9";
const std::string kKey = "sk_live_" + kHex64;
const std::string kSession = "sess_" + kHex64.substr(0, 60) + "beef";

TEST(RedactSecrets, FullKeyBecomesItsDisplayForm) {
  EXPECT_EQ(redact_secrets(kKey), "sk_live_...c7e9");
}

TEST(RedactSecrets, FullSessionTokenBecomesPrefixAndLastFour) {
  EXPECT_EQ(redact_secrets(kSession), "sess_...beef");
}

TEST(RedactSecrets, TruncatedAndOverlongKeysAreRedactedToo) {
  EXPECT_EQ(redact_secrets("sk_live_" + kHex64.substr(0, 40)), "sk_live_...4567");
  EXPECT_EQ(redact_secrets("sk_live_" + kHex64.substr(0, 3)), "sk_live_...012");
  EXPECT_EQ(redact_secrets("sk_live_" + kHex64 + "ffff"), "sk_live_...ffff");
  // Uppercase hex (a mistyped key) is still a secret.
  EXPECT_EQ(redact_secrets("sk_live_ABCDEF0123456789"), "sk_live_...6789");
}

TEST(RedactSecrets, KeyInsideUrlPathAndQuery) {
  EXPECT_EQ(redact_secrets("GET /api/v1/keys/" + kKey + " HTTP/1.1"), "GET /api/v1/keys/sk_live_...c7e9 HTTP/1.1");
  EXPECT_EQ(redact_secrets("/mcp/x?token=" + kKey + "&a=1"), "/mcp/x?token=sk_live_...c7e9&a=1");
}

TEST(RedactSecrets, KeyInsideJsonAndHeaders) {
  EXPECT_EQ(redact_secrets("{\"agent_token\":\"" + kKey + "\"}"), "{\"agent_token\":\"sk_live_...c7e9\"}");
  EXPECT_EQ(redact_secrets("Authorization: Bearer " + kKey), "Authorization: Bearer sk_live_...c7e9");
  EXPECT_EQ(redact_secrets("Cookie: tollgate_session=" + kSession + "; tollgate_csrf=abc"),
            "Cookie: tollgate_session=sess_...beef; tollgate_csrf=abc");
}

TEST(RedactSecrets, SeveralSecretsOnOneLine) {
  std::string other = "sk_live_" + std::string(60, 'a') + "1234";
  std::string line = "a=" + kKey + " b=" + other + " c=" + kSession + " d=" + kKey;
  std::string out = redact_secrets(line);
  EXPECT_EQ(out, "a=sk_live_...c7e9 b=sk_live_...1234 c=sess_...beef d=sk_live_...c7e9");
}

TEST(RedactSecrets, PercentEncodedPrefixInAUrlIsRedacted) {
  // A client that percent-encodes the underscores still sends the whole secret; the access
  // log prints the raw target, so the encoded form must be caught as well.
  std::string out = redact_secrets("/api/v1/keys/sk%5Flive%5F" + kHex64 + "?x=sess%5f" + kHex64);
  EXPECT_EQ(out.find(kHex64.substr(0, 60)), std::string::npos) << out;
  EXPECT_NE(out.find("...c7e9"), std::string::npos) << out;
}

TEST(RedactSecrets, LeavesOrdinaryTextAlone) {
  for (std::string text : {"", "hello", "sk_live_", "sk_live_ then text", "sess_", "session", "sk_test_abc",
                           "key_0123456789abcdef", "GET /api/v1/keys 200", "sk_live_...x7z9"}) {
    EXPECT_EQ(redact_secrets(text), text);
  }
}

TEST(RedactSecrets, NeverLeavesMoreThanFourCharactersOfTheSecret) {
  for (std::size_t len = 1; len <= 70; ++len) {
    std::string secret;
    for (std::size_t i = 0; i < len; ++i) secret.push_back("0123456789abcdef"[i % 16]);
    std::string kept = secret.substr(secret.size() - std::min<std::size_t>(4, len));
    EXPECT_EQ(redact_secrets("x sk_live_" + secret + " y"), "x sk_live_..." + kept + " y") << len;
  }
}

}  // namespace
}  // namespace tollgate
