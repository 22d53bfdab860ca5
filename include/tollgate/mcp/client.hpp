// The MCP client, used by tests, the gateway (in front of any MCP server) and the connect
// bridge: initialize with version negotiation, list and call, notifications, server->client
// requests (sampling, elicitation, roots) forwarded to a handler, per-request timeouts with
// cancellation, and reconnection (SSE resumption with Last-Event-ID; a new session when the
// server forgot ours). Transports: Streamable HTTP and a stdio child process.
//
// Every Client coroutine must run on the executor the Client was made with or be otherwise
// thread-safe: the Client itself is thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "http/message.hpp"
#include "tollgate/mcp/json_rpc.hpp"
#include "tollgate/mcp/types.hpp"

namespace tollgate::mcp {

inline constexpr int kDefaultRequestTimeoutMs = 60'000;     // a request without an answer fails after this
inline constexpr int kDefaultConnectTimeoutMs = 10'000;     // HTTP connect + send + response headers
inline constexpr std::size_t kMaxSseEventBytes = 16 << 20;  // one SSE event (a larger one ends the stream)
inline constexpr std::size_t kMaxJsonResponseBytes = 16 << 20;
inline constexpr int kMaxResumeAttempts = 5;                // reconnections of one broken SSE stream in a row
inline constexpr int kDefaultReconnectDelayMs = 1'000;      // first retry delay when the server sent no `retry:`
inline constexpr int kMaxReconnectDelayMs = 30'000;
inline constexpr std::size_t kMaxClientLineBytes = 16 << 20;  // one stdio line from a server
inline constexpr int kStdioShutdownGraceMs = 2'000;           // after closing stdin, then SIGTERM, then SIGKILL

// How a Client's messages travel. Callbacks may run on any thread.
class ClientTransport {
 public:
  struct Callbacks {
    std::function<void(Message)> on_message;   // everything the server sends
    std::function<void(Error)> on_closed;      // the connection is gone for good
  };
  virtual ~ClientTransport() = default;
  virtual void set_callbacks(Callbacks callbacks) = 0;  // once, before start()
  virtual boost::asio::awaitable<Status> start() = 0;
  // Queues or sends one message; answers come through on_message. NOT_FOUND means the server
  // no longer knows our session (HTTP 404): the Client starts a new one.
  virtual boost::asio::awaitable<Status> send(Message message) = 0;
  virtual void set_protocol_version(std::string version) { (void)version; }
  // After notifications/initialized (HTTP opens its GET stream here).
  virtual void initialized() {}
  // Forget the session (before a new initialize).
  virtual void reset_session() {}
  virtual boost::asio::awaitable<void> close() = 0;
};

struct HttpClientOptions {
  std::string url;                        // http://host:port/mcp
  http::Headers headers;                  // added to every request (Authorization, ...)
  int connect_timeout_ms = kDefaultConnectTimeoutMs;
  bool open_server_stream = true;         // GET stream for server-initiated messages
  int max_resume_attempts = kMaxResumeAttempts;
  int reconnect_delay_ms = kDefaultReconnectDelayMs;
};
std::unique_ptr<ClientTransport> make_http_client_transport(boost::asio::any_io_executor executor,
                                                            HttpClientOptions options);

struct StdioClientOptions {
  std::vector<std::string> command;         // argv; command[0] is looked up in PATH
  std::map<std::string, std::string> env;   // added to (or replacing in) our environment
  std::string working_dir;
  bool forward_stderr = true;               // the server's stderr goes to ours, else nowhere
  std::size_t max_line_bytes = kMaxClientLineBytes;
  int shutdown_grace_ms = kStdioShutdownGraceMs;
};
std::unique_ptr<ClientTransport> make_stdio_client_transport(boost::asio::any_io_executor executor,
                                                             StdioClientOptions options);

struct ClientOptions {
  Implementation info{.name = "tollgate", .version = "0.1.0"};
  json::object capabilities;  // what this client offers: {"sampling": {}, "elicitation": {}, "roots": {...}}
  std::string protocol_version = std::string(kLatestProtocolVersion);
  int request_timeout_ms = kDefaultRequestTimeoutMs;
  bool reinitialize_on_session_loss = true;
};

struct InitializeResult {
  std::string protocol_version;
  json::object capabilities;
  json::object server_info;
  std::string instructions;
};

using NotificationHandler = std::function<void(const Message& notification)>;
// Answers a server->client request (sampling/createMessage, elicitation/create, roots/list).
// `cancel` is cancelled when the server cancels the request (notifications/cancelled, e.g.
// it stopped waiting): the handler should stop (CancelSource::add_hook tells it at once),
// and its answer is not sent.
using ClientRequestHandler = std::function<boost::asio::awaitable<RpcResponse>(
    const Message& request, const std::shared_ptr<CancelSource>& cancel)>;

struct CallOptions {
  int timeout_ms = 0;  // 0: ClientOptions::request_timeout_ms
  // notifications/progress params for this request (a progressToken is sent when set).
  std::function<void(const json::object& progress)> on_progress;
  json::object meta;  // params._meta
  std::shared_ptr<CancelSource> cancel;  // optional: lets the caller cancel the request
  // Server->client requests the transport can tie to this request (Streamable HTTP sends
  // them on its response stream; stdio cannot tell): answered here instead of by
  // Client::on_request's handler.
  ClientRequestHandler on_request;
  // Likewise for notifications other than progress (a log message the server sends while
  // it handles this request): given here instead of to Client::on_notification's handler.
  NotificationHandler on_notification;
};

class Client {
 public:
  Client(boost::asio::any_io_executor executor, std::unique_ptr<ClientTransport> transport, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Set before connect().
  void on_notification(NotificationHandler handler);
  void on_request(ClientRequestHandler handler);

  // Starts the transport and runs initialize + notifications/initialized.
  boost::asio::awaitable<Result<InitializeResult>> connect();
  // The server's side of the handshake (valid after connect()).
  const InitializeResult& server() const;

  // Any request. Failures are RpcResponse errors: the server's, or rpc::kRequestTimeout,
  // or rpc::kConnectionClosed.
  boost::asio::awaitable<RpcResponse> request(std::string method, json::object params = {}, CallOptions options = {});
  boost::asio::awaitable<Status> notify(std::string method, json::object params = {});

  boost::asio::awaitable<RpcResponse> ping();
  // Every page, concatenated.
  boost::asio::awaitable<Result<std::vector<json::object>>> list_tools();
  boost::asio::awaitable<Result<std::vector<json::object>>> list_resources();
  boost::asio::awaitable<Result<std::vector<json::object>>> list_resource_templates();
  boost::asio::awaitable<Result<std::vector<json::object>>> list_prompts();
  boost::asio::awaitable<RpcResponse> call_tool(std::string name, json::object arguments = {}, CallOptions options = {});
  boost::asio::awaitable<RpcResponse> read_resource(std::string uri);
  boost::asio::awaitable<RpcResponse> get_prompt(std::string name, json::object arguments = {});
  boost::asio::awaitable<RpcResponse> set_logging_level(LogLevel level);
  boost::asio::awaitable<RpcResponse> subscribe(std::string uri);
  boost::asio::awaitable<RpcResponse> unsubscribe(std::string uri);

  // Fails what is pending and closes the transport (a stdio server is stopped).
  boost::asio::awaitable<void> close();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::mcp
