// Secrets handed to people and agents: agent keys and provider keys (`sk_live_` + 64
// lowercase hex) and session tokens (`sess_` + 64 lowercase hex). Generation, the strict
// format check, hashing for storage, and the display form. Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>

#include "common/crypto.hpp"

namespace tollgate::keys {

inline constexpr std::string_view kApiKeyPrefix = "sk_live_";
inline constexpr std::string_view kSessionPrefix = "sess_";
inline constexpr std::size_t kSecretRandomBytes = 32;
inline constexpr std::size_t kSecretHexLength = 2 * kSecretRandomBytes;  // 64
inline constexpr std::size_t kDisplaySuffixLength = 4;

// What a stored key may do (API.md "Keys").
enum class Scope { kAgent, kProvider };
std::string_view to_string(Scope scope);  // "agent:connect" / "provider:charge"

// prefix + 64 lowercase hex from 32 CSPRNG bytes.
std::string generate_secret(std::string_view prefix);
inline std::string generate_api_key() { return generate_secret(kApiKeyPrefix); }
inline std::string generate_session_token() { return generate_secret(kSessionPrefix); }

// True when `token` is exactly prefix + 64 lowercase hex. Anything else (empty, short,
// long, uppercase, whitespace, another prefix) is malformed and never reaches the store.
bool is_well_formed(std::string_view token, std::string_view prefix);

// What the store keeps instead of the secret.
inline Sha256 hash_secret(std::string_view token) { return sha256(token); }
inline std::string last4(std::string_view token) {
  return std::string(token.substr(token.size() - std::min(token.size(), kDisplaySuffixLength)));
}
// "sk_live_...x7z9": the only form shown after creation.
inline std::string display(std::string_view last_four) {
  return std::string(kApiKeyPrefix) + "..." + std::string(last_four);
}

}  // namespace tollgate::keys
