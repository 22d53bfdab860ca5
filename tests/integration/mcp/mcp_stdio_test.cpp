// The stdio server transport with the real binary (conformance_server --stdio): bad input
// line by line, the line-length limit one past, batches by protocol version, and a clean exit
// when stdin ends.
#include <gtest/gtest.h>

#include <unistd.h>

#include <sstream>
#include <thread>

#include "support/process.hpp"
#include "tollgate/mcp/mcp.hpp"

namespace tollgate::mcp {
namespace {

const std::string kServer = std::string(TOLLGATE_BUILD_DIR) + "/conformance_server";

std::string init_line(std::string_view version) {
  return R"({"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":")" + std::string(version) +
         R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})" "\n";
}

// Runs the server on `input` (stdin then closed) and returns its stdout messages.
std::vector<json::object> run_stdio(const std::string& input, int* exit_status = nullptr, std::string* err = nullptr) {
  auto r = test::run({.args = {kServer, "--stdio"}, .stdin_text = input});
  if (exit_status) *exit_status = r.status;
  if (err) *err = r.err;
  std::vector<json::object> out;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto v = json::parse(line);
    EXPECT_TRUE(v.is_object()) << line;
    if (v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

const json::object* by_id(const std::vector<json::object>& messages, const json::value& id) {
  for (const auto& m : messages) {
    if (m.contains("id") && m.at("id") == id) return &m;
  }
  return nullptr;
}

TEST(McpStdio, AnswersAndExitsWhenInputEnds) {
  int status = -1;
  auto out = run_stdio(init_line("2025-11-25") + R"({"jsonrpc":"2.0","method":"notifications/initialized"})" "\n" +
                           R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_tool_with_progress","_meta":{"progressToken":"t"}}})" "\n",
                       &status);
  EXPECT_EQ(status, 0);
  ASSERT_TRUE(by_id(out, "init"));
  EXPECT_EQ(by_id(out, "init")->at("result").at("protocolVersion").as_string(), "2025-11-25");
  const json::object* call = by_id(out, 2);
  ASSERT_TRUE(call) << "the request in flight at end of input is still answered";
  int progress = 0;
  for (const auto& m : out) progress += m.contains("method") && m.at("method") == "notifications/progress";
  EXPECT_EQ(progress, 3);
}

TEST(McpStdio, BadInputLineByLine) {
  std::string input = init_line("2025-11-25");
  input += "this is not json\n";
  input += "\n";  // blank lines are ignored
  input += R"({"jsonrpc":"2.0","id":3})" "\n";
  input += R"({"jsonrpc":"2.0","id":4,"method":"no/such"})" "\n";
  input += R"([{"jsonrpc":"2.0","id":5,"method":"ping"}])" "\n";  // no batches in 2025-11-25
  input += R"({"jsonrpc":"2.0","id":6,"method":"ping"})" "\r\n";
  input += R"({"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25"}})" "\n";
  auto out = run_stdio(input);
  std::vector<std::int64_t> codes;
  for (const auto& m : out) {
    if (m.contains("error")) codes.push_back(m.at("error").at("code").as_int64());
  }
  EXPECT_EQ(codes, (std::vector<std::int64_t>{rpc::kParseError, rpc::kInvalidRequest, rpc::kMethodNotFound,
                                              rpc::kInvalidRequest, rpc::kInvalidRequest}));
  ASSERT_TRUE(by_id(out, 3));
  EXPECT_EQ(by_id(out, 3)->at("error").at("code").as_int64(), rpc::kInvalidRequest);
  ASSERT_TRUE(by_id(out, 6));
  EXPECT_TRUE(by_id(out, 6)->contains("result"));
}

TEST(McpStdio, RequestsBeforeInitializeAreRefused) {
  auto out = run_stdio(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})" "\n" R"({"jsonrpc":"2.0","id":2,"method":"ping"})" "\n");
  ASSERT_TRUE(by_id(out, 1));
  EXPECT_EQ(by_id(out, 1)->at("error").at("code").as_int64(), rpc::kInvalidRequest);
  ASSERT_TRUE(by_id(out, 2));
  EXPECT_TRUE(by_id(out, 2)->contains("result"));
}

TEST(McpStdio, BatchesFor20250326) {
  auto out = run_stdio(init_line("2025-03-26") +
                       R"([{"jsonrpc":"2.0","id":5,"method":"ping"},{"jsonrpc":"2.0","id":6,"method":"tools/list"}])" "\n");
  EXPECT_TRUE(by_id(out, 5));
  EXPECT_TRUE(by_id(out, 6));
}

TEST(McpStdio, LineLimitOnePast) {
  auto line_of = [](std::size_t size, int id) {
    std::string head = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"ping","params":{"pad":")";
    std::string tail = R"("}})";
    return head + std::string(size - head.size() - tail.size(), 'x') + tail + "\n";
  };
  auto out = run_stdio(init_line("2025-11-25") + line_of(kMaxStdioLineBytes, 7) + line_of(kMaxStdioLineBytes + 1, 8) +
                       R"({"jsonrpc":"2.0","id":9,"method":"ping"})" "\n");
  ASSERT_TRUE(by_id(out, 7));
  EXPECT_TRUE(by_id(out, 7)->contains("result"));
  EXPECT_FALSE(by_id(out, 8)) << "the oversized line is answered without its id";
  bool too_long = false;
  for (const auto& m : out) {
    if (m.contains("error") && m.at("id").is_null() && m.at("error").at("code").as_int64() == rpc::kParseError) too_long = true;
  }
  EXPECT_TRUE(too_long);
  ASSERT_TRUE(by_id(out, 9)) << "the server goes on after an oversized line";
}

// In process, on pipes: the stdio transport gives handlers AGENT_TOKEN as the bearer token.
TEST(McpStdio, AgentTokenIsTheBearerToken) {
  Server server(Implementation{.name = "stdio-test", .version = "1"});
  ASSERT_TRUE(server.add_tool(Tool{.name = "whoami", .handler = [](Context& ctx, const json::object&) -> boost::asio::awaitable<ToolResult> {
    co_return ToolResult::text(ctx.bearer_token().value_or("anonymous") + "|" +
                               (ctx.request_info().transport == RequestInfo::Transport::kStdio ? "stdio" : "other"));
  }}).ok());
  int to_server[2];
  int from_server[2];
  ASSERT_EQ(::pipe(to_server), 0);
  ASSERT_EQ(::pipe(from_server), 0);
  ::setenv("AGENT_TOKEN", "sk_live_from_env", 1);
  std::thread serving([&] {
    serve_stdio(server, StdioOptions{.input_fd = to_server[0], .output_fd = from_server[1]});
    ::close(from_server[1]);
  });
  std::string input = init_line("2025-11-25") + R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}})" "\n";
  ASSERT_EQ(::write(to_server[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::close(to_server[1]);  // end of input: the server answers and returns
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = ::read(from_server[0], buf, sizeof(buf))) > 0;) output.append(buf, static_cast<std::size_t>(n));
  serving.join();
  ::close(to_server[0]);
  ::close(from_server[0]);
  ::unsetenv("AGENT_TOKEN");
  EXPECT_NE(output.find("sk_live_from_env|stdio"), std::string::npos) << output;
}

// stdout carries only protocol messages; the server's own log goes to stderr, which a
// desktop client keeps as the server's log: what serves and whether a key came (never the
// key), a line that is not a message, and the end of input.
TEST(McpStdio, LogsGoToStderrAndNeverTheKey) {
  const std::string key = "sk_live_" + std::string(64, 'a');
  auto r = test::run({.args = {kServer, "--stdio", "--log-level", "info"},
                      .env = {{"AGENT_TOKEN", key}},
                      .stdin_text = init_line("2025-11-25") + "{not json\n" +
                                    R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text"}})" "\n"});
  EXPECT_EQ(r.status, 0);
  std::istringstream lines(r.out);
  int messages = 0;
  for (std::string line; std::getline(lines, line); ++messages) {
    EXPECT_TRUE(json::parse(line).is_object()) << "not a message on stdout: " << line;
  }
  EXPECT_EQ(messages, 3) << "the initialize answer, the parse error, the call's answer";
  EXPECT_NE(r.err.find("mcp stdio: serving tollgate-conformance"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("with the agent key in AGENT_TOKEN"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("an input line is not a valid message"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("input ended"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(std::string(64, 'a').substr(0, 16)), std::string::npos) << "the key in the log: " << r.err;
}

}  // namespace
}  // namespace tollgate::mcp
