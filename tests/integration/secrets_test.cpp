// DESIGN.md's first invariant: a full key exists in exactly one place, the creation
// response. This test creates keys, then pushes them at the server every way a client
// might (URL path, query string, headers, cookies, percent-encoded, truncated), and then
// proves the full key is absent from every later response, /metrics, the server's logs, and
// the raw bytes of the SQLite files (main file, -wal and -shm), before and after a
// checkpoint, while only its SHA-256 is stored.
#include <gtest/gtest.h>

#include <filesystem>

#include "keys/key.hpp"
#include "support/api_helpers.hpp"
#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;

std::string str(const bj::value& v) { return std::string(v.as_string()); }

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Every form in which a secret could sit in a file: the key as text, its 64 hex digits
// alone (a prefix stripped or mangled), any 32-digit half of them, and the 32 random bytes
// decoded from hex.
std::vector<std::pair<std::string, std::string>> forms_of(const std::string& secret, std::size_t prefix_length) {
  std::string hex = secret.substr(prefix_length);
  return {{"full", secret},
          {"64 hex digits", hex},
          {"first 32 digits", hex.substr(0, 32)},
          {"last 32 digits", hex.substr(32)},
          {"raw 32 bytes", hex_to_bytes(hex)}};
}

void expect_absent(const std::string& haystack, const std::string& where,
                   const std::vector<std::pair<std::string, std::string>>& secrets) {
  for (const auto& [what, needle] : secrets) {
    EXPECT_EQ(haystack.find(needle), std::string::npos) << what << " found in " << where;
  }
}

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = platform_.signup("alice@example.com");
    bj::object agent = platform_.create_key(alice_, "Production");
    bj::object provider = platform_.create_key(alice_, "Server", /*provider=*/true);
    agent_key_ = str(agent.at("key"));
    agent_id_ = str(agent.at("id"));
    provider_key_ = str(provider.at("key"));
    deleted_key_ = str(platform_.create_key(alice_, "to delete").at("key"));
    for (const auto& [key, prefix_len] : {std::pair{agent_key_, std::size_t{8}}, std::pair{provider_key_, std::size_t{8}},
                                          std::pair{deleted_key_, std::size_t{8}}, std::pair{alice_.token, std::size_t{5}}}) {
      for (auto& f : forms_of(key, prefix_len)) secrets_.push_back({f.first + " of " + key.substr(0, 8) + "...", f.second});
    }
  }

  // Every form of every secret must be missing from `text`.
  void expect_no_secret(const std::string& text, const std::string& where) { expect_absent(text, where, secrets_); }

  PlatformProcess platform_;
  Session alice_;
  std::string agent_key_, agent_id_, provider_key_, deleted_key_;
  std::vector<std::pair<std::string, std::string>> secrets_;
};

TEST_F(SecretsTest, FullKeyIsAbsentFromResponsesMetricsLogsAndTheDatabase) {
  // The creation response is the one place the key is allowed: prove the search would find it.
  ASSERT_EQ(deleted_key_.size(), 72u);
  std::string deleted_id;
  bj::object listing = platform_.json_request("GET", "/api/v1/keys", nullptr, alice_.token, 200);
  for (const auto& k : listing.at("keys").as_array()) {
    if (k.at("name") == "to delete") deleted_id = str(k.at("id"));
  }
  ASSERT_EQ(platform_.request("DELETE", "/api/v1/keys/" + deleted_id, "", alice_.token).status, 204u);

  // Push the keys at the server in every place a client might put them.
  std::vector<http::ClientResponse> responses;
  std::string encoded = "sk%5Flive%5F" + agent_key_.substr(8);
  std::string truncated = agent_key_.substr(0, 71);
  for (const std::string& key : {agent_key_, provider_key_, deleted_key_}) {
    responses.push_back(platform_.request("GET", "/api/v1/me", "", key));
    responses.push_back(platform_.request("GET", "/api/v1/keys?token=" + key, "", alice_.token));
    responses.push_back(platform_.request("GET", "/api/v1/keys/" + key, "", alice_.token));
    responses.push_back(platform_.request("DELETE", "/api/v1/keys/" + key, "", alice_.token));
    responses.push_back(platform_.request("GET", "/nowhere/" + key + "?also=" + key));
    responses.push_back(platform_.request("GET", "/api/v1/me", "", "",
                                          headers_of({{"Cookie", "tollgate_session=" + key}, {"X-Api-Key", key}})));
    responses.push_back(platform_.request("POST", "/api/v1/keys", bj::serialize(bj::object{{"name", 7}, {"key", key}}),
                                          alice_.token));
    responses.push_back(platform_.request("POST", "/api/v1/auth/login",
                                          bj::serialize(bj::object{{"email", "alice@example.com"}, {"password", key}})));
  }
  responses.push_back(platform_.request("GET", "/api/v1/keys/" + encoded + "?q=" + encoded, "", alice_.token));
  responses.push_back(platform_.request("DELETE", "/api/v1/keys/" + truncated, "", alice_.token));
  responses.push_back(platform_.request("GET", "/api/v1/me?session=" + alice_.token, "", alice_.token));

  // Every later response: the ones above, the listings, me, healthz, metrics.
  responses.push_back(platform_.request("GET", "/api/v1/keys", "", alice_.token));
  responses.push_back(platform_.request("GET", "/api/v1/provider-keys", "", alice_.token));
  responses.push_back(platform_.request("GET", "/api/v1/me", "", alice_.token));
  responses.push_back(platform_.request("GET", "/healthz"));
  std::string metrics = wait_for_metrics_line(
      platform_, "tollgate_http_requests_total{route=\"/api/v1/provider-keys\",status=\"200\"} 1");
  for (std::size_t i = 0; i < responses.size(); ++i) {
    std::string everything = responses[i].body;
    for (const http::Header h : responses[i].headers) everything += fmt::format("\n{}: {}", h.name, h.value);
    // The session token is legitimately set as a cookie only by login/signup responses.
    expect_absent(everything, "response #" + std::to_string(i), secrets_);
  }
  expect_no_secret(metrics, "/metrics");
  EXPECT_NE(metrics.find("tollgate_keys_created_total"), std::string::npos) << "metrics were really read";

  // Logs while running, then after a clean stop.
  std::string live_logs = platform_.process().stdout_text() + platform_.process().stderr_text();
  expect_no_secret(live_logs, "the logs of the running server");

  std::string db_path = platform_.db_url().substr(std::string("sqlite:").size());
  auto read_db_files = [&] {
    std::string all;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      if (std::filesystem::exists(db_path + suffix)) all += read_file(db_path + suffix);
    }
    return all;
  };
  std::string live_db = read_db_files();
  expect_no_secret(live_db, "the database files of the running server");

  ASSERT_EQ(platform_.stop(), 0);
  std::string logs = platform_.process().stdout_text() + platform_.process().stderr_text();
  expect_no_secret(logs, "the server's stdout/stderr");
  // The access log did record those requests, in display form: redaction, not silence.
  std::string shown = keys::display(keys::last4(agent_key_));
  EXPECT_NE(logs.find("/api/v1/keys?token=" + shown), std::string::npos) << logs;
  EXPECT_NE(logs.find("/nowhere/" + shown), std::string::npos) << logs;
  EXPECT_NE(logs.find("/api/v1/keys/" + shown + "?q=" + shown), std::string::npos) << "percent-encoded form\n" << logs;

  std::string stopped_db = read_db_files();
  expect_no_secret(stopped_db, "the database files after the server stopped");

  // Checkpoint whatever is left in the WAL into the main file, and look again.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);", nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  std::string checkpointed = read_db_files();
  expect_no_secret(checkpointed, "the database files after a checkpoint");

  // What is stored instead: the SHA-256 of the live keys (which proves these bytes are the
  // database the server wrote), and not of the deleted one.
  auto digest = [](const std::string& key) {
    Sha256 h = keys::hash_secret(key);
    return std::string(reinterpret_cast<const char*>(h.data()), h.size());
  };
  EXPECT_NE(checkpointed.find(digest(agent_key_)), std::string::npos) << "the key's hash is stored";
  EXPECT_NE(checkpointed.find(digest(provider_key_)), std::string::npos);
  EXPECT_NE(checkpointed.find(digest(alice_.token)), std::string::npos) << "the session's hash is stored";
  EXPECT_EQ(sqlite_count(platform_.db_url(), "SELECT COUNT(*) FROM api_keys WHERE last4 = ?1", keys::last4(agent_key_)),
            1);
}

}  // namespace
}  // namespace tollgate::test
