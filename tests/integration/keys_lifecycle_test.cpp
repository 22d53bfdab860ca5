// The agent key lifecycle over HTTP against the real binary: signup -> create -> list ->
// delete -> verify, and the promises of reference/agent-api-keys.txt that the REST API
// keeps: shown once, same name allowed (rotation), deletion immediate and permanent, other
// accounts' keys invisible, every limit on names and key counts.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "keys/key.hpp"
#include "support/api_helpers.hpp"
#include "support/databases.hpp"
#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;

std::string str(const bj::value& v) { return std::string(v.as_string()); }

// Ids of the keys a listing holds.
std::vector<std::string> listed_ids(const PlatformProcess& platform, const Session& s,
                                    const std::string& path = "/api/v1/keys") {
  bj::object list = platform.json_request("GET", path, nullptr, s.token, 200);
  std::vector<std::string> ids;
  if (!list.contains("keys")) return ids;
  for (const auto& k : list.at("keys").as_array()) ids.push_back(str(k.at("id")));
  return ids;
}

// How the running server verifies an agent key. An API key presented on an account endpoint
// goes through KeyVerifier::identify: a live key is SCOPE_DENIED (403), an unknown or
// deleted one UNAUTHENTICATED (401). Once the charge API exists, POST /api/v1/verify with a
// provider key answers the agent-side question directly; it is used when present.
struct VerifyOutcome {
  std::string account_endpoint_code;
  std::optional<std::string> verify_api_code;  // "" for 200 {valid: true}; nullopt: no such endpoint
};

VerifyOutcome verify_key(const PlatformProcess& platform, const std::string& agent_key, const std::string& provider_key) {
  VerifyOutcome out;
  out.account_endpoint_code = error_code(platform.request("GET", "/api/v1/me", "", agent_key));
  auto r = platform.request("POST", "/api/v1/verify", bj::serialize(bj::object{{"agent_token", agent_key}}), provider_key);
  bool no_endpoint = r.status == 404 && error_code(r) == "NOT_FOUND";
  if (!no_endpoint) {
    if (r.status == 200) {
      out.verify_api_code = "";
      EXPECT_EQ(parse_object(r.body).at("valid"), bj::value(true)) << r.body;
    } else {
      out.verify_api_code = error_code(r);
    }
  }
  return out;
}

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
  EXPECT_TRUE(std::regex_match(str(created.at("created_at")),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")))
      << created.at("created_at");

  bj::object list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  ASSERT_EQ(list.at("keys").as_array().size(), 1u);
  const auto& listed = list.at("keys").as_array()[0].as_object();
  EXPECT_EQ(listed.at("id"), created.at("id"));
  EXPECT_EQ(listed.at("name"), created.at("name"));
  EXPECT_EQ(listed.at("display"), created.at("display"));
  EXPECT_EQ(listed.at("scope"), created.at("scope"));
  EXPECT_EQ(listed.at("created_at"), created.at("created_at"));
  EXPECT_TRUE(listed.at("last_used_at").is_null());
  EXPECT_TRUE(listed.at("spend_limit").is_null());
  EXPECT_FALSE(listed.contains("key")) << "the full key is shown once only";
  EXPECT_EQ(list.at("keys").as_array()[0].as_object().size(), 7u) << "exactly the fields of API.md";

  std::string id(created.at("id").as_string());
  auto deleted = platform.request("DELETE", "/api/v1/keys/" + id, "", alice.token);
  EXPECT_EQ(deleted.status, 204u);
  EXPECT_TRUE(deleted.body.empty());
  list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  EXPECT_TRUE(list.at("keys").as_array().empty());
  auto again = platform.request("DELETE", "/api/v1/keys/" + id, "", alice.token);
  EXPECT_EQ(again.status, 404u);
  EXPECT_EQ(error_code(again), "NOT_FOUND");
}

TEST(KeysLifecycle, DeletedKeyFailsVerificationOnTheVeryNextCall) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  bj::object agent = platform.create_key(alice, "Claude Desktop");
  bj::object provider = platform.create_key(alice, "My server", /*provider=*/true);
  std::string key = str(agent.at("key"));
  std::string provider_key = str(provider.at("key"));
  Sha256 hash = keys::hash_secret(key);

  VerifyOutcome before = verify_key(platform, key, provider_key);
  EXPECT_EQ(before.account_endpoint_code, "SCOPE_DENIED") << "a live agent key is recognised";
  if (before.verify_api_code) {
    EXPECT_EQ(*before.verify_api_code, "");
  }
  ASSERT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM api_keys WHERE key_hash = ?1", "", hash.data(), 32), 1);

  ASSERT_EQ(platform.request("DELETE", "/api/v1/keys/" + str(agent.at("id")), "", alice.token).status, 204u);

  // The very next call, with no pause: nothing caches a key.
  VerifyOutcome after = verify_key(platform, key, provider_key);
  EXPECT_EQ(after.account_endpoint_code, "UNAUTHENTICATED") << "the deleted key is no longer recognised at all";
  if (after.verify_api_code) {
    EXPECT_EQ(*after.verify_api_code, "TOKEN_INVALID");
  }
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM api_keys WHERE key_hash = ?1", "", hash.data(), 32), 0)
      << "the key's row is gone for good";
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM api_keys WHERE id = ?1", str(agent.at("id"))), 0);
  // The provider key was not touched.
  EXPECT_EQ(verify_key(platform, provider_key, provider_key).account_endpoint_code, "SCOPE_DENIED");
}

TEST(KeysLifecycle, SameNameTwiceIsAllowedForRotation) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  bj::object old_key = platform.create_key(alice, "Production");
  bj::object new_key = platform.create_key(alice, "Production");
  EXPECT_NE(old_key.at("id"), new_key.at("id"));
  EXPECT_NE(old_key.at("key"), new_key.at("key"));
  auto ids = listed_ids(platform, alice);
  EXPECT_EQ(ids.size(), 2u);
  bj::object list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  for (const auto& k : list.at("keys").as_array()) EXPECT_EQ(k.at("name").as_string(), "Production");

  // Delete the old one: only the new one is left and still recognised.
  ASSERT_EQ(platform.request("DELETE", "/api/v1/keys/" + str(old_key.at("id")), "", alice.token).status, 204u);
  EXPECT_EQ(listed_ids(platform, alice), std::vector<std::string>{str(new_key.at("id"))});
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/me", "", str(new_key.at("key")))), "SCOPE_DENIED");
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/me", "", str(old_key.at("key")))), "UNAUTHENTICATED");
}

// The listing is written without a JSON document (keys_api.cpp, list_json): names with
// JSON's special characters, non-ASCII text and a spend limit come back exactly as created,
// newest first, in a body any JSON parser reads.
TEST(KeysLifecycle, ListingReturnsEveryNameExactly) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  const std::vector<std::string> names = {R"(say "hi")", R"(C:\keys\)", "ünï € 🔑", "</script><b>", "{\"key\": 1}"};
  for (const auto& name : names) platform.create_key(alice, name);
  platform.json_request("POST", "/api/v1/keys",
                        bj::object{{"name", "capped"}, {"spend_limit", {{"amount", "0.000001"}, {"period", "total"}}}},
                        alice.token, 201);
  auto r = platform.request("GET", "/api/v1/keys", "", alice.token);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), "application/json");
  bj::object list = parse_object(r.body);
  const bj::array& keys = list.at("keys").as_array();
  ASSERT_EQ(keys.size(), names.size() + 1);
  EXPECT_EQ(keys[0].at("name").as_string(), "capped");
  EXPECT_EQ(keys[0].at("spend_limit"), (bj::value{{"amount", "0.000001"}, {"period", "total"}}));
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& k = keys[names.size() - i].as_object();
    EXPECT_EQ(k.at("name").as_string(), names[i]);
    EXPECT_TRUE(k.at("spend_limit").is_null());
    EXPECT_EQ(k.size(), 7u);
  }
}

TEST(KeysLifecycle, AccountsCannotSeeOrDeleteEachOthersKeys) {
  PlatformProcess platform;
  Session a = platform.signup("a@example.com");
  Session b = platform.signup("b@example.com");
  bj::object a_key = platform.create_key(a, "A's key");
  bj::object b_key = platform.create_key(b, "B's key");
  bj::object b_provider = platform.create_key(b, "B's server", /*provider=*/true);

  EXPECT_EQ(listed_ids(platform, a), std::vector<std::string>{str(a_key.at("id"))});
  EXPECT_EQ(listed_ids(platform, b), std::vector<std::string>{str(b_key.at("id"))});
  EXPECT_TRUE(listed_ids(platform, a, "/api/v1/provider-keys").empty());

  // A deleting B's keys: the same 404 as an id that never existed, so ids reveal nothing.
  auto cross = platform.request("DELETE", "/api/v1/keys/" + str(b_key.at("id")), "", a.token);
  auto never = platform.request("DELETE", "/api/v1/keys/key_00000000000000000000", "", a.token);
  EXPECT_EQ(cross.status, 404u);
  EXPECT_EQ(error_code(cross), "NOT_FOUND");
  EXPECT_EQ(cross.body, never.body);
  auto cross_provider = platform.request("DELETE", "/api/v1/provider-keys/" + str(b_provider.at("id")), "", a.token);
  EXPECT_EQ(cross_provider.status, 404u);
  // An agent key id is not a provider key id either, even for its owner.
  EXPECT_EQ(platform.request("DELETE", "/api/v1/provider-keys/" + str(b_key.at("id")), "", b.token).status, 404u);

  // B's keys are untouched and still recognised.
  EXPECT_EQ(listed_ids(platform, b), std::vector<std::string>{str(b_key.at("id"))});
  EXPECT_EQ(listed_ids(platform, b, "/api/v1/provider-keys"), std::vector<std::string>{str(b_provider.at("id"))});
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/me", "", str(b_key.at("key")))), "SCOPE_DENIED");
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM api_keys WHERE id = ?1", str(b_key.at("id"))), 1);
}

TEST(KeysLifecycle, ProviderKeysHaveTheirOwnScopeAndList) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  bj::object agent = platform.create_key(alice, "agent");
  bj::object provider = platform.create_key(alice, "server", /*provider=*/true);
  EXPECT_EQ(provider.at("scope").as_string(), "provider:charge");
  EXPECT_TRUE(std::regex_match(str(provider.at("key")), std::regex("sk_live_[0-9a-f]{64}")));
  EXPECT_EQ(listed_ids(platform, alice), std::vector<std::string>{str(agent.at("id"))});
  EXPECT_EQ(listed_ids(platform, alice, "/api/v1/provider-keys"), std::vector<std::string>{str(provider.at("id"))});
  // A provider key cannot carry a spending limit.
  auto r = platform.request("POST", "/api/v1/provider-keys",
                            R"({"name": "x", "spend_limit": {"amount": "5.00", "period": "day"}})", alice.token);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(error_code(r), "INVALID_REQUEST");
}

TEST(KeysLifecycle, SpendLimitRoundTripsAndBadOnesAreRejected) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  bj::object created = platform.json_request(
      "POST", "/api/v1/keys", bj::object{{"name", "capped"}, {"spend_limit", {{"amount", "5"}, {"period", "month"}}}},
      alice.token, 201);
  EXPECT_EQ(created.at("spend_limit"), (bj::value{{"amount", "5.00"}, {"period", "month"}}));
  bj::object list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  EXPECT_EQ(list.at("keys").as_array()[0].at("spend_limit"), (bj::value{{"amount", "5.00"}, {"period", "month"}}));
  for (const char* bad : {R"({"amount": "0", "period": "day"})", R"({"amount": "-1", "period": "day"})",
                          R"({"amount": "1.5", "period": "week"})", R"({"amount": 5, "period": "day"})",
                          R"({"amount": "1e3", "period": "day"})", R"("5.00")", R"({"period": "day"})"}) {
    auto r = platform.request("POST", "/api/v1/keys", std::string(R"({"name": "x", "spend_limit": )") + bad + "}",
                              alice.token);
    EXPECT_EQ(r.status, 400u) << bad << ": " << r.body;
    EXPECT_EQ(error_code(r), "INVALID_REQUEST") << bad;
  }
  EXPECT_EQ(listed_ids(platform, alice).size(), 1u) << "no partial write for a rejected request";
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(KeyNames, SixtyFourCharactersAreAllowedSixtyFiveAreNot) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  auto create = [&](const std::string& name) {
    return platform.request("POST", "/api/v1/keys", bj::serialize(bj::object{{"name", name}}), alice.token);
  };
  // ASCII, 2-byte (é), 3-byte (€) and 4-byte (emoji) characters: the limit is characters,
  // not bytes.
  for (const std::string& ch : {std::string("a"), std::string("\xc3\xa9"), std::string("\xe2\x82\xac"),
                                std::string("\xf0\x9f\x94\x91")}) {
    auto ok = create(repeat(ch, 64));
    EXPECT_EQ(ok.status, 201u) << "64 x '" << ch << "': " << ok.body;
    if (ok.status == 201) {
      EXPECT_EQ(parse_object(ok.body).at("name").as_string(), repeat(ch, 64));
    }
    auto too_long = create(repeat(ch, 65));
    EXPECT_EQ(too_long.status, 400u) << "65 x '" << ch << "'";
    EXPECT_EQ(error_code(too_long), "INVALID_REQUEST");
    EXPECT_NE(too_long.body.find("64"), std::string::npos) << "the message names the limit: " << too_long.body;
  }
  EXPECT_EQ(create("x").status, 201u) << "one character is enough";
  EXPECT_EQ(listed_ids(platform, alice).size(), 5u) << "only the allowed names were stored";
}

TEST(KeyNames, EmptyBlankMissingOrNonStringNamesAreRejected) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  for (const char* body : {R"({"name": ""})", R"({"name": "   "})", R"({"name": "\t"})", R"({})", R"({"name": null})",
                           R"({"name": 5})", R"({"name": ["a"]})", R"({"name": "a\u0000b"})", R"({"name": "a\nb"})",
                           R"({"name": "a\u007fb"})", R"([])", R"("name")", "not json", "", R"({"name": "a")"}) {
    auto r = platform.request("POST", "/api/v1/keys", body, alice.token, headers_of({{"Content-Type", "application/json"}}));
    EXPECT_EQ(r.status, 400u) << body << ": " << r.body;
    EXPECT_EQ(error_code(r), "INVALID_REQUEST") << body;
  }
  EXPECT_TRUE(listed_ids(platform, alice).empty());
}

TEST(KeyLimits, OneKeyPastMaxKeysPerAccountIsRejected) {
  PlatformProcess platform({.extra_args = {"--max-keys-per-account", "3"}});
  Session alice = platform.signup("alice@example.com");
  Session bob = platform.signup("bob@example.com");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(str(platform.create_key(alice, "k" + std::to_string(i)).at("id")));
  auto fourth = platform.request("POST", "/api/v1/keys", R"({"name": "k3"})", alice.token);
  EXPECT_EQ(fourth.status, 400u) << fourth.body;
  EXPECT_EQ(error_code(fourth), "INVALID_REQUEST");
  EXPECT_NE(fourth.body.find("3"), std::string::npos) << fourth.body;
  EXPECT_EQ(listed_ids(platform, alice).size(), 3u);
  // The limit is per account and per kind.
  platform.create_key(bob, "bob's");
  platform.create_key(alice, "provider", /*provider=*/true);
  // Deleting one makes room again.
  ASSERT_EQ(platform.request("DELETE", "/api/v1/keys/" + ids[0], "", alice.token).status, 204u);
  platform.create_key(alice, "k3");
  EXPECT_EQ(platform.request("POST", "/api/v1/keys", R"({"name": "k4"})", alice.token).status, 400u);
}


// Concurrent creates must not overshoot the key-count limit: the count and the insert are
// one transaction (group-committed, so the 16 requests share a few), not two store calls
// that every create could pass between.
// 16 concurrent creates of agent keys spread over `servers`: counts of 201 and of 400
// INVALID_REQUEST (anything else fails the test).
std::pair<int, int> concurrent_creates(const std::vector<const PlatformProcess*>& servers, const Session& s) {
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, refused{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      auto r = servers[i % servers.size()]->request(
          "POST", "/api/v1/keys", bj::serialize(bj::object{{"name", "k" + std::to_string(i)}}), s.token);
      if (r.status == 201) {
        ++created;
      } else {
        EXPECT_EQ(r.status, 400u) << r.body;
        EXPECT_EQ(error_code(r), "INVALID_REQUEST") << r.body;
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  return {created.load(), refused.load()};
}

TEST(KeyLimits, ConcurrentCreatesDoNotPassMaxKeysPerAccount) {
  PlatformProcess platform({.extra_args = {"--max-keys-per-account", "3", "--threads", "4"}});
  Session alice = platform.signup("alice@example.com");
  auto [created, refused] = concurrent_creates({&platform}, alice);
  EXPECT_EQ(created, 3);
  EXPECT_EQ(refused, 13);
  EXPECT_EQ(listed_ids(platform, alice).size(), 3u);
}

// The same race across processes: two servers on one PostgreSQL database, where only the
// database can serialise the two processes' count-then-insert.
TEST(KeyLimits, ConcurrentCreatesThroughTwoServersOnPostgresDoNotPassMaxKeysPerAccount) {
  if (auto why = unavailable_reason(Backend::kPostgres)) GTEST_SKIP() << *why;
  TestDatabase db(Backend::kPostgres);
  PlatformProcess::Options o{.extra_args = {"--max-keys-per-account", "3"}, .db_url = db.url()};
  PlatformProcess a(o), b(o);
  Session alice = a.signup("alice@example.com");
  auto [created, refused] = concurrent_creates({&a, &b}, alice);
  EXPECT_EQ(created, 3);
  EXPECT_EQ(refused, 13);
  EXPECT_EQ(listed_ids(b, alice).size(), 3u);
}

}  // namespace
}  // namespace tollgate::test
