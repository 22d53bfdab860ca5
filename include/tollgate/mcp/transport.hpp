// Serving an MCP Server: over stdio (newline-delimited JSON on stdin/stdout, logs on stderr)
// or over Streamable HTTP (one endpoint; POST answered as JSON or SSE, GET for the server
// stream, DELETE ends a session; sessions, resumable SSE, Origin/Host checks) with a stateless
// mode for horizontally scaled deployments. Every limit is a named constant below, overridable
// in the options; tests/integration/mcp/mcp_http_test.cpp shows what happens one past each.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "http/message.hpp"
#include "http/server.hpp"
#include "tollgate/mcp/server.hpp"

namespace tollgate::mcp {

// ---- stdio --------------------------------------------------------------------------------

// A longer input line is answered with a parse error and skipped.
inline constexpr std::size_t kMaxStdioLineBytes = 4 << 20;
// Output waiting for a slow reader of our stdout; past it, everything but responses is
// dropped: notifications, and requests to the client (which then fail at their timeout).
inline constexpr std::size_t kMaxStdioQueuedBytes = 16 << 20;

struct StdioOptions {
  int input_fd = 0;
  int output_fd = 1;
  std::size_t max_line_bytes = kMaxStdioLineBytes;
  std::size_t max_queued_bytes = kMaxStdioQueuedBytes;
  int threads = 1;
};

// Serves `server` until its input ends (or SIGINT/SIGTERM). The caller's bearer token is the
// AGENT_TOKEN environment variable. Returns the process exit code.
int serve_stdio(Server& server, StdioOptions options = {});

// ---- Streamable HTTP ---------------------------------------------------------------------

inline constexpr std::size_t kMaxHttpBodyBytes = 4 << 20;            // POST body; past it 413
inline constexpr std::size_t kDefaultMaxSessions = 20'000;            // past it, initialize gets 503
inline constexpr int kDefaultSessionIdleTimeoutMs = 30 * 60 * 1000;   // an unused session is dropped after this
inline constexpr std::size_t kMaxEventsPerStream = 1'000;             // SSE replay buffer per stream
inline constexpr std::size_t kMaxSessionBufferBytes = 8 << 20;        // all SSE buffers of one session
inline constexpr std::size_t kMaxRetainedStreams = 16;                // answered streams kept for late resumption
inline constexpr int kSseKeepAliveMs = 15'000;                        // comment line on a quiet SSE stream
inline constexpr int kSseRetryMs = 1'000;                             // `retry:` advertised in priming events
inline constexpr int kAutoSseAfterMs = 1'000;                         // ResponseMode::kAuto switches to SSE after this

enum class ResponseMode {
  // JSON when the request is answered before anything else is sent for it, SSE (with a
  // priming event) as soon as a notification, a server->client request or a stream close
  // comes first, or the answer takes longer than auto_sse_after_ms.
  kAuto,
  kSse,   // always SSE
  kJson,  // JSON answers; other messages for the request go to the session's GET stream (a
          // request cancelled before its answer gets an empty SSE stream: there is no JSON)
};

struct HttpOptions {
  bool stateless = false;  // no sessions, JSON responses, no server->client requests
  ResponseMode response_mode = ResponseMode::kAuto;
  // Origin values ("http://host:port") browsers may call from. Empty: loopback origins and
  // same-origin requests only. A request without Origin (not a browser) is not restricted.
  std::vector<std::string> allowed_origins;
  // Host header values ("host" or "host:port"). Empty: when serving on a loopback address,
  // loopback names only (DNS rebinding protection); otherwise any.
  std::vector<std::string> allowed_hosts;
  std::size_t max_body_bytes = kMaxHttpBodyBytes;
  std::size_t max_sessions = kDefaultMaxSessions;
  int session_idle_timeout_ms = kDefaultSessionIdleTimeoutMs;
  std::size_t max_events_per_stream = kMaxEventsPerStream;
  std::size_t max_session_buffer_bytes = kMaxSessionBufferBytes;
  std::size_t max_retained_streams = kMaxRetainedStreams;
  int keep_alive_ms = kSseKeepAliveMs;
  int retry_ms = kSseRetryMs;
  int auto_sse_after_ms = kAutoSseAfterMs;
};

// The Streamable HTTP endpoint as an http::Handler, to mount on any http::Router:
//   router.add("*", "/mcp", transport.handler());
class HttpTransport {
 public:
  HttpTransport(Server& server, boost::asio::any_io_executor executor, HttpOptions options = {});
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  http::Handler handler() const;
  // The address the endpoint is served on: a loopback address turns on the default Host check.
  void set_listen_host(const std::string& host);
  std::size_t session_count() const;
  // Ends every session (their SSE streams close). Used on shutdown.
  void close_all();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// An HTTP server for one MCP endpoint: http::Server + HttpTransport at `path`.
class HttpServer {
 public:
  HttpServer(Server& server, boost::asio::io_context& io, HttpOptions options = {}, std::string path = "/mcp",
             http::ServerLimits limits = {});
  // Connections spread over the pool's threads, each kept on one (http::IoPool); sessions
  // are shared by all of them.
  HttpServer(Server& server, http::IoPool& pool, HttpOptions options = {}, std::string path = "/mcp",
             http::ServerLimits limits = {});
  ~HttpServer();
  // Port 0 picks a free port; port() tells which.
  Status listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const;
  std::string host() const;
  HttpTransport& transport() { return *transport_; }
  // Ends sessions (closing their streams) and stops the server gracefully.
  void stop();

 private:
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace tollgate::mcp
