// Agent keys and session tokens as pure values: generation (format, uniqueness, every hex
// digit random), the strict format check that keeps malformed input away from the store,
// the SHA-256 that is stored instead of the key, and the display form (API.md "Keys").
#include <gtest/gtest.h>

#include <array>
#include <regex>
#include <string>
#include <unordered_set>
#include <vector>

#include "keys/key.hpp"

namespace tollgate::keys {
namespace {

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(KeyGeneration, AgentKeyIsPrefixPlus64LowercaseHex) {
  for (int i = 0; i < 1000; ++i) {
    std::string key = generate_api_key();
    ASSERT_EQ(key.size(), 8u + 64u) << key;
    ASSERT_TRUE(std::regex_match(key, std::regex("sk_live_[0-9a-f]{64}"))) << key;
    ASSERT_TRUE(is_well_formed(key, kApiKeyPrefix)) << key;
    ASSERT_FALSE(is_well_formed(key, kSessionPrefix)) << key;
  }
}

TEST(KeyGeneration, SessionTokenIsPrefixPlus64LowercaseHex) {
  for (int i = 0; i < 1000; ++i) {
    std::string token = generate_session_token();
    ASSERT_TRUE(std::regex_match(token, std::regex("sess_[0-9a-f]{64}"))) << token;
    ASSERT_TRUE(is_well_formed(token, kSessionPrefix)) << token;
    ASSERT_FALSE(is_well_formed(token, kApiKeyPrefix)) << token;
  }
}

TEST(KeyGeneration, HundredThousandKeysAreAllDistinct) {
  constexpr int kKeys = 100'000;
  std::unordered_set<std::string> seen;
  seen.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    auto [it, inserted] = seen.insert(generate_api_key());
    ASSERT_TRUE(inserted) << "duplicate key after " << i << " keys: " << *it;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kKeys));
}

// 32 bytes of entropy means every one of the 64 hex positions is uniform over 16 digits.
// Uniqueness alone would not notice a generator with, say, only 8 random bytes and 24
// constant ones; a per-position chi-squared test does. With 15 degrees of freedom the
// chance of a chi-squared above 80 is about 1e-10 per position, so this never fails by luck.
TEST(KeyGeneration, EveryHexPositionIsUniformlyRandom) {
  constexpr int kKeys = 100'000;
  std::vector<std::array<int, 16>> counts(kSecretHexLength);
  for (auto& c : counts) c.fill(0);
  for (int i = 0; i < kKeys; ++i) {
    std::string key = generate_api_key();
    for (std::size_t pos = 0; pos < kSecretHexLength; ++pos) {
      char c = key[kApiKeyPrefix.size() + pos];
      int digit = c <= '9' ? c - '0' : c - 'a' + 10;
      ASSERT_TRUE(digit >= 0 && digit < 16) << key;
      counts[pos][digit] += 1;
    }
  }
  const double expected = kKeys / 16.0;
  for (std::size_t pos = 0; pos < kSecretHexLength; ++pos) {
    double chi2 = 0;
    for (int n : counts[pos]) chi2 += (n - expected) * (n - expected) / expected;
    EXPECT_LT(chi2, 80.0) << "hex position " << pos << " is not uniform";
  }
}

TEST(KeyFormat, AcceptsExactlyPrefixAnd64LowercaseHex) {
  EXPECT_TRUE(is_well_formed("sk_live_" + kHex64, kApiKeyPrefix));
  EXPECT_TRUE(is_well_formed("sk_live_" + std::string(64, '0'), kApiKeyPrefix));
  EXPECT_TRUE(is_well_formed("sk_live_" + std::string(64, 'f'), kApiKeyPrefix));
  EXPECT_TRUE(is_well_formed("sess_" + kHex64, kSessionPrefix));
}

TEST(KeyFormat, RejectsEveryKindOfMalformedInput) {
  const std::string good = "sk_live_" + kHex64;
  std::string upper_one = good;
  upper_one[20] = 'A';
  std::string upper_all = "sk_live_" + std::string("0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF");
  std::string nul_inside = good;
  nul_inside[30] = '\0';
  std::string space_inside = good;
  space_inside[40] = ' ';
  std::string tab_inside = good;
  tab_inside[40] = '\t';
  std::string non_hex_g = good;
  non_hex_g.back() = 'g';
  std::string non_hex_dash = good;
  non_hex_dash[10] = '-';

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"prefix only", "sk_live_"},
      {"short", "sk_live_abc"},
      {"63 hex", "sk_live_" + kHex64.substr(0, 63)},
      {"65 hex", "sk_live_" + kHex64 + "0"},
      {"128 hex", "sk_live_" + kHex64 + kHex64},
      {"no prefix, 64 hex", kHex64},
      {"no prefix, 72 hex", kHex64 + "01234567"},
      {"uppercase hex (one digit)", upper_one},
      {"uppercase hex (all)", upper_all},
      {"uppercase prefix", "SK_LIVE_" + kHex64},
      {"mixed-case prefix", "Sk_live_" + kHex64},
      {"non-hex letter", non_hex_g},
      {"non-hex punctuation", non_hex_dash},
      {"space inside", space_inside},
      {"tab inside", tab_inside},
      {"leading space", " " + good},
      {"trailing space", good + " "},
      {"trailing newline", good + "\n"},
      {"trailing CRLF", good + "\r\n"},
      {"leading and trailing space, shortened", " " + good.substr(0, good.size() - 2) + " "},
      {"wrong prefix sk_test_", "sk_test_" + kHex64},
      {"wrong prefix sk_", "sk_" + kHex64},
      {"wrong prefix sk-live-", "sk-live-" + kHex64},
      {"session token where a key is expected", "sess_" + kHex64},
      {"session token padded to key length", "sess_" + kHex64 + "abc"},
      {"prefix twice", "sk_live_sk_live_" + kHex64.substr(0, 56)},
      {"NUL inside", nul_inside},
      {"NUL appended", good + std::string(1, '\0')},
      {"NUL instead of last digit", good.substr(0, good.size() - 1) + std::string(1, '\0')},
      {"unicode e-acute for one digit (same length in bytes)", "sk_live_" + kHex64.substr(0, 62) + "\xc3\xa9"},
      {"unicode fullwidth digit", "sk_live_" + kHex64.substr(0, 61) + "\xef\xbc\x91"},
      {"cyrillic a for a", "sk_live_" + kHex64.substr(0, 62) + "\xd0\xb0"},
      {"zero-width space appended", good + "\xe2\x80\x8b"},
      {"invalid UTF-8 byte", "sk_live_" + kHex64.substr(0, 63) + "\xff"},
      {"Bearer scheme included", "Bearer " + good},
      {"quoted", "\"" + good + "\""},
      {"percent-encoded underscore", "sk%5Flive%5F" + kHex64},
  };
  for (const auto& [what, token] : cases) {
    EXPECT_FALSE(is_well_formed(token, kApiKeyPrefix)) << what;
  }
}

TEST(KeyFormat, SessionTokensAreCheckedJustAsStrictly) {
  EXPECT_FALSE(is_well_formed("", kSessionPrefix));
  EXPECT_FALSE(is_well_formed("sess_" + kHex64.substr(0, 63), kSessionPrefix));
  EXPECT_FALSE(is_well_formed("sess_" + kHex64 + "0", kSessionPrefix));
  EXPECT_FALSE(is_well_formed("SESS_" + kHex64, kSessionPrefix));
  EXPECT_FALSE(is_well_formed("sess_" + kHex64.substr(0, 63) + "A", kSessionPrefix));
  EXPECT_FALSE(is_well_formed("sk_live_" + kHex64, kSessionPrefix));
  EXPECT_FALSE(is_well_formed("sess_" + kHex64 + " ", kSessionPrefix));
}

std::string hex(const Sha256& digest) { return to_hex(digest); }

TEST(KeyHash, IsSha256OfTheWholeKeyIncludingThePrefix) {
  // Known vectors (FIPS 180-2) prove hash_secret is really SHA-256.
  EXPECT_EQ(hex(hash_secret("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(hash_secret("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // `printf 'sk_live_%064d' 0 | sha256sum`
  EXPECT_EQ(hex(hash_secret("sk_live_" + std::string(64, '0'))),
            "33a06e9e3e1d3ee68ae634fdd9d3937fb192b2865b2b927caa74c63d4118f3db");
}

TEST(KeyHash, DiffersForKeysThatDifferInOneDigit) {
  std::string a = "sk_live_" + kHex64;
  std::string b = a;
  b.back() = 'e';
  EXPECT_NE(hash_secret(a), hash_secret(b));
  EXPECT_EQ(hash_secret(a), hash_secret(std::string(a)));
}

TEST(KeyDisplay, IsPrefixDotsAndLastFour) {
  std::string key = "sk_live_" + kHex64.substr(0, 60) + "x7z9";
  EXPECT_EQ(last4(key), "x7z9");
  EXPECT_EQ(display(last4(key)), "sk_live_...x7z9");
  std::string generated = generate_api_key();
  std::string shown = display(last4(generated));
  EXPECT_EQ(shown, "sk_live_..." + generated.substr(generated.size() - 4));
  EXPECT_EQ(shown.size(), 15u);
  EXPECT_EQ(shown.find(generated.substr(8, 60)), std::string::npos) << "display reveals only the last 4";
}

TEST(KeyDisplay, Last4OfShortInputDoesNotOverrun) {
  EXPECT_EQ(last4("ab"), "ab");
  EXPECT_EQ(last4(""), "");
  EXPECT_EQ(last4("abcd"), "abcd");
}

TEST(KeyScope, HasTheWireNamesOfApiMd) {
  EXPECT_EQ(to_string(Scope::kAgent), "agent:connect");
  EXPECT_EQ(to_string(Scope::kProvider), "provider:charge");
}

}  // namespace
}  // namespace tollgate::keys
