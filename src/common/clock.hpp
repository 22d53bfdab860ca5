// Wall-clock time as int64 microseconds since the Unix epoch, and RFC 3339 formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate {

using UnixMicros = std::int64_t;

UnixMicros now_micros();
// "2026-11-26T05:02:40.123456Z" (microseconds kept so ordering survives a round trip).
std::string format_rfc3339(UnixMicros t);
// Accepts "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SS[.frac]Z".
std::optional<UnixMicros> parse_rfc3339(std::string_view text);
// Start of the UTC day / month containing t.
UnixMicros start_of_day(UnixMicros t);
UnixMicros start_of_month(UnixMicros t);

}  // namespace tollgate
