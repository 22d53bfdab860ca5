// The MCP client against real servers: examples/conformance_server (Streamable HTTP and
// stdio) and the official @modelcontextprotocol/server-everything under Node (stdio and
// HTTP). Also: timeouts, SSE resumption, a new session after the server lost ours.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "tollgate/mcp/client.hpp"
#include "tollgate/mcp/server.hpp"
#include "tollgate/mcp/transport.hpp"

namespace tollgate::mcp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::Process;

const std::string kConformanceServer = std::string(TOLLGATE_BUILD_DIR) + "/conformance_server";
const std::string kNode = std::string(TOLLGATE_SOURCE_DIR) + "/tests/npm/node_modules/node/bin/node";
const std::string kEverything =
    std::string(TOLLGATE_SOURCE_DIR) + "/tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js";

bool have_node_tools() { return std::filesystem::exists(kNode) && std::filesystem::exists(kEverything); }

// An io_context on its own thread; run() waits for one coroutine's result.
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::any_io_executor executor() { return io_.get_executor(); }
  asio::io_context& io() { return io_; }

  template <typename T>
  T run(asio::awaitable<T> operation) {
    std::promise<T> promise;
    auto future = promise.get_future();
    asio::co_spawn(io_, store(std::move(operation), &promise), asio::detached);
    return future.get();
  }

  void run(asio::awaitable<void> operation) {
    std::promise<void> promise;
    auto future = promise.get_future();
    asio::co_spawn(io_, finish(std::move(operation), &promise), asio::detached);
    future.get();
  }

 private:
  static asio::awaitable<void> finish(asio::awaitable<void> operation, std::promise<void>* promise) {
    co_await std::move(operation);
    promise->set_value();
  }

  template <typename T>
  static asio::awaitable<void> store(asio::awaitable<T> operation, std::promise<T>* promise) {
    T value = co_await std::move(operation);
    promise->set_value(std::move(value));
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

std::string first_text(const RpcResponse& r) {
  if (!r.ok() || !r.result.is_object()) return r.ok() ? "" : "error: " + r.error->message;
  const json::value* content = r.result.get_object().if_contains("content");
  if (!content || !content->is_array() || content->get_array().empty()) return "";
  return std::string(content->get_array()[0].at("text").as_string());
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

ClientOptions capable_client() {
  ClientOptions options;
  options.info = Implementation{.name = "tollgate-test-client", .version = "1"};
  options.capabilities = json::object{{"sampling", json::object{}}, {"elicitation", json::object{}}, {"roots", json::object{}}};
  return options;
}

// Answers sampling and elicitation the way a cooperative user would.
ClientRequestHandler cooperative_handler() {
  return [](const Message& request, const std::shared_ptr<CancelSource>&) -> asio::awaitable<RpcResponse> {
    if (request.method == "sampling/createMessage") {
      co_return RpcResponse::success(json::object{{"role", "assistant"},
                                                  {"content", text_content("sampled words")},
                                                  {"model", "test-model"},
                                                  {"stopReason", "endTurn"}});
    }
    if (request.method == "elicitation/create") {
      co_return RpcResponse::success(
          json::object{{"action", "accept"}, {"content", {{"username", "ada"}, {"email", "ada@example.com"}}}});
    }
    if (request.method == "roots/list") co_return RpcResponse::success(json::object{{"roots", json::array{}}});
    co_return RpcResponse::failure(rpc::kMethodNotFound, request.method);
  };
}

// The checks every transport to conformance_server must pass.
// The /mcp URL of a server started with --listen, once it says it is listening.
std::optional<std::string> mcp_endpoint(Process& server) {
  auto line = server.wait_for_line("listening on ");
  if (!line) return std::nullopt;
  return line->substr(std::string("listening on ").size()) + "/mcp";
}

void exercise_conformance_server(IoThread& io, Client& client) {
  auto connected = io.run(client.connect());
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  EXPECT_EQ(connected->protocol_version, "2025-11-25");
  EXPECT_EQ(connected->server_info.at("name").as_string(), "tollgate-conformance-server");
  EXPECT_TRUE(connected->capabilities.contains("tools"));

  auto tools = io.run(client.list_tools());
  ASSERT_TRUE(tools.ok());
  EXPECT_GE(tools->size(), 14u);
  EXPECT_EQ(first_text(io.run(client.call_tool("test_simple_text"))), "This is a simple text response for testing.");

  std::atomic<int> progress{0};
  CallOptions with_progress;
  with_progress.on_progress = [&progress](const json::object&) { ++progress; };
  auto progressed = io.run(client.call_tool("test_tool_with_progress", {}, with_progress));
  EXPECT_TRUE(progressed.ok());
  EXPECT_EQ(progress.load(), 3);

  EXPECT_EQ(first_text(io.run(client.call_tool("test_sampling", json::object{{"prompt", "hello"}}))),
            "LLM response: sampled words");
  EXPECT_EQ(first_text(io.run(client.call_tool("test_elicitation", json::object{{"message", "who?"}}))),
            R"(User response: action=accept, content={"username":"ada","email":"ada@example.com"})");
  auto invalid = io.run(client.call_tool("test_sampling", json::object{{"prompt", 5}}));
  ASSERT_TRUE(invalid.ok());
  EXPECT_TRUE(invalid.result.at("isError").as_bool());

  auto read = io.run(client.read_resource("test://template/42/data"));
  ASSERT_TRUE(read.ok());
  EXPECT_NE(std::string(read.result.at("contents").as_array()[0].at("text").as_string()).find("42"), std::string::npos);
  auto prompt = io.run(client.get_prompt("test_prompt_with_arguments", json::object{{"arg1", "a"}, {"arg2", "b"}}));
  ASSERT_TRUE(prompt.ok());
  auto resources = io.run(client.list_resources());
  ASSERT_TRUE(resources.ok());
  EXPECT_EQ(resources->size(), 3u);
  auto completion = io.run(client.request("completion/complete",
                                          json::object{{"ref", {{"type", "ref/prompt"}, {"name", "test_prompt_with_arguments"}}},
                                                       {"argument", {{"name", "arg1"}, {"value", "par"}}}}));
  ASSERT_TRUE(completion.ok());
  EXPECT_EQ(completion.result.at("completion").at("values").as_array().size(), 3u);
  EXPECT_TRUE(io.run(client.ping()).ok());

  // A request that outlives its timeout fails with -32001 (and the server is told).
  CallOptions hurry;
  hurry.timeout_ms = 20;
  auto late = io.run(client.call_tool("test_tool_with_logging", {}, hurry));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error->code, rpc::kRequestTimeout);
  EXPECT_TRUE(io.run(client.ping()).ok()) << "the connection survives a timeout";

  // The caller cancels after the first progress step: the wait ends at once with
  // kRequestCancelled (the server is told; the gateway test proves a server stops).
  CallOptions cancellable;
  cancellable.cancel = std::make_shared<CancelSource>();
  cancellable.on_progress = [cancel = cancellable.cancel](const json::object&) { cancel->cancel("changed my mind"); };
  auto cancelled = io.run(client.call_tool("test_tool_with_progress", {}, cancellable));
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error->code, rpc::kRequestCancelled);
  EXPECT_NE(cancelled.error->message.find("changed my mind"), std::string::npos) << cancelled.error->message;
  // Cancelled before it is sent: never sent. A cancel after the answer changes nothing.
  CallOptions too_late;
  too_late.cancel = std::make_shared<CancelSource>();
  too_late.cancel->cancel("no longer needed");
  EXPECT_EQ(io.run(client.call_tool("test_simple_text", {}, too_late)).error->code, rpc::kRequestCancelled);
  CallOptions answered;
  answered.cancel = std::make_shared<CancelSource>();
  auto done = io.run(client.call_tool("test_simple_text", {}, answered));
  answered.cancel->cancel("after the answer");
  EXPECT_TRUE(done.ok());
  EXPECT_TRUE(io.run(client.ping()).ok()) << "the connection survives a cancellation";
}

TEST(McpClient, HttpAgainstConformanceServer) {
  Process server({.args = {kConformanceServer, "--listen", "127.0.0.1:0"}});
  auto endpoint = mcp_endpoint(server);
  ASSERT_TRUE(endpoint) << server.stderr_text();
  const std::string& url = *endpoint;
  IoThread io;
  std::mutex logs_mutex;
  std::vector<std::string> logs;
  Client client(io.executor(), make_http_client_transport(io.executor(), HttpClientOptions{.url = url}), capable_client());
  client.on_request(cooperative_handler());
  client.on_notification([&](const Message& m) {
    if (m.method != "notifications/message") return;
    std::lock_guard lock(logs_mutex);
    logs.emplace_back(m.params.at("data").as_string());
  });
  exercise_conformance_server(io, client);
  {
    std::lock_guard lock(logs_mutex);
    EXPECT_GE(logs.size(), 1u);
  }
  // The server closes the SSE stream mid-call; the client resumes with Last-Event-ID.
  auto reconnected = io.run(client.call_tool("test_reconnection"));
  EXPECT_NE(first_text(reconnected).find("Reconnection test completed successfully"), std::string::npos)
      << first_text(reconnected);
  io.run(client.close());
}

// Over Streamable HTTP a server's request arrives on the stream of the call it belongs to:
// that call's own handler answers it, and the client-wide handler is not asked.
TEST(McpClient, HttpRequestsTiedToACallGoToItsHandler) {
  Process server({.args = {kConformanceServer, "--listen", "127.0.0.1:0"}});
  auto endpoint = mcp_endpoint(server);
  ASSERT_TRUE(endpoint) << server.stderr_text();
  const std::string& url = *endpoint;
  IoThread io;
  Client client(io.executor(), make_http_client_transport(io.executor(), HttpClientOptions{.url = url}), capable_client());
  client.on_request(cooperative_handler());
  ASSERT_TRUE(io.run(client.connect()).ok());
  CallOptions own;
  std::atomic<int> asked{0};
  own.on_request = [&asked](const Message& request, const std::shared_ptr<CancelSource>&) -> asio::awaitable<RpcResponse> {
    ++asked;
    EXPECT_EQ(request.method, "sampling/createMessage");
    co_return RpcResponse::success(json::object{{"role", "assistant"}, {"model", "per-call"},
                                                {"content", {{"type", "text"}, {"text", "answered by this call"}}}});
  };
  auto sampled = io.run(client.call_tool("test_sampling", json::object{{"prompt", "hello"}}, own));
  EXPECT_EQ(first_text(sampled), "LLM response: answered by this call");
  EXPECT_EQ(asked.load(), 1);
  // Without a per-call handler, the client-wide one answers.
  EXPECT_EQ(first_text(io.run(client.call_tool("test_sampling", json::object{{"prompt", "hello"}}))),
            "LLM response: sampled words");
  io.run(client.close());
}

TEST(McpClient, StdioAgainstConformanceServer) {
  IoThread io;
  StdioClientOptions options;
  options.command = {kConformanceServer, "--stdio"};
  Client client(io.executor(), make_stdio_client_transport(io.executor(), options), capable_client());
  client.on_request(cooperative_handler());
  exercise_conformance_server(io, client);
  io.run(client.close());
  auto after = io.run(client.ping());
  EXPECT_FALSE(after.ok());
}

TEST(McpClient, StdioServerThatExits) {
  IoThread io;
  StdioClientOptions options;
  options.command = {"/bin/sh", "-c", "read line; exit 3"};
  Client client(io.executor(), make_stdio_client_transport(io.executor(), options));
  auto connected = io.run(client.connect());
  ASSERT_FALSE(connected.ok());
  EXPECT_NE(connected.error().message.find("JSON-RPC -32000"), std::string::npos) << connected.error().message;
  StdioClientOptions missing;
  missing.command = {"/nonexistent/mcp-server"};
  Client nowhere(io.executor(), make_stdio_client_transport(io.executor(), missing));
  EXPECT_FALSE(io.run(nowhere.connect()).ok());
}

TEST(McpClient, StdioLineLimitOnePast) {
  IoThread io;
  // The initialize answer is longer than this: the client skips it, so connect times out.
  StdioClientOptions options;
  options.command = {kConformanceServer, "--stdio"};
  options.max_line_bytes = 100;
  options.forward_stderr = false;
  ClientOptions client_options;
  client_options.request_timeout_ms = 300;
  Client client(io.executor(), make_stdio_client_transport(io.executor(), options), client_options);
  auto connected = io.run(client.connect());
  ASSERT_FALSE(connected.ok());
  EXPECT_NE(connected.error().message.find("timed out"), std::string::npos) << connected.error().message;
  io.run(client.close());
}

// Passes everything through to `inner` and keeps what the client sends.
class RecordingTransport : public ClientTransport {
 public:
  explicit RecordingTransport(std::unique_ptr<ClientTransport> inner) : inner_(std::move(inner)) {}
  void set_callbacks(Callbacks callbacks) override { inner_->set_callbacks(std::move(callbacks)); }
  asio::awaitable<Status> start() override { return inner_->start(); }
  asio::awaitable<Status> send(Message message) override {
    {
      std::lock_guard lock(mutex_);
      sent_.push_back(message);
    }
    return inner_->send(std::move(message));
  }
  void set_protocol_version(std::string version) override { inner_->set_protocol_version(std::move(version)); }
  void initialized() override { inner_->initialized(); }
  void reset_session() override { inner_->reset_session(); }
  asio::awaitable<void> close() override { return inner_->close(); }

  std::vector<Message> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  std::unique_ptr<ClientTransport> inner_;
  std::mutex mutex_;
  std::vector<Message> sent_;
};

TEST(McpClient, ServerCancellingItsRequestStopsTheHandlerAndItsAnswer) {
  // The server stops waiting for an elicitation (its timeout here): it tells the client
  // with notifications/cancelled, the client's handler learns of it through its
  // CancelSource, and the answer it then gives is not sent (cancellation: "not send a
  // response for the cancelled request").
  IoThread server_io;
  Server server(Implementation{.name = "impatient", .version = "1"}, ServerOptions{.client_request_timeout_ms = 300});
  ASSERT_TRUE(server.add_tool(Tool{.name = "ask", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    auto op = ctx.elicit(json::object{{"message", "name?"}, {"requestedSchema", {{"type", "object"}}}});
    RpcResponse r = co_await std::move(op);
    co_return r.ok() ? ToolResult::text("answered") : ToolResult::error(r.error->message);
  }}).ok());
  HttpServer http(server, server_io.io());
  ASSERT_TRUE(http.listen("127.0.0.1", 0).ok());
  IoThread io;
  auto transport = std::make_unique<RecordingTransport>(
      make_http_client_transport(io.executor(), HttpClientOptions{.url = "http://127.0.0.1:" + std::to_string(http.port()) + "/mcp"}));
  RecordingTransport& recorded = *transport;
  Client client(io.executor(), std::move(transport), capable_client());
  std::atomic<bool> told{false};
  client.on_request([&told](const Message&, const std::shared_ptr<CancelSource>& cancel) -> asio::awaitable<RpcResponse> {
    // Waits (at most 10 s) for the server to give up, then answers anyway.
    asio::steady_timer wake(co_await asio::this_coro::executor, 10s);
    cancel->add_hook([&wake](const std::string&) { asio::post(wake.get_executor(), [&wake] { wake.cancel(); }); });
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    told = cancel->cancelled();
    co_return RpcResponse::success(json::object{{"action", "accept"}, {"content", {{"name", "too late"}}}});
  });
  ASSERT_TRUE(io.run(client.connect()).ok());
  auto result = io.run(client.call_tool("ask"));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result.result.at("isError").as_bool()) << json::serialize(result.result);
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !told && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(told.load());
  std::this_thread::sleep_for(100ms);  // an answer would have been sent by now
  for (const Message& m : recorded.sent()) {
    EXPECT_FALSE(m.is_response()) << "the client answered a cancelled request: " << encode(m);
  }
  io.run(client.close());
}

TEST(McpClient, AClosedClientStartsNothing) {
  // A stop that comes while a client is being set up (the gateway's supervisor) closes it
  // before connect(): no server process may be started then, since nobody would stop it.
  IoThread io;
  std::string marker = (std::filesystem::temp_directory_path() / ("tollgate-started-" + std::to_string(getpid()))).string();
  StdioClientOptions options;
  options.command = {"/bin/sh", "-c", "touch '" + marker + "'; exec cat"};
  Client client(io.executor(), make_stdio_client_transport(io.executor(), options));
  io.run(client.close());
  auto connected = io.run(client.connect());
  EXPECT_FALSE(connected.ok());
  std::this_thread::sleep_for(200ms);  // a started shell would have made the file by now
  EXPECT_FALSE(std::filesystem::exists(marker));
  std::filesystem::remove(marker);
}

TEST(McpClient, InitializeThatTimesOutIsNotCancelled) {
  // "The initialize request MUST NOT be cancelled by clients": a server that never answers
  // gets the initialize request and nothing after it.
  IoThread io;
  std::string written = (std::filesystem::temp_directory_path() / ("tollgate-init-" + std::to_string(getpid()))).string();
  StdioClientOptions options;
  options.command = {"/bin/sh", "-c", "cat > '" + written + "'"};
  ClientOptions client_options;
  client_options.request_timeout_ms = 200;
  Client client(io.executor(), make_stdio_client_transport(io.executor(), options), client_options);
  auto connected = io.run(client.connect());
  ASSERT_FALSE(connected.ok());
  EXPECT_NE(connected.error().message.find("timed out"), std::string::npos) << connected.error().message;
  io.run(client.close());  // closes the child's stdin: cat finishes the file and exits
  std::string sent;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    std::ifstream in(written);
    sent.assign(std::istreambuf_iterator<char>(in), {});
    if (sent.find("\"initialize\"") != std::string::npos) break;
  }
  std::this_thread::sleep_for(100ms);  // anything sent after initialize would be there by now
  std::ifstream in(written);
  sent.assign(std::istreambuf_iterator<char>(in), {});
  std::filesystem::remove(written);
  EXPECT_NE(sent.find("\"method\":\"initialize\""), std::string::npos) << sent;
  EXPECT_EQ(sent.find("notifications/cancelled"), std::string::npos) << sent;
}

TEST(McpClient, NewSessionAfterTheServerLostOurs) {
  IoThread server_io;
  Server server(Implementation{.name = "forgetful", .version = "1"});
  ASSERT_TRUE(server.add_tool(Tool{.name = "hello", .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
    co_return ToolResult::text("hello");
  }}).ok());
  HttpOptions options;
  options.session_idle_timeout_ms = 50;
  HttpServer http(server, server_io.io(), options);
  ASSERT_TRUE(http.listen("127.0.0.1", 0).ok());
  IoThread io;
  HttpClientOptions client_options{.url = "http://127.0.0.1:" + std::to_string(http.port()) + "/mcp"};
  client_options.open_server_stream = false;  // an open stream would keep the session busy
  Client client(io.executor(), make_http_client_transport(io.executor(), client_options));
  ASSERT_TRUE(io.run(client.connect()).ok());
  EXPECT_EQ(first_text(io.run(client.call_tool("hello"))), "hello");
  // Wait (deadline) until the idle sweep dropped the session.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (http.transport().session_count() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(http.transport().session_count(), 0u);
  EXPECT_EQ(first_text(io.run(client.call_tool("hello"))), "hello") << "the client started a new session";
  io.run(client.close());
  http.stop();
}

// A server that pages its lists (2 per page here): the client follows nextCursor to the
// end for tools, resources, resource templates and prompts, and returns every entry once,
// in order. (The gateway lists an upstream this way.)
TEST(McpClient, ListsFollowEveryPage) {
  IoThread server_io;
  Server server(Implementation{.name = "paged", .version = "1"}, ServerOptions{.page_size = 2});
  auto names = [](const std::string& prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
    return out;
  };
  ResourceReader nothing = [](Context&, const std::string&,
                              const std::map<std::string, std::string>&) -> asio::awaitable<Result<json::array>> {
    co_return json::array{};
  };
  for (const auto& n : names("tool", 5)) {
    ASSERT_TRUE(server.add_tool(Tool{.name = n, .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
      co_return ToolResult::text("x");
    }}).ok());
  }
  for (const auto& n : names("res", 5)) ASSERT_TRUE(server.add_resource(Resource{.uri = "test://" + n, .name = n, .read = nothing}).ok());
  for (const auto& n : names("tpl", 3)) {
    ASSERT_TRUE(server.add_resource_template(ResourceTemplate{.uri_template = "test://" + n + "/{id}", .name = n, .read = nothing}).ok());
  }
  for (const auto& n : names("prompt", 3)) {
    ASSERT_TRUE(server.add_prompt(Prompt{.name = n, .get = [](Context&, const std::map<std::string, std::string>&)
                                                          -> asio::awaitable<Result<json::object>> { co_return json::object{}; }}).ok());
  }
  HttpServer http(server, server_io.io());
  ASSERT_TRUE(http.listen("127.0.0.1", 0).ok());
  IoThread io;
  HttpClientOptions options{.url = "http://127.0.0.1:" + std::to_string(http.port()) + "/mcp"};
  options.open_server_stream = false;
  Client client(io.executor(), make_http_client_transport(io.executor(), options));
  ASSERT_TRUE(io.run(client.connect()).ok());
  auto listed = [](const Result<std::vector<json::object>>& r) {
    std::vector<std::string> out;
    EXPECT_TRUE(r.ok());
    if (r) for (const auto& entry : *r) out.emplace_back(entry.at("name").as_string());
    return out;
  };
  EXPECT_EQ(listed(io.run(client.list_tools())), names("tool", 5));
  EXPECT_EQ(listed(io.run(client.list_resources())), names("res", 5));
  EXPECT_EQ(listed(io.run(client.list_resource_templates())), names("tpl", 3));
  EXPECT_EQ(listed(io.run(client.list_prompts())), names("prompt", 3));
  io.run(client.close());
  http.stop();
}

TEST(McpClient, StdioAgainstServerEverything) {
  if (!have_node_tools()) GTEST_SKIP() << "run scripts/npm-tools first";
  IoThread io;
  StdioClientOptions options;
  options.command = {kNode, kEverything, "stdio"};
  options.forward_stderr = false;
  Client client(io.executor(), make_stdio_client_transport(io.executor(), options), capable_client());
  client.on_request(cooperative_handler());
  auto connected = io.run(client.connect());
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  auto tools = io.run(client.list_tools());
  ASSERT_TRUE(tools.ok());
  bool has_echo = std::any_of(tools->begin(), tools->end(), [](const json::object& t) { return t.at("name").as_string() == "echo"; });
  EXPECT_TRUE(has_echo);
  EXPECT_EQ(first_text(io.run(client.call_tool("echo", json::object{{"message", "hi"}}))), "Echo: hi");
  auto sum = io.run(client.call_tool("get-sum", json::object{{"a", 2}, {"b", 3}}));
  EXPECT_NE(first_text(sum).find("5"), std::string::npos) << first_text(sum);
  EXPECT_TRUE(io.run(client.list_resources()).ok());
  EXPECT_TRUE(io.run(client.list_prompts()).ok());
  EXPECT_TRUE(io.run(client.ping()).ok());
  io.run(client.close());
}

TEST(McpClient, HttpAgainstServerEverything) {
  if (!have_node_tools()) GTEST_SKIP() << "run scripts/npm-tools first";
  std::uint16_t port = free_port();
  Process server({.args = {kNode, kEverything, "streamableHttp"}, .env = {{"PORT", std::to_string(port)}}});
  ASSERT_TRUE(wait_for_port(port, 60s)) << server.stderr_text();
  IoThread io;
  Client client(io.executor(),
                make_http_client_transport(io.executor(), HttpClientOptions{.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp"}),
                capable_client());
  client.on_request(cooperative_handler());
  auto connected = io.run(client.connect());
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  EXPECT_EQ(first_text(io.run(client.call_tool("echo", json::object{{"message", "over http"}}))), "Echo: over http");
  auto tools = io.run(client.list_tools());
  ASSERT_TRUE(tools.ok());
  EXPECT_GT(tools->size(), 3u);
  std::atomic<int> progress{0};
  CallOptions with_progress;
  with_progress.on_progress = [&progress](const json::object&) { ++progress; };
  auto longer = io.run(client.call_tool("trigger-long-running-operation", json::object{{"duration", 1}, {"steps", 2}}, with_progress));
  EXPECT_TRUE(longer.ok()) << (longer.ok() ? "" : longer.error->message);
  EXPECT_GE(progress.load(), 1);
  auto sampled = io.run(client.call_tool("trigger-sampling-request", json::object{{"prompt", "hi"}, {"maxTokens", 10}}));
  EXPECT_TRUE(sampled.ok());
  EXPECT_NE(json::serialize(sampled.result).find("sampled words"), std::string::npos) << json::serialize(sampled.result);
  io.run(client.close());
}

}  // namespace
}  // namespace tollgate::mcp
