// The HTTP client against a scripted server that reads and writes raw bytes, so the request
// head the client writes by hand is checked byte by byte, and the pool's and the timeout's
// behaviour is seen from the server's side: keep-alive reuse, the one retry of a request on
// a pooled connection the server had closed, Connection: close, a server that never
// answers, chunked and oversized bodies, and a streamed body read as it arrives.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "http/client.hpp"

namespace tollgate::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Accepts connections on a thread of its own and hands each to `script` with its number
// (0 for the first). Blocking sockets: a script reads and writes in plain sequence.
class ScriptedServer {
 public:
  using Script = std::function<void(tcp::socket&, int connection)>;
  explicit ScriptedServer(Script script) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, script = std::move(script)] {
      for (int i = 0;; ++i) {
        tcp::socket socket(io_);
        boost::system::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stopping_) return;
        ++connections_;
        script(socket, i);
      }
    });
  }
  ~ScriptedServer() {
    stopping_ = true;
    tcp::socket wake(io_);  // unblocks accept()
    boost::system::error_code ignored;
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ignored);
    thread_.join();
  }
  std::string url(std::string_view path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + std::string(path); }
  int connections() const { return connections_; }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// One request off a blocking socket: its head and Content-Length body ("" once the peer has
// closed). `pending` keeps bytes read past it.
std::string read_request(tcp::socket& socket, std::string& pending) {
  boost::system::error_code ec;
  std::size_t end = asio::read_until(socket, asio::dynamic_buffer(pending), "\r\n\r\n", ec);
  if (ec) return "";
  std::string head = pending.substr(0, end);
  std::size_t length = 0;
  if (auto at = head.find("Content-Length: "); at != std::string::npos) length = std::stoul(head.substr(at + 16));
  if (pending.size() < end + length) asio::read(socket, asio::dynamic_buffer(pending), asio::transfer_exactly(end + length - pending.size()), ec);
  std::string request = pending.substr(0, end + length);
  pending.erase(0, end + length);
  return request;
}

void write(tcp::socket& socket, std::string_view bytes) {
  boost::system::error_code ignored;
  asio::write(socket, asio::buffer(bytes), ignored);
}

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// Runs `body` on a fresh io_context run by this thread: requests in one body share its pool.
void run(const std::function<asio::awaitable<void>(Client&)>& body) {
  asio::io_context io(1);
  Client client;
  bool finished = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await body(client);
    finished = true;
  }, asio::detached);
  io.run();
  ASSERT_TRUE(finished);
}

ClientRequest get(std::string url, int timeout_ms = 10'000) {
  ClientRequest request;
  request.url = std::move(url);
  request.timeout_ms = timeout_ms;
  return request;
}

TEST(HttpClient, WritesTheRequestHeadAndReadsTheResponse) {
  std::mutex mutex;
  std::string seen;
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    std::string request = read_request(socket, pending);
    {
      std::lock_guard lock(mutex);
      seen = request;
    }
    write(socket, "HTTP/1.1 201 Created\r\nX-Answer: 42\r\nContent-Length: 5\r\n\r\nhello");
  });
  ClientRequest request = get(server.url("/path?q=1"));
  request.method = "POST";
  request.body = "{\"a\":1}";
  request.headers.set("Content-Type", "application/json");
  request.headers.set("X-Value", "a\r\nX-Injected: 1");
  request.headers.set("Content-Length", "999");  // the client writes the body's real length
  auto response = fetch(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 201u);
  EXPECT_EQ(response->headers.get("x-answer").value_or(""), "42");
  EXPECT_EQ(response->body, "hello");
  std::lock_guard lock(mutex);
  EXPECT_TRUE(seen.starts_with("POST /path?q=1 HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("\r\nHost: 127.0.0.1:"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nUser-Agent: tollgate\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nContent-Length: 7\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("Content-Length: 999"), std::string::npos) << seen;  // (the port may hold "999")
  EXPECT_NE(seen.find("\r\nX-Value: a  X-Injected: 1\r\n"), std::string::npos) << "CR/LF became spaces: " << seen;
  EXPECT_EQ(seen.find("\r\nX-Injected"), std::string::npos) << seen;
  EXPECT_TRUE(seen.ends_with("\r\n\r\n{\"a\":1}")) << seen;
}

TEST(HttpClient, KeepsTheConnectionForTheNextRequest) {
  std::atomic<int> requests{0};
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    while (!read_request(socket, pending).empty()) {
      ++requests;
      write(socket, kOk);
    }
  });
  run([&](Client& client) -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto response = co_await client.request(get(server.url()));
      EXPECT_TRUE(response.ok() && response->body == "ok");
    }
  });
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(server.connections(), 1) << "one keep-alive connection for all three";
}

TEST(HttpClient, ARequestOnAConnectionTheServerClosedIsSentOnceMoreOnANewOne) {
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    if (read_request(socket, pending).empty()) return;
    write(socket, kOk);
    socket.close();  // closed while idle in the client's pool
  });
  run([&](Client& client) -> asio::awaitable<void> {
    auto first = co_await client.request(get(server.url()));
    EXPECT_TRUE(first.ok());
    co_await asio::steady_timer(co_await asio::this_coro::executor, 50ms).async_wait(asio::use_awaitable);
    auto second = co_await client.request(get(server.url()));
    EXPECT_TRUE(second.ok()) << second.error().message;
  });
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, ConnectionCloseIsNotPooled) {
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    while (!read_request(socket, pending).empty()) {
      write(socket, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  run([&](Client& client) -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) EXPECT_TRUE((co_await client.request(get(server.url()))).ok());
  });
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, AServerThatNeverAnswersTimesOut) {
  std::atomic<bool> release{false};
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    read_request(socket, pending);
    while (!release) std::this_thread::sleep_for(10ms);  // holds the connection, says nothing
  });
  auto started = std::chrono::steady_clock::now();
  auto response = fetch(get(server.url(), 300));
  auto took = std::chrono::steady_clock::now() - started;
  release = true;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.code(), ErrorCode::kPlatformUnavailable);
  EXPECT_NE(response.error().message.find("timed out"), std::string::npos) << response.error().message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5s);
}

TEST(HttpClient, AChunkedBodyIsJoinedAndOneByteOverTheLimitIsRefused) {
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    while (!read_request(socket, pending).empty()) {
      write(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    }
  });
  auto whole = fetch(get(server.url()));
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(whole->body, "hello world");

  asio::io_context io(1);
  Client at_limit(ClientOptions{.max_response_bytes = 11}), past_limit(ClientOptions{.max_response_bytes = 10});
  std::optional<Result<ClientResponse>> fits, too_large;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    fits.emplace(co_await at_limit.request(get(server.url())));
    too_large.emplace(co_await past_limit.request(get(server.url())));
  }, asio::detached);
  io.run();
  ASSERT_TRUE(fits && fits->ok());
  EXPECT_EQ((*fits)->body, "hello world");
  ASSERT_TRUE(too_large.has_value());
  EXPECT_FALSE(too_large->ok());
}

TEST(HttpClient, RefusesAUrlOrMethodThatWouldBreakTheRequestLine) {
  EXPECT_EQ(fetch(get("http://127.0.0.1:1/a b")).code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(fetch(get("http://127.0.0.1:1/a\r\nX: y")).code(), ErrorCode::kInvalidRequest);
  ClientRequest request = get("http://127.0.0.1:1/");
  request.method = "GET /x HTTP/1.1\r\n";
  EXPECT_EQ(fetch(request).code(), ErrorCode::kInvalidRequest);
}

TEST(HttpClient, AStreamHandsOutTheBodyAsItArrivesAndCloseEndsAPendingRead) {
  std::atomic<bool> release{false};
  ScriptedServer server([&](tcp::socket& socket, int) {
    std::string pending;
    read_request(socket, pending);
    write(socket, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "7\r\ndata: 1\r\n");
    while (!release) std::this_thread::sleep_for(10ms);  // the stream stays open
  });
  asio::io_context io(1);
  Client client;
  std::vector<std::string> pieces;
  bool ended = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto opened = co_await client.open_stream(get(server.url()));
    if (!opened) co_return;
    std::shared_ptr<ResponseStream> stream(std::move(*opened));
    EXPECT_EQ(stream->status(), 200u);
    EXPECT_EQ(stream->headers().get("content-type").value_or(""), "text/event-stream");
    auto first = co_await stream->read_some();
    if (first) pieces.push_back(*first);
    // Nothing more comes: close() from elsewhere ends the pending read.
    asio::steady_timer later(co_await asio::this_coro::executor, 100ms);
    later.async_wait([stream](boost::system::error_code) { stream->close(); });
    auto next = co_await stream->read_some();
    ended = !next.has_value();
  }, asio::detached);
  io.run();
  release = true;
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0], "data: 1");
  EXPECT_TRUE(ended);
}

}  // namespace
}  // namespace tollgate::http
