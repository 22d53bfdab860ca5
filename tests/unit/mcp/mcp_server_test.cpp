// The server protocol engine in process, through a recording SessionOutput: lifecycle and
// version negotiation, pagination, tool argument validation, cancellation, progress, logging,
// server->client requests, resources, prompts, completion, list_changed, and the per-session
// limits one past each.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <sstream>
#include <thread>

#include "mcp/async.hpp"
#include "mcp/server_session.hpp"
#include "tollgate/mcp/server.hpp"

namespace tollgate::mcp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Records what a session sends; tests wait on it with a deadline.
class RecordingOutput final : public detail::SessionOutput {
 public:
  struct Sent {
    Message message;
    std::optional<RequestId> related;
  };

  void send(const Message& message, const RequestId* related) override {
    std::lock_guard lock(mutex_);
    sent_.push_back(Sent{message, related ? std::optional<RequestId>(*related) : std::nullopt});
    changed_.notify_all();
  }
  void respond(const RequestId& id, const std::optional<Message>& response) override {
    std::lock_guard lock(mutex_);
    responses_.emplace_back(id, response);
    changed_.notify_all();
  }

  // The answer to `id` (nullopt inside: answered with nothing, i.e. cancelled).
  std::optional<std::optional<Message>> wait_response(const RequestId& id, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    std::optional<std::optional<Message>> out;
    changed_.wait_for(lock, timeout, [&] {
      for (auto& [rid, m] : responses_) {
        if (rid == id) {
          out = m;
          return true;
        }
      }
      return false;
    });
    return out;
  }

  std::optional<Sent> wait_sent(const std::function<bool(const Sent&)>& pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    std::optional<Sent> out;
    changed_.wait_for(lock, timeout, [&] {
      for (auto& s : sent_) {
        if (pred(s)) {
          out = s;
          return true;
        }
      }
      return false;
    });
    return out;
  }

  std::vector<Sent> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Sent> sent_;
  std::vector<std::pair<RequestId, std::optional<Message>>> responses_;
};

class Harness {
 public:
  explicit Harness(ServerOptions options = {})
      : server(Implementation{.name = "test", .version = "1"}, options), work_(asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
    output = std::make_shared<RecordingOutput>();
    session = detail::ServerSession::create(server.core(), output);
    info_ = std::make_shared<RequestInfo>();
  }
  ~Harness() {
    session->close();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void deliver(Message m) {
    asio::post(io_, [this, m = std::move(m)]() mutable { session->receive(std::move(m), info_, io_.get_executor()); });
  }

  // Sends a request and returns its answer (fails the test on timeout or no answer).
  Message call(std::string method, json::object params = {}) {
    RequestId id = next_id_++;
    deliver(Message::request(id, std::move(method), std::move(params)));
    auto r = output->wait_response(id);
    EXPECT_TRUE(r.has_value()) << "no answer";
    if (!r || !*r) return Message::failure(id, -1, "no answer");
    return **r;
  }

  Message initialize(std::string version = "2025-11-25", json::object capabilities = {}) {
    return call("initialize", json::object{{"protocolVersion", version},
                                           {"capabilities", std::move(capabilities)},
                                           {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
  }

  Server server;
  std::shared_ptr<RecordingOutput> output;
  std::shared_ptr<detail::ServerSession> session;
  std::int64_t next_id_ = 1;

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::shared_ptr<RequestInfo> info_;
};

ToolHandler text_tool(std::string text) {
  return [text](Context&, const json::object&) -> asio::awaitable<ToolResult> { co_return ToolResult::text(text); };
}

// Asks the client a form question (no mode given); "answered", or the refusal as an error.
ToolHandler form_elicitation_tool() {
  return [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    auto op = ctx.elicit(json::object{{"message", "hi"}, {"requestedSchema", {{"type", "object"}}}});
    RpcResponse r = co_await std::move(op);
    co_return r.ok() ? ToolResult::text("answered") : ToolResult::error(r.error->message);
  };
}

const json::object& result_of(const Message& m) {
  EXPECT_EQ(m.kind, MessageKind::kResult) << encode(m);
  static const json::object empty;
  return m.result.is_object() ? m.result.get_object() : empty;
}

TEST(McpServer, VersionNegotiation) {
  for (auto [asked, expected] : {std::pair{"2025-11-25", "2025-11-25"}, std::pair{"2025-06-18", "2025-06-18"},
                                 std::pair{"2025-03-26", "2025-03-26"}, std::pair{"2024-11-05", "2025-11-25"},
                                 std::pair{"2099-01-01", "2025-11-25"}}) {
    Harness h;
    Message m = h.initialize(asked);
    EXPECT_EQ(result_of(m).at("protocolVersion").as_string(), expected) << asked;
    EXPECT_EQ(result_of(m).at("serverInfo").at("name").as_string(), "test");
  }
}

TEST(McpServer, LifecycleRules) {
  Harness h;
  EXPECT_EQ(h.call("ping").kind, MessageKind::kResult);  // ping is allowed before initialize
  Message early = h.call("tools/list");
  ASSERT_EQ(early.kind, MessageKind::kError);
  EXPECT_EQ(early.error.code, rpc::kInvalidRequest);
  Message bad = h.call("initialize", json::object{{"capabilities", json::object{}}});
  ASSERT_EQ(bad.kind, MessageKind::kError);
  EXPECT_EQ(bad.error.code, rpc::kInvalidParams);
  EXPECT_EQ(h.initialize().kind, MessageKind::kResult);
  Message again = h.initialize();
  ASSERT_EQ(again.kind, MessageKind::kError);
  EXPECT_EQ(again.error.code, rpc::kInvalidRequest);
  Message unknown = h.call("no/such/method");
  ASSERT_EQ(unknown.kind, MessageKind::kError);
  EXPECT_EQ(unknown.error.code, rpc::kMethodNotFound);
}

TEST(McpServer, CapabilitiesFollowRegistrations) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "t", .description = "d", .handler = text_tool("x")}).ok());
  json::object caps = result_of(h.initialize()).at("capabilities").as_object();
  EXPECT_TRUE(caps.contains("tools"));
  EXPECT_TRUE(caps.contains("logging"));
  EXPECT_TRUE(caps.contains("completions"));
  EXPECT_FALSE(caps.contains("prompts"));
  EXPECT_FALSE(caps.contains("resources"));
}

TEST(McpServer, RegistrationRejectsBadDefinitions) {
  Server server(Implementation{.name = "s", .version = "1"});
  EXPECT_FALSE(server.add_tool(Tool{.name = "", .handler = text_tool("x")}).ok());
  EXPECT_FALSE(server.add_tool(Tool{.name = "t"}).ok());
  EXPECT_FALSE(server.add_tool(Tool{.name = "t", .input_schema = {{"type", "string"}}, .handler = text_tool("x")}).ok());
  EXPECT_TRUE(server.add_tool(Tool{.name = "t", .handler = text_tool("x")}).ok());
  EXPECT_FALSE(server.add_tool(Tool{.name = "t", .handler = text_tool("y")}).ok());  // duplicate
  auto reader = [](Context&, const std::string&, const std::map<std::string, std::string>&) -> asio::awaitable<Result<json::array>> {
    co_return json::array{};
  };
  EXPECT_FALSE(server.add_resource_template(ResourceTemplate{.uri_template = "x://{a}{b}", .name = "n", .read = reader}).ok());
  EXPECT_FALSE(server.add_resource_template(ResourceTemplate{.uri_template = "x://{?q}", .name = "n", .read = reader}).ok());
  EXPECT_FALSE(server.add_resource_template(ResourceTemplate{.uri_template = "x://{a", .name = "n", .read = reader}).ok());
  EXPECT_TRUE(server.add_resource_template(ResourceTemplate{.uri_template = "x://{a}/{+rest}", .name = "n", .read = reader}).ok());
}

TEST(McpServer, ToolNamesAreCheckedAgainstTheNamingRules) {
  EXPECT_FALSE(tool_name_problem("getUser"));
  EXPECT_FALSE(tool_name_problem("DATA_EXPORT_v2"));
  EXPECT_FALSE(tool_name_problem("admin.tools.list"));
  EXPECT_FALSE(tool_name_problem(std::string(128, 'a')));
  EXPECT_EQ(tool_name_problem(std::string(129, 'a')).value_or(""), "it is 129 characters long (at most 128)");
  EXPECT_EQ(tool_name_problem("bad name").value_or(""), "it contains ' ' (allowed: A-Z a-z 0-9 _ - .)");
  EXPECT_TRUE(tool_name_problem("a,b"));
  EXPECT_TRUE(tool_name_problem("a/b"));
  EXPECT_TRUE(tool_name_problem(""));
  // SHOULDs: registered anyway (with a warning in the log).
  Server server(Implementation{.name = "s", .version = "1"});
  EXPECT_TRUE(server.add_tool(Tool{.name = "bad name", .handler = text_tool("x")}).ok());
}

TEST(McpServer, ToolsListPagination) {
  Harness h(ServerOptions{.page_size = 2});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(h.server.add_tool(Tool{.name = "tool" + std::to_string(i), .handler = text_tool("x")}).ok());
  }
  h.initialize();
  std::vector<std::string> names;
  json::object params;
  for (int page = 0; page < 10; ++page) {
    json::object r = result_of(h.call("tools/list", params));
    for (auto& t : r.at("tools").as_array()) names.emplace_back(t.at("name").as_string());
    if (!r.contains("nextCursor")) break;
    EXPECT_EQ(r.at("tools").as_array().size(), 2u);
    params = json::object{{"cursor", r.at("nextCursor")}};
  }
  EXPECT_EQ(names, (std::vector<std::string>{"tool0", "tool1", "tool2", "tool3", "tool4"}));
  for (const char* cursor : {"garbage", "", "7061676523"}) {
    Message bad = h.call("tools/list", json::object{{"cursor", cursor}});
    ASSERT_EQ(bad.kind, MessageKind::kError) << cursor;
    EXPECT_EQ(bad.error.code, rpc::kInvalidParams);
  }
}

// A tool's whole definition reaches tools/list as the 2025-11-25 schema spells it: title,
// description, both schemas, every annotation hint (false ones too: "not destructive" is a
// statement), icons and _meta; and nothing that was not set.
TEST(McpServer, ToolsListCarriesTheWholeDefinition) {
  Harness h;
  Tool full{.name = "delete_file",
            .title = "Delete a file",
            .description = "Deletes one file.",
            .input_schema = json::object{{"type", "object"}, {"required", json::array{"path"}},
                                         {"properties", json::object{{"path", json::object{{"type", "string"}}}}}},
            .output_schema = json::object{{"type", "object"}},
            .annotations = ToolAnnotations{.title = "Delete",
                                           .read_only_hint = false,
                                           .destructive_hint = true,
                                           .idempotent_hint = true,
                                           .open_world_hint = false},
            .icons = {Icon{.src = "https://example.com/trash.png", .mime_type = "image/png", .sizes = {"48x48"}}},
            .meta = json::object{{"example.com/owner", "files"}},
            .handler = text_tool("x")};
  ASSERT_TRUE(h.server.add_tool(std::move(full)).ok());
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "bare", .handler = text_tool("x")}).ok());
  h.initialize();
  json::object r = result_of(h.call("tools/list"));
  const json::array& tools = r.at("tools").as_array();
  ASSERT_EQ(tools.size(), 2u);
  const json::object& bare = tools[0].at("name") == "bare" ? tools[0].as_object() : tools[1].as_object();
  const json::object& listed = tools[0].at("name") == "bare" ? tools[1].as_object() : tools[0].as_object();
  EXPECT_EQ(listed.at("title"), "Delete a file");
  EXPECT_EQ(listed.at("description"), "Deletes one file.");
  EXPECT_EQ(listed.at("inputSchema").at("required"), (json::array{"path"}));
  EXPECT_EQ(listed.at("outputSchema"), (json::object{{"type", "object"}}));
  EXPECT_EQ(listed.at("annotations"), (json::object{{"title", "Delete"},
                                                    {"readOnlyHint", false},
                                                    {"destructiveHint", true},
                                                    {"idempotentHint", true},
                                                    {"openWorldHint", false}}));
  EXPECT_EQ(listed.at("icons").at(0).at("src"), "https://example.com/trash.png");
  EXPECT_EQ(listed.at("icons").at(0).at("mimeType"), "image/png");
  EXPECT_EQ(listed.at("icons").at(0).at("sizes"), (json::array{"48x48"}));
  EXPECT_EQ(listed.at("_meta").at("example.com/owner"), "files");
  EXPECT_EQ(bare, (json::object{{"name", "bare"}, {"inputSchema", json::object{{"type", "object"}}}}))
      << "nothing that was not set";
}

TEST(McpServer, ToolArgumentsAreValidatedBeforeTheHandler) {
  Harness h;
  std::atomic<int> runs{0};
  ASSERT_TRUE(h.server
                  .add_tool(Tool{.name = "add",
                                 .input_schema = json::parse(R"({"type":"object","properties":{"a":{"type":"integer"},
                                   "b":{"type":"integer","maximum":10}},"required":["a","b"],"additionalProperties":false})")
                                                     .as_object(),
                                 .handler = [&runs](Context&, const json::object& args) -> asio::awaitable<ToolResult> {
                                   ++runs;
                                   co_return ToolResult::text(std::to_string(args.at("a").as_int64() + args.at("b").as_int64()));
                                 }})
                  .ok());
  h.initialize("2025-11-25");
  json::object good = result_of(h.call("tools/call", json::object{{"name", "add"}, {"arguments", {{"a", 2}, {"b", 3}}}}));
  EXPECT_EQ(good.at("content").as_array()[0].at("text").as_string(), "5");
  EXPECT_FALSE(good.contains("isError"));

  for (const char* args : {R"({"a":1})", R"({"a":"1","b":2})", R"({"a":1,"b":11})", R"({"a":1,"b":2,"c":3})"}) {
    json::object r = result_of(h.call("tools/call", json::object{{"name", "add"}, {"arguments", json::parse(args)}}));
    EXPECT_TRUE(r.at("isError").as_bool()) << args;
    EXPECT_NE(std::string(r.at("content").as_array()[0].at("text").as_string()).find("Invalid arguments for tool add"),
              std::string::npos);
  }
  EXPECT_EQ(runs.load(), 1);
  Message not_object = h.call("tools/call", json::object{{"name", "add"}, {"arguments", json::array{1}}});
  EXPECT_EQ(not_object.error.code, rpc::kInvalidParams);
  Message unknown = h.call("tools/call", json::object{{"name", "nope"}});
  EXPECT_EQ(unknown.error.code, rpc::kInvalidParams);
}

TEST(McpServer, OlderVersionsGetValidationAsProtocolError) {
  Harness h;
  ASSERT_TRUE(h.server
                  .add_tool(Tool{.name = "t",
                                 .input_schema = json::parse(R"({"type":"object","required":["x"]})").as_object(),
                                 .handler = text_tool("x")})
                  .ok());
  h.initialize("2025-06-18");
  Message m = h.call("tools/call", json::object{{"name", "t"}, {"arguments", json::object{}}});
  ASSERT_EQ(m.kind, MessageKind::kError);
  EXPECT_EQ(m.error.code, rpc::kInvalidParams);
}

TEST(McpServer, HandlerErrorsAndOutputSchema) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "throws", .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
    throw std::runtime_error("kaboom");
    co_return ToolResult{};
  }}).ok());
  json::object schema = json::parse(R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})").as_object();
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "good", .output_schema = schema, .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
    co_return ToolResult::structured(json::object{{"n", 1}});
  }}).ok());
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "bad", .output_schema = schema, .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
    co_return ToolResult::structured(json::object{{"n", "one"}});
  }}).ok());
  h.initialize();
  json::object thrown = result_of(h.call("tools/call", json::object{{"name", "throws"}}));
  EXPECT_TRUE(thrown.at("isError").as_bool());
  EXPECT_EQ(thrown.at("content").as_array()[0].at("text").as_string(), "kaboom");
  json::object good = result_of(h.call("tools/call", json::object{{"name", "good"}}));
  EXPECT_EQ(good.at("structuredContent").at("n").as_int64(), 1);
  Message bad = h.call("tools/call", json::object{{"name", "bad"}});
  ASSERT_EQ(bad.kind, MessageKind::kError);
  EXPECT_EQ(bad.error.code, rpc::kInternalError);
}

TEST(McpServer, InterceptorRunsAfterValidationAndCanAnswer) {
  Harness h;
  std::atomic<int> handler_runs{0};
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "paid",
                                     .input_schema = json::parse(R"({"type":"object","required":["q"]})").as_object(),
                                     .handler = [&](Context&, const json::object&) -> asio::awaitable<ToolResult> {
                                       ++handler_runs;
                                       co_return ToolResult::text("ran");
                                     }})
                  .ok());
  std::atomic<int> intercepted{0};
  h.server.set_tool_interceptor([&](Context& ctx, const Tool&, const json::object& args) -> asio::awaitable<std::optional<ToolResult>> {
    ++intercepted;
    if (args.at("q").as_string() == "deny") co_return ToolResult::error("payment required");
    (void)ctx;
    co_return std::nullopt;
  });
  h.initialize();
  json::object invalid = result_of(h.call("tools/call", json::object{{"name", "paid"}, {"arguments", json::object{}}}));
  EXPECT_TRUE(invalid.at("isError").as_bool());
  EXPECT_EQ(intercepted.load(), 0) << "a malformed call never reaches the interceptor";
  json::object denied = result_of(h.call("tools/call", json::object{{"name", "paid"}, {"arguments", {{"q", "deny"}}}}));
  EXPECT_EQ(denied.at("content").as_array()[0].at("text").as_string(), "payment required");
  json::object allowed = result_of(h.call("tools/call", json::object{{"name", "paid"}, {"arguments", {{"q", "ok"}}}}));
  EXPECT_EQ(allowed.at("content").as_array()[0].at("text").as_string(), "ran");
  EXPECT_EQ(handler_runs.load(), 1);
}

TEST(McpServer, CancellationStopsTheHandlerAndSuppressesTheAnswer) {
  Harness h;
  std::atomic<bool> saw_cancel{false};
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "slow", .handler = [&](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    auto op = ctx.sleep_for(60s);
    bool finished = co_await std::move(op);
    saw_cancel = !finished && ctx.cancelled();
    co_return ToolResult::text("done");
  }}).ok());
  h.initialize();
  h.deliver(Message::request(100, "tools/call", json::object{{"name", "slow"}}));
  h.deliver(Message::notification("notifications/cancelled", json::object{{"requestId", 100}, {"reason", "user"}}));
  auto answer = h.output->wait_response(100);
  ASSERT_TRUE(answer.has_value());
  EXPECT_FALSE(answer->has_value()) << "a cancelled request is not answered";
  EXPECT_TRUE(saw_cancel.load());
}

TEST(McpServer, ProgressOnlyWithAToken) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "p", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    ctx.report_progress(1, 2, "half");
    ctx.report_progress(2.5);
    co_return ToolResult::text("ok");
  }}).ok());
  h.initialize();
  h.call("tools/call", json::object{{"name", "p"}});
  EXPECT_TRUE(h.output->sent().empty());
  h.call("tools/call", json::object{{"name", "p"}, {"_meta", {{"progressToken", "tok"}}}});
  auto sent = h.output->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].message.method, "notifications/progress");
  EXPECT_EQ(sent[0].message.params.at("progressToken").as_string(), "tok");
  EXPECT_EQ(sent[0].message.params.at("progress").as_int64(), 1);
  EXPECT_EQ(sent[0].message.params.at("total").as_int64(), 2);
  EXPECT_EQ(sent[0].message.params.at("message").as_string(), "half");
  EXPECT_EQ(sent[1].message.params.at("progress").as_double(), 2.5);
  ASSERT_TRUE(sent[0].related.has_value());
  EXPECT_EQ(*sent[0].related, RequestId(3));
}

TEST(McpServer, LoggingLevels) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "log", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    ctx.log(LogLevel::kInfo, "info message");
    ctx.log(LogLevel::kError, json::object{{"detail", 1}}, "db");
    co_return ToolResult::text("ok");
  }}).ok());
  h.initialize();
  EXPECT_EQ(h.call("logging/setLevel", json::object{{"level", "loud"}}).error.code, rpc::kInvalidParams);
  EXPECT_TRUE(result_of(h.call("logging/setLevel", json::object{{"level", "warning"}})).empty());
  h.call("tools/call", json::object{{"name", "log"}});
  auto sent = h.output->sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].message.params.at("level").as_string(), "error");
  EXPECT_EQ(sent[0].message.params.at("logger").as_string(), "db");
  h.server.log(LogLevel::kDebug, "dropped");
  h.server.log(LogLevel::kCritical, "broadcast");
  sent = h.output->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_FALSE(sent[1].related.has_value());
}

TEST(McpServer, RequestsToTheClient) {
  Harness h(ServerOptions{.client_request_timeout_ms = 200});
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "ask", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    json::object params{{"messages", json::array{}}, {"maxTokens", 10}};
    auto op = ctx.create_message(std::move(params));
    RpcResponse r = co_await std::move(op);
    if (!r.ok()) co_return ToolResult::error(std::to_string(r.error->code) + " " + r.error->message);
    co_return ToolResult::text(json::serialize(r.result));
  }}).ok());
  h.initialize("2025-11-25", json::object{{"sampling", json::object{}}});

  // Answered.
  h.deliver(Message::request(50, "tools/call", json::object{{"name", "ask"}}));
  auto asked = h.output->wait_sent([](const auto& s) { return s.message.method == "sampling/createMessage"; });
  ASSERT_TRUE(asked);
  EXPECT_EQ(*asked->related, RequestId(50));
  h.deliver(Message::response(asked->message.id, json::object{{"model", "m"}}));
  auto answer = h.output->wait_response(50);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ(result_of(**answer).at("content").as_array()[0].at("text").as_string(), R"({"model":"m"})");

  // Not answered: times out and tells the client.
  json::object timed = result_of(h.call("tools/call", json::object{{"name", "ask"}}));
  EXPECT_TRUE(timed.at("isError").as_bool());
  EXPECT_EQ(std::string(timed.at("content").as_array()[0].at("text").as_string()).substr(0, 6), "-32001");
  EXPECT_TRUE(h.output->wait_sent([](const auto& s) { return s.message.method == "notifications/cancelled"; }));
}

TEST(McpServer, RequestsToTheClientEndedHereAreCancelledThere) {
  // However the server stops waiting for the client (its own CancelSource, or the request
  // the question serves being cancelled), the client hears of it with notifications/cancelled.
  Harness h;
  auto give_up = std::make_shared<CancelSource>();
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "ask", .handler = [give_up](Context& ctx, const json::object& args) -> asio::awaitable<ToolResult> {
    json::object params{{"message", "name?"}, {"requestedSchema", {{"type", "object"}}}};
    auto op = args.contains("cancellable") ? ctx.request("elicitation/create", std::move(params), give_up)
                                           : ctx.elicit(std::move(params));
    RpcResponse r = co_await std::move(op);
    co_return r.ok() ? ToolResult::text("answered") : ToolResult::error(std::to_string(r.error->code) + " " + r.error->message);
  }}).ok());
  h.initialize("2025-11-25", json::object{{"elicitation", json::object{}}});
  auto cancelled_notice = [&](std::int64_t asked_id) {
    return h.output->wait_sent([asked_id](const auto& s) {
      const json::value* id = s.message.params.if_contains("requestId");
      return s.message.method == "notifications/cancelled" && id && *id == json::value(asked_id);
    });
  };

  h.deliver(Message::request(80, "tools/call", json::object{{"name", "ask"}, {"arguments", {{"cancellable", true}}}}));
  auto asked = h.output->wait_sent([](const auto& s) { return s.message.method == "elicitation/create"; });
  ASSERT_TRUE(asked);
  give_up->cancel("the upstream gave up");
  auto answer = h.output->wait_response(80);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ(result_of(**answer).at("content").as_array()[0].at("text").as_string(),
            std::to_string(rpc::kRequestCancelled) + " elicitation/create was cancelled: the upstream gave up");
  auto notice = cancelled_notice(asked->message.id.number());
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->message.params.at("reason").as_string(), "the upstream gave up");

  // The call the question serves is cancelled: its question is withdrawn too.
  h.deliver(Message::request(81, "tools/call", json::object{{"name", "ask"}}));
  auto second = h.output->wait_sent([](const auto& s) {
    return s.message.method == "elicitation/create" && s.related == RequestId(81);
  });
  ASSERT_TRUE(second);
  h.deliver(Message::notification("notifications/cancelled", json::object{{"requestId", 81}}));
  EXPECT_TRUE(cancelled_notice(second->message.id.number()));
}

TEST(McpAsync, OneShotTakesTheFirstDeliveryOnlyEvenAfterItWasTaken) {
  // A late timeout or cancel must not count as a second answer once the first was taken
  // (the server would then tell the client it gave up on a request that was answered).
  asio::io_context io;
  auto shot = std::make_shared<detail::OneShot<int>>(io.get_executor());
  EXPECT_TRUE(shot->deliver(1));
  EXPECT_FALSE(shot->deliver(2));
  int got = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { got = co_await shot->take(); }, asio::detached);
  io.run();
  EXPECT_EQ(got, 1);
  EXPECT_FALSE(shot->deliver(3));
}

// A handler's own wait and the request it passes its CancelSource on to both hear of a
// cancel: hooks add up, and each wait removes only its own.
TEST(McpAsync, CancelSourceRunsEveryHookOnce) {
  CancelSource source;
  std::vector<std::string> ran;
  source.add_hook([&](const std::string& why) { ran.push_back("first: " + why); });
  auto removed = source.add_hook([&](const std::string&) { ran.push_back("removed"); });
  source.add_hook([&](const std::string& why) { ran.push_back("third: " + why); });
  source.remove_hook(removed);
  source.cancel("stop");
  source.cancel("again");  // once
  EXPECT_EQ(ran, (std::vector<std::string>{"first: stop", "third: stop"}));
  source.add_hook([&](const std::string& why) { ran.push_back("late: " + why); });  // at once
  EXPECT_EQ(ran.back(), "late: stop");

  CancelSource cleared;
  cleared.add_hook([&](const std::string&) { ran.push_back("cleared"); });
  cleared.clear_hooks();
  cleared.cancel("x");
  EXPECT_TRUE(cleared.cancelled());
  EXPECT_EQ(ran.size(), 3u);
}

TEST(McpServer, RequestsToTheClientNeedTheCapability) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "ask", .handler = form_elicitation_tool()}).ok());
  h.initialize("2025-11-25", json::object{{"sampling", json::object{}}});
  json::object r = result_of(h.call("tools/call", json::object{{"name", "ask"}}));
  EXPECT_TRUE(r.at("isError").as_bool());
  EXPECT_NE(std::string(r.at("content").as_array()[0].at("text").as_string()).find("elicitation"), std::string::npos);
}

TEST(McpServer, RequestsToTheClientNeedTheSubCapability) {
  // "elicitation": {} means form mode only; tool use in sampling needs "sampling": {"tools": {}}.
  // A request the client did not declare is refused here and never sent.
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "ask", .handler = [](Context& ctx, const json::object& args) -> asio::awaitable<ToolResult> {
    json::object params = args.at("params").as_object();
    auto op = args.at("method").as_string() == "elicit" ? ctx.elicit(std::move(params)) : ctx.create_message(std::move(params));
    RpcResponse r = co_await std::move(op);
    co_return r.ok() ? ToolResult::text("answered") : ToolResult::error(r.error->message);
  }}).ok());
  h.initialize("2025-11-25", json::object{{"elicitation", json::object{}}, {"sampling", json::object{}}});
  auto refused = [&](json::object args, std::string_view needed) {
    json::object r = result_of(h.call("tools/call", json::object{{"name", "ask"}, {"arguments", std::move(args)}}));
    EXPECT_TRUE(r.at("isError").as_bool());
    EXPECT_NE(std::string(r.at("content").as_array()[0].at("text").as_string()).find(needed), std::string::npos) << r;
  };
  json::object url{{"mode", "url"}, {"message", "sign in"}, {"url", "https://example.com/"}, {"elicitationId", "e1"}};
  refused(json::object{{"method", "elicit"}, {"params", url}}, "elicitation.url");
  json::object with_tools{{"messages", json::array{}}, {"maxTokens", 10}, {"tools", json::array{}}};
  refused(json::object{{"method", "sample"}, {"params", with_tools}}, "sampling.tools");
  EXPECT_TRUE(h.output->sent().empty());

  // What was declared still goes out: a form elicitation (no mode given).
  json::object form{{"message", "hi"}, {"requestedSchema", {{"type", "object"}}}};
  h.deliver(Message::request(70, "tools/call", json::object{{"name", "ask"}, {"arguments", {{"method", "elicit"}, {"params", form}}}}));
  auto asked = h.output->wait_sent([](const auto& s) { return s.message.method == "elicitation/create"; });
  ASSERT_TRUE(asked);
  h.deliver(Message::response(asked->message.id, json::object{{"action", "decline"}}));
  auto answer = h.output->wait_response(70);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ(result_of(**answer).at("content").as_array()[0].at("text").as_string(), "answered");

  // A client that declared only URL mode gets no form elicitation.
  Harness url_only;
  ASSERT_TRUE(url_only.server.add_tool(Tool{.name = "ask", .handler = form_elicitation_tool()}).ok());
  url_only.initialize("2025-11-25", json::object{{"elicitation", json::object{{"url", json::object{}}}}});
  json::object r = result_of(url_only.call("tools/call", json::object{{"name", "ask"}}));
  EXPECT_TRUE(r.at("isError").as_bool());
  EXPECT_NE(std::string(r.at("content").as_array()[0].at("text").as_string()).find("elicitation.form"), std::string::npos);
}

TEST(McpServer, LoggingOffSendsNoLogMessages) {
  // "Servers that emit log message notifications MUST declare the logging capability."
  Harness h(ServerOptions{.logging = false});
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "log", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    ctx.log(LogLevel::kEmergency, "from the handler");
    co_return ToolResult::text("ok");
  }}).ok());
  EXPECT_FALSE(result_of(h.initialize()).at("capabilities").as_object().contains("logging"));
  EXPECT_EQ(h.call("logging/setLevel", json::object{{"level", "debug"}}).error.code, rpc::kMethodNotFound);
  EXPECT_EQ(result_of(h.call("tools/call", json::object{{"name", "log"}})).at("content").as_array()[0].at("text").as_string(), "ok");
  h.server.log(LogLevel::kEmergency, "broadcast");
  h.call("ping");  // after the broadcast, in order
  EXPECT_TRUE(h.output->sent().empty());
}

TEST(McpServer, InFlightLimitOnePast) {
  Harness h(ServerOptions{.max_in_flight_requests = 2});
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "slow", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    auto op = ctx.sleep_for(60s);
    co_await std::move(op);
    co_return ToolResult::text("done");
  }}).ok());
  h.initialize();
  h.deliver(Message::request(201, "tools/call", json::object{{"name", "slow"}}));
  h.deliver(Message::request(202, "tools/call", json::object{{"name", "slow"}}));
  h.deliver(Message::request(203, "tools/call", json::object{{"name", "slow"}}));
  auto third = h.output->wait_response(203);
  ASSERT_TRUE(third && *third);
  EXPECT_EQ((*third)->error.code, rpc::kServerError);
  // A duplicate id of a request in flight is refused too.
  h.deliver(Message::request(201, "ping"));
  h.deliver(Message::notification("notifications/cancelled", json::object{{"requestId", 201}}));
  h.deliver(Message::notification("notifications/cancelled", json::object{{"requestId", 202}}));
  EXPECT_TRUE(h.output->wait_response(202).has_value());
}

TEST(McpServer, DuplicateIdInFlight) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "slow", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    auto op = ctx.sleep_for(60s);
    co_await std::move(op);
    co_return ToolResult::text("done");
  }}).ok());
  h.initialize();
  h.deliver(Message::request(301, "tools/call", json::object{{"name", "slow"}}));
  h.deliver(Message::request(301, "ping"));
  auto answer = h.output->wait_response(301);
  ASSERT_TRUE(answer && *answer);
  EXPECT_EQ((*answer)->error.code, rpc::kInvalidRequest);
  h.deliver(Message::notification("notifications/cancelled", json::object{{"requestId", 301}}));
}

asio::awaitable<Result<json::array>> read_fixed(Context&, const std::string& uri, const std::map<std::string, std::string>& vars) {
  std::string text = "content of " + uri;
  for (auto& [k, v] : vars) text += " " + k + "=" + v;
  co_return json::array{text_resource_contents(uri, "text/plain", text)};
}

TEST(McpServer, ResourcesTemplatesAndSubscriptions) {
  Harness h;
  ASSERT_TRUE(h.server.add_resource(Resource{.uri = "file:///a.txt", .name = "a", .mime_type = "text/plain", .read = read_fixed}).ok());
  ASSERT_TRUE(h.server.add_resource_template(ResourceTemplate{.uri_template = "db://{table}/rows/{id}", .name = "rows", .read = read_fixed}).ok());
  ASSERT_TRUE(h.server.add_resource(Resource{
      .uri = "file:///missing", .name = "m",
      .read = [](Context&, const std::string&, const std::map<std::string, std::string>&) -> asio::awaitable<Result<json::array>> {
        co_return Error{ErrorCode::kNotFound, "gone"};
      }}).ok());
  h.initialize();
  EXPECT_EQ(result_of(h.call("resources/list")).at("resources").as_array().size(), 2u);
  EXPECT_EQ(result_of(h.call("resources/templates/list")).at("resourceTemplates").as_array()[0].at("uriTemplate").as_string(),
            "db://{table}/rows/{id}");
  json::object read = result_of(h.call("resources/read", json::object{{"uri", "file:///a.txt"}}));
  EXPECT_EQ(read.at("contents").as_array()[0].at("text").as_string(), "content of file:///a.txt");
  json::object templated = result_of(h.call("resources/read", json::object{{"uri", "db://users/rows/4%202"}}));
  EXPECT_EQ(templated.at("contents").as_array()[0].at("text").as_string(), "content of db://users/rows/4%202 id=4 2 table=users");
  Message missing = h.call("resources/read", json::object{{"uri", "db://users/rows"}});
  EXPECT_EQ(missing.error.code, rpc::kResourceNotFound);
  EXPECT_EQ(missing.error.data.at("uri").as_string(), "db://users/rows");
  EXPECT_EQ(h.call("resources/read", json::object{{"uri", "file:///missing"}}).error.code, rpc::kResourceNotFound);

  EXPECT_TRUE(result_of(h.call("resources/subscribe", json::object{{"uri", "file:///a.txt"}})).empty());
  h.server.notify_resource_updated("file:///other");
  h.server.notify_resource_updated("file:///a.txt");
  auto updated = h.output->wait_sent([](const auto& s) { return s.message.method == "notifications/resources/updated"; });
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->message.params.at("uri").as_string(), "file:///a.txt");
  EXPECT_TRUE(result_of(h.call("resources/unsubscribe", json::object{{"uri", "file:///a.txt"}})).empty());
  h.server.notify_resource_updated("file:///a.txt");
  h.call("ping");
  EXPECT_EQ(h.output->sent().size(), 1u);
}

TEST(McpServer, SubscriptionLimitOnePast) {
  Harness h;
  h.initialize();
  for (std::size_t i = 0; i < kMaxSubscriptionsPerSession; ++i) {
    ASSERT_EQ(h.call("resources/subscribe", json::object{{"uri", "x://" + std::to_string(i)}}).kind, MessageKind::kResult);
  }
  Message over = h.call("resources/subscribe", json::object{{"uri", "x://one-more"}});
  EXPECT_EQ(over.error.code, rpc::kInvalidParams);
}

TEST(McpServer, UriLengthOnePast) {
  Harness h;
  h.initialize();
  std::string uri = "x://" + std::string(kMaxUriBytes - 4, 'a');
  EXPECT_EQ(h.call("resources/read", json::object{{"uri", uri}}).error.code, rpc::kResourceNotFound);
  EXPECT_EQ(h.call("resources/read", json::object{{"uri", uri + "a"}}).error.code, rpc::kInvalidParams);
  EXPECT_EQ(h.call("resources/subscribe", json::object{{"uri", uri + "a"}}).error.code, rpc::kInvalidParams);
}

TEST(McpServer, PendingClientRequestsOnePast) {
  Harness h(ServerOptions{.client_request_timeout_ms = 60'000, .max_pending_client_requests = 1});
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "ask", .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    auto op = ctx.list_roots();
    RpcResponse r = co_await std::move(op);
    co_return r.ok() ? ToolResult::text("answered") : ToolResult::error(std::to_string(r.error->code));
  }}).ok());
  h.initialize("2025-11-25", json::object{{"roots", json::object{}}});
  h.deliver(Message::request(10, "tools/call", json::object{{"name", "ask"}}));
  auto first = h.output->wait_sent([](const auto& s) { return s.message.method == "roots/list"; });
  ASSERT_TRUE(first);
  // The second call finds the one slot taken and fails at once.
  json::object second = result_of(h.call("tools/call", json::object{{"name", "ask"}}));
  EXPECT_TRUE(second.at("isError").as_bool());
  EXPECT_EQ(second.at("content").as_array()[0].at("text").as_string(), std::to_string(rpc::kServerError));
  h.deliver(Message::response(first->message.id, json::object{{"roots", json::array{}}}));
  auto answered = h.output->wait_response(10);
  ASSERT_TRUE(answered && *answered);
  EXPECT_EQ(result_of(**answered).at("content").as_array()[0].at("text").as_string(), "answered");
}

TEST(McpServer, PromptsAndCompletion) {
  Harness h;
  ASSERT_TRUE(h.server.add_prompt(Prompt{
      .name = "greet", .description = "Greets",
      .arguments = {PromptArgument{.name = "who", .required = true,
                                   .complete = [](std::string_view prefix, const auto&) {
                                     std::vector<std::string> all;
                                     for (int i = 0; i < 150; ++i) all.push_back(std::string(prefix) + std::to_string(i));
                                     return all;
                                   }}},
      .get = [](Context&, const std::map<std::string, std::string>& args) -> asio::awaitable<Result<json::object>> {
        co_return json::object{{"messages", json::array{prompt_message("user", text_content("Hello " + args.at("who")))}}};
      }}).ok());
  h.initialize();
  json::object listed = result_of(h.call("prompts/list"));
  EXPECT_TRUE(listed.at("prompts").as_array()[0].at("arguments").as_array()[0].at("required").as_bool());
  json::object got = result_of(h.call("prompts/get", json::object{{"name", "greet"}, {"arguments", {{"who", "Ada"}}}}));
  EXPECT_EQ(got.at("messages").as_array()[0].at("content").at("text").as_string(), "Hello Ada");
  EXPECT_EQ(h.call("prompts/get", json::object{{"name", "greet"}}).error.code, rpc::kInvalidParams);
  EXPECT_EQ(h.call("prompts/get", json::object{{"name", "greet"}, {"arguments", {{"who", 1}}}}).error.code, rpc::kInvalidParams);
  EXPECT_EQ(h.call("prompts/get", json::object{{"name", "nope"}}).error.code, rpc::kInvalidParams);

  json::object done = result_of(h.call("completion/complete", json::object{{"ref", {{"type", "ref/prompt"}, {"name", "greet"}}},
                                                                           {"argument", {{"name", "who"}, {"value", "A"}}}}));
  const auto& completion = done.at("completion").as_object();
  EXPECT_EQ(completion.at("values").as_array().size(), kMaxCompletionValues);
  EXPECT_EQ(completion.at("total").as_uint64(), 150u);
  EXPECT_TRUE(completion.at("hasMore").as_bool());
  EXPECT_EQ(h.call("completion/complete", json::object{{"ref", {{"type", "ref/prompt"}, {"name", "x"}}},
                                                       {"argument", {{"name", "who"}, {"value", ""}}}})
                .error.code,
            rpc::kInvalidParams);
}

// A fronting server (the gateway) answers completion/complete itself: the handler gets the
// params as sent, its answer (or error) goes back as it is, and completers are not asked.
TEST(McpServer, CompletionHandlerAnswersInPlaceOfCompleters) {
  Harness h;
  bool completer_asked = false;
  ASSERT_TRUE(h.server.add_prompt(Prompt{
      .name = "greet",
      .arguments = {PromptArgument{.name = "who", .complete = [&](std::string_view, const auto&) {
                                     completer_asked = true;
                                     return std::vector<std::string>{"local"};
                                   }}},
      .get = [](Context&, const std::map<std::string, std::string>&) -> asio::awaitable<Result<json::object>> {
        co_return json::object{};
      }}).ok());
  json::object seen;
  h.server.set_completion_handler([&seen](const json::object& params) -> asio::awaitable<RpcResponse> {
    seen = params;
    if (params.at("argument").at("value").as_string() == "fail") co_return RpcResponse::failure(rpc::kInvalidParams, "no");
    co_return RpcResponse::success(json::object{{"completion", {{"values", json::array{"upstream"}}}}});
  });
  h.initialize();
  json::object params{{"ref", {{"type", "ref/prompt"}, {"name", "greet"}}}, {"argument", {{"name", "who"}, {"value", "u"}}}};
  json::object done = result_of(h.call("completion/complete", params));
  EXPECT_EQ(done.at("completion").at("values").as_array()[0].as_string(), "upstream");
  EXPECT_EQ(seen, params);
  EXPECT_FALSE(completer_asked);
  params["argument"].as_object()["value"] = "fail";
  EXPECT_EQ(h.call("completion/complete", params).error.code, rpc::kInvalidParams);
}

TEST(McpServer, ListChangedAfterInitialize) {
  Harness h;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "before", .handler = text_tool("x")}).ok());
  EXPECT_TRUE(h.output->sent().empty()) << "nothing is sent before initialize";
  h.initialize();
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "after", .handler = text_tool("x")}).ok());
  EXPECT_TRUE(h.server.remove_tool("after"));
  EXPECT_FALSE(h.server.remove_tool("after"));
  auto sent = h.output->sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].message.method, "notifications/tools/list_changed");
  EXPECT_FALSE(sent[0].related.has_value());
}

// replace_tool is how a gateway re-mirrors: in place, told to clients only when the
// definition changed, and the naming warning is not repeated.
TEST(McpServer, ReplaceToolSwapsInPlaceAndTellsOnlyOfChanges) {
  std::ostringstream log;
  // Restored however the test ends (an ASSERT returns early): the sink writes into `log`.
  struct Capture {
    std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    explicit Capture(std::ostringstream& out) {
      spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
    }
    ~Capture() { spdlog::set_default_logger(previous); }
  };
  auto capture = std::make_unique<Capture>(log);
  Harness h;
  h.initialize();
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "first", .handler = text_tool("1")}).ok());
  ASSERT_TRUE(h.server.replace_tool(Tool{.name = "bad name", .description = "v1", .handler = text_tool("old")}).ok());
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "last", .handler = text_tool("3")}).ok());
  EXPECT_EQ(h.output->sent().size(), 3u);  // three added
  EXPECT_FALSE(h.server.add_tool(Tool{.name = "bad name", .handler = text_tool("x")}).ok());

  // Same definition, new handler: the handler is swapped, clients are not told.
  ASSERT_TRUE(h.server.replace_tool(Tool{.name = "bad name", .description = "v1", .handler = text_tool("new")}).ok());
  EXPECT_EQ(h.output->sent().size(), 3u);
  json::object called = result_of(h.call("tools/call", json::object{{"name", "bad name"}}));
  EXPECT_EQ(called.at("content").as_array()[0].at("text"), "new");
  // A changed description is a change; the tool keeps its place in the list.
  ASSERT_TRUE(h.server.replace_tool(Tool{.name = "bad name", .description = "v2", .handler = text_tool("new")}).ok());
  EXPECT_EQ(h.output->sent().size(), 4u);
  json::array listed = result_of(h.call("tools/list")).at("tools").as_array();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[1].at("name"), "bad name");
  EXPECT_EQ(listed[1].at("description"), "v2");

  // Resources and prompts the same way.
  ASSERT_TRUE(h.server.replace_resource(Resource{.uri = "file:///r", .name = "r", .read = read_fixed}).ok());
  ASSERT_TRUE(h.server.replace_resource(Resource{.uri = "file:///r", .name = "r", .read = read_fixed}).ok());
  EXPECT_FALSE(h.server.add_resource(Resource{.uri = "file:///r", .name = "r", .read = read_fixed}).ok());
  auto prompt = [](std::string description) {
    return Prompt{.name = "p", .description = std::move(description),
                  .get = [](Context&, const std::map<std::string, std::string>&) -> asio::awaitable<Result<json::object>> {
                    co_return json::object{{"messages", json::array{}}};
                  }};
  };
  ASSERT_TRUE(h.server.replace_prompt(prompt("a")).ok());
  ASSERT_TRUE(h.server.replace_prompt(prompt("a")).ok());
  ASSERT_TRUE(h.server.replace_prompt(prompt("b")).ok());
  auto sent = h.output->sent();
  ASSERT_EQ(sent.size(), 7u);  // the four tool notices, one resource added, a prompt added and changed
  EXPECT_EQ(sent[4].message.method, "notifications/resources/list_changed");
  EXPECT_EQ(sent[5].message.method, "notifications/prompts/list_changed");
  EXPECT_EQ(sent[6].message.method, "notifications/prompts/list_changed");
  EXPECT_EQ(result_of(h.call("prompts/list")).at("prompts").as_array()[0].at("description"), "b");

  capture.reset();
  std::string text = log.str();
  auto first = text.find("\"bad name\" breaks");
  EXPECT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("\"bad name\" breaks", first + 1), std::string::npos) << "warned once: " << text;
}

// URL-mode elicitation: a tool answers tools/call with URLElicitationRequiredError (-32042)
// and its elicitations; when the user is done, possibly long after the call ended, the
// server tells that session (and only a client that declared URL mode).
TEST(McpServer, UrlElicitationRequiredAndItsCompletionLater) {
  for (bool url_mode : {true, false}) {
    Harness h;
    auto handle = std::make_shared<SessionHandle>();
    ASSERT_TRUE(h.server.add_tool(Tool{.name = "connect", .handler = [handle](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
      *handle = ctx.session();
      throw url_elicitation_required(json::array{json::object{
          {"mode", "url"}, {"elicitationId", "e-7"}, {"url", "https://example.com/oauth"}, {"message", "Sign in"}}});
      co_return ToolResult::text("unreachable");
    }}).ok());
    h.initialize("2025-11-25", url_mode ? json::object{{"elicitation", {{"url", json::object{}}}}} : json::object{{"elicitation", json::object{}}});
    Message answer = h.call("tools/call", json::object{{"name", "connect"}});
    ASSERT_EQ(answer.kind, MessageKind::kError);
    EXPECT_EQ(answer.error.code, rpc::kUrlElicitationRequired);
    EXPECT_EQ(answer.error.data.at("elicitations").as_array()[0].at("elicitationId"), "e-7");

    EXPECT_EQ(handle->complete_elicitation("e-7"), url_mode);
    auto sent = h.output->sent();
    if (url_mode) {
      ASSERT_EQ(sent.size(), 1u);
      EXPECT_EQ(sent[0].message.method, "notifications/elicitation/complete");
      EXPECT_EQ(sent[0].message.params.at("elicitationId"), "e-7");
      EXPECT_FALSE(sent[0].related.has_value()) << "the session's own stream, not the ended call's";
    } else {
      EXPECT_TRUE(sent.empty());
    }
    h.session->close();
    EXPECT_FALSE(handle->notify("notifications/message", json::object{}));
  }
}

TEST(McpServer, ContextCarriesTheCaller) {
  Harness h;
  std::string seen;
  ASSERT_TRUE(h.server.add_tool(Tool{.name = "who", .handler = [&seen](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
    seen = ctx.protocol_version() + "|" + std::string(ctx.client_info().at("name").as_string()) + "|" + ctx.method() + "|" +
           (ctx.bearer_token() ? *ctx.bearer_token() : "none");
    co_return ToolResult::text("ok");
  }}).ok());
  h.initialize("2025-06-18");
  h.call("tools/call", json::object{{"name", "who"}});
  EXPECT_EQ(seen, "2025-06-18|t|tools/call|none");
}

TEST(McpServer, ParsesBearerTokens) {
  EXPECT_EQ(parse_bearer("Bearer sk_live_abc"), "sk_live_abc");
  EXPECT_EQ(parse_bearer("bearer   tok  "), "tok");
  EXPECT_FALSE(parse_bearer("Basic abc"));
  EXPECT_FALSE(parse_bearer("Bearer "));
}

}  // namespace
}  // namespace tollgate::mcp
