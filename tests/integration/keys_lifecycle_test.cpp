// The agent key lifecycle over HTTP against the real binary: signup -> create -> list ->
// delete, and the promises of reference/agent-api-keys.txt that the REST API keeps.
#include <gtest/gtest.h>

#include <regex>

#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;

TEST(KeysLifecycle, CreateListDelete) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  ASSERT_FALSE(alice.token.empty());

  bj::object created = platform.create_key(alice, "Production");
  std::string key(created.at("key").as_string());
  EXPECT_TRUE(std::regex_match(key, std::regex("sk_live_[0-9a-f]{64}"))) << key;
  EXPECT_EQ(created.at("display").as_string(), "sk_live_..." + key.substr(key.size() - 4));
  EXPECT_EQ(created.at("scope").as_string(), "agent:connect");
  EXPECT_EQ(created.at("name").as_string(), "Production");

  bj::object list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  ASSERT_EQ(list.at("keys").as_array().size(), 1u);
  const auto& listed = list.at("keys").as_array()[0].as_object();
  EXPECT_EQ(listed.at("id"), created.at("id"));
  EXPECT_EQ(listed.at("display"), created.at("display"));
  EXPECT_FALSE(listed.contains("key")) << "the full key is shown once only";

  std::string id(created.at("id").as_string());
  auto deleted = platform.request("DELETE", "/api/v1/keys/" + id, "", alice.token);
  EXPECT_EQ(deleted.status, 204u);
  list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  EXPECT_TRUE(list.at("keys").as_array().empty());
  auto again = platform.request("DELETE", "/api/v1/keys/" + id, "", alice.token);
  EXPECT_EQ(again.status, 404u);
  EXPECT_EQ(error_code(again), "NOT_FOUND");
}

}  // namespace
}  // namespace tollgate::test
