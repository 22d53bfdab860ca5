// The payments SDK's platform client against a real platform: charges, refunds and verify
// return the platform's own codes; an unreachable platform is PLATFORM_UNAVAILABLE after the
// configured retries; a retry after a lost answer never charges twice. And with_payments
// over a real MCP server and client: a tool error refunded when the provider asks for it,
// and the charge kept and reported when that refund cannot reach the platform.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <mutex>
#include <set>
#include <thread>

#include "pay/platform_client.hpp"
#include "support/api_helpers.hpp"
#include "support/platform_fixture.hpp"
#include "tollgate/mcp/client.hpp"
#include "tollgate/mcp/transport.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::test {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

template <typename T>
T run_sync(std::function<asio::awaitable<T>(asio::io_context&)> body) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.emplace(co_await body(io)); }, asio::detached);
  io.run();
  return std::move(*out);
}

// Serves `server` over Streamable HTTP and calls `tool` once per entry of `calls` through a
// real MCP client sending `agent_key` as its bearer token; returns the answers in order.
std::vector<std::optional<mcp::RpcResponse>> call_over_http(mcp::Server& server, const std::string& agent_key,
                                                            const std::string& tool, std::vector<bj::object> calls) {
  asio::io_context io;
  mcp::HttpServer http(server, io);
  EXPECT_TRUE(http.listen("127.0.0.1", 0).ok());
  std::thread serving([&io] { io.run(); });
  asio::io_context client_io;
  std::vector<std::optional<mcp::RpcResponse>> answers(calls.size());
  asio::co_spawn(
      client_io,
      [&]() -> asio::awaitable<void> {
        mcp::HttpClientOptions o;
        o.url = "http://127.0.0.1:" + std::to_string(http.port()) + "/mcp";
        o.open_server_stream = false;
        o.headers.set("Authorization", "Bearer " + agent_key);
        mcp::Client client(client_io.get_executor(), mcp::make_http_client_transport(client_io.get_executor(), std::move(o)));
        auto connected = co_await client.connect();
        EXPECT_TRUE(connected.ok());
        // Named values, not temporaries, in co_await expressions (GCC 12, docs/architecture.md).
        for (std::size_t i = 0; i < calls.size(); ++i) {
          auto call = client.call_tool(tool, std::move(calls[i]));
          answers[i].emplace(co_await std::move(call));
        }
        auto closing = client.close();
        co_await std::move(closing);
      },
      asio::detached);
  client_io.run();
  http.stop();
  serving.join();
  return answers;
}

class PlatformClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    platform_ = new PlatformProcess();
    owner_ = platform_->signup("owner@example.com");
    agent_key_ = std::string(platform_->create_key(owner_, "agent").at("key").as_string());
    provider_key_ = std::string(platform_->create_key(owner_, "server", true).at("key").as_string());
    platform_->json_request("POST", "/api/v1/admin/credits", bj::object{{"email", owner_.email}, {"amount", "0.05"}},
                            owner_.token, 201);
  }
  static void TearDownTestSuite() { delete platform_; }

  static pay::PlatformClientOptions options(std::string key = provider_key_) {
    return pay::PlatformClientOptions{platform_->url(), std::move(key), 2'000, 1, 10};
  }

  Result<pay::Receipt> charge(const std::string& token, Micros amount, const std::string& idem,
                              pay::PlatformClientOptions o = options()) {
    return run_sync<Result<pay::Receipt>>([&](asio::io_context&) -> asio::awaitable<Result<pay::Receipt>> {
      auto client = std::make_shared<pay::PlatformClient>(o);
      std::string t = token, tool = "echo", key = idem;
      co_return co_await client->charge(std::move(t), std::move(tool), amount, std::move(key));
    });
  }

  static void add_a_dollar() {
    platform_->json_request("POST", "/api/v1/admin/credits", bj::object{{"email", owner_.email}, {"amount", "1"}},
                            owner_.token, 201);
  }
  static std::int64_t balance() {
    return platform_->json_request("GET", "/api/v1/wallet", nullptr, owner_.token, 200).at("balance_micros").as_int64();
  }

  static PlatformProcess* platform_;
  static Session owner_;
  static std::string agent_key_, provider_key_;
};

PlatformProcess* PlatformClientTest::platform_ = nullptr;
Session PlatformClientTest::owner_;
std::string PlatformClientTest::agent_key_, PlatformClientTest::provider_key_;

TEST_F(PlatformClientTest, ChargesAndKeepsPlatformCodes) {
  auto receipt = charge(agent_key_, 10'000, "c1");
  ASSERT_TRUE(receipt.ok()) << receipt.error().message;
  EXPECT_TRUE(receipt->charge_id.starts_with("ch_"));
  EXPECT_EQ(receipt->amount_micros, 10'000);
  auto replay = charge(agent_key_, 10'000, "c1");
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->charge_id, receipt->charge_id) << "same idempotency key, one charge";

  EXPECT_EQ(charge("sk_live_" + std::string(64, '0'), 10'000, "c2").code(), ErrorCode::kTokenInvalid);
  EXPECT_EQ(charge(agent_key_, 1'000'000, "c3").code(), ErrorCode::kInsufficientBalance);
  EXPECT_EQ(charge(agent_key_, 10'000, "c4", options("sk_live_" + std::string(64, '1'))).code(),
            ErrorCode::kProviderKeyInvalid);

  auto refund = run_sync<Status>([&](asio::io_context&) -> asio::awaitable<Status> {
    auto client = std::make_shared<pay::PlatformClient>(options());
    co_return co_await client->refund(receipt->charge_id);
  });
  EXPECT_TRUE(refund.ok());
  auto verify = run_sync<Status>([&](asio::io_context&) -> asio::awaitable<Status> {
    auto client = std::make_shared<pay::PlatformClient>(options());
    std::string token = agent_key_;
    co_return co_await client->verify(std::move(token));
  });
  EXPECT_TRUE(verify.ok());
}

// Concurrent charges through one client share requests (POST /api/v1/charges); each keeps
// its own outcome, and the money moved is exactly the sum of the receipts.
TEST_F(PlatformClientTest, ConcurrentChargesShareRequestsAndKeepTheirOwnOutcomes) {
  add_a_dollar();
  std::int64_t before = balance();
  constexpr int kCharges = 23;  // every 8th with an unknown key
  std::vector<std::optional<Result<pay::Receipt>>> outcomes(kCharges);
  asio::io_context io;
  auto client = std::make_shared<pay::PlatformClient>(options());
  for (int i = 0; i < kCharges; ++i) {
    asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
      std::string token = i % 8 == 7 ? "sk_live_" + std::string(64, 'c') : agent_key_;
      std::string tool = "echo", key = "burst-" + std::to_string(i);
      auto op = client->charge(std::move(token), std::move(tool), 10'000, std::move(key));
      outcomes[i].emplace(co_await std::move(op));
    }, asio::detached);
  }
  io.run();
  std::set<std::string> ids;
  int refused = 0;
  for (int i = 0; i < kCharges; ++i) {
    ASSERT_TRUE(outcomes[i].has_value()) << i;
    if (i % 8 == 7) {
      EXPECT_EQ(outcomes[i]->code(), ErrorCode::kTokenInvalid) << i;
      ++refused;
      continue;
    }
    ASSERT_TRUE(outcomes[i]->ok()) << i << ": " << outcomes[i]->error().message;
    EXPECT_EQ((*outcomes[i])->amount_micros, 10'000);
    ids.insert((*outcomes[i])->charge_id);
  }
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(ids.size(), std::size_t(kCharges - refused)) << "one charge each";
  EXPECT_EQ(before - balance(), 10'000 * (kCharges - refused));
  std::string shared = R"(route="/api/v1/charges",status="200")";
  std::string metrics =
      wait_for_metrics(*platform_, [&](const std::string& text) { return text.find(shared) != std::string::npos; });
  EXPECT_NE(metrics.find(shared), std::string::npos) << "the burst went out in shared requests";
}

// When queued charges go out (send_queue_now): at once when no request is out, so a quiet
// server adds no delay; a second request only with at least half as many charges as the one
// out, so that a charge arriving just after a large request does not take a request alone;
// never more than kMaxChargeRequestsInFlight.
TEST(PlatformClientQueue, ASecondRequestGoesOnlyWithHalfTheChargesOfTheOneOut) {
  using pay::send_queue_now;
  EXPECT_FALSE(send_queue_now(0, 0, 0)) << "nothing queued";
  EXPECT_TRUE(send_queue_now(1, 0, 0)) << "none out: no delay";
  EXPECT_TRUE(send_queue_now(300, 0, 0));
  EXPECT_FALSE(send_queue_now(1, 1, 40)) << "one charge just after a request of 40";
  EXPECT_FALSE(send_queue_now(19, 1, 40));
  EXPECT_TRUE(send_queue_now(20, 1, 40)) << "half of the request out";
  EXPECT_TRUE(send_queue_now(1, 1, 1));
  EXPECT_FALSE(send_queue_now(256, pay::kMaxChargeRequestsInFlight, 2)) << "never past the limit";
}

// A server with several I/O threads charges from all of them through one client: each call
// runs on its own strand, the shared queue and pool are taken from both threads, and every
// outcome comes back to the strand that asked for it.
TEST_F(PlatformClientTest, ChargesFromSeveralThreadsEachGetTheirOwnOutcome) {
  add_a_dollar();
  std::int64_t before = balance();
  constexpr int kCharges = 40;
  std::vector<std::optional<Result<pay::Receipt>>> outcomes(kCharges);
  std::vector<int> same_strand(kCharges, 0);  // not vector<bool>: its elements share words across threads
  asio::io_context io(2);
  auto client = std::make_shared<pay::PlatformClient>(options());
  for (int i = 0; i < kCharges; ++i) {
    auto strand = asio::make_strand(io);
    asio::co_spawn(strand, [&, i, strand]() -> asio::awaitable<void> {
      std::string token = agent_key_, tool = "echo", key = "threads-" + std::to_string(i);
      auto op = client->charge(std::move(token), std::move(tool), 1'000, std::move(key));
      auto outcome = co_await std::move(op);
      same_strand[i] = strand.running_in_this_thread() ? 1 : 0;
      outcomes[i].emplace(std::move(outcome));
    }, asio::detached);
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  std::set<std::string> ids;
  for (int i = 0; i < kCharges; ++i) {
    ASSERT_TRUE(outcomes[i].has_value()) << i;
    ASSERT_TRUE(outcomes[i]->ok()) << i << ": " << outcomes[i]->error().message;
    EXPECT_EQ(same_strand[i], 1) << i << ": the outcome came back on another executor";
    ids.insert((*outcomes[i])->charge_id);
  }
  EXPECT_EQ(ids.size(), std::size_t(kCharges)) << "one charge each";
  EXPECT_EQ(before - balance(), 1'000 * kCharges);
}

TEST_F(PlatformClientTest, UnreachablePlatformIsPlatformUnavailable) {
  // A port nothing listens on: bind one, note it, close it.
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = probe.local_endpoint().port();
  probe.close();
  auto o = options();
  o.platform_url = "http://127.0.0.1:" + std::to_string(port);
  auto result = charge(agent_key_, 10'000, "down", o);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), ErrorCode::kPlatformUnavailable);
}

// with_payments end to end with refund_on_tool_error: a paid tool that answers isError is
// charged, then refunded, and the result says so in _meta; one that succeeds keeps its
// charge and carries the receipt. Through a real MCP server and client over HTTP.
TEST_F(PlatformClientTest, WithPaymentsRefundsAToolErrorWhenAskedAndKeepsTheChargeOtherwise) {
  add_a_dollar();
  mcp::Server server(mcp::Implementation{.name = "refunds", .version = "1"});
  std::atomic<int> ran{0};
  mcp::Tool tool;
  tool.name = "divide";
  tool.input_schema = bj::object{{"type", "object"}, {"properties", bj::object{{"by", bj::object{{"type", "integer"}}}}}};
  tool.handler = [&ran](mcp::Context&, const bj::object& args) -> asio::awaitable<mcp::ToolResult> {
    ++ran;
    if (args.at("by").as_int64() == 0) co_return mcp::ToolResult::error("cannot divide by zero");
    co_return mcp::ToolResult::text("divided");
  };
  ASSERT_TRUE(server.add_tool(std::move(tool)).ok());
  pay::PaymentsConfig config;
  config.api_key = provider_key_;
  config.platform_url = platform_->url();
  config.pricing = {{"divide", "0.02"}};
  config.refund_on_tool_error = true;
  ASSERT_TRUE(pay::with_payments(server, std::move(config)).ok());

  std::int64_t before = balance();
  auto answers = call_over_http(server, agent_key_, "divide", {bj::object{{"by", 0}}, bj::object{{"by", 2}}});
  const std::optional<mcp::RpcResponse>& failed = answers[0];
  const std::optional<mcp::RpcResponse>& succeeded = answers[1];

  ASSERT_TRUE(failed && failed->ok()) << (failed && failed->error ? failed->error->message : "");
  const bj::object& error_result = failed->result.as_object();
  EXPECT_TRUE(error_result.at("isError").as_bool());
  const bj::object& refund = error_result.at("_meta").as_object().at("tollgate/refund").as_object();
  EXPECT_EQ(refund.at("amount").as_string(), "0.02");
  EXPECT_FALSE(error_result.at("_meta").as_object().contains("tollgate/receipt"));

  ASSERT_TRUE(succeeded && succeeded->ok());
  const bj::object& ok_result = succeeded->result.as_object();
  EXPECT_FALSE(ok_result.contains("isError"));
  const bj::object& receipt = ok_result.at("_meta").as_object().at("tollgate/receipt").as_object();
  EXPECT_EQ(receipt.at("amount").as_string(), "0.02");
  EXPECT_NE(receipt.at("charge_id").as_string(), refund.at("charge_id").as_string());

  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(before - balance(), 20'000) << "the failed call was refunded, the other one charged";
}

// The refund of a tool error fails when the platform went away while the tool ran: the
// call keeps its charge, the result carries the receipt (the agent did pay), and the
// provider's logger gets refund_failed with the charge id to settle by hand. A platform of
// its own, stopped by the tool, then started again on the same database to read the ledger.
TEST_F(PlatformClientTest, WithPaymentsKeepsTheChargeAndReportsItWhenTheRefundFails) {
  auto platform = std::make_unique<PlatformProcess>();
  Session owner = platform->signup("refunds@example.com");
  std::string agent_key = std::string(platform->create_key(owner, "agent").at("key").as_string());
  std::string provider_key = std::string(platform->create_key(owner, "server", true).at("key").as_string());
  platform->json_request("POST", "/api/v1/admin/credits", bj::object{{"email", owner.email}, {"amount", "1"}},
                         owner.token, 201);

  mcp::Server server(mcp::Implementation{.name = "refunds", .version = "1"});
  mcp::Tool tool;
  tool.name = "fragile";
  tool.handler = [&platform](mcp::Context&, const bj::object&) -> asio::awaitable<mcp::ToolResult> {
    platform->stop();  // charged by now; the refund will find nobody
    co_return mcp::ToolResult::error("the tool failed");
  };
  ASSERT_TRUE(server.add_tool(std::move(tool)).ok());
  std::vector<pay::PaymentEvent> events;
  std::mutex events_mutex;
  pay::PaymentsConfig config;
  config.api_key = provider_key;
  config.platform_url = platform->url();
  config.pricing = {{"fragile", "0.03"}};
  config.refund_on_tool_error = true;
  config.timeout_ms = 2'000;
  config.retries = 1;
  config.logger = [&](const pay::PaymentEvent& e) {
    std::lock_guard lock(events_mutex);
    events.push_back(e);
  };
  ASSERT_TRUE(pay::with_payments(server, std::move(config)).ok());

  auto answers = call_over_http(server, agent_key, "fragile", {bj::object{}});
  const std::optional<mcp::RpcResponse>& answer = answers[0];

  ASSERT_TRUE(answer && answer->ok()) << (answer && answer->error ? answer->error->message : "");
  const bj::object& result = answer->result.as_object();
  EXPECT_TRUE(result.at("isError").as_bool());
  const bj::object& meta = result.at("_meta").as_object();
  EXPECT_FALSE(meta.contains("tollgate/refund"));
  const bj::object& receipt = meta.at("tollgate/receipt").as_object();
  EXPECT_EQ(receipt.at("amount").as_string(), "0.03");
  std::string charge_id(receipt.at("charge_id").as_string());

  {
    std::lock_guard lock(events_mutex);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kind, pay::PaymentEvent::Kind::kCharged);
    EXPECT_EQ(events[1].kind, pay::PaymentEvent::Kind::kRefundFailed);
    EXPECT_EQ(events[1].charge_id, charge_id);
    EXPECT_EQ(events[1].code, ErrorCode::kPlatformUnavailable);
  }

  // The ledger agrees: charged once, never refunded. (Sessions live in the database, so the
  // owner's still works on the platform started again.)
  PlatformProcess again(PlatformProcess::Options{.db_url = platform->db_url()});
  EXPECT_EQ(again.json_request("GET", "/api/v1/wallet", nullptr, owner.token, 200).at("balance_micros").as_int64(),
            1'000'000 - 30'000);
  auto listed = again.json_request("GET", "/api/v1/wallet/transactions", nullptr, owner.token, 200);
  std::vector<std::string> types;
  for (const auto& t : listed.at("transactions").as_array()) types.emplace_back(t.at("type").as_string());
  EXPECT_EQ(types, (std::vector<std::string>{"charge", "deposit"}));
}

}  // namespace
}  // namespace tollgate::test
