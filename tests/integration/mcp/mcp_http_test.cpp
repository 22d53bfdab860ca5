// Streamable HTTP server transport over real sockets (an in-process HttpServer on port 0):
// sessions, headers, JSON vs SSE answers, resumption with Last-Event-ID, DNS rebinding
// checks, bad input, slow clients, stateless mode, and one past every transport limit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <future>
#include <thread>

#include "http/client.hpp"
#include "tollgate/mcp/server.hpp"
#include "tollgate/mcp/transport.hpp"

namespace tollgate::mcp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A blocking socket that reads until what it wants has arrived or a deadline passes.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) ADD_FAILURE() << "connect failed";
    timeval tv{0, 50'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawConnection() { ::close(fd_); }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until `done(received)` holds, the peer closes, or `timeout` passes.
  std::string read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(data_) && std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) {
        closed_ = true;
        break;
      }
      if (n > 0) data_.append(buf, static_cast<std::size_t>(n));
    }
    return data_;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string data_;
  bool closed_ = false;
};

std::string init_body(std::string_view version = "2025-11-25", std::string_view capabilities = "{}") {
  return R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")" + std::string(version) +
         R"(","capabilities":)" + std::string(capabilities) + R"(,"clientInfo":{"name":"t","version":"1"}}})";
}

// The message of the SSE event in `text` that carries `method` (null when there is none).
json::value sse_message_with(const std::string& text, std::string_view method) {
  std::size_t at = text.find(method);
  std::size_t data = at == std::string::npos ? std::string::npos : text.rfind("data: ", at);
  if (data == std::string::npos) return nullptr;
  return json::parse(text.substr(data + 6, text.find('\n', data) - data - 6));
}

// The client's answer to a server's roots/list: no roots.
std::string no_roots_answer(const json::value& request) {
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", json::object{{"roots", json::array{}}}}});
}

class McpHttp {
 public:
  explicit McpHttp(HttpOptions options = {}, http::ServerLimits limits = {})
      : server(Implementation{.name = "http-test", .version = "1"}) {
    add_tools();
    http_ = std::make_unique<HttpServer>(server, io_, std::move(options), "/mcp", limits);
    EXPECT_TRUE(http_->listen("127.0.0.1", 0).ok());
    url = "http://127.0.0.1:" + std::to_string(http_->port()) + "/mcp";
    thread_ = std::thread([this] { io_.run(); });
  }
  ~McpHttp() {
    http_->stop();
    thread_.join();
  }

  std::uint16_t port() const { return http_->port(); }
  HttpTransport& transport() { return http_->transport(); }

  http::ClientResponse post(const std::string& body, const std::string& session = "",
                            std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::ClientRequest req;
    req.method = "POST";
    req.url = url;
    req.body = body;
    req.headers.set("Content-Type", "application/json");
    req.headers.set("Accept", "application/json, text/event-stream");
    if (!session.empty()) req.headers.set("Mcp-Session-Id", session);
    for (auto& [k, v] : headers) req.headers.set(k, v);
    auto r = http::fetch(req);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : http::ClientResponse{};
  }

  http::ClientResponse send(std::string method, const std::string& session,
                            std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = url;
    if (!session.empty()) req.headers.set("Mcp-Session-Id", session);
    for (auto& [k, v] : headers) req.headers.set(k, v);
    auto r = http::fetch(req);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : http::ClientResponse{};
  }

  // Initializes a session and returns its id.
  std::string open_session(std::string_view version = "2025-11-25", std::string_view capabilities = "{}") {
    auto r = post(init_body(version, capabilities));
    EXPECT_EQ(r.status, 200u) << r.body;
    std::string id(r.headers.get("Mcp-Session-Id").value_or(""));
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", id).status, 202u);
    return id;
  }

  // A raw request on its own connection (for SSE streams that stay open).
  std::unique_ptr<RawConnection> raw(const std::string& method, const std::string& body,
                                     std::vector<std::pair<std::string, std::string>> headers) {
    auto c = std::make_unique<RawConnection>(port());
    std::string text = method + " /mcp HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port()) + "\r\n";
    for (auto& [k, v] : headers) text += k + ": " + v + "\r\n";
    if (method == "POST") text += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    text += "\r\n" + body;
    c->send(text);
    return c;
  }

  Server server;
  std::string url;

 private:
  void add_tools() {
    auto ok = [](Status s) { EXPECT_TRUE(s.ok()); };
    ok(server.add_tool(Tool{.name = "echo",
                            .input_schema = json::parse(R"({"type":"object","properties":{"text":{"type":"string"}}})").as_object(),
                            .handler = [](Context&, const json::object& args) -> asio::awaitable<ToolResult> {
                              const json::value* t = args.if_contains("text");
                              co_return ToolResult::text(t && t->is_string() ? std::string(t->get_string()) : "");
                            }}));
    ok(server.add_tool(Tool{.name = "progress", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                              ctx.report_progress(1, 2);
                              co_return ToolResult::text("done");
                            }}));
    ok(server.add_tool(Tool{.name = "poll", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                              ctx.close_sse_stream();
                              ctx.log(LogLevel::kInfo, "after close");
                              auto pause = ctx.sleep_for(50ms);
                              co_await std::move(pause);
                              co_return ToolResult::text("polled answer");
                            }}));
    ok(server.add_tool(Tool{.name = "slow", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                              auto pause = ctx.sleep_for(300ms);
                              co_await std::move(pause);
                              co_return ToolResult::text("slow answer");
                            }}));
    ok(server.add_tool(Tool{.name = "slower", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                              auto pause = ctx.sleep_for(2s);
                              co_await std::move(pause);
                              co_return ToolResult::text("slower answer");
                            }}));
    ok(server.add_tool(Tool{.name = "whoami", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                              std::string agent(ctx.request_info().header("User-Agent").value_or(""));
                              co_return ToolResult::text(ctx.bearer_token().value_or("anonymous") + "|" + agent);
                            }}));
    ok(server.add_tool(Tool{.name = "ask", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
                              auto op = ctx.list_roots();
                              RpcResponse r = co_await std::move(op);
                              co_return r.ok() ? ToolResult::text("roots") : ToolResult::error(r.error->message);
                            }}));
  }

  asio::io_context io_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
};

std::string call_body(int id, std::string_view tool, std::string_view args = "{}") {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"tools/call","params":{"name":")" +
         std::string(tool) + R"(","arguments":)" + std::string(args) + "}}";
}

json::object body_json(const http::ClientResponse& r) {
  auto v = json::parse(r.body);
  return v.is_object() ? v.as_object() : json::object{};
}

TEST(McpHttp, FailedInitializeLeavesNoSession) {
  // The session id goes on "the HTTP response containing the InitializeResult", so an
  // initialize answered with an error makes none, in either response mode.
  for (ResponseMode mode : {ResponseMode::kAuto, ResponseMode::kSse}) {
    HttpOptions options;
    options.response_mode = mode;
    McpHttp t(options);
    auto failed = t.post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":7,"capabilities":{}}})");
    ASSERT_EQ(failed.status, 200u);
    EXPECT_EQ(body_json(failed).at("error").at("code").as_int64(), rpc::kInvalidParams) << failed.body;
    EXPECT_FALSE(failed.headers.get("Mcp-Session-Id").has_value());
    EXPECT_EQ(t.transport().session_count(), 0u);
    // Nor does initialize in a batch, even a batch of one.
    auto batched = t.post("[" + init_body() + "]");
    EXPECT_EQ(batched.status, 400u);
    EXPECT_FALSE(batched.headers.get("Mcp-Session-Id").has_value());
    EXPECT_EQ(t.transport().session_count(), 0u);
    auto ok = t.post(init_body());
    EXPECT_TRUE(ok.headers.get("Mcp-Session-Id").has_value());
    EXPECT_EQ(t.transport().session_count(), 1u);
  }
}

TEST(McpHttp, CancelledCallIsAnsweredWithAnEmptyStreamNot202) {
  // "If the input is a JSON-RPC request, the server MUST either return text/event-stream ...
  // or application/json": a call cancelled before its answer has no answer to carry, so its
  // POST gets an SSE stream that ends without a message.
  for (ResponseMode mode : {ResponseMode::kAuto, ResponseMode::kJson}) {
    HttpOptions options;
    options.response_mode = mode;
    options.auto_sse_after_ms = 60000;  // auto mode stays JSON while the call waits
    McpHttp t(options);
    // A tool that says when it has started, so the cancel surely finds it running.
    auto started = std::make_shared<std::promise<void>>();
    ASSERT_TRUE(t.server.add_tool(Tool{.name = "waits", .handler = [started](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
      started->set_value();
      auto pause = ctx.sleep_for(10s);  // ends early when cancelled
      co_await std::move(pause);
      co_return ToolResult::text("slower answer");
    }}).ok());
    std::string session = t.open_session();
    auto call = std::async(std::launch::async, [&] { return t.post(call_body(7, "waits"), session); });
    ASSERT_EQ(started->get_future().wait_for(10s), std::future_status::ready);
    auto cancel = t.post(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"no"}})", session);
    EXPECT_EQ(cancel.status, 202u);
    auto answer = call.get();
    EXPECT_EQ(answer.status, 200u);
    EXPECT_EQ(answer.headers.get("Content-Type").value_or(""), "text/event-stream");
    EXPECT_EQ(answer.body.find("event: message"), std::string::npos) << answer.body;
    EXPECT_EQ(answer.body.find("slower answer"), std::string::npos) << answer.body;
    // The session goes on: the next call is answered.
    EXPECT_NE(t.post(call_body(8, "echo", R"({"text":"still here"})"), session).body.find("still here"), std::string::npos);
  }
}

TEST(McpHttp, SessionLifecycle) {
  McpHttp t;
  auto init = t.post(init_body());
  ASSERT_EQ(init.status, 200u);
  EXPECT_EQ(init.headers.get("Content-Type").value_or(""), "application/json");
  std::string session(init.headers.get("Mcp-Session-Id").value_or(""));
  EXPECT_EQ(session.size(), 32u);
  EXPECT_EQ(body_json(init).at("result").at("protocolVersion").as_string(), "2025-11-25");
  EXPECT_EQ(t.transport().session_count(), 1u);

  auto call = t.post(call_body(2, "echo", R"({"text":"hi"})"), session, {{"MCP-Protocol-Version", "2025-11-25"}});
  ASSERT_EQ(call.status, 200u);
  EXPECT_EQ(body_json(call).at("result").at("content").as_array()[0].at("text").as_string(), "hi");

  EXPECT_EQ(t.send("DELETE", session).status, 204u);
  EXPECT_EQ(t.transport().session_count(), 0u);
  auto after = t.post(call_body(3, "echo"), session);
  EXPECT_EQ(after.status, 404u);
  EXPECT_EQ(body_json(after).at("error").at("code").as_int64(), rpc::kSessionNotFound);
}

// A server->client request goes out on the POST's SSE stream; the client POSTs its answer
// and gets 202 with no body (as for any POST of only responses or notifications); the tool
// then finishes on the first stream. A response to an id nobody asked is accepted the same
// way and changes nothing.
TEST(McpHttp, AClientsAnswerToAServerRequestIsAcceptedWith202) {
  McpHttp t;
  std::string session = t.open_session("2025-11-25", R"({"roots":{}})");  // checks 200, then 202
  ASSERT_FALSE(session.empty());

  auto call = t.raw("POST", call_body(2, "ask"),
                    {{"Accept", "application/json, text/event-stream"}, {"Mcp-Session-Id", session}});
  std::string asked = call->read_until([](const std::string& s) { return s.find("roots/list") != std::string::npos; });
  json::value request = sse_message_with(asked, "roots/list");
  ASSERT_TRUE(request.is_object()) << asked;
  ASSERT_EQ(request.at("method"), "roots/list") << asked;

  auto accepted = t.post(no_roots_answer(request), session);
  EXPECT_EQ(accepted.status, 202u);
  EXPECT_EQ(accepted.body, "");
  std::string rest = call->read_until([](const std::string& s) { return s.find("\"roots\"") != std::string::npos; });
  EXPECT_NE(rest.find(R"("text":"roots")"), std::string::npos) << "the tool got its answer: " << rest;

  auto stray = t.post(R"({"jsonrpc":"2.0","id":"nobody-asked","result":{}})", session);
  EXPECT_EQ(stray.status, 202u);
  EXPECT_EQ(stray.body, "");
  auto still = t.post(call_body(3, "echo", R"({"text":"still here"})"), session);
  EXPECT_EQ(body_json(still).at("result").at("content").as_array()[0].at("text").as_string(), "still here");
}

TEST(McpHttp, SessionHeaderRequiredAndChecked) {
  McpHttp t;
  t.open_session();
  auto missing = t.post(call_body(2, "echo"));
  EXPECT_EQ(missing.status, 400u);
  EXPECT_TRUE(body_json(missing).at("id").is_null());
  EXPECT_EQ(t.post(call_body(2, "echo"), "0123456789abcdef0123456789abcdef").status, 404u);
  EXPECT_EQ(t.send("DELETE", "no-such-session").status, 404u);
  EXPECT_EQ(t.send("GET", "no-such-session", {{"Accept", "text/event-stream"}}).status, 404u);
  EXPECT_EQ(t.send("DELETE", "").status, 400u);
}

TEST(McpHttp, HandlersSeeTheCallersCredentials) {
  McpHttp t;
  std::string session = t.open_session();
  auto anonymous = t.post(call_body(2, "whoami"), session);
  EXPECT_EQ(body_json(anonymous).at("result").at("content").as_array()[0].at("text").as_string(), "anonymous|tollgate");
  auto agent = t.post(call_body(3, "whoami"), session, {{"Authorization", "Bearer sk_live_test"}, {"User-Agent", "agent/1"}});
  EXPECT_EQ(body_json(agent).at("result").at("content").as_array()[0].at("text").as_string(), "sk_live_test|agent/1");
}

TEST(McpHttp, BadInput) {
  McpHttp t;
  std::string session = t.open_session();
  // Invalid JSON, wrong JSON-RPC shapes, unknown methods.
  auto garbage = t.post("{not json", session);
  EXPECT_EQ(garbage.status, 400u);
  EXPECT_EQ(body_json(garbage).at("error").at("code").as_int64(), rpc::kParseError);
  auto shape = t.post(R"({"jsonrpc":"2.0","id":5,"method":["x"]})", session);
  EXPECT_EQ(shape.status, 400u);
  EXPECT_EQ(body_json(shape).at("error").at("code").as_int64(), rpc::kInvalidRequest);
  EXPECT_EQ(body_json(shape).at("id").as_int64(), 5);
  EXPECT_EQ(t.post(R"({"jsonrpc":"1.0","id":5,"method":"ping"})", session).status, 400u);
  auto unknown = t.post(R"({"jsonrpc":"2.0","id":6,"method":"tools/destroy"})", session);
  EXPECT_EQ(unknown.status, 200u);
  EXPECT_EQ(body_json(unknown).at("error").at("code").as_int64(), rpc::kMethodNotFound);
  // Headers the transport requires.
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Accept", "application/json"}}).status, 406u);
  // Media ranges are compared whole: a type that merely starts with an accepted one is not it.
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Accept", "application/json-seq, text/event-streams"}}).status, 406u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Accept", "text/event-stream;q=0.5, Application/JSON"}}).status, 200u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Accept", "application/*, text/*"}}).status, 200u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Accept", "*/*"}}).status, 200u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Accept", "application/json, text/event-stream; q=0"}}).status, 406u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Content-Type", "text/plain"}}).status, 415u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"Content-Type", "application/jsonx"}}).status, 415u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"MCP-Protocol-Version", "1999-01-01"}}).status, 400u);
  EXPECT_EQ(t.post(call_body(7, "echo"), session, {{"MCP-Protocol-Version", "2025-03-26"}}).status, 200u);
  EXPECT_EQ(t.send("GET", session, {{"Accept", "application/json"}}).status, 406u);
  EXPECT_EQ(t.send("PUT", session).status, 405u);
  // initialize must come alone, and a batch is only for 2025-03-26 sessions.
  EXPECT_EQ(t.post("[" + init_body() + "," + init_body() + "]").status, 400u);
  EXPECT_EQ(t.post("[" + call_body(8, "echo") + "]", session).status, 400u);
}

TEST(McpHttp, BatchesFor20250326) {
  McpHttp t;
  std::string session = t.open_session("2025-03-26");
  auto r = t.post("[" + call_body(2, "echo", R"({"text":"a"})") + "," + call_body(3, "echo", R"({"text":"b"})") +
                      R"(,{"jsonrpc":"2.0","method":"notifications/progress","params":{}}])",
                  session);
  ASSERT_EQ(r.status, 200u);
  auto v = json::parse(r.body);
  ASSERT_TRUE(v.is_array());
  EXPECT_EQ(v.as_array().size(), 2u);
}

TEST(McpHttp, BodyLimitOnePast) {
  HttpOptions options;
  options.max_body_bytes = 2000;
  McpHttp t(options);
  std::string session = t.open_session();
  auto body_of_size = [](std::size_t n) {
    std::string head = R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":")";
    std::string tail = R"("}}})";
    return head + std::string(n - head.size() - tail.size(), 'x') + tail;
  };
  EXPECT_EQ(t.post(body_of_size(2000), session).status, 200u);
  auto over = t.post(body_of_size(2001), session);
  EXPECT_EQ(over.status, 413u);
}

TEST(McpHttp, SessionLimitOnePast) {
  HttpOptions options;
  options.max_sessions = 2;
  McpHttp t(options);
  std::string first = t.open_session();
  t.open_session();
  auto third = t.post(init_body());
  EXPECT_EQ(third.status, 503u);
  EXPECT_EQ(body_json(third).at("error").at("code").as_int64(), rpc::kServerError);
  EXPECT_EQ(t.send("DELETE", first).status, 204u);
  EXPECT_EQ(t.post(init_body()).status, 200u);
}

TEST(McpHttp, IdleSessionsExpire) {
  HttpOptions options;
  options.session_idle_timeout_ms = 100;
  McpHttp t(options);
  std::string session = t.open_session();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  unsigned status = 0;
  // Waits for the sweep (the condition), polling with a deadline.
  while (std::chrono::steady_clock::now() < deadline) {
    if (t.transport().session_count() == 0) break;
    std::this_thread::sleep_for(20ms);
  }
  status = t.post(call_body(2, "echo"), session).status;
  EXPECT_EQ(status, 404u);
}

TEST(McpHttp, DnsRebindingProtection) {
  McpHttp t;
  EXPECT_EQ(t.post(init_body(), "", {{"Origin", "http://evil.example"}}).status, 403u);
  EXPECT_EQ(t.post(init_body(), "", {{"Origin", "null"}}).status, 403u);
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "evil.example:80"}}).status, 403u);
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "localhost:1"}, {"Origin", "http://localhost:3000"}}).status, 200u);
  EXPECT_EQ(t.post(init_body(), "", {{"Origin", "http://127.0.0.1:9"}}).status, 200u);
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "127.1.2.3:80"}}).status, 200u);
  // Names that only look like loopback addresses resolve wherever their owner wants.
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "127.evil.example:80"}, {"Origin", "http://127.evil.example:80"}}).status,
            403u);
  EXPECT_EQ(t.post(init_body(), "", {{"Origin", "http://127.0.0.1.nip.io"}}).status, 403u);
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "127.0.0.1.nip.io"}}).status, 403u);
  auto preflight = t.send("OPTIONS", "", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(preflight.status, 204u);
  EXPECT_EQ(preflight.headers.get("Access-Control-Allow-Origin").value_or(""), "http://localhost:3000");
  EXPECT_EQ(t.send("OPTIONS", "", {{"Origin", "http://evil.example"}}).status, 403u);
}

TEST(McpHttp, ConfiguredOriginsAndHosts) {
  HttpOptions options;
  options.allowed_origins = {"https://app.example.com"};
  options.allowed_hosts = {"mcp.example.com", "127.0.0.1"};
  McpHttp t(options);
  EXPECT_EQ(t.post(init_body(), "", {{"Origin", "https://app.example.com"}}).status, 200u);
  EXPECT_EQ(t.post(init_body(), "", {{"Origin", "http://localhost:3000"}}).status, 403u);
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "mcp.example.com"}}).status, 200u);
  EXPECT_EQ(t.post(init_body(), "", {{"Host", "other.example.com"}}).status, 403u);
}

TEST(McpHttp, AutoModeAnswersJsonOrSse) {
  McpHttp t;
  std::string session = t.open_session();
  auto plain = t.post(call_body(2, "echo"), session);
  EXPECT_EQ(plain.headers.get("Content-Type").value_or(""), "application/json");
  auto streamed = t.post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":1}}})",
                         session);
  ASSERT_EQ(streamed.status, 200u);
  EXPECT_EQ(streamed.headers.get("Content-Type").value_or(""), "text/event-stream");
  // Priming event first (id, retry, empty data), then the progress, then the answer.
  EXPECT_EQ(streamed.body.rfind("id: 3_0\nretry: 1000\ndata: \n\n", 0), 0u) << streamed.body;
  auto progress = streamed.body.find("notifications/progress");
  auto answer = streamed.body.find(R"("id":3,"result")");
  ASSERT_NE(progress, std::string::npos);
  ASSERT_NE(answer, std::string::npos);
  EXPECT_LT(progress, answer);
}

TEST(McpHttp, SseModeAndNoPrimingForOlderVersions) {
  HttpOptions options;
  options.response_mode = ResponseMode::kSse;
  McpHttp t(options);
  std::string session = t.open_session("2025-06-18");
  auto r = t.post(call_body(2, "echo", R"({"text":"x"})"), session);
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), "text/event-stream");
  EXPECT_EQ(r.body.find("data: \n"), std::string::npos) << "2025-06-18 clients get no empty priming event";
  EXPECT_NE(r.body.find("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2"), std::string::npos) << r.body;
}

TEST(McpHttp, ResumesAPolledStreamWithLastEventId) {
  McpHttp t;
  std::string session = t.open_session();
  // The tool closes its stream at once (SEP-1699): we get only the priming event.
  auto first = t.post(call_body(2, "poll"), session);
  ASSERT_EQ(first.headers.get("Content-Type").value_or(""), "text/event-stream");
  EXPECT_EQ(first.body, "id: 2_0\nretry: 1000\ndata: \n\n");
  auto conn = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}, {"Last-Event-ID", "2_0"}});
  std::string got = conn->read_until([](const std::string& s) { return s.find("polled answer") != std::string::npos; });
  EXPECT_NE(got.find("after close"), std::string::npos) << got;
  EXPECT_NE(got.find("polled answer"), std::string::npos) << got;
  EXPECT_LT(got.find("after close"), got.find("polled answer"));
  // Replaying from a later event skips what was already received.
  auto again = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}, {"Last-Event-ID", "2_1"}});
  std::string tail = again->read_until([](const std::string& s) { return s.find("0\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(tail.find("after close"), std::string::npos) << tail;
  EXPECT_NE(tail.find("polled answer"), std::string::npos) << tail;
  EXPECT_EQ(t.send("GET", session, {{"Accept", "text/event-stream"}, {"Last-Event-ID", "99_1"}}).status, 400u);
  EXPECT_EQ(t.send("GET", session, {{"Accept", "text/event-stream"}, {"Last-Event-ID", "garbage"}}).status, 400u);
}

// A GET with Last-Event-ID takes over the stream of a POST that is still waiting to answer
// as JSON: the GET gets the answer, and the POST a 409 at once instead of waiting beside it
// for the same wake-ups.
TEST(McpHttp, AResumedStreamEndsThePostWaitingForItsJsonAnswer) {
  HttpOptions options;
  options.response_mode = ResponseMode::kAuto;
  options.auto_sse_after_ms = 10'000;
  McpHttp t(options);
  std::string session = t.open_session();
  auto post = t.raw("POST", call_body(2, "slower"),
                    {{"Accept", "application/json, text/event-stream"}, {"Mcp-Session-Id", session}});
  // The call's stream (2) exists once the POST is received: until then the GET is a 400.
  std::unique_ptr<RawConnection> get;
  std::string head;
  for (int attempt = 0; attempt < 100 && head.find(" 200 ") == std::string::npos; ++attempt) {
    get = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}, {"Last-Event-ID", "2_0"}});
    head = get->read_until([](const std::string& s) { return s.find("\r\n") != std::string::npos; });
  }
  ASSERT_NE(head.find(" 200 "), std::string::npos) << head;
  std::string refused = post->read_until([](const std::string& s) { return s.find("another connection") != std::string::npos; });
  EXPECT_EQ(refused.rfind("HTTP/1.1 409", 0), 0u) << refused;
  std::string got = get->read_until([](const std::string& s) { return s.find("slower answer") != std::string::npos; });
  EXPECT_NE(got.find("slower answer"), std::string::npos) << got;
}

// JSON mode: a call's other messages go to the GET stream, its answer to its POST. The call
// runs in its POST's own coroutine, so these check that it can still wait for the client
// (a server->client request answered by another POST), that DELETE ends it with 404, and
// that an id in use is refused.
TEST(McpHttp, JsonModeCallsAnswerOnTheirPostAndTalkOnTheGetStream) {
  HttpOptions options;
  options.response_mode = ResponseMode::kJson;
  McpHttp t(options);
  std::string session = t.open_session("2025-11-25", R"({"roots":{}})");
  auto get = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}});

  auto progress = t.post(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":9}}})",
                         session);
  EXPECT_EQ(progress.headers.get("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(progress.headers.get("Mcp-Session-Id").value_or(""), session);
  EXPECT_EQ(body_json(progress).at("result").at("content").as_array()[0].at("text").as_string(), "done");
  std::string streamed = get->read_until([](const std::string& s) { return s.find("notifications/progress") != std::string::npos; });
  EXPECT_NE(streamed.find(R"("progressToken":9)"), std::string::npos) << streamed;

  auto call = std::async(std::launch::async, [&] { return t.post(call_body(3, "ask"), session); });
  std::string asked = get->read_until([](const std::string& s) { return s.find("roots/list") != std::string::npos; });
  json::value request = sse_message_with(asked, "roots/list");
  ASSERT_TRUE(request.is_object()) << asked;
  // While "ask" waits, its id is taken.
  auto taken = t.post(call_body(3, "echo"), session);
  EXPECT_EQ(body_json(taken).at("error").at("code").as_int64(), rpc::kInvalidRequest) << taken.body;
  EXPECT_EQ(t.post(no_roots_answer(request), session).status, 202u);
  auto answered = call.get();
  EXPECT_EQ(answered.headers.get("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(body_json(answered).at("result").at("content").as_array()[0].at("text").as_string(), "roots") << answered.body;

  // A DELETE while a call waits (for the client, here) ends it: its POST gets 404.
  auto ended = std::async(std::launch::async, [&] { return t.post(call_body(4, "ask"), session); });
  auto twice = [](const std::string& s) {
    auto first = s.find("roots/list");
    return first != std::string::npos && s.find("roots/list", first + 1) != std::string::npos;
  };
  ASSERT_TRUE(twice(get->read_until(twice))) << "the second call is waiting";
  EXPECT_EQ(t.send("DELETE", session).status, 204u);
  auto gone = ended.get();
  EXPECT_EQ(gone.status, 404u) << gone.body;
  EXPECT_EQ(body_json(gone).at("error").at("code").as_int64(), rpc::kSessionNotFound) << gone.body;
}

// In JSON mode a lone request runs in its POST (runs_in_post): it has no stream another
// connection could take over, so a guessed Last-Event-ID is refused while the call runs (it
// waits for the client's answer, whose request is on the GET stream), and the POST keeps its
// answer.
TEST(McpHttp, AJsonModeCallHasNoStreamToResume) {
  HttpOptions options;
  options.response_mode = ResponseMode::kJson;
  McpHttp t(options);
  std::string session = t.open_session("2025-11-25", R"({"roots":{}})");
  auto get = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}});
  auto post = t.raw("POST", call_body(2, "ask"),
                    {{"Accept", "application/json, text/event-stream"}, {"Mcp-Session-Id", session}});
  std::string asked = get->read_until([](const std::string& s) { return s.find("roots/list") != std::string::npos; });
  json::value request = sse_message_with(asked, "roots/list");
  ASSERT_TRUE(request.is_object()) << asked;
  for (std::string id : {"1_0", "2_0", "3_0"}) {
    EXPECT_EQ(t.send("GET", session, {{"Accept", "text/event-stream"}, {"Last-Event-ID", id}}).status, 400u) << id;
  }
  EXPECT_EQ(t.post(no_roots_answer(request), session).status, 202u);
  std::string got = post->read_until([](const std::string& s) { return s.find("\"roots\"") != std::string::npos; });
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_NE(got.find("application/json"), std::string::npos) << got;
}

TEST(McpHttp, RetainedStreamsOnePast) {
  HttpOptions options;
  options.max_retained_streams = 1;
  options.response_mode = ResponseMode::kSse;
  McpHttp t(options);
  std::string session = t.open_session();
  t.post(call_body(2, "echo"), session);  // stream 2
  t.post(call_body(3, "echo"), session);  // stream 3: stream 2 is dropped
  EXPECT_EQ(t.send("GET", session, {{"Accept", "text/event-stream"}, {"Last-Event-ID", "2_0"}}).status, 400u);
  auto kept = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}, {"Last-Event-ID", "3_0"}});
  std::string got = kept->read_until([](const std::string& s) { return s.find("\"id\":3") != std::string::npos; });
  EXPECT_NE(got.find("\"id\":3"), std::string::npos) << got;
}

TEST(McpHttp, StandaloneStream) {
  McpHttp t;
  std::string session = t.open_session();
  t.server.log(LogLevel::kInfo, "buffered before the GET");
  auto stream = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}});
  std::string got = stream->read_until([](const std::string& s) { return s.find("buffered before the GET") != std::string::npos; });
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("buffered before the GET"), std::string::npos);
  // One standalone stream per session.
  EXPECT_EQ(t.send("GET", session, {{"Accept", "text/event-stream"}}).status, 409u);
  // Server-initiated messages go to it; so do requests to the client.
  t.server.log(LogLevel::kWarning, "live event");
  got = stream->read_until([](const std::string& s) { return s.find("live event") != std::string::npos; });
  EXPECT_NE(got.find("live event"), std::string::npos);
  // Ending the session ends the stream (the chunked body's last chunk).
  EXPECT_EQ(t.send("DELETE", session).status, 204u);
  got = stream->read_until([](const std::string& s) { return s.ends_with("0\r\n\r\n"); });
  EXPECT_TRUE(got.ends_with("0\r\n\r\n")) << got;
}

TEST(McpHttp, EventsPerStreamOnePast) {
  HttpOptions options;
  options.max_events_per_stream = 3;
  McpHttp t(options);
  std::string session = t.open_session();
  for (int i = 1; i <= 4; ++i) t.server.log(LogLevel::kInfo, json::string("event " + std::to_string(i)));
  auto stream = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}});
  std::string got = stream->read_until([](const std::string& s) { return s.find("event 4") != std::string::npos; });
  EXPECT_EQ(got.find("\"event 1\""), std::string::npos) << "the oldest event went past the limit";
  EXPECT_NE(got.find("\"event 2\""), std::string::npos);
  EXPECT_NE(got.find("\"event 4\""), std::string::npos);
}

TEST(McpHttp, SessionBufferOnePast) {
  HttpOptions options;
  // Each buffered log event is 93 bytes of JSON: two fit, a third pushes the oldest out.
  options.max_session_buffer_bytes = 186;
  McpHttp t(options);
  std::string session = t.open_session();
  for (int i = 1; i <= 3; ++i) t.server.log(LogLevel::kInfo, json::string("event " + std::to_string(i)));
  auto stream = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}});
  std::string got = stream->read_until([](const std::string& s) { return s.find("event 3") != std::string::npos; });
  EXPECT_EQ(got.find("\"event 1\""), std::string::npos) << got;
  EXPECT_NE(got.find("\"event 2\""), std::string::npos) << got;
  EXPECT_NE(got.find("\"event 3\""), std::string::npos) << got;
}

TEST(McpHttp, AutoModeSwitchesToSseAfterItsDelay) {
  HttpOptions quick;
  quick.auto_sse_after_ms = 20;
  McpHttp t(quick);
  std::string session = t.open_session();
  auto streamed = t.post(call_body(2, "slow"), session);
  EXPECT_EQ(streamed.headers.get("Content-Type").value_or(""), "text/event-stream");
  EXPECT_NE(streamed.body.find("slow answer"), std::string::npos);
  HttpOptions patient;
  patient.auto_sse_after_ms = 10'000;
  McpHttp u(patient);
  std::string other = u.open_session();
  auto plain = u.post(call_body(2, "slow"), other);
  EXPECT_EQ(plain.headers.get("Content-Type").value_or(""), "application/json");
}

TEST(McpHttp, KeepAliveOnQuietStreams) {
  HttpOptions options;
  options.keep_alive_ms = 20;
  McpHttp t(options);
  std::string session = t.open_session();
  auto stream = t.raw("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session}});
  std::string got = stream->read_until([](const std::string& s) { return s.find(": keepalive") != std::string::npos; });
  EXPECT_NE(got.find(": keepalive\n\n"), std::string::npos) << got;
}

TEST(McpHttp, SlowClients) {
  http::ServerLimits limits;
  limits.body_timeout_ms = 300;
  limits.header_timeout_ms = 300;
  McpHttp t(HttpOptions{}, limits);
  // A body that never completes: 408 and the connection is closed.
  RawConnection slow_body(t.port());
  slow_body.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"");
  std::string answer = slow_body.read_until([](const std::string&) { return false; });
  EXPECT_NE(answer.find("408"), std::string::npos) << answer;
  EXPECT_TRUE(slow_body.closed());
  // Headers that never complete: closed.
  RawConnection slow_headers(t.port());
  slow_headers.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  slow_headers.read_until([](const std::string&) { return false; });
  EXPECT_TRUE(slow_headers.closed());
  // The server still serves others.
  EXPECT_EQ(t.post(init_body()).status, 200u);
}

TEST(McpHttp, StatelessMode) {
  HttpOptions options;
  options.stateless = true;
  McpHttp t(options);
  auto init = t.post(init_body());
  ASSERT_EQ(init.status, 200u);
  EXPECT_FALSE(init.headers.get("Mcp-Session-Id").has_value());
  auto call = t.post(call_body(2, "echo", R"({"text":"no session"})"), "", {{"MCP-Protocol-Version", "2025-11-25"}});
  ASSERT_EQ(call.status, 200u);
  EXPECT_EQ(body_json(call).at("result").at("content").as_array()[0].at("text").as_string(), "no session");
  auto progress = t.post(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":1}}})");
  EXPECT_EQ(progress.headers.get("Content-Type").value_or(""), "application/json");
  auto ask = t.post(call_body(4, "ask"));
  EXPECT_TRUE(body_json(ask).at("result").at("isError").as_bool());
  EXPECT_EQ(t.post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").status, 202u);
  EXPECT_EQ(t.send("GET", "", {{"Accept", "text/event-stream"}}).status, 405u);
  EXPECT_EQ(t.send("DELETE", "").status, 405u);
  EXPECT_EQ(t.transport().session_count(), 0u);
}

}  // namespace
}  // namespace tollgate::mcp
