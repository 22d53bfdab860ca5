// Decimal string <-> integer micro-dollars, with overflow checks and no floating point.
#include "common/money.hpp"

#include <fmt/format.h>

#include <limits>

namespace tollgate {

Result<Micros> parse_money(std::string_view text, std::string_view field) {
  auto fail = [&](std::string_view why) {
    return Error{ErrorCode::kInvalidRequest,
                 fmt::format("'{}' must be a decimal string of dollars like \"0.01\" ({})", field,
                             why)};
  };
  if (text.empty()) return fail("it is empty");
  if (text.size() > 32) return fail("it is too long");

  std::size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty()) return fail("a digit must come before the decimal point");
  if (dot != std::string_view::npos && fraction.empty()) return fail("a digit must follow the decimal point");
  if (fraction.size() > kMaxDecimals) return fail("at most 6 decimal places");

  constexpr Micros kMax = std::numeric_limits<Micros>::max();
  Micros value = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return fail("only digits and one decimal point are allowed");
    int digit = c - '0';
    if (value > (kMax - digit) / 10) return fail("it is too large");
    value = value * 10 + digit;
  }
  if (value > kMax / kMicrosPerDollar) return fail("it is too large");
  value *= kMicrosPerDollar;

  Micros scale = kMicrosPerDollar / 10;
  Micros fraction_micros = 0;
  for (char c : fraction) {
    if (c < '0' || c > '9') return fail("only digits and one decimal point are allowed");
    fraction_micros += (c - '0') * scale;
    scale /= 10;
  }
  if (value > kMax - fraction_micros) return fail("it is too large");
  return value + fraction_micros;
}

std::string format_money(Micros micros) {
  // Work on the magnitude as unsigned so that INT64_MIN does not overflow.
  bool negative = micros < 0;
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(micros)
                                     : static_cast<std::uint64_t>(micros);
  std::uint64_t whole = magnitude / kMicrosPerDollar;
  std::uint64_t fraction = magnitude % kMicrosPerDollar;
  // By hand rather than with two fmt::format calls: receipts and charge requests format an
  // amount on every paid call.
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  std::size_t keep = 6;
  while (keep > 2 && digits[keep - 1] == '0') --keep;
  std::string out;  // a typical price fits in the string itself, with no allocation
  if (negative) out += '-';
  out += fmt::format_int(whole).c_str();
  out += '.';
  out.append(digits, keep);
  return out;
}

}  // namespace tollgate
