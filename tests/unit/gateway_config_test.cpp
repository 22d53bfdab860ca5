// The gateway's TOML config: the documented example parses, and every mistake that could
// make a paid tool free or point at the wrong server is refused with a clear message.
#include <gtest/gtest.h>

#include "gateway/config.hpp"

namespace tollgate::gateway {
namespace {

TEST(GatewayConfig, ParsesTheDocumentedExample) {
  auto config = parse_gateway_config(R"(
[platform]
url = "http://127.0.0.1:8080"
api_key_env = "TOLLGATE_API_KEY"

[[upstream]]
name = "everything"
command = ["npx", "-y", "@modelcontextprotocol/server-everything"]
default_price = "0"
[upstream.prices]
echo = "0.01"

[[upstream]]
name = "weather"
url = "http://127.0.0.1:9000/mcp"
default_price = "0.002"
)",
                                     "gateway.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->platform_url, "http://127.0.0.1:8080");
  ASSERT_EQ(config->upstreams.size(), 2u);
  const auto& everything = config->upstreams[0];
  EXPECT_TRUE(everything.is_stdio());
  EXPECT_EQ(everything.command.size(), 3u);
  EXPECT_EQ(everything.price_of("echo"), 10'000);
  EXPECT_EQ(everything.price_of("add"), 0);
  EXPECT_EQ(config->upstreams[1].url, "http://127.0.0.1:9000/mcp");
  EXPECT_EQ(config->upstreams[1].price_of("anything"), 2'000);
}

TEST(GatewayConfig, RefusesMistakesWithTheFileAndTheProblem) {
  struct Case {
    const char* toml;
    const char* expect;
  };
  const Case cases[] = {
      {"", "at least one [[upstream]]"},
      {"[[upstream]]\nname = \"a\"\n", "exactly one of 'command' and 'url'"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\nurl = \"http://h/mcp\"\n", "exactly one"},
      {"[[upstream]]\nname = \"A B\"\ncommand = [\"x\"]\n", "'name' must be"},
      {"[[upstream]]\nname = \"a\"\ncommand = \"x\"\n", "array of strings"},
      {"[[upstream]]\nname = \"a\"\ncommand = []\n", "must not be empty"},
      {"[[upstream]]\nname = \"a\"\nurl = \"https://h/mcp\"\n", "http://"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\n[[upstream]]\nname = \"a\"\ncommand = [\"y\"]\n", "twice"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\n[upstream.prices]\necho = 0.01\n", "decimal string"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\n[upstream.prices]\necho = \"1e3\"\n", "decimal string"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\ndefault_price = \"-1\"\n", "decimal string"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\nprice = \"0.01\"\n", "unknown key 'price'"},
      {"[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\n[upstream.price]\necho = \"0.01\"\n", "unknown key 'price'"},
      {"[platform]\nurl = \"http://x\"\nkey = \"y\"\n[[upstream]]\nname = \"a\"\ncommand = [\"x\"]\n", "unknown key 'key'"},
      {"[[upstream]\n", "line 1"},
  };
  for (const auto& c : cases) {
    auto config = parse_gateway_config(c.toml, "g.toml");
    ASSERT_FALSE(config.ok()) << c.toml;
    EXPECT_EQ(config.code(), ErrorCode::kInvalidRequest);
    EXPECT_NE(config.error().message.find(c.expect), std::string::npos) << config.error().message;
    EXPECT_TRUE(config.error().message.starts_with("g.toml: ")) << config.error().message;
  }
}

TEST(GatewayConfig, UpstreamCountAndNameLengthLimits) {
  std::string name64(64, 'n');
  EXPECT_TRUE(parse_gateway_config("[[upstream]]\nname = \"" + name64 + "\"\ncommand = [\"x\"]\n", "g").ok());
  EXPECT_FALSE(parse_gateway_config("[[upstream]]\nname = \"" + name64 + "n\"\ncommand = [\"x\"]\n", "g").ok());
  std::string many;
  for (std::size_t i = 0; i <= kMaxUpstreams; ++i) many += "[[upstream]]\nname = \"u" + std::to_string(i) + "\"\ncommand = [\"x\"]\n";
  auto over = parse_gateway_config(many, "g");
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("at most"), std::string::npos);
}

}  // namespace
}  // namespace tollgate::gateway
