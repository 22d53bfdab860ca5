// json::append_string, the writer of responses built without a document (the key listing):
// whatever the string, Boost.JSON reads back exactly that string, and plain text is copied
// as it is.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/json.hpp"

namespace tollgate {
namespace {

std::string written(std::string_view s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

TEST(JsonAppendString, PlainTextIsQuotedAsItIs) {
  EXPECT_EQ(written(""), R"("")");
  EXPECT_EQ(written("Production"), R"("Production")");
  EXPECT_EQ(written("ünï € 🔑 </script>"), "\"ünï € 🔑 </script>\"");
}

TEST(JsonAppendString, QuotesBackslashesAndControlCharactersAreEscaped) {
  EXPECT_EQ(written(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(written(R"(C:\keys\)"), R"("C:\\keys\\")");
  EXPECT_EQ(written("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(written(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
}

TEST(JsonAppendString, AppendsToWhatIsThere) {
  std::string out = "{\"name\":";
  json::append_string(out, "x\"y");
  out += '}';
  EXPECT_EQ(out, R"({"name":"x\"y"})");
}

// Every byte below 0x80 in every position, and random mixes with multi-byte characters:
// parsed back, each is the string written.
TEST(JsonAppendString, BoostJsonReadsBackEveryString) {
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) all_ascii += static_cast<char>(c);
  auto round_trip = [](const std::string& s) {
    auto parsed = json::parse(written(s));
    ASSERT_TRUE(parsed.ok()) << written(s);
    ASSERT_TRUE(parsed->is_string());
    EXPECT_EQ(std::string(parsed->as_string()), s);
  };
  round_trip(all_ascii);
  const std::string pieces[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "a", "é", "€", "🔑", "/", "\x7f"};
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int n = static_cast<int>(rng() % 12); n > 0; --n) s += pieces[rng() % std::size(pieces)];
    round_trip(s);
  }
}

}  // namespace
}  // namespace tollgate
