// Randomness and hashing from OpenSSL: the OS CSPRNG, SHA-256, hex, constant-time compare.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tollgate {

using Sha256 = std::array<std::uint8_t, 32>;

// Fills `out` from the OS CSPRNG (RAND_bytes). Aborts if the CSPRNG fails: a key made
// from weak randomness must never be handed out.
void random_bytes(std::span<std::uint8_t> out);
// `bytes` random bytes as lowercase hex (2 * bytes characters).
std::string random_hex(std::size_t bytes);
std::string to_hex(std::span<const std::uint8_t> bytes);
Sha256 sha256(std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tollgate
