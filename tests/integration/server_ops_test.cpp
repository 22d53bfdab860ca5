// What operators rely on: /healthz, /metrics (requests by route and status, the latency
// histogram, keys created/deleted, auth failures by code) and graceful shutdown (SIGTERM
// lets a request in flight finish, closes idle connections, and exits 0).
#include <gtest/gtest.h>

#include <signal.h>

#include <regex>
#include <thread>

#include "support/api_helpers.hpp"
#include "support/platform_fixture.hpp"
#include "support/raw_socket.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;

// Waits until the server's stderr contains `text`.
bool wait_for_stderr(Process& p, const std::string& text, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (p.stderr_text().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(Healthz, ReportsOkAndTheStore) {
  PlatformProcess platform;
  auto r = platform.request("GET", "/healthz");
  EXPECT_EQ(r.status, 200u);
  bj::object body = parse_object(r.body);
  EXPECT_EQ(body.at("status"), "ok");
  EXPECT_EQ(body.at("store"), "sqlite");
  EXPECT_EQ(platform.request("HEAD", "/healthz").status, 200u);
}

TEST(MetricsEndpoint, CountsRequestsLatencyKeysAndAuthFailures) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  bj::object k1 = platform.create_key(alice, "one");
  platform.create_key(alice, "two");
  platform.create_key(alice, "server", /*provider=*/true);
  ASSERT_EQ(platform.request("DELETE", "/api/v1/keys/" + std::string(k1.at("id").as_string()), "", alice.token).status, 204u);
  platform.request("GET", "/api/v1/me");                               // UNAUTHENTICATED
  platform.request("GET", "/api/v1/me", "", "sess_" + std::string(64, '0'));  // UNAUTHENTICATED
  platform.request("GET", "/api/v1/me", "", std::string(k1.at("key").as_string()));  // deleted key: UNAUTHENTICATED
  platform.request("GET", "/api/v1/keys", "", std::string(platform.create_key(alice, "three").at("key").as_string()));
  platform.request("POST", "/api/v1/auth/login", R"({"email": "alice@example.com", "password": "wrong password"})");
  platform.request("GET", "/api/v1/keys", "", alice.token);

  std::string text = wait_for_metrics_line(
      platform, "tollgate_http_requests_total{route=\"/api/v1/keys\",status=\"200\"} 1");
  auto expect_line = [&](const std::string& line) { EXPECT_TRUE(has_line(text, line)) << line << "\n" << text; };
  expect_line("tollgate_http_requests_total{route=\"/api/v1/auth/signup\",status=\"201\"} 1");
  expect_line("tollgate_http_requests_total{route=\"/api/v1/keys\",status=\"201\"} 3");
  expect_line("tollgate_http_requests_total{route=\"/api/v1/provider-keys\",status=\"201\"} 1");
  expect_line("tollgate_http_requests_total{route=\"/api/v1/keys/{id}\",status=\"204\"} 1");
  expect_line("tollgate_http_requests_total{route=\"/api/v1/me\",status=\"401\"} 3");
  expect_line("tollgate_http_requests_total{route=\"/api/v1/keys\",status=\"403\"} 1");
  expect_line("tollgate_http_requests_total{route=\"/api/v1/auth/login\",status=\"401\"} 1");
  expect_line("tollgate_keys_created_total{scope=\"agent:connect\"} 3");
  expect_line("tollgate_keys_created_total{scope=\"provider:charge\"} 1");
  expect_line("tollgate_keys_deleted_total{scope=\"agent:connect\"} 1");
  expect_line("tollgate_auth_failures_total{code=\"UNAUTHENTICATED\"} 3");
  expect_line("tollgate_auth_failures_total{code=\"SCOPE_DENIED\"} 1");
  expect_line("tollgate_auth_failures_total{code=\"INVALID_CREDENTIALS\"} 1");
  // Group commit: the signup's session, four key creations and one deletion; no charges.
  expect_line("tollgate_group_commit_account_write_requests 6");
  expect_line("tollgate_group_commit_charge_requests 0");
  expect_line("tollgate_group_commit_charge_batches 0");
  expect_line("# TYPE tollgate_http_request_duration_seconds histogram");
  expect_line("tollgate_http_request_duration_seconds_count{route=\"/api/v1/keys\"} 5");
  expect_line("tollgate_http_request_duration_seconds_bucket{route=\"/api/v1/keys\",le=\"+Inf\"} 5");
  // Signup hashes a password with argon2id: its latency is real and lands in a bucket above 1 ms.
  expect_line("tollgate_http_request_duration_seconds_bucket{route=\"/api/v1/auth/signup\",le=\"0.001000\"} 0");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(tollgate_http_request_duration_seconds_sum\{route="/api/v1/auth/signup"\} ([0-9.]+))")));
  EXPECT_GT(std::stod(m[1]), 0.001);
  // Routes are labelled by pattern, never by the path asked for: unknown paths do not
  // create series of their own (label cardinality stays bounded, and no id leaks).
  EXPECT_EQ(platform.request("GET", "/api/v1/nope/1").status, 404u);
  EXPECT_EQ(platform.request("GET", "/api/v1/nope/2").status, 404u);
  auto count_404 = [](const std::string& metrics) {
    long total = 0;
    std::regex series(R"(tollgate_http_requests_total\{route="[^"]*",status="404"\} (\d+))");
    for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), series); it != std::sregex_iterator(); ++it) {
      total += std::stol((*it)[1]);
    }
    return total;
  };
  text = wait_for_metrics(platform, [&](const std::string& t) { return count_404(t) >= 2; });
  EXPECT_EQ(count_404(text), 2) << text;
  EXPECT_EQ(text.find("nope"), std::string::npos);
  EXPECT_EQ(text.find("key_"), std::string::npos) << "no key id in a label";
  auto r = platform.request("GET", "/metrics");
  EXPECT_NE(r.headers.get("Content-Type").value_or("").find("text/plain"), std::string::npos);
}

TEST(GracefulShutdown, IdleServerExitsZeroOnSigterm) {
  PlatformProcess platform;
  RawSocket idle(port_of(platform.url()));  // an idle keep-alive connection must not hold the exit
  idle.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_EQ(status_of(idle.read_response(10s).data), 200u);
  EXPECT_EQ(platform.stop(), 0);
  EXPECT_TRUE(idle.read_until_close(10s).closed);
  EXPECT_NE(platform.process().stderr_text().find("stopped"), std::string::npos);
}

// Sends the headers of a request with `Expect: 100-continue` and waits for the server's
// "100 Continue": from then on the request is in flight (the server has parsed its headers
// and waits for the body). Then SIGTERM, wait until the server logs that it is shutting
// down, and send the body: the request must still be answered, and the process exit 0.
void expect_in_flight_request_answered(PlatformProcess& platform, const std::string& method, const std::string& path,
                                       const std::string& body, const std::string& bearer, unsigned expected_status) {
  RawSocket s(port_of(platform.url()));
  std::string head = method + " " + path + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n";
  if (!bearer.empty()) head += "Authorization: Bearer " + bearer + "\r\n";
  ASSERT_TRUE(s.send(head + "\r\n"));
  auto interim = s.read_response(10s);
  ASSERT_EQ(status_of(interim.data), 100u) << interim.data;

  ASSERT_EQ(kill(platform.process().pid(), SIGTERM), 0);
  ASSERT_TRUE(wait_for_stderr(platform.process(), "shutting down")) << platform.process().stderr_text();
  ASSERT_TRUE(s.send(body));
  auto r = s.read_response(15s);
  EXPECT_EQ(status_of(r.data), expected_status) << r.data;
  EXPECT_NE(r.data.find("Connection: close"), std::string::npos) << "no keep-alive while stopping";
  EXPECT_EQ(platform.process().wait(30s), 0) << platform.process().stderr_text();
  // Nothing answers once it has stopped.
  RawSocket after(port_of(platform.url()), /*must_connect=*/false);
  EXPECT_FALSE(after.is_open()) << "connection accepted after exit";
}

TEST(GracefulShutdown, RequestInFlightIsAnsweredAndExitIsZero) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  expect_in_flight_request_answered(platform, "POST", "/api/v1/keys", R"({"name": "created while stopping"})",
                                    alice.token, 201);
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM api_keys WHERE name = 'created while stopping'"), 1);
}

TEST(GracefulShutdown, SignupInFlightIsAnsweredAndExitIsZero) {
  // Signup hashes the password on the blocking pool: shutdown must not stop that pool
  // before the requests in flight are done with it.
  PlatformProcess platform;
  expect_in_flight_request_answered(platform, "POST", "/api/v1/auth/signup",
                                    R"({"email": "late@example.com", "password": "correct horse battery"})", "", 201);
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM accounts"), 1);
}

}  // namespace
}  // namespace tollgate::test
