// The router: literal and {param} segments, 404 for unknown paths vs 405 for known paths
// with another method, HEAD served by GET routes, "*" methods, and prefix routes.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "http/router.hpp"

namespace tollgate::http {
namespace {

namespace asio = boost::asio;

// Runs the router on one request and returns what it produced.
Response dispatch(const Router& router, Request& request) {
  asio::io_context io;
  std::optional<Response> out;
  auto run = [&]() -> asio::awaitable<void> { out = co_await router(request); };
  asio::co_spawn(io, run, asio::detached);
  io.run();
  EXPECT_TRUE(out.has_value());
  return out ? std::move(*out) : Response{};
}

Request make(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  return r;
}

// A handler that answers with its own name, so a test sees which route ran.
Handler named(std::string name) {
  return [name](Request&) -> asio::awaitable<Response> { co_return Response::text(200, name); };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add("GET", "/api/v1/keys", named("list"));
    router.add("POST", "/api/v1/keys", named("create"));
    router.add("DELETE", "/api/v1/keys/{id}", named("delete"));
    router.add("GET", "/api/v1/accounts/{account}/keys/{id}", named("nested"));
    router.add("*", "/any", named("any"));
    router.add_prefix("POST", "/mcp/{name}", named("mcp"));
  }
  Router router;
};

TEST_F(RouterTest, MatchesLiteralRoutesByMethod) {
  Request get = make("GET", "/api/v1/keys");
  EXPECT_EQ(dispatch(router, get).body, "list");
  EXPECT_EQ(get.route, "/api/v1/keys");
  Request post = make("POST", "/api/v1/keys");
  EXPECT_EQ(dispatch(router, post).body, "create");
}

TEST_F(RouterTest, FillsParameters) {
  Request del = make("DELETE", "/api/v1/keys/key_123");
  Response r = dispatch(router, del);
  EXPECT_EQ(r.body, "delete");
  EXPECT_EQ(del.route, "/api/v1/keys/{id}");
  EXPECT_EQ(del.params.at("id"), "key_123");

  Request nested = make("GET", "/api/v1/accounts/acc_1/keys/key_2");
  EXPECT_EQ(dispatch(router, nested).body, "nested");
  EXPECT_EQ(nested.params.at("account"), "acc_1");
  EXPECT_EQ(nested.params.at("id"), "key_2");
}

TEST_F(RouterTest, UnknownPathIs404AndKnownPathWithOtherMethodIs405) {
  Request unknown = make("GET", "/api/v1/nope");
  Response r = dispatch(router, unknown);
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body.find("NOT_FOUND"), std::string::npos) << r.body;
  EXPECT_EQ(unknown.route, "(not found)");

  Request wrong_method = make("PUT", "/api/v1/keys");
  r = dispatch(router, wrong_method);
  EXPECT_EQ(r.status, 405u);
  EXPECT_NE(r.body.find("METHOD_NOT_ALLOWED"), std::string::npos) << r.body;
  EXPECT_EQ(wrong_method.route, "(method not allowed)");
  EXPECT_TRUE(wrong_method.params.empty());

  Request get_one = make("GET", "/api/v1/keys/key_1");  // only DELETE exists there
  EXPECT_EQ(dispatch(router, get_one).status, 405u);
  EXPECT_TRUE(get_one.params.empty()) << "parameters of a route that did not run are not left behind";

  Request too_deep = make("DELETE", "/api/v1/keys/key_1/extra");
  EXPECT_EQ(dispatch(router, too_deep).status, 404u);
  Request too_short = make("DELETE", "/api/v1");
  EXPECT_EQ(dispatch(router, too_short).status, 404u);
}

TEST_F(RouterTest, HeadIsServedByGetRoutes) {
  Request head = make("HEAD", "/api/v1/keys");
  EXPECT_EQ(dispatch(router, head).body, "list");
  Request head_post_only = make("HEAD", "/mcp/x");
  EXPECT_EQ(dispatch(router, head_post_only).status, 405u);
}

TEST_F(RouterTest, StarMatchesEveryMethod) {
  for (const char* method : {"GET", "POST", "DELETE", "PATCH", "OPTIONS"}) {
    Request r = make(method, "/any");
    EXPECT_EQ(dispatch(router, r).body, "any") << method;
  }
}

TEST_F(RouterTest, PrefixRoutesServeTheirPathAndEverythingBelow) {
  Request exact = make("POST", "/mcp/weather");
  EXPECT_EQ(dispatch(router, exact).body, "mcp");
  EXPECT_EQ(exact.params.at("name"), "weather");
  Request below = make("POST", "/mcp/weather/sse/1");
  EXPECT_EQ(dispatch(router, below).body, "mcp");
  EXPECT_EQ(below.params.at("name"), "weather");
  Request above = make("POST", "/mcp");
  EXPECT_EQ(dispatch(router, above).status, 404u);
}

TEST(Router, EmptySegmentsAndTrailingSlashesAreIgnored) {
  Router router;
  router.add("GET", "/a/b", named("ab"));
  for (const char* path : {"/a/b", "/a/b/", "//a//b", "a/b"}) {
    Request r = make("GET", path);
    EXPECT_EQ(dispatch(router, r).body, "ab") << path;
  }
}

// Segments past the ones kept inline (Router::Segments) route like any others.
TEST(Router, PathsDeeperThanTheInlineSegmentsRouteAndMiss) {
  Router router;
  router.add("GET", "/1/2/3/4/5/6/7/8/9/{ten}", named("deep"));
  router.add_prefix("GET", "/p", named("prefix"));
  Request deep = make("GET", "/1/2/3/4/5/6/7/8/9/10");
  EXPECT_EQ(dispatch(router, deep).body, "deep");
  EXPECT_EQ(deep.params.at("ten"), "10");
  Request deeper = make("GET", "/1/2/3/4/5/6/7/8/9/10/11");
  EXPECT_EQ(dispatch(router, deeper).status, 404u);
  Request below = make("GET", "/p/a/b/c/d/e/f/g/h/i/j/k");
  EXPECT_EQ(dispatch(router, below).body, "prefix");
}

TEST(Router, FirstMatchingRouteWins) {
  Router router;
  router.add("GET", "/keys/new", named("literal"));
  router.add("GET", "/keys/{id}", named("param"));
  Request literal = make("GET", "/keys/new");
  EXPECT_EQ(dispatch(router, literal).body, "literal");
  Request param = make("GET", "/keys/other");
  EXPECT_EQ(dispatch(router, param).body, "param");
}

TEST(Router, CatchAllPrefixServesEverythingNotMatchedBefore) {
  Router router;
  router.add("GET", "/api/v1/me", named("me"));
  router.add_prefix("GET", "/", named("dashboard"));
  Request me = make("GET", "/api/v1/me");
  EXPECT_EQ(dispatch(router, me).body, "me");
  for (const char* path : {"/", "/keys", "/a/b/c"}) {
    Request r = make("GET", path);
    EXPECT_EQ(dispatch(router, r).body, "dashboard") << path;
  }
  // The root catch-all serves GET only and defines no paths: another method is a 404.
  Request post = make("POST", "/keys");
  EXPECT_EQ(dispatch(router, post).status, 404u);
  Request unknown_api = make("DELETE", "/api/v1/nope");
  EXPECT_EQ(dispatch(router, unknown_api).status, 404u);
}

TEST(Router, ExactRoutesWinOverPrefixesWhateverTheOrder) {
  Router router;
  router.add_prefix("GET", "/", named("dashboard"));
  router.add_prefix("*", "/mcp", named("mcp-any"));
  router.add("*", "/mcp/weather", named("weather"));
  Request weather = make("GET", "/mcp/weather");
  EXPECT_EQ(dispatch(router, weather).body, "weather");
  Request other = make("POST", "/mcp/other");
  EXPECT_EQ(dispatch(router, other).body, "mcp-any") << "the longer prefix wins over \"/\"";
  Request page = make("GET", "/wallet");
  EXPECT_EQ(dispatch(router, page).body, "dashboard");
}

}  // namespace
}  // namespace tollgate::http
