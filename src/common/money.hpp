// Money is int64 micro-dollars (1 USD = 1,000,000). This is the one parser and the one
// formatter for the decimal strings that cross the wire ("0.01", "5", "0.000001").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace tollgate {

using Micros = std::int64_t;

inline constexpr Micros kMicrosPerDollar = 1'000'000;
inline constexpr int kMaxDecimals = 6;

// Accepts: one or more ASCII digits, optionally '.' followed by 1..6 digits. Nothing else:
// no sign, no spaces, no exponent, no hex, no leading '.', no trailing '.'. The value must
// fit in int64 micros. Errors are INVALID_REQUEST with a sentence naming `field`.
Result<Micros> parse_money(std::string_view text, std::string_view field = "amount");

// Formats with at least two decimals and at most six, trimming trailing zeros beyond two:
// 10000 -> "0.01", 5000000 -> "5.00", 1 -> "0.000001", -10000 -> "-0.01".
std::string format_money(Micros micros);

}  // namespace tollgate
