// conformance_server: the fixtures the official MCP conformance suite
// (@modelcontextprotocol/conformance) expects of a server, served over Streamable HTTP
// (`--listen HOST:PORT`, endpoint /mcp) or stdio (`--stdio`). Also the server the interop
// tests and benchmarks talk to.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "common/log.hpp"
#include "tollgate/mcp/server.hpp"
#include "tollgate/mcp/transport.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace tollgate::mcp;

// A 1x1 red PNG and a minimal WAV (the suite checks presence and MIME types, not pixels).
constexpr std::string_view kTestImageBase64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
constexpr std::string_view kTestAudioBase64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

json::object string_property(std::string_view description) {
  return json::object{{"type", "string"}, {"description", description}};
}

json::object object_schema(json::object properties, json::array required = {}) {
  json::object schema{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) schema["required"] = std::move(required);
  return schema;
}

// The text of a sampling result: content is one block (or, since 2025-11-25, an array).
std::string sampled_text(const json::value& result) {
  if (!result.is_object()) return "No response";
  const json::value* content = result.get_object().if_contains("content");
  if (content && content->is_array() && !content->get_array().empty()) content = &content->get_array()[0];
  if (content && content->is_object()) {
    if (const json::value* text = content->get_object().if_contains("text"); text && text->is_string()) {
      return std::string(text->get_string());
    }
  }
  return "No response";
}

std::string elicitation_summary(std::string_view prefix, const RpcResponse& answer) {
  if (!answer.ok()) return "Elicitation not supported or error: " + answer.error->message;
  std::string action = "unknown";
  json::value content = json::object{};
  if (answer.result.is_object()) {
    const auto& r = answer.result.get_object();
    if (const json::value* a = r.if_contains("action"); a && a->is_string()) action = std::string(a->get_string());
    if (const json::value* c = r.if_contains("content"); c && !c->is_null()) content = *c;
  }
  return std::string(prefix) + "action=" + action + ", content=" + json::serialize(content);
}

asio::awaitable<ToolResult> elicit_with(Context& ctx, std::string message, json::object schema, std::string prefix) {
  json::object params{{"message", std::move(message)}, {"requestedSchema", std::move(schema)}};
  auto op = ctx.elicit(std::move(params));
  RpcResponse answer = co_await std::move(op);
  co_return ToolResult::text(elicitation_summary(prefix, answer));
}

void check(tollgate::Status status) {
  if (!status) throw std::runtime_error(status.error().message);
}

void add_tools(Server& server) {
  check(server.add_tool(Tool{
      .name = "test_simple_text",
      .description = "Tests simple text content response",
      .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
        co_return ToolResult::text("This is a simple text response for testing.");
      }}));
  check(server.add_tool(Tool{
      .name = "test_image_content",
      .description = "Tests image content response",
      .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
        ToolResult r;
        r.add(image_content(kTestImageBase64, "image/png"));
        co_return r;
      }}));
  check(server.add_tool(Tool{
      .name = "test_audio_content",
      .description = "Tests audio content response",
      .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
        ToolResult r;
        r.add(audio_content(kTestAudioBase64, "audio/wav"));
        co_return r;
      }}));
  check(server.add_tool(Tool{
      .name = "test_embedded_resource",
      .description = "Tests embedded resource content response",
      .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
        ToolResult r;
        r.add(embedded_text_resource("test://embedded-resource", "text/plain", "This is an embedded resource content."));
        co_return r;
      }}));
  check(server.add_tool(Tool{
      .name = "test_multiple_content_types",
      .description = "Tests response with multiple content types (text, image, resource)",
      .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
        ToolResult r = ToolResult::text("Multiple content types test:");
        r.add(image_content(kTestImageBase64, "image/png"));
        r.add(embedded_text_resource("test://mixed-content-resource", "application/json", R"({"test":"data","value":123})"));
        co_return r;
      }}));
  check(server.add_tool(Tool{
      .name = "test_tool_with_logging",
      .description = "Tests tool that emits log messages during execution",
      .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
        ctx.log(LogLevel::kInfo, "Tool execution started");
        auto first = ctx.sleep_for(std::chrono::milliseconds(50));
        co_await std::move(first);
        ctx.log(LogLevel::kInfo, "Tool processing data");
        auto second = ctx.sleep_for(std::chrono::milliseconds(50));
        co_await std::move(second);
        ctx.log(LogLevel::kInfo, "Tool execution completed");
        co_return ToolResult::text("Tool with logging executed successfully");
      }}));
  check(server.add_tool(Tool{
      .name = "test_tool_with_progress",
      .description = "Tests tool that reports progress notifications",
      .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
        for (int step : {0, 50, 100}) {
          ctx.report_progress(step, 100, "Completed step " + std::to_string(step) + " of 100");
          if (step == 100) break;
          auto pause = ctx.sleep_for(std::chrono::milliseconds(50));
          co_await std::move(pause);
        }
        const json::value* token = ctx.meta().if_contains("progressToken");
        co_return ToolResult::text(token ? (token->is_string() ? std::string(token->get_string()) : json::serialize(*token)) : "0");
      }}));
  check(server.add_tool(Tool{
      .name = "test_error_handling",
      .description = "Tests error response handling",
      .handler = [](Context&, const json::object&) -> asio::awaitable<ToolResult> {
        co_return ToolResult::error("This tool intentionally returns an error for testing");
      }}));
  check(server.add_tool(Tool{
      .name = "test_reconnection",
      .description =
          "Tests SSE stream disconnection and client reconnection (SEP-1699). Server will close the stream mid-call "
          "and send the result after client reconnects.",
      .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
        ctx.close_sse_stream();
        auto pause = ctx.sleep_for(std::chrono::milliseconds(100));
        co_await std::move(pause);
        co_return ToolResult::text(
            "Reconnection test completed successfully. If you received this, the client properly reconnected after "
            "stream closure.");
      }}));
  check(server.add_tool(Tool{
      .name = "test_sampling",
      .description = "Tests server-initiated sampling (LLM completion request)",
      .input_schema = object_schema(json::object{{"prompt", string_property("The prompt to send to the LLM")}},
                                    json::array{"prompt"}),
      .handler = [](Context& ctx, const json::object& args) -> asio::awaitable<ToolResult> {
        json::object message{{"role", "user"}, {"content", text_content(args.at("prompt").as_string())}};
        json::object params{{"messages", json::array{std::move(message)}}, {"maxTokens", 100}};
        auto op = ctx.create_message(std::move(params));
        RpcResponse answer = co_await std::move(op);
        if (!answer.ok()) co_return ToolResult::text("Sampling not supported or error: " + answer.error->message);
        co_return ToolResult::text("LLM response: " + sampled_text(answer.result));
      }}));
  check(server.add_tool(Tool{
      .name = "test_elicitation",
      .description = "Tests server-initiated elicitation (user input request)",
      .input_schema = object_schema(json::object{{"message", string_property("The message to show the user")}},
                                    json::array{"message"}),
      .handler = [](Context& ctx, const json::object& args) -> asio::awaitable<ToolResult> {
        json::object schema = object_schema(
            json::object{{"username", string_property("User's response")}, {"email", string_property("User's email address")}},
            json::array{"username", "email"});
        std::string message(args.at("message").as_string());
        auto op = elicit_with(ctx, std::move(message), std::move(schema), "User response: ");
        co_return co_await std::move(op);
      }}));
  check(server.add_tool(Tool{
      .name = "test_elicitation_sep1034_defaults",
      .description = "Tests elicitation with default values per SEP-1034",
      .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
        json::object props{
            {"name", {{"type", "string"}, {"description", "User name"}, {"default", "John Doe"}}},
            {"age", {{"type", "integer"}, {"description", "User age"}, {"default", 30}}},
            {"score", {{"type", "number"}, {"description", "User score"}, {"default", 95.5}}},
            {"status",
             {{"type", "string"},
              {"description", "User status"},
              {"enum", {"active", "inactive", "pending"}},
              {"default", "active"}}},
            {"verified", {{"type", "boolean"}, {"description", "Verification status"}, {"default", true}}},
        };
        json::object schema{{"type", "object"}, {"properties", std::move(props)}, {"required", json::array{}}};
        auto op = elicit_with(ctx, "Please review and update the form fields with defaults", std::move(schema),
                              "Elicitation completed: ");
        co_return co_await std::move(op);
      }}));
  check(server.add_tool(Tool{
      .name = "test_elicitation_sep1330_enums",
      .description = "Tests elicitation with enum schema improvements per SEP-1330",
      .handler = [](Context& ctx, const json::object&) -> asio::awaitable<ToolResult> {
        auto titled = [](std::initializer_list<std::pair<std::string_view, std::string_view>> options) {
          json::array out;
          for (auto [value, title] : options) out.push_back(json::object{{"const", value}, {"title", title}});
          return out;
        };
        json::object props{
            {"untitledSingle",
             {{"type", "string"}, {"description", "Select one option"}, {"enum", {"option1", "option2", "option3"}}}},
            {"titledSingle",
             {{"type", "string"},
              {"description", "Select one option with titles"},
              {"oneOf", titled({{"value1", "First Option"}, {"value2", "Second Option"}, {"value3", "Third Option"}})}}},
            {"legacyEnum",
             {{"type", "string"},
              {"description", "Select one option (legacy)"},
              {"enum", {"opt1", "opt2", "opt3"}},
              {"enumNames", {"Option One", "Option Two", "Option Three"}}}},
            {"untitledMulti",
             {{"type", "array"},
              {"description", "Select multiple options"},
              {"minItems", 1},
              {"maxItems", 3},
              {"items", {{"type", "string"}, {"enum", {"option1", "option2", "option3"}}}}}},
            {"titledMulti",
             {{"type", "array"},
              {"description", "Select multiple options with titles"},
              {"minItems", 1},
              {"maxItems", 3},
              {"items",
               {{"anyOf", titled({{"value1", "First Choice"}, {"value2", "Second Choice"}, {"value3", "Third Choice"}})}}}}},
        };
        json::object schema{{"type", "object"}, {"properties", std::move(props)}, {"required", json::array{}}};
        auto op = elicit_with(ctx, "Please select options from the enum fields", std::move(schema), "Elicitation completed: ");
        co_return co_await std::move(op);
      }}));
  check(server.add_tool(Tool{
      .name = "json_schema_2020_12_tool",
      .description = "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
      .input_schema =
          json::object{
              {"$schema", "https://json-schema.org/draft/2020-12/schema"},
              {"type", "object"},
              {"$defs",
               {{"address",
                 {{"type", "object"}, {"properties", {{"street", {{"type", "string"}}}, {"city", {{"type", "string"}}}}}}}}},
              {"properties", {{"name", {{"type", "string"}}}, {"address", {{"$ref", "#/$defs/address"}}}}},
              {"additionalProperties", false},
          },
      .handler = [](Context&, const json::object& args) -> asio::awaitable<ToolResult> {
        co_return ToolResult::text("JSON Schema 2020-12 tool called with: " + json::serialize(args));
      }}));
}

void add_resources(Server& server) {
  check(server.add_resource(Resource{
      .uri = "test://static-text",
      .name = "static-text",
      .title = "Static Text Resource",
      .description = "A static text resource for testing",
      .mime_type = "text/plain",
      .read = [](Context&, const std::string& uri, const auto&) -> asio::awaitable<tollgate::Result<json::array>> {
        co_return json::array{text_resource_contents(uri, "text/plain", "This is the content of the static text resource.")};
      }}));
  check(server.add_resource(Resource{
      .uri = "test://static-binary",
      .name = "static-binary",
      .title = "Static Binary Resource",
      .description = "A static binary resource (image) for testing",
      .mime_type = "image/png",
      .read = [](Context&, const std::string& uri, const auto&) -> asio::awaitable<tollgate::Result<json::array>> {
        co_return json::array{blob_resource_contents(uri, "image/png", kTestImageBase64)};
      }}));
  check(server.add_resource(Resource{
      .uri = "test://watched-resource",
      .name = "watched-resource",
      .title = "Watched Resource",
      .description = "A resource clients can subscribe to",
      .mime_type = "text/plain",
      .read = [](Context&, const std::string& uri, const auto&) -> asio::awaitable<tollgate::Result<json::array>> {
        co_return json::array{text_resource_contents(uri, "text/plain", "Watched resource content")};
      }}));
  check(server.add_resource_template(ResourceTemplate{
      .uri_template = "test://template/{id}/data",
      .name = "template",
      .title = "Resource Template",
      .description = "A resource template with parameter substitution",
      .mime_type = "application/json",
      .read = [](Context&, const std::string& uri,
                 const std::map<std::string, std::string>& vars) -> asio::awaitable<tollgate::Result<json::array>> {
        std::string id = vars.count("id") ? vars.at("id") : "";
        json::object data{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
        co_return json::array{text_resource_contents(uri, "application/json", json::serialize(data))};
      },
      .completers = {{"id",
                      [](std::string_view prefix, const auto&) {
                        std::vector<std::string> out;
                        for (const char* id : {"123", "456", "789"}) {
                          if (std::string_view(id).starts_with(prefix)) out.emplace_back(id);
                        }
                        return out;
                      }}},
  }));
}

void add_prompts(Server& server) {
  check(server.add_prompt(Prompt{
      .name = "test_simple_prompt",
      .title = "Simple Test Prompt",
      .description = "A simple prompt without arguments",
      .get = [](Context&, const auto&) -> asio::awaitable<tollgate::Result<json::object>> {
        co_return json::object{
            {"messages", json::array{prompt_message("user", text_content("This is a simple prompt for testing."))}}};
      }}));
  check(server.add_prompt(Prompt{
      .name = "test_prompt_with_arguments",
      .title = "Prompt With Arguments",
      .description = "A prompt with required arguments",
      .arguments = {PromptArgument{.name = "arg1",
                                   .description = "First test argument",
                                   .required = true,
                                   .complete =
                                       [](std::string_view prefix, const auto&) {
                                         std::vector<std::string> out;
                                         for (const char* v : {"paris", "park", "party"}) {
                                           if (std::string_view(v).starts_with(prefix)) out.emplace_back(v);
                                         }
                                         return out;
                                       }},
                    PromptArgument{.name = "arg2", .description = "Second test argument", .required = true}},
      .get = [](Context&, const std::map<std::string, std::string>& args) -> asio::awaitable<tollgate::Result<json::object>> {
        std::string text = "Prompt with arguments: arg1='" + args.at("arg1") + "', arg2='" + args.at("arg2") + "'";
        co_return json::object{{"messages", json::array{prompt_message("user", text_content(text))}}};
      }}));
  check(server.add_prompt(Prompt{
      .name = "test_prompt_with_embedded_resource",
      .title = "Prompt With Embedded Resource",
      .description = "A prompt that includes an embedded resource",
      .arguments = {PromptArgument{.name = "resourceUri", .description = "URI of the resource to embed", .required = true}},
      .get = [](Context&, const std::map<std::string, std::string>& args) -> asio::awaitable<tollgate::Result<json::object>> {
        json::array messages{
            prompt_message("user", embedded_text_resource(args.at("resourceUri"), "text/plain",
                                                          "Embedded resource content for testing.")),
            prompt_message("user", text_content("Please process the embedded resource above."))};
        co_return json::object{{"messages", std::move(messages)}};
      }}));
  check(server.add_prompt(Prompt{
      .name = "test_prompt_with_image",
      .title = "Prompt With Image",
      .description = "A prompt that includes image content",
      .get = [](Context&, const auto&) -> asio::awaitable<tollgate::Result<json::object>> {
        json::array messages{prompt_message("user", image_content(kTestImageBase64, "image/png")),
                             prompt_message("user", text_content("Please analyze the image above."))};
        co_return json::object{{"messages", std::move(messages)}};
      }}));
}

// "127.0.0.1:8080", "[::1]:0" -> host, port.
bool split_listen(const std::string& text, std::string& host, std::uint16_t& port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    int p = std::stoi(text.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return !host.empty();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"MCP conformance fixtures server"};
  std::string listen;
  bool stdio = false;
  bool stateless = false;
  std::string mode = "auto";
  int threads = 1;
  std::string log_level = "warn";
  auto* listen_opt = app.add_option("--listen", listen, "Serve Streamable HTTP on HOST:PORT (port 0: any free port)");
  app.add_flag("--stdio", stdio, "Serve on stdin/stdout")->excludes(listen_opt);
  app.add_flag("--stateless", stateless, "Streamable HTTP without sessions (JSON responses)");
  app.add_option("--response-mode", mode, "auto | sse | json")->check(CLI::IsMember({"auto", "sse", "json"}));
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1, 64));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  CLI11_PARSE(app, argc, argv);
  if (!stdio && listen.empty()) {
    std::cerr << "conformance_server: give --listen HOST:PORT or --stdio\n";
    return 2;
  }
  tollgate::init_logging(log_level);

  Server server(Implementation{.name = "tollgate-conformance-server", .version = "0.1.0",
                               .title = "Tollgate MCP conformance fixtures"});
  try {
    add_tools(server);
    add_resources(server);
    add_prompts(server);
  } catch (const std::exception& e) {
    std::cerr << "conformance_server: " << e.what() << "\n";
    return 1;
  }

  if (stdio) return serve_stdio(server, StdioOptions{.threads = threads});

  std::string host;
  std::uint16_t port = 0;
  if (!split_listen(listen, host, port)) {
    std::cerr << "conformance_server: --listen must be HOST:PORT\n";
    return 2;
  }
  tollgate::http::IoPool pool(threads);
  HttpOptions options;
  options.stateless = stateless;
  options.response_mode = mode == "sse" ? ResponseMode::kSse : mode == "json" ? ResponseMode::kJson : ResponseMode::kAuto;
  HttpServer http_server(server, pool, options);
  if (auto status = http_server.listen(host, port); !status) {
    std::cerr << "conformance_server: " << status.error().message << "\n";
    return 1;
  }
  std::string shown = http_server.host().find(':') != std::string::npos ? "[" + http_server.host() + "]" : http_server.host();
  pool.run([&] { http_server.stop(); },
           [&] {
             std::printf("listening on http://%s:%u\n", shown.c_str(), static_cast<unsigned>(http_server.port()));
             std::fflush(stdout);
           });
  return 0;
}
