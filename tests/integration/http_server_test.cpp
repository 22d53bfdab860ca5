// The HTTP server's own reading and writing, in process with a handler of the test's own and
// raw sockets, so every byte on the wire is checked: the request reaches the handler whole
// (method, decoded path, query, headers, a plain or chunked body), and the response head the
// server writes by hand has the right status line, framing and Connection header for HEAD,
// 204, HTTP/1.0 and keep-alive, and no header can be smuggled in through a CR or LF.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "http/server.hpp"
#include "support/raw_socket.hpp"

namespace tollgate::http {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using test::body_of;
using test::RawSocket;
using test::status_of;
using namespace std::chrono_literals;

constexpr auto kIoDeadline = 10s;  // generous: only a broken server takes this long

// The head of a raw response (status line and headers, without the blank line).
std::string head_of(const std::string& response) { return response.substr(0, response.find("\r\n\r\n")); }

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(io_, ServerLimits{}, [](Request& request) { return handle(request); });
    ASSERT_TRUE(server_->listen("127.0.0.1", 0).ok());
    port_ = server_->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    io_.stop();
    thread_.join();
  }

  static asio::awaitable<Response> handle(Request& request) {
    if (request.path == "/echo") {
      json::object headers;
      for (const Header h : request.headers) headers[std::string(h.name)] = h.value;
      co_return Response::json(200, json::object{{"method", request.method},
                                                 {"target", request.target},
                                                 {"path", request.path},
                                                 {"query", request.query},
                                                 {"headers", std::move(headers)},
                                                 {"body", request.body}});
    }
    if (request.path == "/empty") co_return Response::no_content();
    if (request.path == "/injected") {
      Response r = Response::text(200, "ok");
      r.headers.set("X-Value", "a\r\nX-Injected: 1");
      r.headers.set("X-Name\r\nX-Other", "b");
      co_return r;
    }
    co_return Response::text(200, "hello, world");
  }

  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(HttpServerTest, TheRequestReachesTheHandlerWhole) {
  RawSocket s(port_);
  s.send("POST /e%63ho?a=1&b=%20 HTTP/1.1\r\nHost: t\r\nX-Custom: Value With Spaces\r\n"
         "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello there");
  auto r = s.read_response(kIoDeadline);
  ASSERT_EQ(status_of(r.data), 200u) << r.data;
  auto echoed = json::parse(body_of(r.data)).as_object();
  EXPECT_EQ(echoed.at("method"), "POST");
  EXPECT_EQ(echoed.at("target"), "/e%63ho?a=1&b=%20");
  EXPECT_EQ(echoed.at("path"), "/echo");
  EXPECT_EQ(echoed.at("query"), "a=1&b=%20");
  EXPECT_EQ(echoed.at("headers").at("X-Custom"), "Value With Spaces");
  EXPECT_EQ(echoed.at("body"), "hello there");

  // A chunked body arrives joined, on the same connection.
  s.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n there\r\n0\r\n\r\n");
  r = s.read_response(kIoDeadline);
  ASSERT_EQ(status_of(r.data), 200u) << r.data;
  EXPECT_EQ(json::parse(body_of(r.data)).at("body"), "hello there");
}

TEST_F(HttpServerTest, TheResponseHasItsStatusLineLengthAndBody) {
  RawSocket s(port_);
  s.send("GET /text HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = s.read_response(kIoDeadline);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.data;
  EXPECT_NE(head_of(r.data).find("\r\nContent-Length: 12"), std::string::npos) << r.data;
  EXPECT_EQ(head_of(r.data).find("Connection:"), std::string::npos) << "HTTP/1.1 keeps the connection by default";
  EXPECT_EQ(body_of(r.data), "hello, world");
}

TEST_F(HttpServerTest, HeadGetsTheLengthOfTheBodyButNoBody) {
  RawSocket s(port_);
  s.send("HEAD /text HTTP/1.1\r\nHost: t\r\n\r\n");
  // The response announces 12 bytes that never come: read it with a short deadline.
  auto head = s.read_response(300ms);
  EXPECT_EQ(status_of(head.data), 200u) << head.data;
  EXPECT_NE(head.data.find("\r\nContent-Length: 12\r\n"), std::string::npos) << head.data;
  EXPECT_EQ(body_of(head.data), "");
  // The connection is still in step: the next response starts where the head ended.
  s.send("GET /text HTTP/1.1\r\nHost: t\r\n\r\n");
  auto next = s.read_response(kIoDeadline);
  EXPECT_EQ(next.data.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << next.data;
  EXPECT_EQ(body_of(next.data), "hello, world");
}

TEST_F(HttpServerTest, NoContentHasNeitherLengthNorBody) {
  RawSocket s(port_);
  s.send("GET /empty HTTP/1.1\r\nHost: t\r\n\r\nGET /text HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = s.read_response(kIoDeadline);
  EXPECT_EQ(r.data.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u) << r.data;
  EXPECT_EQ(r.data.find("Content-Length"), std::string::npos) << r.data;
  auto next = s.read_response(kIoDeadline);
  EXPECT_EQ(next.data.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << "bytes after the 204: " << next.data;
}

TEST_F(HttpServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  {
    RawSocket s(port_);
    s.send("GET /text HTTP/1.0\r\n\r\n");
    auto r = s.read_until_close(kIoDeadline);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.data.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << r.data;
    EXPECT_EQ(body_of(r.data), "hello, world");
  }
  RawSocket s(port_);
  s.send("GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto r = s.read_response(kIoDeadline);
  EXPECT_NE(head_of(r.data).find("\r\nConnection: keep-alive"), std::string::npos) << r.data;
  s.send("GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(status_of(s.read_response(kIoDeadline).data), 200u) << "the connection stayed open";
}

TEST_F(HttpServerTest, Http11ClosesWhenAskedAndSaysSo) {
  RawSocket s(port_);
  s.send("GET /text HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  auto r = s.read_until_close(kIoDeadline);
  EXPECT_TRUE(r.closed);
  EXPECT_NE(head_of(r.data).find("\r\nConnection: close"), std::string::npos) << r.data;
}

TEST_F(HttpServerTest, ACarriageReturnOrLineFeedCannotStartAHeader) {
  RawSocket s(port_);
  s.send("GET /injected HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = s.read_response(kIoDeadline);
  ASSERT_EQ(status_of(r.data), 200u) << r.data;
  std::string head = head_of(r.data);
  EXPECT_EQ(head.find("\r\nX-Injected"), std::string::npos) << head;
  EXPECT_EQ(head.find("\r\nX-Other"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nX-Value: a  X-Injected: 1\r\n"), std::string::npos) << head;
  EXPECT_EQ(body_of(r.data), "ok");
}

TEST_F(HttpServerTest, ExpectContinueGetsA100BeforeTheBody) {
  RawSocket s(port_);
  s.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  auto interim = s.read_response(kIoDeadline);
  EXPECT_EQ(interim.data, "HTTP/1.1 100 Continue\r\n\r\n");
  s.send("hi");
  auto r = s.read_response(kIoDeadline);
  ASSERT_EQ(status_of(r.data), 200u) << r.data;
  EXPECT_EQ(json::parse(body_of(r.data)).at("body"), "hi");
}

// A server on an IoPool: each connection stays on one of the pool's threads for all its
// requests, and successive connections take turns across the threads. SIGTERM stops it
// gracefully, and run() returns once every thread's contexts are done.
TEST(IoPoolServer, EachConnectionKeepsOneThreadAndConnectionsTakeTurns) {
  IoPool pool(2);
  std::mutex mutex;
  std::map<std::string, std::set<std::thread::id>> threads_of;  // by connection (X-Conn)
  Server server(pool, ServerLimits{}, [&](Request& request) -> asio::awaitable<Response> {
    std::lock_guard lock(mutex);
    threads_of[std::string(request.header("X-Conn").value_or(""))].insert(std::this_thread::get_id());
    co_return Response::text(200, "ok");
  });
  ASSERT_TRUE(server.listen("127.0.0.1", 0).ok());
  std::atomic<bool> signalled{false};
  std::thread running([&] { pool.run([&] { signalled = true; server.stop(); }); });

  for (int c = 0; c < 4; ++c) {
    RawSocket s(server.port());
    for (int i = 0; i < 3; ++i) {
      s.send("GET / HTTP/1.1\r\nHost: t\r\nX-Conn: " + std::to_string(c) + "\r\n\r\n");
      ASSERT_EQ(status_of(s.read_response(kIoDeadline).data), 200u);
    }
  }
  std::set<std::thread::id> all;
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(threads_of.size(), 4u);
    for (const auto& [connection, threads] : threads_of) {
      EXPECT_EQ(threads.size(), 1u) << "connection " << connection << " moved between threads";
      all.insert(threads.begin(), threads.end());
    }
  }
  EXPECT_EQ(all.size(), 2u) << "four connections over two threads use both";

  ::kill(::getpid(), SIGTERM);  // caught by the pool's signal set, as in a real shutdown
  running.join();
  EXPECT_TRUE(signalled.load());
  EXPECT_TRUE(server.stopping());
}

}  // namespace
}  // namespace tollgate::http
