// Record ids: their format, their order in time (what keeps index inserts on the last page,
// see crypto.hpp), and that they do not repeat.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <unordered_set>

#include "common/clock.hpp"
#include "common/crypto.hpp"

namespace tollgate {
namespace {

TEST(TimeOrderedId, IsPrefixThenTimeThenRandomHex) {
  UnixMicros before = now_micros();
  std::string id = time_ordered_id("ch_");
  UnixMicros after = now_micros();
  ASSERT_TRUE(std::regex_match(id, std::regex("ch_[0-9a-f]{30}"))) << id;
  UnixMicros stamped = std::stoll(id.substr(3, 14), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
}

TEST(TimeOrderedId, LaterIdsSortAfterEarlierOnes) {
  std::string previous = time_ordered_id("key_");
  for (int i = 0; i < 200; ++i) {
    UnixMicros stamped = std::stoll(previous.substr(4, 14), nullptr, 16);
    while (now_micros() <= stamped) {
    }
    std::string next = time_ordered_id("key_");
    ASSERT_LT(previous, next);
    previous = next;
  }
}

TEST(TimeOrderedId, DoesNotRepeatWithinAMicrosecond) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(seen.insert(time_ordered_id("x_")).second);
}

}  // namespace
}  // namespace tollgate
