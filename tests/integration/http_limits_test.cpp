// Every limit of the HTTP server (ServerLimits, `tollgate serve --help`) one step past it,
// on the real binary with small flag values and raw sockets for byte-level control:
// body size (Content-Length and chunked) -> 413, header block -> 431, headers too slow ->
// disconnected, body too slow -> 408, idle keep-alive -> closed, connections -> 503.
#include <gtest/gtest.h>

#include <thread>

#include "support/api_helpers.hpp"
#include "support/platform_fixture.hpp"
#include "support/raw_socket.hpp"

namespace tollgate::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBody = 1024;
constexpr std::size_t kMaxHeader = 2048;
constexpr auto kIoDeadline = 10s;  // generous: only a broken server takes this long

std::vector<std::string> limit_flags(int header_timeout_ms, int body_timeout_ms, int idle_timeout_ms,
                                     int max_connections = 1000) {
  return {"--max-body-bytes", std::to_string(kMaxBody), "--max-header-bytes", std::to_string(kMaxHeader),
          "--header-timeout-ms", std::to_string(header_timeout_ms), "--body-timeout-ms", std::to_string(body_timeout_ms),
          "--idle-timeout-ms", std::to_string(idle_timeout_ms), "--max-connections", std::to_string(max_connections),
          "--log-level", "warn"};
}

// POST /api/v1/keys without a session: the server reads the whole body, then answers 401.
// So 401 means "the body was accepted", 413 "it was refused for its size".
std::string post_with_length(std::size_t body_bytes) {
  return "POST /api/v1/keys HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body_bytes) + "\r\n\r\n" + std::string(body_bytes, ' ');
}

std::string post_chunked(std::size_t body_bytes, std::size_t chunk_bytes) {
  std::string out = "POST /api/v1/keys HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t sent = 0; sent < body_bytes; sent += chunk_bytes) {
    std::size_t n = std::min(chunk_bytes, body_bytes - sent);
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", n);
    out += size + std::string(n, ' ') + "\r\n";
  }
  return out + "0\r\n\r\n";
}

// A request whose header block (request line through the blank line) is exactly `total` bytes.
std::string get_with_header_block(std::size_t total) {
  std::string head = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: ";
  std::string tail = "\r\n\r\n";
  EXPECT_GT(total, head.size() + tail.size());
  return head + std::string(total - head.size() - tail.size(), 'p') + tail;
}

unsigned round_trip(std::uint16_t port, const std::string& request) {
  RawSocket s(port);
  s.send(request);
  auto r = s.read_response(kIoDeadline);
  return status_of(r.data);
}

class HttpLimits : public ::testing::Test {
 protected:
  void start(std::vector<std::string> flags) {
    platform_ = std::make_unique<PlatformProcess>(PlatformProcess::Options{.extra_args = std::move(flags)});
    port_ = port_of(platform_->url());
    ASSERT_NE(port_, 0);
  }
  std::unique_ptr<PlatformProcess> platform_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpLimits, BodyAtTheLimitIsReadOneByteMoreIs413) {
  start(limit_flags(5000, 5000, 5000));
  EXPECT_EQ(round_trip(port_, post_with_length(kMaxBody)), 401u);
  RawSocket s(port_);
  s.send(post_with_length(kMaxBody + 1));
  auto r = s.read_response(kIoDeadline);
  EXPECT_EQ(status_of(r.data), 413u) << r.data;
  EXPECT_NE(body_of(r.data).find("PAYLOAD_TOO_LARGE"), std::string::npos) << r.data;
  // The connection is closed: the unread body can never be taken for a next request.
  EXPECT_TRUE(s.read_until_close(kIoDeadline).closed);
}

TEST_F(HttpLimits, TooLargeContentLengthIsRefusedBeforeTheBodyIsSent) {
  start(limit_flags(5000, 5000, 5000));
  RawSocket s(port_);
  s.send("POST /api/v1/keys HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n");
  auto r = s.read_response(kIoDeadline);
  EXPECT_EQ(status_of(r.data), 413u) << r.data;
}

TEST_F(HttpLimits, ChunkedBodyAtTheLimitIsReadOneByteMoreIs413) {
  start(limit_flags(5000, 5000, 5000));
  EXPECT_EQ(round_trip(port_, post_chunked(kMaxBody, 100)), 401u);
  RawSocket s(port_);
  s.send(post_chunked(kMaxBody + 1, 100));
  auto r = s.read_response(kIoDeadline);
  EXPECT_EQ(status_of(r.data), 413u) << r.data;
  EXPECT_NE(body_of(r.data).find("PAYLOAD_TOO_LARGE"), std::string::npos) << r.data;
  // One huge chunk is refused as well.
  EXPECT_EQ(round_trip(port_, post_chunked(kMaxBody * 4, kMaxBody * 4)), 413u);
}

TEST_F(HttpLimits, HeaderBlockAtTheLimitIsServedOneByteMoreIs431) {
  start(limit_flags(5000, 5000, 5000));
  EXPECT_EQ(round_trip(port_, get_with_header_block(kMaxHeader)), 200u);
  RawSocket s(port_);
  s.send(get_with_header_block(kMaxHeader + 1));
  auto r = s.read_response(kIoDeadline);
  EXPECT_EQ(status_of(r.data), 431u) << r.data;
  EXPECT_NE(body_of(r.data).find("HEADERS_TOO_LARGE"), std::string::npos) << r.data;
  EXPECT_EQ(round_trip(port_, get_with_header_block(kMaxHeader * 8)), 431u);
}

TEST_F(HttpLimits, HeadersSentTooSlowlyAreCutOff) {
  // The idle timeout is far longer than the header timeout, so a close within the test's
  // deadline can only come from the header timeout.
  constexpr int kHeaderTimeoutMs = 300;
  start(limit_flags(kHeaderTimeoutMs, 60'000, 60'000));
  RawSocket s(port_);
  auto began = Clock::now();
  // A slow client: a little of the header every 50 ms, never finishing within the limit.
  std::string header = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(200, 's');
  bool closed = false;
  std::string received;
  for (std::size_t i = 0; i < header.size() && Clock::now() - began < kIoDeadline; ++i) {
    if (!s.send(header.substr(i, 1))) {
      closed = true;
      break;
    }
    auto r = s.read_until_close(50ms);  // the pace of the slow client, and a look for a close
    received += r.data;
    if (r.closed) {
      closed = true;
      break;
    }
  }
  auto elapsed = Clock::now() - began;
  EXPECT_TRUE(closed) << "the server kept a connection whose headers never finished";
  EXPECT_GE(elapsed, std::chrono::milliseconds(kHeaderTimeoutMs));
  EXPECT_LT(elapsed, 60s) << "closed by the header timeout, not the idle timeout";
  EXPECT_EQ(status_of(received), 0u) << "no response to a request that never arrived: " << received;
  // The server is still serving everyone else.
  EXPECT_EQ(round_trip(port_, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 200u);
}

TEST_F(HttpLimits, BodySentTooSlowlyIs408) {
  constexpr int kBodyTimeoutMs = 300;
  start(limit_flags(60'000, kBodyTimeoutMs, 60'000));
  RawSocket s(port_);
  auto began = Clock::now();
  s.send("POST /api/v1/keys HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"name\":");
  auto r = s.read_response(kIoDeadline);
  auto elapsed = Clock::now() - began;
  EXPECT_EQ(status_of(r.data), 408u) << r.data;
  EXPECT_GE(elapsed, std::chrono::milliseconds(kBodyTimeoutMs));
  EXPECT_TRUE(s.read_until_close(kIoDeadline).closed);
}

TEST_F(HttpLimits, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  constexpr int kIdleTimeoutMs = 300;
  start(limit_flags(60'000, 60'000, kIdleTimeoutMs));
  RawSocket s(port_);
  auto began = Clock::now();
  s.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  auto first = s.read_response(kIoDeadline);
  ASSERT_EQ(status_of(first.data), 200u) << first.data;
  EXPECT_EQ(first.data.find("Connection: close"), std::string::npos) << "HTTP/1.1 keeps the connection";
  auto rest = s.read_until_close(kIoDeadline);
  auto elapsed = Clock::now() - began;
  EXPECT_TRUE(rest.closed) << "an idle keep-alive connection was kept open";
  EXPECT_GE(elapsed, std::chrono::milliseconds(kIdleTimeoutMs));
  EXPECT_TRUE(rest.data.empty()) << rest.data;

  // A connection that never sends anything is closed the same way.
  RawSocket silent(port_);
  EXPECT_TRUE(silent.read_until_close(kIoDeadline).closed);
}

TEST_F(HttpLimits, KeepAliveServesManyRequestsOnOneConnection) {
  start(limit_flags(5000, 5000, 5000));
  RawSocket s(port_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_EQ(status_of(s.read_response(kIoDeadline).data), 200u) << "request " << i;
  }
  // Pipelined: two requests in one write, two responses in order.
  s.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /api/v1/nope HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(s.read_response(kIoDeadline).data), 200u);
  EXPECT_EQ(status_of(s.read_response(kIoDeadline).data), 404u);
}

TEST_F(HttpLimits, OneConnectionPastMaxConnectionsGets503) {
  constexpr int kMaxConnections = 3;
  start(limit_flags(60'000, 60'000, 60'000, kMaxConnections));
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < kMaxConnections; ++i) {
    held.push_back(std::make_unique<RawSocket>(port_));
    // A full exchange, so the server has certainly counted this connection.
    held.back()->send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_EQ(status_of(held.back()->read_response(kIoDeadline).data), 200u) << "connection " << i;
  }
  RawSocket extra(port_);
  extra.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  auto refused = extra.read_response(kIoDeadline);
  EXPECT_EQ(status_of(refused.data), 503u) << refused.data;
  EXPECT_NE(body_of(refused.data).find("PLATFORM_UNAVAILABLE"), std::string::npos) << refused.data;
  EXPECT_TRUE(extra.read_until_close(kIoDeadline).closed);

  // The held connections still work, and closing one makes room for a new one.
  held[0]->send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(status_of(held[0]->read_response(kIoDeadline).data), 200u);
  held.pop_back();
  auto deadline = Clock::now() + kIoDeadline;
  unsigned status = 0;
  while (Clock::now() < deadline) {
    status = round_trip(port_, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    if (status == 200) break;
    std::this_thread::sleep_for(20ms);  // the server notices the close asynchronously
  }
  EXPECT_EQ(status, 200u);
}

TEST_F(HttpLimits, MalformedRequestsGet400NotACrash) {
  start(limit_flags(5000, 5000, 5000));
  for (const char* junk : {"NOT HTTP AT ALL\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                           "POST /api/v1/keys HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                           "POST /api/v1/keys HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    RawSocket s(port_);
    s.send(junk);
    auto r = s.read_response(kIoDeadline);
    EXPECT_EQ(status_of(r.data), 400u) << junk << " -> " << r.data;
  }
  EXPECT_EQ(round_trip(port_, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 200u);
}

TEST(ServeHelp, ListsEveryLimitFlag) {
  auto r = run({.args = {tollgate_binary(), "serve", "--help"}});
  EXPECT_EQ(r.status, 0) << r.err;
  for (const char* flag : {"--max-body-bytes", "--max-header-bytes", "--header-timeout-ms", "--body-timeout-ms",
                           "--idle-timeout-ms", "--max-connections", "--max-keys-per-account", "--listen", "--db"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing from serve --help:\n" << r.out;
  }
}

}  // namespace
}  // namespace tollgate::test
