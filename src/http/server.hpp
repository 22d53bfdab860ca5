// The one HTTP/1.1 server (Boost.Beast over Asio coroutines), used by the platform, the
// gateway and every MCP server. Each limit is a named field below; what happens one past
// it is tested (tests/integration/http_limits_test.cpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "http/message.hpp"

namespace tollgate::http {

struct ServerLimits {
  std::size_t max_body_bytes = 1 << 20;        // larger bodies: 413 PAYLOAD_TOO_LARGE, connection closed
  std::size_t max_header_bytes = 16 << 10;     // larger header block: 431 HEADERS_TOO_LARGE
  int header_timeout_ms = 10'000;              // first byte -> end of headers, else the connection is closed
  int body_timeout_ms = 30'000;                // end of headers -> end of body, else 408 and close
  int idle_timeout_ms = 60'000;                // keep-alive connection with no request, then closed
  int write_timeout_ms = 30'000;               // a peer that stops reading our response is dropped
  std::size_t max_connections = 10'000;        // past it: 503 and close
  int shutdown_grace_ms = 5'000;               // in-flight requests get this long on SIGTERM
};

// What the server reports after each response (access log, metrics).
struct Exchange {
  const Request& request;
  unsigned status;
  std::size_t response_bytes;
  std::chrono::microseconds duration;
};
using ExchangeObserver = std::function<void(const Exchange&)>;

// I/O threads that each run an io_context of their own (Envoy's workers). A Server built on
// the pool gives every connection to one of them for its whole life: a connection's steps
// never hop threads (no strand), and what a request allocates is freed on the thread that
// allocated it. With one io_context run by several threads, a call that waited (for its
// charge, say) resumed on whichever thread was free, and glibc's per-thread caches missed
// on every such free (bench/README.md, thirteenth session). The first context also runs
// the acceptor and whatever else the program puts on main().
// For servers whose handlers never block (MCP servers, the gateway). `tollgate serve` keeps
// one io_context run by all its threads (run_with_signals): its handlers block on store
// reads (a network round trip on PostgreSQL), and there any free thread must be able to
// take the next ready connection instead of the one blocked thread that owns it.
class IoPool {
 public:
  explicit IoPool(int threads);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  boost::asio::io_context& main() { return *contexts_.front(); }
  // The context for the next connection, round robin.
  boost::asio::io_context& next();
  // Runs each context on a thread of its own (the calling thread runs main()) until they
  // run out of work; SIGINT/SIGTERM call `on_signal` once, after which the idle contexts
  // are let go (until then they wait for connections). `on_serving` runs first, once the
  // signal handler is in place: print "listening on" there, so that a script which stops
  // the server as soon as it reads that line stops it gracefully rather than killing it.
  void run(const std::function<void()>& on_signal, const std::function<void()>& on_serving = {});

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::atomic<std::size_t> next_{0};
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerLimits limits, Handler handler, ExchangeObserver observer = {});
  // Connections spread over the pool's contexts; the acceptor on pool.main().
  Server(IoPool& pool, ServerLimits limits, Handler handler, ExchangeObserver observer = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. `port` 0 picks a free port; port() tells which.
  Status listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const;
  std::string host() const;
  std::size_t open_connections() const;

  // Graceful stop: no new connections, idle keep-alive connections closed at once, requests
  // in flight finish; after the grace period the rest are closed. Thread-safe, idempotent.
  void stop();
  bool stopping() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// Runs `io` on `threads` threads until it stops; SIGINT/SIGTERM call `on_signal` once;
// `on_serving` as for IoPool::run. (For handlers that may block; see IoPool for those that
// never do.)
void run_with_signals(boost::asio::io_context& io, int threads, const std::function<void()>& on_signal,
                      const std::function<void()>& on_serving = {});

}  // namespace tollgate::http
