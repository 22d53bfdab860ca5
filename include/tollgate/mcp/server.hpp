// The MCP server API a provider writes against: register tools, resources, resource
// templates and prompts on a Server, then serve it over stdio or Streamable HTTP
// (transport.hpp). Handlers are Asio coroutines and get a Context: the caller's credentials
// and headers, a progress reporter, a logger, a cancellation signal, and requests back to the
// client (sampling, elicitation, roots) whose answers they can await.
//
// GCC 12 note for handler authors: inside a coroutine, bind arguments to named locals before
// `co_await`ing a call (`std::string method = "..."; co_await ctx.request(method, params);`),
// never build non-trivial temporaries inside the co_await expression.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "tollgate/mcp/json_rpc.hpp"
#include "tollgate/mcp/types.hpp"

namespace tollgate::mcp {

namespace detail {
class ServerCore;
class ServerSession;
struct RequestState;
}  // namespace detail

// Server limits and defaults (ServerOptions overrides them per server).
inline constexpr std::size_t kDefaultPageSize = 100;                // items per tools/list, resources/list, ... page
inline constexpr int kDefaultClientRequestTimeoutMs = 60'000;       // a server->client request waits this long
inline constexpr std::size_t kDefaultMaxInFlightRequests = 256;     // concurrent client requests per session
inline constexpr std::size_t kDefaultMaxPendingClientRequests = 64;  // server->client requests awaiting answers, per session
inline constexpr std::size_t kMaxSubscriptionsPerSession = 1'000;   // resources/subscribe entries per session
inline constexpr std::size_t kMaxCompletionValues = 100;            // completion/complete values (the spec's cap)
inline constexpr std::size_t kMaxUriBytes = 8192;                   // resource URIs in resources/read and subscriptions

// The session a request came in on, usable after the request has ended: URL-mode
// elicitation's notifications/elicitation/complete comes when the user is done, often after
// the call that asked. Holds the session weakly: once it ends, nothing is sent.
class SessionHandle {
 public:
  SessionHandle() = default;
  explicit SessionHandle(std::weak_ptr<detail::ServerSession> session) : session_(std::move(session)) {}

  // A notification on the session's own stream (the GET stream over HTTP); false when the
  // session has ended or cannot reach its client (stateless HTTP).
  bool notify(std::string method, json::object params) const;
  // notifications/elicitation/complete for `elicitation_id`; false also when the client did
  // not declare URL-mode elicitation (servers send it only to clients that did).
  bool complete_elicitation(std::string_view elicitation_id) const;

 private:
  std::weak_ptr<detail::ServerSession> session_;
};

// Thrown by a tool handler (or the interceptor) to answer tools/call with a JSON-RPC error
// instead of a tool result, for the errors MCP defines as such (url_elicitation_required).
// Anything else a handler throws becomes a tool execution error (isError), which the model
// reads.
class ProtocolError : public std::runtime_error {
 public:
  explicit ProtocolError(RpcError error) : std::runtime_error(error.message), error_(std::move(error)) {}
  const RpcError& error() const { return error_; }

 private:
  RpcError error_;
};

// URLElicitationRequiredError (-32042): the call needs the user to complete these URL-mode
// elicitations first. Each is the params of an elicitation/create in URL mode ("mode":
// "url", "elicitationId", "url", "message"); send complete_elicitation(id) when one is done.
ProtocolError url_elicitation_required(json::array elicitations, std::string message = "URL elicitation required");

// What a handler gets for one request.
class Context {
 public:
  explicit Context(std::shared_ptr<detail::RequestState> state);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const RequestId& request_id() const;
  const std::string& method() const;
  const RequestInfo& request_info() const;
  // The caller's token: HTTP `Authorization: Bearer ...`, or AGENT_TOKEN for stdio servers.
  const std::optional<std::string>& bearer_token() const;
  // The request's params._meta ({} if absent).
  const json::object& meta() const;
  const std::string& protocol_version() const;
  const json::object& client_capabilities() const;
  const json::object& client_info() const;
  // With `sub`, that sub-capability too: ("elicitation", "url"), ("sampling", "tools").
  bool client_supports(std::string_view capability, std::string_view sub = {}) const;
  boost::asio::any_io_executor executor() const;
  // This request's session, for messages after the request has ended.
  SessionHandle session() const;

  // Cancellation (notifications/cancelled, or the session ending).
  bool cancelled() const;
  // Runs `callback` once when the request is cancelled (at once if it already is).
  void on_cancel(std::function<void()> callback);
  // Waits `duration`, or less if the request is cancelled; false when cancelled.
  boost::asio::awaitable<bool> sleep_for(std::chrono::milliseconds duration);

  // notifications/progress for this request; a no-op when the client sent no progressToken.
  void report_progress(double progress, std::optional<double> total = std::nullopt, std::string_view message = {});
  // notifications/message, sent when `level` is at or above the session's logging/setLevel.
  void log(LogLevel level, json::value data, std::string_view logger = {});
  // Any notification, sent on this request's stream.
  void notify(std::string method, json::object params);

  // A request to the client, answered before this request's handler goes on. Fails (as an
  // RpcResponse error) when the client lacks the capability, on timeout, or if the session
  // has no way back to the client (stateless HTTP). Cancelling `cancel` (or this request
  // being cancelled, or a timeout) ends the wait and tells the client with
  // notifications/cancelled.
  // The awaitable holds what it needs of this Context from the moment it is returned.
  boost::asio::awaitable<RpcResponse> request(std::string method, json::object params,
                                              std::shared_ptr<CancelSource> cancel = nullptr);
  boost::asio::awaitable<RpcResponse> create_message(json::object params);  // sampling/createMessage
  boost::asio::awaitable<RpcResponse> elicit(json::object params);          // elicitation/create
  boost::asio::awaitable<RpcResponse> list_roots();                         // roots/list

  // Streamable HTTP (SEP-1699): ends the connection carrying this request's SSE stream
  // without ending the stream; the client resumes with GET + Last-Event-ID and receives what
  // was sent meanwhile. A no-op on transports and clients that cannot resume.
  void close_sse_stream();

 private:
  std::shared_ptr<detail::RequestState> state_;
  mutable std::optional<std::string> version_cache_;
};

// A tools/call answer.
struct ToolResult {
  json::array content;
  json::value structured_content;  // null: absent
  bool is_error = false;
  json::object meta;

  static ToolResult text(std::string_view text);
  // A tool execution error: the model sees `message` and can correct itself.
  static ToolResult error(std::string_view message);
  // structuredContent plus its JSON text as a text block (for clients that ignore structure).
  static ToolResult structured(json::value value);
  ToolResult& add(json::object content_block);
  json::object to_json() const&;
  json::object to_json() &&;  // moves the content instead of copying it
};

struct ToolAnnotations {
  std::string title;
  std::optional<bool> read_only_hint;
  std::optional<bool> destructive_hint;
  std::optional<bool> idempotent_hint;
  std::optional<bool> open_world_hint;
  json::object to_json() const;
  bool empty() const;
};

using ToolHandler = std::function<boost::asio::awaitable<ToolResult>(Context&, const json::object& arguments)>;

struct Tool {
  std::string name;
  std::string title;
  std::string description;
  json::object input_schema;                 // {} -> {"type": "object"}; must be an object schema
  std::optional<json::object> output_schema;  // structuredContent is checked against it
  ToolAnnotations annotations;
  std::vector<Icon> icons;
  json::object meta;
  ToolHandler handler;

  json::object to_json() const;  // the tools/list entry
};

// Why `name` breaks the tool-name rules of MCP 2025-11-25 (1 to 128 characters, each of
// A-Z a-z 0-9 _ - .), or nullopt. The rules are SHOULDs: Server::add_tool registers such a
// tool anyway (a gateway mirrors what its upstream has) and logs this as a warning, once per
// name (replace_tool does not repeat it).
std::optional<std::string> tool_name_problem(std::string_view name);

// Runs after argument validation and before a tool's handler; a result returned here is the
// call's answer and the handler does not run (the payments SDK charges here).
using ToolInterceptor =
    std::function<boost::asio::awaitable<std::optional<ToolResult>>(Context&, const Tool&, const json::object& arguments)>;

// resources/read: the `contents` array (text_resource_contents / blob_resource_contents).
// NOT_FOUND becomes JSON-RPC -32002, INVALID_REQUEST -32602, anything else -32603.
using ResourceReader = std::function<boost::asio::awaitable<Result<json::array>>(
    Context&, const std::string& uri, const std::map<std::string, std::string>& variables)>;
// completion/complete: candidate values for `value` (at most kMaxCompletionValues are sent).
using Completer =
    std::function<std::vector<std::string>(std::string_view value, const std::map<std::string, std::string>& context)>;
// Answers every completion/complete itself, from the request's params, in place of the
// registered completers: for a server that fronts another (the gateway forwards upstream).
using CompletionHandler = std::function<boost::asio::awaitable<RpcResponse>(const json::object& params)>;

struct Resource {
  std::string uri;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  std::optional<std::int64_t> size;
  json::object annotations;
  std::vector<Icon> icons;
  ResourceReader read;
  json::object to_json() const;
};

// RFC 6570 level-1 templates: "test://template/{id}/data"; `{+path}` also matches '/'.
struct ResourceTemplate {
  std::string uri_template;
  std::string name;
  std::string title;
  std::string description;
  std::string mime_type;
  json::object annotations;
  std::vector<Icon> icons;
  ResourceReader read;
  std::map<std::string, Completer> completers;  // by variable name
  json::object to_json() const;
};

struct PromptArgument {
  std::string name;
  std::string title;
  std::string description;
  bool required = false;
  Completer complete;
};

// prompts/get: {"description"?: ..., "messages": [prompt_message(...), ...]}.
using PromptHandler = std::function<boost::asio::awaitable<Result<json::object>>(
    Context&, const std::map<std::string, std::string>& arguments)>;

struct Prompt {
  std::string name;
  std::string title;
  std::string description;
  std::vector<PromptArgument> arguments;
  std::vector<Icon> icons;
  PromptHandler get;
  json::object to_json() const;
};

struct ServerOptions {
  std::string instructions;
  std::size_t page_size = kDefaultPageSize;
  int client_request_timeout_ms = kDefaultClientRequestTimeoutMs;
  std::size_t max_in_flight_requests = kDefaultMaxInFlightRequests;
  std::size_t max_pending_client_requests = kDefaultMaxPendingClientRequests;
  // Capabilities are declared for what is registered when a client initializes; these
  // declare them regardless (for servers that register later).
  bool declare_tools = false;
  bool declare_resources = false;
  bool declare_prompts = false;
  bool logging = true;      // declare `logging`, honour logging/setLevel; false: no log messages are sent
  bool completions = true;  // declare `completions`
};

// A server definition, shared by all its sessions (one per stdio process or HTTP session).
// Registration is thread-safe and may happen while serving: sessions are told with
// notifications/*/list_changed.
class Server {
 public:
  explicit Server(Implementation info, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // INVALID_REQUEST for an empty or duplicate name or a schema that is not an object schema.
  Status add_tool(Tool tool);
  // add_tool, or when a tool of that name is registered, puts this one in its place in one
  // step (a call finds one or the other); clients are told of the change only if what
  // tools/list shows of it changed. replace_resource and replace_prompt do the same.
  Status replace_tool(Tool tool);
  bool remove_tool(std::string_view name);
  std::shared_ptr<const Tool> find_tool(std::string_view name) const;
  std::vector<std::shared_ptr<const Tool>> tools() const;
  void set_tool_interceptor(ToolInterceptor interceptor);
  void set_completion_handler(CompletionHandler handler);

  Status add_resource(Resource resource);
  Status replace_resource(Resource resource);
  bool remove_resource(std::string_view uri);
  Status add_resource_template(ResourceTemplate resource_template);
  Status add_prompt(Prompt prompt);
  Status replace_prompt(Prompt prompt);
  bool remove_prompt(std::string_view name);

  // notifications/resources/updated to the sessions subscribed to `uri`.
  void notify_resource_updated(std::string_view uri);
  // notifications/message to every session (each filters by its own level).
  void log(LogLevel level, json::value data, std::string_view logger = {});

  const Implementation& info() const;
  std::size_t session_count() const;
  const std::shared_ptr<detail::ServerCore>& core() const { return core_; }

 private:
  std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace tollgate::mcp
