// Request/response helpers: percent-decoding (paths vs queries), percent-encoding, query
// parameters, cookies, case-insensitive headers and the REST error body.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace tollgate::http {
namespace {

TEST(PercentDecode, DecodesEscapes) {
  EXPECT_EQ(percent_decode("%41%42c", false), "ABc");
  EXPECT_EQ(percent_decode("a%2Fb", false), "a/b");
  EXPECT_EQ(percent_decode("a%2fb", false), "a/b");
  EXPECT_EQ(percent_decode("%e2%82%ac", false), "\xe2\x82\xac");
  EXPECT_EQ(percent_decode("%00", false), std::string(1, '\0'));
  EXPECT_EQ(percent_decode("end%41", false), "endA");
  EXPECT_EQ(percent_decode("", false), "");
}

TEST(PercentDecode, PlusIsASpaceOnlyInQueries) {
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a%2Bb", true), "a+b");
}

TEST(PercentDecode, LeavesBrokenEscapesAsTheyAre) {
  EXPECT_EQ(percent_decode("%", false), "%");
  EXPECT_EQ(percent_decode("%4", false), "%4");
  EXPECT_EQ(percent_decode("a%", false), "a%");
  EXPECT_EQ(percent_decode("%zz", false), "%zz");
  EXPECT_EQ(percent_decode("%4g", false), "%4g");
  EXPECT_EQ(percent_decode("%%41", false), "%A");
  EXPECT_EQ(percent_decode("100%", true), "100%");
}

TEST(PercentEncode, EncodesAllButUnreserved) {
  EXPECT_EQ(percent_encode("key_AZaz09-._~"), "key_AZaz09-._~");
  EXPECT_EQ(percent_encode("a b/c?d&e=f"), "a%20b%2Fc%3Fd%26e%3Df");
  EXPECT_EQ(percent_encode("\xe2\x82\xac"), "%E2%82%AC");
  for (std::string s : {"", "a b+c", "%41", "\xff\x01", "naïve/x?y"}) {
    EXPECT_EQ(percent_decode(percent_encode(s), false), s) << s;
  }
}

TEST(Request, QueryParameters) {
  Request r;
  r.query = "limit=10&cursor=abc%3D&name=a+b&empty=&flag&x%20y=1";
  EXPECT_EQ(r.query_param("limit"), "10");
  EXPECT_EQ(r.query_param("cursor"), "abc=");
  EXPECT_EQ(r.query_param("name"), "a b");
  EXPECT_EQ(r.query_param("empty"), "");
  EXPECT_EQ(r.query_param("flag"), "");
  EXPECT_EQ(r.query_param("x y"), "1");
  EXPECT_EQ(r.query_param("missing"), std::nullopt);
  EXPECT_EQ(r.query_param("lim"), std::nullopt);
}

TEST(Request, Cookies) {
  Request r;
  r.headers.add("Cookie", "a=1; tollgate_session=sess_x ;  tollgate_csrf=tok;b=");
  EXPECT_EQ(r.cookie("a"), "1");
  EXPECT_EQ(r.cookie("tollgate_session"), "sess_x");
  EXPECT_EQ(r.cookie("tollgate_csrf"), "tok");
  EXPECT_EQ(r.cookie("b"), "");
  EXPECT_EQ(r.cookie("tollgate"), std::nullopt);
  Request none;
  EXPECT_EQ(none.cookie("a"), std::nullopt);
}

TEST(Headers, NamesAreCaseInsensitiveAndSetReplacesAll) {
  Headers h;
  h.add("Set-Cookie", "a=1");
  h.add("set-cookie", "b=2");
  EXPECT_EQ(h.get("SET-COOKIE"), "a=1");
  EXPECT_EQ(h.size(), 2u);
  h.set("Set-Cookie", "c=3");
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.get("set-cookie"), "c=3");
  EXPECT_EQ(h.get("Content-Type"), std::nullopt);
}

TEST(Headers, SetKeepsTheOthersInOrderAndIterationSeesEachOnce) {
  Headers h;
  h.add("A", "1");
  h.add("B", "2");
  h.add("a", "3");
  h.add("C", "4");
  h.set("A", "5");
  std::vector<std::pair<std::string, std::string>> seen;
  for (const Header field : h) seen.emplace_back(field.name, field.value);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"B", "2"}, {"C", "4"}, {"A", "5"}}));
  EXPECT_EQ(h.size(), 3u);
  h.set("C", "");
  EXPECT_EQ(h.get("c"), "");
  EXPECT_EQ(h.get("B"), "2");
  EXPECT_EQ(h.size(), 3u);
}

TEST(Headers, LongNamesAndValuesRoundTrip) {
  Headers h;
  const std::string name(300, 'N'), value(70'000, 'v');
  h.add(name, value);
  h.add("After", "x");
  EXPECT_EQ(h.get(std::string(300, 'n')), value);
  EXPECT_EQ(h.get("after"), "x");
  EXPECT_EQ(h.get(std::string(299, 'N')), std::nullopt);
}

TEST(Response, ErrorBodyHasCodeMessageAndStatus) {
  Response r = Response::error(ErrorCode::kTokenInvalid, "The agent key is not valid.");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("error").at("code").as_string(), "TOKEN_INVALID");
  EXPECT_EQ(body.at("error").at("message").as_string(), "The agent key is not valid.");
  EXPECT_EQ(body.size(), 1u);
}

}  // namespace
}  // namespace tollgate::http
