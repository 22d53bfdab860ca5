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
// A record id: `prefix`, the current time in microseconds (14 hex digits), then 8 random
// bytes. Time first so that new ids sort after older ones: inserting a batch of records
// touches the last page or two of a unique index on the id instead of one random page per
// record (on SQLite, each touched page is 4 KiB more to write and fsync per commit). The
// random half keeps ids unguessable and distinct within one microsecond. Not for secrets.
std::string time_ordered_id(std::string_view prefix);
std::string to_hex(std::span<const std::uint8_t> bytes);
Sha256 sha256(std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tollgate
