// Beast server: an accept loop and one coroutine per connection (on its own strand when several
// threads run the io_context).
// Timeouts: one watchdog timer per connection (ConnectionDeadline) rather than a timer wait
// per read and write, which cost two handler runs per operation (the wait and its cancel).
// Request flow: wait for the first byte (idle timeout) -> read headers (header timeout,
// header limit) -> reject early on Content-Length over the limit (closing, so the unread
// body cannot be taken for a next request) -> read the body (body timeout, body limit) ->
// handler -> write (write timeout) -> next request on the same connection.
#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <csignal>
#include <thread>
#include <unordered_set>

#include "common/thread_name.hpp"
#include "http/parse.hpp"

namespace tollgate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Parses a request straight into a Request, with no Beast field container in between (each
// of its fields was an allocation and then a copy).
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  // Room for a typical request's header names and values up front: growing the text field
  // by field was several allocations per request.
  static constexpr std::size_t kExpectedHeaderBytes = 512;

  RequestParser(Request& request, std::size_t max_body_bytes) : request_(request), max_body_bytes_(max_body_bytes) {
    request_.headers.reserve(kExpectedHeaderBytes);
  }
  bhttp::verb verb() const { return verb_; }
  unsigned version() const { return version_; }

 private:
  static std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

  void on_request_impl(bhttp::verb method, beast::string_view method_string, beast::string_view target, int version,
                       beast::error_code&) override {
    verb_ = method;
    version_ = static_cast<unsigned>(version);
    request_.method.assign(view(method_string));
    request_.target.assign(view(target));
    std::string_view path = view(target);
    std::size_t q = path.find('?');
    request_.path = percent_decode(path.substr(0, q), false);
    if (q != std::string_view::npos) request_.query.assign(path.substr(q + 1));
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    request_.headers.add(view(name), view(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length) request_.body.reserve(std::min<std::uint64_t>(*length, max_body_bytes_));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& request_;
  std::size_t max_body_bytes_;
  bhttp::verb verb_ = bhttp::verb::unknown;
  unsigned version_ = 11;
};

// The status line and header block of a response, written by hand into one string, so that
// it and the body leave in one write without a field container or a serializer between.
// The body's framing: a Content-Length of `content_length`, chunked when it is nullopt and
// `chunked`, or neither (bodiless statuses).
std::string response_head(const Response& response, unsigned version, bool keep_alive,
                          std::optional<std::size_t> content_length, bool chunked) {
  std::string head;
  head.reserve(128 + 48 * response.headers.size());
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += fmt::format_int(response.status).c_str();
  head += ' ';
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(response.status));
  head.append(reason.data(), reason.size());
  head += "\r\n";
  for (const Header h : response.headers) append_header_line(head, h.name, h.value);
  // HTTP/1.1 keeps a connection open unless told otherwise, HTTP/1.0 closes it unless told.
  if (version == 10 && keep_alive) head += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) head += "Connection: close\r\n";
  if (content_length) {
    head += "Content-Length: ";
    head += fmt::format_int(*content_length).c_str();
    head += "\r\n";
  } else if (chunked) {
    head += "Transfer-Encoding: chunked\r\n";
  }
  head += "\r\n";
  return head;
}

// 1xx, 204 and 304 responses have no body and no Content-Length (RFC 9110, 8.6).
bool bodiless_status(unsigned status) { return status < 200 || status == 204 || status == 304; }

// The deadline of a connection's current read or write. Setting it is a clock read: the
// watchdog timer never sleeps longer than the shortest timeout, so any new deadline lies
// at or after its next wake and no wait has to be cancelled. When it wakes past the
// deadline it cancels the connection's I/O, and the operation ends with operation_aborted.
// Shared with the timer's handler, which may run after the connection has ended.
class ConnectionDeadline : public std::enable_shared_from_this<ConnectionDeadline> {
 public:
  using Clock = std::chrono::steady_clock;
  ConnectionDeadline(tcp::socket& socket, Clock::duration tick)
      : socket_(&socket), timer_(socket.get_executor()), tick_(tick) {}

  void start() { arm(); }
  // The connection has ended: the handler must not touch its socket any more.
  void stop() {
    socket_ = nullptr;
    timer_.cancel();
  }
  void expires_after(std::chrono::milliseconds timeout) {
    deadline_ = Clock::now() + timeout;
    expired_ = false;
  }
  void expires_never() { deadline_ = Clock::time_point::max(); }
  bool expired() const { return expired_; }

 private:
  void arm() {
    auto now = Clock::now();
    timer_.expires_at(deadline_ - now < tick_ ? deadline_ : now + tick_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->socket_ == nullptr) return;
      if (Clock::now() >= self->deadline_) {
        self->expired_ = true;
        self->deadline_ = Clock::time_point::max();
        boost::system::error_code ignored;
        self->socket_->cancel(ignored);
      }
      self->arm();
    });
  }

  tcp::socket* socket_;
  asio::steady_timer timer_;
  Clock::duration tick_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool expired_ = false;
};

}  // namespace

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  Impl(asio::io_context& io, IoPool* pool, ServerLimits limits, Handler handler, ExchangeObserver observer)
      : io_(io), pool_(pool), limits_(limits), handler_(std::move(handler)), observer_(std::move(observer)),
        control_(asio::make_strand(io)), acceptor_(control_), grace_timer_(control_) {}

  Status listen(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return Error{ErrorCode::kInvalidRequest, "--listen host must be an IP address: " + host};
    tcp::endpoint endpoint{address, port};
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error{ErrorCode::kInternal, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message()};
    local_ = acceptor_.local_endpoint();
    asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), asio::detached);
    return ok_status();
  }

  std::uint16_t port() const { return local_.port(); }
  std::string host() const { return local_.address().to_string(); }
  std::size_t open_connections() const { return connections_.load(); }
  bool stopping() const { return stopping_.load(); }

  void stop() {
    if (stopping_.exchange(true)) return;
    asio::post(control_, [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
      self->grace_timer_.expires_after(std::chrono::milliseconds(self->limits_.shutdown_grace_ms));
      self->grace_timer_.async_wait([self](boost::system::error_code ec) {
        if (!ec) self->close_sessions(/*idle_only=*/false);
      });
      self->close_sessions(/*idle_only=*/true);
    });
  }

 private:
  // A live connection, tracked so that stop() can close it.
  struct Session {
    tcp::socket* socket = nullptr;
    std::atomic<bool> idle{true};
  };

  void close_sessions(bool idle_only) {
    std::lock_guard lock(sessions_mutex_);
    for (Session* s : sessions_) {
      if (idle_only && !s->idle.load()) continue;
      asio::post(s->socket->get_executor(), [socket = s->socket] {
        boost::system::error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
        socket->close(ignored);
      });
    }
    if (sessions_.empty()) grace_timer_.cancel();  // runs on control_, like every timer use
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(self->connection_executor(), kUseTuple);
      if (ec) {
        if (self->stopping_ || ec == asio::error::operation_aborted) co_return;
        // Out of file descriptors or similar: back off briefly instead of spinning.
        spdlog::warn("http: accept failed: {}", ec.message());
        asio::steady_timer pause(self->acceptor_.get_executor(), 50ms);
        co_await pause.async_wait(kUseTuple);
        continue;
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, run_session(self, std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> run_session(std::shared_ptr<Impl> self, tcp::socket socket) {
    std::size_t open = ++self->connections_;
    Session session;
    boost::system::error_code ec;
    // Responses are written whole; waiting to coalesce small writes (Nagle) only adds latency.
    socket.set_option(tcp::no_delay(true), ec);
    session.socket = &socket;
    auto deadline = std::make_shared<ConnectionDeadline>(socket, self->deadline_tick());
    deadline->start();
    auto remote = socket.remote_endpoint(ec);
    std::string remote_address = ec ? "" : remote.address().to_string();
    {
      std::lock_guard lock(self->sessions_mutex_);
      self->sessions_.insert(&session);
    }
    if (open > self->limits_.max_connections) {
      Response busy = Response::error(ErrorCode::kPlatformUnavailable, "The server is at its connection limit; try again shortly.");
      busy.status = 503;
      co_await self->write_response(socket, *deadline, busy, false, 11, false);
    } else {
      co_await self->serve_connection(socket, *deadline, session, remote_address);
    }
    deadline->stop();
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    {
      std::lock_guard lock(self->sessions_mutex_);
      self->sessions_.erase(&session);
      if (self->stopping_ && self->sessions_.empty()) {
        asio::post(self->control_, [self] { self->grace_timer_.cancel(); });
      }
    }
    --self->connections_;
  }

  // A connection's coroutine, its watchdog and the posts that close it must not run at once.
  // With one thread running the io_context (concurrency hint 1, which the commands pass when
  // they run one thread, and every context of an IoPool) they cannot, and a strand would only
  // add a hand-off per step.
  asio::any_io_executor connection_executor() {
    if (pool_) return pool_->next().get_executor();
    if (asio::use_service<asio::detail::scheduler>(io_).concurrency_hint() == 1) return io_.get_executor();
    return asio::make_strand(io_);
  }

  // The watchdog's period: the shortest timeout, so that it never sleeps past a deadline.
  std::chrono::milliseconds deadline_tick() const {
    int shortest = std::min({limits_.header_timeout_ms, limits_.body_timeout_ms, limits_.idle_timeout_ms,
                             limits_.write_timeout_ms});
    return std::chrono::milliseconds(std::max(shortest, 1));
  }

  asio::awaitable<void> serve_connection(tcp::socket& stream, ConnectionDeadline& deadline, Session& session,
                                         const std::string& remote) {
    beast::flat_buffer buffer;
    for (;;) {
      // Idle: wait for the first byte of the next request.
      if (buffer.size() == 0) {
        session.idle = true;
        if (stopping_) co_return;
        deadline.expires_after(std::chrono::milliseconds(limits_.idle_timeout_ms));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunkBytes), kUseTuple);
        if (ec) co_return;
        buffer.commit(n);
      }
      session.idle = false;
      // Clock reads are a few per request, each a measurable share of one: only when used.
      auto started = observer_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();

      Request request;
      RequestParser parser(request, limits_.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
      parser.body_limit(limits_.max_body_bytes);
      // The header timeout runs from the first read that has to wait for more of it (a
      // header that came whole in the first read needs none).
      beast::error_code hec;
      std::size_t hn = 0;
      bool header_deadline_set = false;
      while (feed(parser, buffer, false, hec, hn)) {
        if (!header_deadline_set) {
          deadline.expires_after(std::chrono::milliseconds(limits_.header_timeout_ms));
          header_deadline_set = true;
        }
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunkBytes), kUseTuple);
        // The peer went away, or the header deadline passed (its watchdog cancels the read).
        if (ec) co_return;
        buffer.commit(n);
      }
      // Beast applies header_limit to the request line and to the fields separately, so a
      // block of up to twice the limit gets through; `hn` is the whole block.
      if (hec == bhttp::error::header_limit || (!hec && hn > limits_.max_header_bytes)) {
        co_await reject(stream, deadline, ErrorCode::kHeadersTooLarge,
                        fmt::format("The request headers exceed {} bytes.", limits_.max_header_bytes));
        co_return;
      }
      // The parser checks Content-Length against body_limit while reading the header.
      if (hec == bhttp::error::body_limit) {
        co_await reject(stream, deadline, ErrorCode::kPayloadTooLarge,
                        fmt::format("The request body exceeds {} bytes.", limits_.max_body_bytes));
        co_return;
      }
      if (hec) {
        co_await reject(stream, deadline, ErrorCode::kInvalidRequest, "The request is not valid HTTP/1.1.");
        co_return;
      }
      if (auto length = parser.content_length(); length && *length > limits_.max_body_bytes) {
        co_await reject(stream, deadline, ErrorCode::kPayloadTooLarge,
                        fmt::format("The request body exceeds {} bytes.", limits_.max_body_bytes));
        co_return;
      }
      if (auto expect = request.header("Expect"); expect && beast::iequals(*expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        deadline.expires_after(std::chrono::milliseconds(limits_.write_timeout_ms));
        auto [cec, cn] = co_await asio::async_write(stream, asio::buffer(kContinue), kUseTuple);
        if (cec) co_return;
      }
      if (!parser.is_done()) {
        // The deadline cancels the read and leaves the socket open, so the 408 can be written.
        deadline.expires_after(std::chrono::milliseconds(limits_.body_timeout_ms));
        parser.eager(true);
        beast::error_code bec;
        std::size_t bn = 0;
        while (feed(parser, buffer, true, bec, bn)) {
          auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunkBytes), kUseTuple);
          if (ec) {
            bec = ec;
            break;
          }
          buffer.commit(n);
        }
        if (bec == bhttp::error::body_limit) {
          co_await reject(stream, deadline, ErrorCode::kPayloadTooLarge,
                          fmt::format("The request body exceeds {} bytes.", limits_.max_body_bytes));
          co_return;
        }
        if (deadline.expired()) {
          Response slow = Response::error(ErrorCode::kInvalidRequest, "The request body did not arrive in time.");
          slow.status = 408;
          co_await write_response(stream, deadline, slow, false, 11, false);
          co_return;
        }
        // A malformed body (bad chunk framing) is the client's error: say so, then close.
        if (bec && bec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category()) {
          co_await reject(stream, deadline, ErrorCode::kInvalidRequest, "The request body is not valid HTTP/1.1.");
          co_return;
        }
        if (bec) co_return;
      }
      deadline.expires_never();

      unsigned version = parser.version();
      bool keep_alive = parser.keep_alive();
      bool head = parser.verb() == bhttp::verb::head;
      request.remote_address = remote;
      Response response;
      try {
        response = co_await handler_(request);
      } catch (const std::exception& e) {
        spdlog::error("http: handler for {} {} threw: {}", request.method, request.route, e.what());
        response = Response::error(ErrorCode::kInternal, "An internal error occurred; nothing was changed.");
      }
      keep_alive = keep_alive && !response.close && !stopping_;
      std::size_t bytes = co_await write_response(stream, deadline, response, head, version, keep_alive);
      if (observer_) {
        auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        observer_(Exchange{request, response.status, bytes, elapsed});
      }
      if (!keep_alive || bytes == 0) co_return;
    }
  }

  // Early rejection: answer and close, so the unread rest of the request is never parsed.
  asio::awaitable<void> reject(tcp::socket& stream, ConnectionDeadline& deadline, ErrorCode code, std::string message) {
    Response response = Response::error(code, message);
    co_await write_response(stream, deadline, response, false, 11, false);
    if (observer_) {
      Request placeholder;
      placeholder.route = "(rejected)";
      observer_(Exchange{placeholder, response.status, response.body.size(), {}});
    }
  }

  // Returns bytes written, 0 if the write failed.
  asio::awaitable<std::size_t> write_response(tcp::socket& stream, ConnectionDeadline& deadline, Response& response,
                                               bool head, unsigned version, bool keep_alive) {
    deadline.expires_after(std::chrono::milliseconds(limits_.write_timeout_ms));
    if (!response.stream) {
      bool bodiless = bodiless_status(response.status);
      auto length = bodiless ? std::nullopt : std::optional<std::size_t>(response.body.size());
      std::string head_block = response_head(response, version, keep_alive, length, /*chunked=*/false);
      std::string_view body = head || bodiless ? std::string_view() : std::string_view(response.body);
      std::array<asio::const_buffer, 2> buffers{asio::buffer(head_block), asio::buffer(body)};
      auto [ec, n] = co_await asio::async_write(stream, buffers, kUseTuple);
      co_return ec ? 0 : n;
    }
    ChunkWriter writer(stream, deadline, *this,
                       response_head(response, version, keep_alive, std::nullopt, /*chunked=*/true));
    co_await response.stream(writer);
    if (!writer.finished() && writer.open()) {
      auto op = writer.finish({});
      co_await std::move(op);
    }
    co_return writer.ok() ? writer.bytes() : 0;
  }

  // Chunked transfer coding by hand, so that the header, a chunk and the end of the body can
  // share one write.
  class ChunkWriter final : public StreamWriter {
   public:
    ChunkWriter(tcp::socket& stream, ConnectionDeadline& deadline, Impl& server, std::string header)
        : stream_(stream), deadline_(deadline), server_(server), pending_header_(std::move(header)) {}
    asio::awaitable<bool> write(std::string_view chunk) override { return send(chunk, /*last=*/false); }
    asio::awaitable<bool> finish(std::string_view last_chunk) override { return send(last_chunk, /*last=*/true); }
    bool open() const override { return !failed_ && !finished_ && stream_.is_open(); }
    bool ok() const { return !failed_; }
    bool finished() const { return finished_; }
    std::size_t bytes() const { return bytes_; }

   private:
    asio::awaitable<bool> send(std::string_view chunk, bool last) {
      if (!open()) co_return false;
      // The chunk's size in hex and CRLF, on the stack: a stream writes one per event.
      char size_text[20];
      std::size_t size_length = 0;
      if (!chunk.empty()) {
        char* end = std::to_chars(size_text, size_text + 16, chunk.size(), 16).ptr;
        *end++ = '\r';
        *end++ = '\n';
        size_length = static_cast<std::size_t>(end - size_text);
      }
      static constexpr std::string_view kCrlf = "\r\n", kLastChunk = "0\r\n\r\n";
      std::array<asio::const_buffer, 5> buffers{asio::buffer(pending_header_), asio::buffer(size_text, size_length),
                                                asio::buffer(chunk.empty() ? std::string_view() : chunk),
                                                asio::buffer(chunk.empty() ? std::string_view() : kCrlf),
                                                asio::buffer(last ? kLastChunk : std::string_view())};
      if (asio::buffer_size(buffers) == 0) co_return true;  // nothing pending, nothing to send
      deadline_.expires_after(std::chrono::milliseconds(server_.limits_.write_timeout_ms));
      auto [ec, n] = co_await asio::async_write(stream_, buffers, kUseTuple);
      pending_header_.clear();
      if (ec) failed_ = true;
      if (last) finished_ = true;
      bytes_ += n;
      co_return !failed_;
    }

    tcp::socket& stream_;
    ConnectionDeadline& deadline_;
    Impl& server_;
    std::string pending_header_;  // sent with the first write
    bool failed_ = false;
    bool finished_ = false;
    std::size_t bytes_ = 0;
  };

  asio::io_context& io_;
  IoPool* pool_;  // nullptr: connections on io_
  ServerLimits limits_;
  Handler handler_;
  ExchangeObserver observer_;
  asio::strand<asio::io_context::executor_type> control_;  // acceptor and grace timer
  tcp::acceptor acceptor_;
  tcp::endpoint local_;
  asio::steady_timer grace_timer_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<bool> stopping_{false};
  std::mutex sessions_mutex_;
  std::unordered_set<Session*> sessions_;
};

Server::Server(asio::io_context& io, ServerLimits limits, Handler handler, ExchangeObserver observer)
    : impl_(std::make_shared<Impl>(io, nullptr, limits, std::move(handler), std::move(observer))) {}
Server::Server(IoPool& pool, ServerLimits limits, Handler handler, ExchangeObserver observer)
    : impl_(std::make_shared<Impl>(pool.main(), &pool, limits, std::move(handler), std::move(observer))) {}
Server::~Server() { impl_->stop(); }
Status Server::listen(const std::string& host, std::uint16_t port) { return impl_->listen(host, port); }
std::uint16_t Server::port() const { return impl_->port(); }
std::string Server::host() const { return impl_->host(); }
std::size_t Server::open_connections() const { return impl_->open_connections(); }
void Server::stop() { impl_->stop(); }
bool Server::stopping() const { return impl_->stopping(); }

void run_with_signals(asio::io_context& io, int threads, const std::function<void()>& on_signal,
                      const std::function<void()>& on_serving) {
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec && on_signal) on_signal();
  });
  if (on_serving) asio::post(io, on_serving);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&io, i] {
      set_thread_name("io-" + std::to_string(i));
      io.run();
    });
  }
  io.run();  // the calling thread too; it keeps its name (the main thread's is the process's)
  for (auto& t : pool) t.join();
}

IoPool::IoPool(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
}

IoPool::~IoPool() = default;

asio::io_context& IoPool::next() { return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]; }

void IoPool::run(const std::function<void()>& on_signal, const std::function<void()>& on_serving) {
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> waiting;
  for (std::size_t i = 1; i < contexts_.size(); ++i) waiting.push_back(asio::make_work_guard(*contexts_[i]));
  asio::signal_set signals(main(), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec && on_signal) on_signal();
    for (auto& guard : waiting) guard.reset();  // each context now ends with its last connection
  });
  if (on_serving) asio::post(main(), on_serving);
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads.emplace_back([this, i] {
      set_thread_name("io-" + std::to_string(i));
      contexts_[i]->run();
    });
  }
  main().run();
  for (auto& t : threads) t.join();
}

}  // namespace tollgate::http
