// The protocol engine behind a Server: the shared registry (ServerCore) and one
// ServerSession per MCP connection. A session is transport-agnostic: a transport feeds it
// decoded messages and receives what it sends through a SessionOutput (stdio writes lines,
// Streamable HTTP routes each message to the SSE stream of the request it belongs to).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "tollgate/mcp/server.hpp"

namespace tollgate::mcp::detail {

class ServerSession;
template <typename T>
class OneShot;
template <typename Response>
class GaveUp;

// Where a session's outgoing messages go.
class SessionOutput {
 public:
  virtual ~SessionOutput() = default;
  // A request or notification from the server. `related` is the client request it belongs
  // to (its progress, logs, sampling...), nullptr when unrelated (list_changed, ...).
  virtual void send(const Message& message, const RequestId* related) = 0;
  // The answer to client request `id`; nullopt when there will be none (cancelled).
  virtual void respond(const RequestId& id, const std::optional<Message>& response) = 0;
  // SEP-1699: close the connection carrying `id`'s SSE stream but keep the stream.
  virtual void close_stream(const RequestId& id) { (void)id; }
  // False where nothing can reach the client outside a response (stateless HTTP).
  virtual bool can_reach_client() const { return true; }
};

// A parsed resource template: literal parts and {variables}.
struct UriTemplate {
  struct Part {
    std::string text;  // literal, or variable name
    bool variable = false;
    bool reserved = false;  // {+name}: may contain '/'
  };
  std::vector<Part> parts;
  static Result<UriTemplate> parse(std::string_view text);
  bool match(std::string_view uri, std::map<std::string, std::string>& variables) const;
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(Implementation info, ServerOptions options) : info_(std::move(info)), options_(std::move(options)) {}

  const Implementation& info() const { return info_; }
  const ServerOptions& options() const { return options_; }

  // Registry (copy-on-read: handlers run outside the lock on shared_ptrs they hold).
  Status add_tool(Tool tool);
  Status replace_tool(Tool tool);
  bool remove_tool(std::string_view name);
  std::shared_ptr<const Tool> find_tool(std::string_view name) const;
  std::vector<std::shared_ptr<const Tool>> tools() const;
  // A tool with its schemas as JSON values, made once when it is registered: every call
  // validates against them, and the validator takes values (copying the schema per call
  // was a good part of a gateway call's allocations).
  struct ToolEntry {
    Tool definition;
    json::value input_schema;
    json::value output_schema;  // null: the tool has none
  };
  std::shared_ptr<const ToolEntry> find_tool_entry(std::string_view name) const;
  void set_interceptor(ToolInterceptor interceptor);
  std::shared_ptr<const ToolInterceptor> interceptor() const;
  void set_completion_handler(CompletionHandler handler);
  std::shared_ptr<const CompletionHandler> completion_handler() const;
  Status add_resource(Resource resource);
  Status replace_resource(Resource resource);
  bool remove_resource(std::string_view uri);
  Status add_template(ResourceTemplate resource_template);
  Status add_prompt(Prompt prompt);
  Status replace_prompt(Prompt prompt);
  bool remove_prompt(std::string_view name);

  struct TemplateEntry {
    ResourceTemplate definition;
    UriTemplate parsed;
  };
  std::vector<std::shared_ptr<const Resource>> resources() const;
  std::vector<std::shared_ptr<const TemplateEntry>> templates() const;
  std::vector<std::shared_ptr<const Prompt>> prompts() const;
  std::shared_ptr<const Resource> find_resource(std::string_view uri) const;
  std::shared_ptr<const Prompt> find_prompt(std::string_view name) const;

  json::object capabilities() const;

  // Sessions, for broadcasts.
  void attach(const std::shared_ptr<ServerSession>& session);
  void detach(ServerSession* session);
  std::vector<std::shared_ptr<ServerSession>> sessions() const;
  std::size_t session_count() const;
  void broadcast_list_changed(std::string_view kind);  // "tools" | "resources" | "prompts"

 private:
  Status put_tool(Tool tool, bool replace);
  Status put_resource(Resource resource, bool replace);
  Status put_prompt(Prompt prompt, bool replace);

  Implementation info_;
  ServerOptions options_;
  mutable std::shared_mutex registry_mutex_;
  std::vector<std::shared_ptr<const ToolEntry>> tools_;
  std::shared_ptr<const ToolInterceptor> interceptor_;
  std::shared_ptr<const CompletionHandler> completion_handler_;
  std::vector<std::shared_ptr<const Resource>> resources_;
  std::vector<std::shared_ptr<const TemplateEntry>> templates_;
  std::vector<std::shared_ptr<const Prompt>> prompts_;
  mutable std::mutex sessions_mutex_;
  std::unordered_map<ServerSession*, std::weak_ptr<ServerSession>> sessions_;
};

// Per-request state behind a Context.
struct RequestState {
  std::shared_ptr<ServerSession> session;
  RequestId id;
  std::string method;
  json::object meta;
  std::optional<json::value> progress_token;
  std::shared_ptr<const RequestInfo> info;
  boost::asio::any_io_executor executor;
  std::atomic<bool> cancelled{false};

  std::mutex mutex;
  std::vector<std::function<void()>> on_cancel;  // guarded by mutex
  std::set<std::int64_t> pending_calls;          // server->client requests it awaits, guarded by mutex

  // Marks cancelled and runs the callbacks once.
  void cancel();
};

class ServerSession : public std::enable_shared_from_this<ServerSession> {
 public:
  // Creates and registers the session with its server (for broadcasts).
  static std::shared_ptr<ServerSession> create(std::shared_ptr<ServerCore> core, std::shared_ptr<SessionOutput> output,
                                               bool broadcasts = true);
  ~ServerSession();

  // One incoming message. A request runs as its own coroutine on `executor`; its answer goes
  // to the output. Notifications and responses are handled at once.
  void receive(Message&& message, std::shared_ptr<const RequestInfo> info, boost::asio::any_io_executor executor);
  // Runs one request to its answer (nullopt if cancelled) without going through the output;
  // stateless HTTP, and JSON mode for a POST of one request, await this directly. Not a
  // coroutine: `request` stays in the awaiting caller's frame, and the answer is handed up
  // once, not through a frame of its own (each move of a Message costs a few hundred
  // instructions). The request is admitted (its id in use) when this is called, so the
  // awaitable must be awaited.
  boost::asio::awaitable<std::optional<Message>> run_request(const Message& request, std::shared_ptr<const RequestInfo> info,
                                                             boost::asio::any_io_executor executor);

  // Stateless HTTP: a session per request that never saw initialize.
  void assume_initialized(std::string_view protocol_version);
  // Cancels requests in flight, fails server->client requests, sends nothing more.
  void close();

  bool initialized() const { return initialized_.load(); }
  bool closed() const { return closed_.load(); }
  bool can_reach_client() const { return output_->can_reach_client(); }
  std::string protocol_version() const;
  const json::object& client_capabilities() const { return client_capabilities_; }
  const json::object& client_info() const { return client_info_; }
  const std::shared_ptr<ServerCore>& core() const { return core_; }

  // Outgoing traffic (Context and broadcasts).
  void send(const Message& message, const RequestId* related);
  void log(LogLevel level, const json::value& data, std::string_view logger, const RequestId* related);
  bool subscribed(std::string_view uri) const;
  boost::asio::awaitable<RpcResponse> call_client(std::shared_ptr<RequestState> origin, std::string method,
                                                  json::object params, std::shared_ptr<CancelSource> cancel);
  void close_stream(const RequestId& id);
  // Ends the given server->client requests with an error (their origin was cancelled).
  void fail_calls(const std::vector<std::int64_t>& ids, const std::string& reason);

 private:
  ServerSession(std::shared_ptr<ServerCore> core, std::shared_ptr<SessionOutput> output);
  std::optional<std::string> missing_client_capability(std::string_view method, const json::object& params) const;

  // Registers a request (duplicate id and in-flight limit checks); nullopt + error otherwise.
  std::variant<std::shared_ptr<RequestState>, RpcError> admit(const Message& request,
                                                              std::shared_ptr<const RequestInfo> info,
                                                              boost::asio::any_io_executor executor);
  static boost::asio::awaitable<void> run_and_respond(std::shared_ptr<ServerSession> self,
                                                      std::shared_ptr<RequestState> state, Message request);
  // `request` is the awaiting caller's (run_and_respond's, or run_request's caller's, in
  // their frames): a message moved from frame to frame was a few hundred instructions each
  // time.
  boost::asio::awaitable<std::optional<Message>> execute(std::shared_ptr<RequestState> state, const Message& request);
  boost::asio::awaitable<RpcResponse> dispatch(std::shared_ptr<RequestState> state, const Message& request);
  // The methods answered without waiting for anything.
  RpcResponse answer_now(const std::string& method, const json::object& params);
  static boost::asio::awaitable<RpcResponse> ready(RpcResponse response);
  static boost::asio::awaitable<std::optional<Message>> ready(Message message);

  RpcResponse handle_initialize(const json::object& params);
  RpcResponse handle_set_level(const json::object& params);
  RpcResponse handle_list(std::string_view method, const json::object& params);
  boost::asio::awaitable<RpcResponse> handle_call_tool(std::shared_ptr<RequestState> state, const json::object& params);
  boost::asio::awaitable<RpcResponse> handle_read_resource(std::shared_ptr<RequestState> state,
                                                           const json::object& params);
  RpcResponse handle_subscribe(const json::object& params, bool subscribe);
  boost::asio::awaitable<RpcResponse> handle_get_prompt(std::shared_ptr<RequestState> state, const json::object& params);
  RpcResponse handle_complete(const json::object& params);

  void handle_notification(const Message& message);
  void handle_response(const Message& message);
  void finish(const RequestId& id);

  std::shared_ptr<ServerCore> core_;
  std::shared_ptr<SessionOutput> output_;
  std::atomic<bool> initialized_{false};
  std::atomic<bool> closed_{false};
  bool attached_ = false;  // registered with core_ for broadcasts
  // Set once by initialize (before any other request is answered), read-only afterwards.
  json::object client_capabilities_;
  json::object client_info_;

  mutable std::mutex mutex_;
  std::string protocol_version_;                       // guarded by mutex_
  std::optional<LogLevel> log_level_;                  // guarded by mutex_
  std::set<std::string, std::less<>> subscriptions_;   // guarded by mutex_
  std::unordered_map<RequestId, std::shared_ptr<RequestState>, RequestIdHash> in_flight_;  // guarded by mutex_
  std::int64_t next_call_id_ = 1;                                                           // guarded by mutex_
  // A request to the client awaiting its answer. When the wait is ended on this side
  // (timeout, cancel), `gave_up` says why, and the client is told.
  struct PendingCall {
    std::shared_ptr<OneShot<RpcResponse>> slot;
    std::shared_ptr<GaveUp<RpcResponse>> gave_up;
    // Ends the wait with `code`/`message` unless it has ended already.
    void end(int code, const std::string& message, const std::string& why) const;
  };
  std::unordered_map<std::int64_t, PendingCall> pending_calls_;  // guarded by mutex_
};

// JSON-RPC error for a provider's Result error: NOT_FOUND -> -32002, INVALID_REQUEST -> -32602.
RpcError to_rpc_error(const Error& error);

}  // namespace tollgate::mcp::detail
