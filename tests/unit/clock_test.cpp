// RFC 3339 times on the wire (API.md: "Times are RFC 3339 UTC") and the period starts that
// spending limits count from.
#include <gtest/gtest.h>

#include "common/clock.hpp"

namespace tollgate {
namespace {

constexpr UnixMicros kSecond = 1'000'000;
constexpr UnixMicros kDay = 86'400 * kSecond;
// 2024-02-29T13:45:30.123456Z: a leap day, so calendar arithmetic is exercised.
constexpr UnixMicros kLeapDay = 1'709'214'330'123'456;

TEST(Clock, FormatsUtcWithMicroseconds) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(1), "1970-01-01T00:00:00.000001Z");
  EXPECT_EQ(format_rfc3339(kLeapDay), "2024-02-29T13:45:30.123456Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339(253'402'300'799'999'999), "9999-12-31T23:59:59.999999Z");
  // Past four-digit years the fixed layout does not fit; the year is written whole.
  EXPECT_EQ(format_rfc3339(253'402'300'800'000'000), "10000-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(1'764'115'200'000'007), "2025-11-26T00:00:00.000007Z");
}

TEST(Clock, ParsesWhatItFormats) {
  for (UnixMicros t : {UnixMicros{0}, UnixMicros{1}, kLeapDay, UnixMicros{-1}, now_micros()}) {
    auto parsed = parse_rfc3339(format_rfc3339(t));
    ASSERT_TRUE(parsed.has_value()) << format_rfc3339(t);
    EXPECT_EQ(*parsed, t);
  }
}

TEST(Clock, ParsesDatesAndOtherPrecisions) {
  EXPECT_EQ(parse_rfc3339("2024-02-29"), kLeapDay - (13 * 3600 + 45 * 60 + 30) * kSecond - 123'456);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("1970-01-01t00:00:01z"), kSecond);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00.5Z"), 500'000);
  // Beyond microseconds the digits are accepted and truncated (up to nanoseconds).
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00.123456789Z"), 123'456);
}

TEST(Clock, RejectsMalformedTimes) {
  for (const char* bad : {"", "2024", "2024-1-01", "2024-13-01", "2024-00-10", "2023-02-29", "2024-02-30",
                          "2024-02-29T", "2024-02-29T24:00:00Z", "2024-02-29T12:60:00Z", "2024-02-29T12:00:60Z",
                          "2024-02-29T12:00:00", "2024-02-29T12:00:00+01:00", "2024-02-29 12:00:00Z",
                          "2024-02-29T12:00:00.Z", "2024-02-29T12:00:00.1234567890Z", "2024-02-29T12:00:00ZZ",
                          "2024-02-29T1:00:00Z", "x024-02-29", "2024/02/29", "2024-02-29Z", " 2024-02-29"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << "accepted '" << bad << "'";
  }
}

TEST(Clock, StartOfDayAndMonthAreUtcMidnights) {
  EXPECT_EQ(format_rfc3339(start_of_day(kLeapDay)), "2024-02-29T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(start_of_month(kLeapDay)), "2024-02-01T00:00:00.000000Z");
  EXPECT_EQ(start_of_day(start_of_day(kLeapDay)), start_of_day(kLeapDay));
  // The last microsecond of a day belongs to it; the next one starts the next day.
  UnixMicros midnight = *parse_rfc3339("2024-03-01");
  EXPECT_EQ(start_of_day(midnight - 1), midnight - kDay);
  EXPECT_EQ(start_of_day(midnight), midnight);
  EXPECT_EQ(start_of_month(midnight - 1), *parse_rfc3339("2024-02-01"));
  EXPECT_EQ(start_of_month(midnight), midnight);
  EXPECT_EQ(start_of_month(*parse_rfc3339("2024-12-31T23:59:59.999999Z")), *parse_rfc3339("2024-12-01"));
  // Before the epoch the floor still goes down, not toward zero.
  EXPECT_EQ(start_of_day(-1), -kDay);
  EXPECT_EQ(start_of_month(-1), *parse_rfc3339("1969-12-01"));
}

TEST(Clock, NowIsCurrent) {
  UnixMicros now = now_micros();
  EXPECT_GT(now, *parse_rfc3339("2024-01-01"));
  EXPECT_LT(now, *parse_rfc3339("2200-01-01"));
}

}  // namespace
}  // namespace tollgate
