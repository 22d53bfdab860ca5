// The one HTTP/1.1 client: keep-alive connection pool, per-request timeout, streamed
// responses for Server-Sent Events. Used by the CLI, the payments SDK, the gateway, the MCP
// client and the tests. Only http:// URLs (TLS belongs to a fronting proxy for now).
//
// A request runs on the executor of the coroutine that awaits it, and so do its connection's
// reads, writes and timeout: no hand-off to another thread. Idle keep-alive connections are
// pooled per io_context (an Asio service of the caller's context, so that they end with it),
// keyed by origin, and shared by every Client in that context. A coroutine that awaits a
// request must not run on two threads at once: a strand, or an io_context run by one thread.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "http/message.hpp"

namespace tollgate::http {

struct Url {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";  // path and query
  std::string origin() const { return "http://" + host + ":" + std::to_string(port); }
};
// Parses "http://host[:port][/path[?query]]". INVALID_REQUEST otherwise.
Result<Url> parse_url(std::string_view url);

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  int timeout_ms = 10'000;  // whole exchange: connect, send, receive
};

struct ClientResponse {
  unsigned status = 0;
  Headers headers;
  std::string body;
};

// A response whose body is read as it arrives (SSE). Not returned to the pool.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual unsigned status() const = 0;
  virtual const Headers& headers() const = 0;
  // Next piece of the body, or nullopt at its end or on error/close.
  virtual boost::asio::awaitable<std::optional<std::string>> read_some() = 0;
  // Makes a pending read_some() return nullopt; may be called from any thread.
  virtual void close() = 0;
};

struct ClientOptions {
  std::size_t max_idle_per_origin = 64;
  std::size_t max_response_bytes = 16 << 20;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  // Transport failures (refused, reset, timeout) are PLATFORM_UNAVAILABLE with a message
  // naming the peer; callers re-label them for their context. A request on a pooled
  // connection that the peer had already closed is retried once on a new connection.
  boost::asio::awaitable<Result<ClientResponse>> request(ClientRequest request);
  // Sends the request and returns once the response headers arrived.
  boost::asio::awaitable<Result<std::unique_ptr<ResponseStream>>> open_stream(ClientRequest request);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// Blocking convenience for the CLI and tests: runs the request on a private io_context.
Result<ClientResponse> fetch(const ClientRequest& request);

}  // namespace tollgate::http
