// The one money parser and formatter, at the edges (DESIGN.md: integer micro-dollars, no
// floating point; API.md: amounts are decimal strings).
#include <gtest/gtest.h>

#include <limits>

#include "common/money.hpp"

namespace tollgate {
namespace {

TEST(Money, ParsesDecimalStrings) {
  EXPECT_EQ(parse_money("0.01").value(), 10'000);
  EXPECT_EQ(parse_money("5").value(), 5'000'000);
  EXPECT_EQ(parse_money("0.000001").value(), 1);
  EXPECT_EQ(parse_money("0").value(), 0);
  EXPECT_EQ(parse_money("0.0").value(), 0);
  EXPECT_EQ(parse_money("12.5").value(), 12'500'000);
  EXPECT_EQ(parse_money("007.10").value(), 7'100'000);
  EXPECT_EQ(parse_money("1.999999").value(), 1'999'999);
}

TEST(Money, AcceptsTheLargestInt64AndNothingMore) {
  // INT64_MAX micros = 9223372036854.775807 dollars.
  EXPECT_EQ(parse_money("9223372036854.775807").value(), std::numeric_limits<Micros>::max());
  EXPECT_EQ(parse_money("9223372036854.775808").code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(parse_money("9223372036855").code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(parse_money("99999999999999999999999").code(), ErrorCode::kInvalidRequest);
}

TEST(Money, RejectsEverythingElseWithInvalidRequest) {
  for (const char* bad : {"", " ", " 1", "1 ", "1.", ".5", "-1", "-0.01", "+1", "1e3", "1E3", "0x10", "1,000",
                          "1.0000001", "0.1234567", "1..2", "1.2.3", "abc", "NaN", "inf", "١", "1\n", "\t1", "$1",
                          "1.-1", "--1"}) {
    auto r = parse_money(bad);
    ASSERT_FALSE(r.ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(r.code(), ErrorCode::kInvalidRequest) << bad;
    EXPECT_NE(r.error().message.find("amount"), std::string::npos) << "message names the field";
  }
}

TEST(Money, NamesTheFieldInItsError) {
  auto r = parse_money("x", "spend_limit.amount");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("spend_limit.amount"), std::string::npos);
}

TEST(Money, FormatsWithTwoToSixDecimals) {
  EXPECT_EQ(format_money(10'000), "0.01");
  EXPECT_EQ(format_money(5'000'000), "5.00");
  EXPECT_EQ(format_money(1), "0.000001");
  EXPECT_EQ(format_money(0), "0.00");
  EXPECT_EQ(format_money(1'234'500), "1.2345");
  EXPECT_EQ(format_money(-10'000), "-0.01");
  EXPECT_EQ(format_money(std::numeric_limits<Micros>::max()), "9223372036854.775807");
  EXPECT_EQ(format_money(std::numeric_limits<Micros>::min()), "-9223372036854.775808");
}

TEST(Money, RoundTripsEveryFormattedValue) {
  for (Micros m : {Micros{0}, Micros{1}, Micros{9}, Micros{10}, Micros{999'999}, Micros{1'000'000}, Micros{123'456'789},
                   std::numeric_limits<Micros>::max()}) {
    EXPECT_EQ(parse_money(format_money(m)).value(), m) << m;
  }
}

}  // namespace
}  // namespace tollgate
