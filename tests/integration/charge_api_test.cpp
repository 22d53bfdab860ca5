// The charge API over HTTP against the real binary, on SQLite and PostgreSQL: every error
// code a provider can see, concurrency (200 charges on $0.50), several `tollgate serve`
// processes on one PostgreSQL behaving as one, and a kill -9 in the middle of a charge
// storm losing nothing that was answered.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio.hpp>
#include <map>
#include <set>

#include "support/api_helpers.hpp"
#include "support/databases.hpp"
#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

// Accounts and keys for one provider charging one agent.
struct World {
  Session admin;  // first account: admin, and the agent's owner
  Session provider;
  std::string agent_key;
  std::string agent_key_id;
  std::string provider_key;
};

World make_world(PlatformProcess& platform, const std::string& deposit) {
  World w;
  w.admin = platform.signup("agent-owner@example.com");
  w.provider = platform.signup("provider@example.com");
  auto agent = platform.create_key(w.admin, "agent");
  w.agent_key = std::string(agent.at("key").as_string());
  w.agent_key_id = std::string(agent.at("id").as_string());
  w.provider_key = std::string(platform.create_key(w.provider, "server", true).at("key").as_string());
  if (deposit != "0") {
    platform.json_request("POST", "/api/v1/admin/credits", bj::object{{"email", w.admin.email}, {"amount", deposit}},
                          w.admin.token, 201);
  }
  return w;
}

bj::object charge_body(const std::string& agent_token, const std::string& amount, const std::string& idem = "") {
  bj::object body{{"agent_token", agent_token}, {"tool", "echo"}, {"amount", amount}};
  if (!idem.empty()) body["idempotency_key"] = idem;
  return body;
}

http::ClientResponse post_charge(const PlatformProcess& p, const std::string& provider_key, const bj::object& body) {
  return p.request("POST", "/api/v1/charge", bj::serialize(body), provider_key);
}

// Sends `bodies` as concurrent charges spread over `urls`; returns the responses in order.
std::vector<http::ClientResponse> concurrent_charges(const std::vector<std::string>& urls, const std::string& provider_key,
                                                     const std::vector<bj::object>& bodies, int connections) {
  asio::io_context io;
  http::Client client;
  std::vector<http::ClientResponse> out(bodies.size());
  std::atomic<std::size_t> next{0};
  for (int c = 0; c < connections; ++c) {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (std::size_t i = next++; i < bodies.size(); i = next++) {
        http::ClientRequest req;
        req.method = "POST";
        req.url = urls[i % urls.size()] + "/api/v1/charge";
        req.body = bj::serialize(bodies[i]);
        req.headers.set("Authorization", "Bearer " + provider_key);
        req.headers.set("Content-Type", "application/json");
        req.timeout_ms = 30'000;
        auto r = co_await client.request(std::move(req));
        if (r) out[i] = std::move(*r);
      }
    }, asio::detached);
  }
  io.run();
  return out;
}

int ledger_verify(const std::string& db_url) {
  return run({{tollgate_binary(), "ledger", "verify", "--db", db_url}}).status;
}

class ChargeApiTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = unavailable_reason(GetParam())) GTEST_SKIP() << *why;
    db_ = std::make_unique<TestDatabase>(GetParam());
  }
  std::unique_ptr<PlatformProcess> start(std::vector<std::string> extra = {}) {
    PlatformProcess::Options o;
    o.db_url = db_->url();
    o.extra_args = std::move(extra);
    return std::make_unique<PlatformProcess>(o);
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST_P(ChargeApiTest, ChargesAndEveryErrorCodeAProviderCanSee) {
  auto platform = start();
  World w = make_world(*platform, "0.05");
  auto& p = *platform;

  auto ok = post_charge(p, w.provider_key, charge_body(w.agent_key, "0.02"));
  ASSERT_EQ(ok.status, 200u) << ok.body;
  auto charged = parse_object(ok.body);
  EXPECT_TRUE(std::string(charged.at("charge_id").as_string()).starts_with("ch_"));
  EXPECT_EQ(charged.at("amount").as_string(), "0.02");
  EXPECT_EQ(charged.at("amount_micros").as_int64(), 20'000);
  EXPECT_EQ(ok.body.find("balance"), std::string::npos) << "the provider never learns the agent's balance";

  auto code = [&](const http::ClientResponse& r) { return std::to_string(r.status) + " " + error_code(r); };
  EXPECT_EQ(code(post_charge(p, "", charge_body(w.agent_key, "0.01"))), "401 PROVIDER_KEY_INVALID");
  EXPECT_EQ(code(post_charge(p, "sk_live_" + std::string(64, 'a'), charge_body(w.agent_key, "0.01"))),
            "401 PROVIDER_KEY_INVALID");
  EXPECT_EQ(code(post_charge(p, w.agent_key, charge_body(w.agent_key, "0.01"))), "403 SCOPE_DENIED");
  bj::object no_token{{"tool", "echo"}, {"amount", "0.01"}};
  EXPECT_EQ(code(post_charge(p, w.provider_key, no_token)), "400 TOKEN_MISSING");
  EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body("", "0.01"))), "401 TOKEN_INVALID");
  EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body(w.agent_key.substr(0, 70), "0.01"))), "401 TOKEN_INVALID");
  EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body(w.provider_key, "0.01"))), "401 TOKEN_INVALID")
      << "a provider key is not an agent key";
  for (const char* bad : {"1e3", "0x10", "-0.01", "0", "0.0000001", " 0.01", "10000.000001"}) {
    EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body(w.agent_key, bad))), "400 INVALID_REQUEST") << bad;
  }
  EXPECT_EQ(post_charge(p, w.provider_key, charge_body(w.agent_key, "10000")).status, 402u) << "the maximum itself is valid";
  bj::object long_tool = charge_body(w.agent_key, "0.01");
  long_tool["tool"] = std::string(129, 't');
  EXPECT_EQ(code(post_charge(p, w.provider_key, long_tool)), "400 INVALID_REQUEST");
  long_tool["tool"] = std::string(128, 't');
  EXPECT_EQ(post_charge(p, w.provider_key, long_tool).status, 200u);
  EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body(w.agent_key, "0.01", std::string(256, 'k')))),
            "400 INVALID_REQUEST");
  EXPECT_EQ(code(p.request("POST", "/api/v1/charge", "{not json", w.provider_key)), "400 INVALID_REQUEST");
  EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body(w.agent_key, "0.03"))), "402 INSUFFICIENT_BALANCE");

  // What was refused cost nothing: 0.05 - 0.02 - 0.01 (the 128-char tool).
  auto wallet = p.json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200);
  EXPECT_EQ(wallet.at("balance").as_string(), "0.02");

  // Refunds: own charges, once.
  std::string charge_id(charged.at("charge_id").as_string());
  auto stranger = p.request("POST", "/api/v1/charges/" + charge_id + "/refund", "", w.agent_key);
  EXPECT_EQ(code(stranger), "403 SCOPE_DENIED");
  auto refund = p.request("POST", "/api/v1/charges/" + charge_id + "/refund", "", w.provider_key);
  ASSERT_EQ(refund.status, 200u) << refund.body;
  EXPECT_EQ(parse_object(refund.body).at("amount").as_string(), "0.02");
  EXPECT_EQ(code(p.request("POST", "/api/v1/charges/" + charge_id + "/refund", "", w.provider_key)), "409 ALREADY_REFUNDED");
  EXPECT_EQ(code(p.request("POST", "/api/v1/charges/ch_nope/refund", "", w.provider_key)), "404 NOT_FOUND");

  // Verify, then delete the key: the very next call fails.
  auto verify = p.request("POST", "/api/v1/verify", bj::serialize(bj::object{{"agent_token", w.agent_key}}), w.provider_key);
  EXPECT_EQ(verify.body, R"({"valid":true})");
  ASSERT_EQ(p.request("DELETE", "/api/v1/keys/" + w.agent_key_id, "", w.admin.token).status, 204u);
  EXPECT_EQ(code(post_charge(p, w.provider_key, charge_body(w.agent_key, "0.01"))), "401 TOKEN_INVALID");
  EXPECT_EQ(code(p.request("POST", "/api/v1/verify", bj::serialize(bj::object{{"agent_token", w.agent_key}}), w.provider_key)),
            "401 TOKEN_INVALID");
  platform->stop();
  EXPECT_EQ(ledger_verify(db_->url()), 0);
}

// POST /api/v1/charges: each item charged or refused on its own, answered in order; only
// the envelope and the provider key refuse the whole request.
TEST_P(ChargeApiTest, ChargesInOneRequestEachWithItsOwnOutcome) {
  auto platform = start();
  World w = make_world(*platform, "0.05");
  auto& p = *platform;
  auto post_charges = [&](const bj::array& items, const std::string& key) {
    return p.request("POST", "/api/v1/charges", bj::serialize(bj::object{{"charges", items}}), key);
  };
  auto item_code = [](const bj::value& r) -> std::string {
    if (!r.as_object().contains("error")) return "ok";
    return std::string(r.at("error").at("code").as_string());
  };
  bj::array items{charge_body(w.agent_key, "0.02", "batch-1"),
                  charge_body(w.agent_key, "0.01.5"),           // malformed amount
                  charge_body("sk_live_" + std::string(64, 'b'), "0.01"),  // unknown key
                  bj::object{{"tool", "echo"}, {"amount", "0.01"}},        // no agent token
                  "not an object",
                  charge_body(w.agent_key, "0.04"),             // more than is left
                  charge_body(w.agent_key, "0.01", "batch-2")};
  auto first = post_charges(items, w.provider_key);
  ASSERT_EQ(first.status, 200u) << first.body;
  bj::object first_body = parse_object(first.body);
  const auto& results = first_body.at("results").as_array();
  ASSERT_EQ(results.size(), items.size());
  std::vector<std::string> codes;
  for (const auto& r : results) codes.push_back(item_code(r));
  // Charges of one batch apply in queue order: 0.02, then 0.04 does not fit, then 0.01.
  EXPECT_EQ(codes, (std::vector<std::string>{"ok", "INVALID_REQUEST", "TOKEN_INVALID", "TOKEN_MISSING", "INVALID_REQUEST",
                                             "INSUFFICIENT_BALANCE", "ok"}))
      << first.body;
  EXPECT_EQ(results[0].at("amount").as_string(), "0.02");
  EXPECT_EQ(p.json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200).at("balance").as_string(), "0.02");

  // The same items again: the idempotency keys answer with the original charges.
  bj::array again{items[0], items[6]};
  auto retried = post_charges(again, w.provider_key);
  ASSERT_EQ(retried.status, 200u) << retried.body;
  bj::object retried_body = parse_object(retried.body);
  const auto& retried_results = retried_body.at("results").as_array();
  EXPECT_EQ(retried_results[0].at("charge_id"), results[0].at("charge_id"));
  EXPECT_EQ(retried_results[1].at("charge_id"), results[6].at("charge_id"));
  EXPECT_EQ(p.json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200).at("balance").as_string(), "0.02");

  // The envelope: 1 to 256 charges, with a provider key.
  auto code = [&](const http::ClientResponse& r) { return std::to_string(r.status) + " " + error_code(r); };
  EXPECT_EQ(code(post_charges(bj::array{}, w.provider_key)), "400 INVALID_REQUEST");
  bj::array too_many, most;
  for (int i = 0; i < 257; ++i) too_many.push_back(charge_body("", "0.01"));
  for (int i = 0; i < 256; ++i) most.push_back(charge_body("", "0.01"));
  EXPECT_EQ(code(post_charges(too_many, w.provider_key)), "400 INVALID_REQUEST");
  auto at_limit = post_charges(most, w.provider_key);
  ASSERT_EQ(at_limit.status, 200u) << "256 is allowed";
  EXPECT_EQ(parse_object(at_limit.body).at("results").as_array().size(), 256u);
  EXPECT_EQ(code(p.request("POST", "/api/v1/charges", R"({"charges":{}})", w.provider_key)), "400 INVALID_REQUEST");
  EXPECT_EQ(code(post_charges(bj::array{charge_body(w.agent_key, "0.01")}, "")), "401 PROVIDER_KEY_INVALID");
  EXPECT_EQ(code(post_charges(bj::array{charge_body(w.agent_key, "0.01")}, w.agent_key)), "403 SCOPE_DENIED");
  EXPECT_EQ(p.json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200).at("balance").as_string(), "0.02");
  platform->stop();
  EXPECT_EQ(ledger_verify(db_->url()), 0);
}

// One request verifies each distinct agent key once and reuses the answer for its other
// charges: every charge must still land on its own key and account, and a refused token is
// refused (and counted) at every appearance.
TEST_P(ChargeApiTest, ChargesOfSeveralAgentKeysInOneRequestEachLandOnTheirOwnKey) {
  auto platform = start();
  World w = make_world(*platform, "1.00");
  auto& p = *platform;
  std::string a2 = std::string(p.create_key(w.admin, "second").at("key").as_string());
  Session other = p.signup("other-agent@example.com");
  std::string b1 = std::string(p.create_key(other, "b").at("key").as_string());
  p.json_request("POST", "/api/v1/admin/credits", bj::object{{"email", other.email}, {"amount", "1.00"}}, w.admin.token,
                 201);
  std::string unknown = "sk_live_" + std::string(64, 'c');
  bj::array items{charge_body(w.agent_key, "0.01"), charge_body(b1, "0.02"),      charge_body(unknown, "0.01"),
                  charge_body(w.agent_key, "0.01"), charge_body(a2, "0.03"),      charge_body(b1, "0.02"),
                  charge_body(unknown, "0.01"),     charge_body(w.agent_key, "0.01")};
  auto answer = p.request("POST", "/api/v1/charges", bj::serialize(bj::object{{"charges", items}}), w.provider_key);
  ASSERT_EQ(answer.status, 200u) << answer.body;
  bj::object body = parse_object(answer.body);
  const auto& results = body.at("results").as_array();
  ASSERT_EQ(results.size(), items.size());
  for (std::size_t i : {2u, 6u}) {
    ASSERT_TRUE(results[i].as_object().contains("error")) << i << ": " << answer.body;
    EXPECT_EQ(results[i].at("error").at("code").as_string(), "TOKEN_INVALID") << i;
  }
  for (std::size_t i : {0u, 1u, 3u, 4u, 5u, 7u}) EXPECT_TRUE(results[i].as_object().contains("charge_id")) << i;

  EXPECT_EQ(p.json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200).at("balance").as_string(), "0.94");
  EXPECT_EQ(p.json_request("GET", "/api/v1/wallet", nullptr, other.token, 200).at("balance").as_string(), "0.96");
  // By key: 3 calls on the first key, 1 on the second, 2 on the other account's.
  std::map<std::string, std::pair<std::string, std::int64_t>> by_key;  // name -> (amount, calls)
  for (const auto* who : {&w.admin, &other}) {
    auto usage = p.json_request("GET", "/api/v1/usage", nullptr, who->token, 200);
    for (const auto& k : usage.at("by_key").as_array()) {
      by_key[std::string(k.at("name").as_string())] = {std::string(k.at("amount").as_string()),
                                                       k.at("calls").as_int64()};
    }
  }
  EXPECT_EQ(by_key["agent"], (std::pair<std::string, std::int64_t>{"0.03", 3}));
  EXPECT_EQ(by_key["second"], (std::pair<std::string, std::int64_t>{"0.03", 1}));
  EXPECT_EQ(by_key["b"], (std::pair<std::string, std::int64_t>{"0.04", 2}));
  // Both refusals of the unknown token were counted.
  std::string line = R"(tollgate_auth_failures_total{code="TOKEN_INVALID"} 2)";
  std::string metrics = wait_for_metrics_line(p, line);
  EXPECT_TRUE(has_line(metrics, line)) << metrics;
  platform->stop();
  EXPECT_EQ(ledger_verify(db_->url()), 0);
}

TEST_P(ChargeApiTest, TwoHundredConcurrentChargesOfOneCentOnFiftyCents) {
  auto platform = start();
  World w = make_world(*platform, "0.50");
  std::vector<bj::object> bodies(200, charge_body(w.agent_key, "0.01"));
  auto responses = concurrent_charges({platform->url()}, w.provider_key, bodies, 64);
  int ok = 0, insufficient = 0;
  for (const auto& r : responses) {
    if (r.status == 200) ++ok;
    if (r.status == 402 && error_code(r) == "INSUFFICIENT_BALANCE") ++insufficient;
  }
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(insufficient, 150);
  auto wallet = platform->json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200);
  EXPECT_EQ(wallet.at("balance_micros").as_int64(), 0);
  platform->stop();
  EXPECT_EQ(ledger_verify(db_->url()), 0);
}

TEST_P(ChargeApiTest, KillNineDuringAChargeStormLosesNothingThatWasAnswered) {
  auto platform = start();
  World w = make_world(*platform, "1000");
  std::string url = platform->url();

  // Charge storm from a separate thread, each charge with its own idempotency key; collect
  // every charge id that was answered 200 before the kill.
  std::mutex mutex;
  std::set<std::string> answered;
  std::atomic<bool> killed{false};
  std::thread storm([&] {
    asio::io_context io;
    http::Client client;
    std::atomic<int> seq{0};
    for (int c = 0; c < 16; ++c) {
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        while (!killed) {
          http::ClientRequest req;
          req.method = "POST";
          req.url = url + "/api/v1/charge";
          req.body = bj::serialize(charge_body(w.agent_key, "0.01", "storm-" + std::to_string(seq++)));
          req.headers.set("Authorization", "Bearer " + w.provider_key);
          req.timeout_ms = 5'000;
          auto r = co_await client.request(std::move(req));
          if (r && r->status == 200) {
            std::lock_guard lock(mutex);
            answered.insert(std::string(parse_object(r->body).at("charge_id").as_string()));
          }
        }
      }, asio::detached);
    }
    io.run();
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (answered.size() >= 300) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the storm did not get going";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  platform->process().stop(SIGKILL);
  killed = true;
  storm.join();

  // Every answered charge is in the ledger; nothing is half-applied.
  std::string ids;
  for (const auto& id : answered) ids += (ids.empty() ? "'" : ",'") + id + "'";
  EXPECT_EQ(db_->query_value("SELECT COUNT(*) FROM transfers WHERE id IN (" + ids + ")"), std::to_string(answered.size()));
  EXPECT_EQ(ledger_verify(db_->url()), 0);
  auto restarted = start();
  auto wallet = restarted->json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200);
  std::int64_t charges = std::stoll(db_->query_value("SELECT COUNT(*) FROM transfers WHERE kind = 'charge'"));
  EXPECT_GE(charges, static_cast<std::int64_t>(answered.size()));
  EXPECT_EQ(wallet.at("balance_micros").as_int64(), 1000'000'000 - charges * 10'000);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChargeApiTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& info) { return backend_name(info.param); });

// Several processes on one PostgreSQL behave as one platform.
TEST(ChargeApiMultiProcess, TwoServersOnOnePostgresBehaveAsOne) {
  if (auto why = unavailable_reason(Backend::kPostgres)) GTEST_SKIP() << *why;
  TestDatabase db(Backend::kPostgres);
  PlatformProcess::Options o;
  o.db_url = db.url();
  PlatformProcess a(o), b(o);
  World w = make_world(a, "0.50");

  // 200 concurrent charges, alternating between the two processes: exactly 50 succeed.
  std::vector<bj::object> bodies(200, charge_body(w.agent_key, "0.01"));
  auto responses = concurrent_charges({a.url(), b.url()}, w.provider_key, bodies, 64);
  int ok = 0;
  for (const auto& r : responses) ok += r.status == 200;
  EXPECT_EQ(ok, 50);

  // Retries with one idempotency key through both processes charge once.
  a.json_request("POST", "/api/v1/admin/credits", bj::object{{"email", w.admin.email}, {"amount", "1"}}, w.admin.token, 201);
  std::vector<bj::object> retries(40, charge_body(w.agent_key, "0.01", "same-request"));
  auto replies = concurrent_charges({a.url(), b.url()}, w.provider_key, retries, 40);
  std::set<std::string> ids;
  for (const auto& r : replies) {
    ASSERT_EQ(r.status, 200u) << r.body;
    ids.insert(std::string(parse_object(r.body).at("charge_id").as_string()));
  }
  EXPECT_EQ(ids.size(), 1u);
  auto wallet = b.json_request("GET", "/api/v1/wallet", nullptr, w.admin.token, 200);
  EXPECT_EQ(wallet.at("balance").as_string(), "0.99");

  // A key deleted through one process fails on the other at once (no cache window).
  ASSERT_EQ(a.request("DELETE", "/api/v1/keys/" + w.agent_key_id, "", w.admin.token).status, 204u);
  auto after = post_charge(b, w.provider_key, charge_body(w.agent_key, "0.01"));
  EXPECT_EQ(after.status, 401u);
  EXPECT_EQ(error_code(after), "TOKEN_INVALID");
  a.stop();
  b.stop();
  EXPECT_EQ(ledger_verify(db.url()), 0);
}

}  // namespace
}  // namespace tollgate::test
