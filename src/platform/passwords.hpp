// Password hashing with argon2id (libsodium's crypto_pwhash_str, "interactive" limits).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tollgate::platform {

inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 1024;  // bounds hashing work per request

// nullopt only if libsodium cannot allocate the hashing memory.
std::optional<std::string> hash_password(std::string_view password);
bool verify_password(std::string_view stored_hash, std::string_view password);
// Spends the same time as a real verification, so an unknown email is not revealed by timing.
void verify_dummy_password(std::string_view password);

}  // namespace tollgate::platform
