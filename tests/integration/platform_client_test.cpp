// The payments SDK's platform client against a real platform: charges, refunds and verify
// return the platform's own codes; an unreachable platform is PLATFORM_UNAVAILABLE after the
// configured retries; a retry after a lost answer never charges twice. And with_payments
// over a real MCP server and client: a tool error refunded when the provider asks for it,
// and the charge kept and reported when that refund cannot reach the platform.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "http/client.hpp"
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

// The payment events with_payments reports, in order (its logger runs on the server's thread).
class PaymentEvents {
 public:
  std::function<void(const pay::PaymentEvent&)> logger() {
    return [this](const pay::PaymentEvent& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
    };
  }
  std::vector<pay::PaymentEvent> seen() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<pay::PaymentEvent> events_;
};

// Serves `server` over Streamable HTTP and calls `tool` once per entry of `calls` through a
// real MCP client sending `agent_key` as its bearer token (none when empty); returns the
// answers in order.
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
        if (!agent_key.empty()) o.headers.set("Authorization", "Bearer " + agent_key);
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

// A TCP proxy in front of the platform that counts the connections made to it. With
// `lose_first_answer`, the platform gets the first connection's request, commits and answers
// it, and the proxy closes that connection instead of passing the answer on (a network
// failure after the charge was made); later connections are relayed both ways.
class PlatformProxy {
 public:
  PlatformProxy(std::uint16_t platform_port, bool lose_first_answer)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        platform_port_(platform_port),
        lose_first_answer_(lose_first_answer) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~PlatformProxy() {
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int connections() const { return connections_.load(); }

 private:
  using Socket = asio::ip::tcp::socket;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto accept = acceptor_.async_accept(asio::use_awaitable);
      auto client = std::make_shared<Socket>(co_await std::move(accept));
      const bool lose = ++connections_ == 1 && lose_first_answer_;
      auto platform = std::make_shared<Socket>(io_);
      asio::ip::tcp::endpoint to(asio::ip::make_address("127.0.0.1"), platform_port_);
      auto connect = platform->async_connect(to, asio::use_awaitable);
      co_await std::move(connect);
      asio::co_spawn(io_, relay(client, platform, false), asio::detached);
      asio::co_spawn(io_, relay(platform, client, lose), asio::detached);
    }
  }

  // Copies `from` to `to` until either side closes; with `lose`, closes both at the first
  // bytes instead.
  static asio::awaitable<void> relay(std::shared_ptr<Socket> from, std::shared_ptr<Socket> to, bool lose) {
    auto buffer = std::make_unique<std::array<char, 16384>>();
    for (;;) {
      auto read = from->async_read_some(asio::buffer(*buffer), asio::as_tuple(asio::use_awaitable));
      auto [read_error, n] = co_await std::move(read);
      if (read_error || lose) break;
      auto write = asio::async_write(*to, asio::buffer(*buffer, n), asio::as_tuple(asio::use_awaitable));
      auto [write_error, written] = co_await std::move(write);
      if (write_error) break;
    }
    boost::system::error_code ignored;
    from->close(ignored);
    to->close(ignored);
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t platform_port_;
  bool lose_first_answer_;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::uint16_t port_of(const std::string& url) { return http::parse_url(url).value().port; }

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

  // with_payments on this platform with the provider's key, at `pricing`.
  static pay::PaymentsConfig payments_config(std::map<std::string, std::string> pricing) {
    pay::PaymentsConfig config;
    config.api_key = provider_key_;
    config.platform_url = platform_->url();
    config.pricing = std::move(pricing);
    return config;
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

// The platform charged, but its answer was lost on the way back: the client retries with
// the same idempotency key on a new connection and gets the same charge back, so the agent
// paid once.
TEST_F(PlatformClientTest, AnAnswerLostOnTheWayIsRetriedWithTheSameKeyAndChargesOnce) {
  add_a_dollar();
  std::int64_t before = balance();
  PlatformProxy proxy(port_of(platform_->url()), /*lose_first_answer=*/true);
  auto o = options();
  o.platform_url = proxy.url();
  o.retries = 2;
  auto receipt = charge(agent_key_, 10'000, "lost-answer", o);
  ASSERT_TRUE(receipt.ok()) << receipt.error().message;
  EXPECT_GE(proxy.connections(), 2) << "the request was sent again";
  EXPECT_EQ(before - balance(), 10'000) << "charged once";
  auto listed = platform_->json_request("GET", "/api/v1/wallet/transactions?limit=1", nullptr, owner_.token, 200);
  EXPECT_EQ(listed.at("transactions").as_array().at(0).at("id").as_string(), receipt->charge_id)
      << "the receipt is the one charge the platform made";

  // With no retries left the lost answer is PLATFORM_UNAVAILABLE (the charge is still
  // made once: a later replay of the key would find it).
  PlatformProxy no_retry(port_of(platform_->url()), /*lose_first_answer=*/true);
  o.platform_url = no_retry.url();
  o.retries = 0;
  EXPECT_EQ(charge(agent_key_, 10'000, "lost-answer-2", o).code(), ErrorCode::kPlatformUnavailable);
  EXPECT_EQ(no_retry.connections(), 1);
}

// One client's charges, one after another, all go over one warm keep-alive connection: no
// connection setup per charge.
TEST_F(PlatformClientTest, SequentialChargesShareOneWarmConnection) {
  add_a_dollar();
  std::int64_t before = balance();
  PlatformProxy proxy(port_of(platform_->url()), /*lose_first_answer=*/false);
  auto o = options();
  o.platform_url = proxy.url();
  auto receipts = run_sync<std::vector<Result<pay::Receipt>>>(
      [&](asio::io_context&) -> asio::awaitable<std::vector<Result<pay::Receipt>>> {
        auto client = std::make_shared<pay::PlatformClient>(o);
        std::vector<Result<pay::Receipt>> out;
        for (int i = 0; i < 5; ++i) {
          std::string token = agent_key_, tool = "echo", key = "warm-" + std::to_string(i);
          auto op = client->charge(std::move(token), std::move(tool), 1'000, std::move(key));
          out.push_back(co_await std::move(op));
        }
        co_return out;
      });
  for (const auto& r : receipts) EXPECT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(proxy.connections(), 1);
  EXPECT_EQ(before - balance(), 5'000);
}

// A platform that accepts the connection and never answers: each attempt ends at the
// timeout, and after the retries the charge is PLATFORM_UNAVAILABLE, not a hang.
TEST_F(PlatformClientTest, ASilentPlatformTimesOutIntoPlatformUnavailable) {
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // listens, never accepts
  auto o = options();
  o.platform_url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  o.timeout_ms = 300;
  o.retries = 1;
  auto started = std::chrono::steady_clock::now();
  auto result = charge(agent_key_, 10'000, "silent", o);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.code(), ErrorCode::kPlatformUnavailable);
  EXPECT_GE(took, std::chrono::milliseconds(600)) << "two attempts, each waited for its timeout";
  EXPECT_LT(took, std::chrono::seconds(30)) << "and then it gave up";
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
  pay::PaymentsConfig config = payments_config({{"divide", "0.02"}});
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

// A paid tool that answers with a protocol error (URL elicitation required: the user must
// act first) did not do its work: the charge goes back, whatever refund_on_tool_error says,
// and the agent gets the JSON-RPC error with its elicitations.
TEST_F(PlatformClientTest, WithPaymentsRefundsACallAnsweredWithAProtocolError) {
  add_a_dollar();
  mcp::Server server(mcp::Implementation{.name = "linked", .version = "1"});
  mcp::Tool tool;
  tool.name = "linked";
  tool.handler = [](mcp::Context&, const bj::object&) -> asio::awaitable<mcp::ToolResult> {
    throw mcp::url_elicitation_required(bj::array{bj::object{
        {"mode", "url"}, {"elicitationId", "e-1"}, {"url", "https://example.com/connect"}, {"message", "Connect first"}}});
    co_return mcp::ToolResult::text("unreachable");
  };
  ASSERT_TRUE(server.add_tool(std::move(tool)).ok());
  pay::PaymentsConfig config = payments_config({{"linked", "0.02"}});
  PaymentEvents recorded;
  config.logger = recorded.logger();
  ASSERT_TRUE(pay::with_payments(server, std::move(config)).ok());

  std::int64_t before = balance();
  auto answers = call_over_http(server, agent_key_, "linked", {bj::object{}});
  ASSERT_TRUE(answers[0] && answers[0]->error);
  EXPECT_EQ(answers[0]->error->code, mcp::rpc::kUrlElicitationRequired);
  EXPECT_EQ(answers[0]->error->data.at("elicitations").as_array().at(0).at("elicitationId").as_string(), "e-1");
  EXPECT_EQ(balance(), before);
  std::vector<pay::PaymentEvent> events = recorded.seen();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, pay::PaymentEvent::Kind::kCharged);
  EXPECT_EQ(events[1].kind, pay::PaymentEvent::Kind::kRefunded) << "charged, then refunded";
  EXPECT_EQ(events[1].charge_id, events[0].charge_id);
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
  PaymentEvents recorded;
  pay::PaymentsConfig config;
  config.api_key = provider_key;
  config.platform_url = platform->url();
  config.pricing = {{"fragile", "0.03"}};
  config.refund_on_tool_error = true;
  config.timeout_ms = 2'000;
  config.retries = 1;
  config.logger = recorded.logger();
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
    std::vector<pay::PaymentEvent> events = recorded.seen();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kind, pay::PaymentEvent::Kind::kCharged);
    EXPECT_EQ(events[1].kind, pay::PaymentEvent::Kind::kRefundFailed);
    EXPECT_EQ(events[1].charge_id, charge_id);
    EXPECT_EQ(events[1].code, ErrorCode::kPlatformUnavailable);
    EXPECT_EQ(events[0].amount_micros, 30'000);
    EXPECT_EQ(events[1].amount_micros, 30'000) << "a refund's event names the price the charge's did";
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

// A tool result's text and its tollgate error code ("" for none).
std::pair<std::string, std::string> text_and_code(const std::optional<mcp::RpcResponse>& answer) {
  EXPECT_TRUE(answer && answer->ok());
  if (!answer || !answer->ok()) return {};
  const bj::object& result = answer->result.as_object();
  std::string text(result.at("content").as_array().at(0).as_object().at("text").as_string());
  const bj::object* meta = result.if_contains("_meta") ? &result.at("_meta").as_object() : nullptr;
  std::string code = meta && meta->contains("tollgate/error")
                         ? std::string(meta->at("tollgate/error").as_object().at("code").as_string())
                         : "";
  return {text, code};
}

// with_payments's options as an agent meets them, each refusal with the tool provably not
// run and nothing charged: require_auth_for_all_tools on a free tool, concise errors, a
// spending limit below the price, and provider_name in CHARGE_FAILED when the provider's
// own key is wrong.
TEST_F(PlatformClientTest, WithPaymentsOptionsShapeEachRefusalAndNoRefusedToolRuns) {
  add_a_dollar();
  std::atomic<int> ran{0};
  auto make_server = [&ran](pay::PaymentsConfig config) {
    auto server = std::make_unique<mcp::Server>(mcp::Implementation{.name = "options", .version = "1"});
    for (const char* name : {"ping", "lookup"}) {
      mcp::Tool tool;
      tool.name = name;
      tool.handler = [&ran](mcp::Context&, const bj::object&) -> asio::awaitable<mcp::ToolResult> {
        ++ran;
        co_return mcp::ToolResult::text("ran");
      };
      EXPECT_TRUE(server->add_tool(std::move(tool)).ok());
    }
    config.platform_url = platform_->url();
    config.pricing = {{"lookup", "0.02"}};
    EXPECT_TRUE(pay::with_payments(*server, std::move(config)).ok());
    return server;
  };
  const std::string unknown_key = "sk_live_" + std::string(64, 'e');
  std::int64_t before = balance();

  // A free tool behind require_auth_for_all_tools, with concise errors.
  pay::PaymentsConfig strict;
  strict.api_key = provider_key_;
  strict.require_auth_for_all_tools = true;
  strict.error_verbosity = pay::ErrorVerbosity::kConcise;
  auto server = make_server(strict);
  EXPECT_EQ(text_and_code(call_over_http(*server, "", "ping", {bj::object{}})[0]),
            std::make_pair(std::string("TOKEN_MISSING: No agent key was sent."), std::string("TOKEN_MISSING")));
  EXPECT_EQ(text_and_code(call_over_http(*server, unknown_key, "ping", {bj::object{}})[0]),
            std::make_pair(std::string("TOKEN_INVALID: The agent key is not valid."), std::string("TOKEN_INVALID")));
  EXPECT_EQ(ran.load(), 0) << "a refused free tool did not run";
  EXPECT_EQ(text_and_code(call_over_http(*server, agent_key_, "ping", {bj::object{}})[0]),
            std::make_pair(std::string("ran"), std::string()));
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(balance(), before) << "a free tool is verified, never charged";

  // A key whose own limit is below the price: SPENDING_LIMIT_EXCEEDED, in detail.
  pay::PaymentsConfig detailed;
  detailed.api_key = provider_key_;
  server = make_server(detailed);
  std::string limited = std::string(
      platform_->json_request("POST", "/api/v1/keys",
                              bj::object{{"name", "limited"},
                                         {"spend_limit", bj::object{{"amount", "0.01"}, {"period", "day"}}}},
                              owner_.token, 201)
          .at("key")
          .as_string());
  auto [limit_text, limit_code] = text_and_code(call_over_http(*server, limited, "lookup", {bj::object{}})[0]);
  EXPECT_EQ(limit_code, "SPENDING_LIMIT_EXCEEDED");
  EXPECT_TRUE(limit_text.starts_with("SPENDING_LIMIT_EXCEEDED: The tool 'lookup' costs $0.02 per call"))
      << limit_text;
  EXPECT_NE(limit_text.find("API Keys at " + platform_->url()), std::string::npos) << limit_text;

  // The provider's own key is wrong: the agent cannot fix that, so CHARGE_FAILED names the
  // provider to contact.
  pay::PaymentsConfig misconfigured;
  misconfigured.api_key = "sk_live_" + std::string(64, 'd');
  misconfigured.provider_name = "Acme Weather";
  server = make_server(misconfigured);
  auto [failed_text, failed_code] = text_and_code(call_over_http(*server, agent_key_, "lookup", {bj::object{}})[0]);
  EXPECT_EQ(failed_code, "CHARGE_FAILED");
  EXPECT_NE(failed_text.find("so the tool did not run. Contact Acme Weather."), std::string::npos) << failed_text;

  EXPECT_EQ(ran.load(), 1) << "no refused paid call ran";
  EXPECT_EQ(balance(), before);
}

}  // namespace
}  // namespace tollgate::test
