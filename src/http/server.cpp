// Beast server: an accept loop and one coroutine per connection, on its own strand.
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

#include <array>
#include <csignal>
#include <sstream>
#include <thread>
#include <unordered_set>

namespace tollgate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunkBytes = 8192;

Request to_request(bhttp::request<bhttp::string_body>&& raw, const std::string& remote) {
  Request r;
  r.method = std::string(raw.method_string());
  r.target = std::string(raw.target());
  std::string_view target = r.target;
  std::size_t q = target.find('?');
  r.path = percent_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  for (const auto& field : raw) r.headers.add(std::string(field.name_string()), std::string(field.value()));
  r.body = std::move(raw.body());
  r.remote_address = remote;
  return r;
}

bhttp::response<bhttp::string_body> to_beast(const Response& resp, bool head_request, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(resp.status), version};
  for (const auto& h : resp.headers.all()) out.insert(h.name, h.value);
  out.keep_alive(keep_alive);
  if (head_request) {
    out.content_length(resp.body.size());
  } else {
    out.body() = resp.body;
    out.prepare_payload();
  }
  return out;
}

}  // namespace

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  Impl(asio::io_context& io, ServerLimits limits, Handler handler, ExchangeObserver observer)
      : io_(io), limits_(limits), handler_(std::move(handler)), observer_(std::move(observer)),
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
    beast::tcp_stream* stream = nullptr;
    std::atomic<bool> idle{true};
  };

  void close_sessions(bool idle_only) {
    std::lock_guard lock(sessions_mutex_);
    for (Session* s : sessions_) {
      if (idle_only && !s->idle.load()) continue;
      asio::post(s->stream->get_executor(), [stream = s->stream] {
        boost::system::error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream->socket().close(ignored);
      });
    }
    if (sessions_.empty()) grace_timer_.cancel();  // runs on control_, like every timer use
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(asio::make_strand(self->io_), kUseTuple);
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
    beast::tcp_stream stream(std::move(socket));
    session.stream = &stream;
    auto remote = stream.socket().remote_endpoint(ec);
    std::string remote_address = ec ? "" : remote.address().to_string();
    {
      std::lock_guard lock(self->sessions_mutex_);
      self->sessions_.insert(&session);
    }
    if (open > self->limits_.max_connections) {
      Response busy = Response::error(ErrorCode::kPlatformUnavailable, "The server is at its connection limit; try again shortly.");
      busy.status = 503;
      co_await self->write_response(stream, busy, false, 11, false);
    } else {
      co_await self->serve_connection(stream, session, remote_address);
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    {
      std::lock_guard lock(self->sessions_mutex_);
      self->sessions_.erase(&session);
      if (self->stopping_ && self->sessions_.empty()) {
        asio::post(self->control_, [self] { self->grace_timer_.cancel(); });
      }
    }
    --self->connections_;
  }

  asio::awaitable<void> serve_connection(beast::tcp_stream& stream, Session& session, const std::string& remote) {
    beast::flat_buffer buffer;
    for (;;) {
      // Idle: wait for the first byte of the next request.
      if (buffer.size() == 0) {
        session.idle = true;
        if (stopping_) co_return;
        stream.expires_after(std::chrono::milliseconds(limits_.idle_timeout_ms));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunkBytes), kUseTuple);
        if (ec) co_return;
        buffer.commit(n);
      }
      session.idle = false;
      auto started = std::chrono::steady_clock::now();

      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
      parser.body_limit(limits_.max_body_bytes);
      stream.expires_after(std::chrono::milliseconds(limits_.header_timeout_ms));
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
      // Beast applies header_limit to the request line and to the fields separately, so a
      // block of up to twice the limit gets through; `hn` is the whole block.
      if (hec == bhttp::error::header_limit || (!hec && hn > limits_.max_header_bytes)) {
        co_await reject(stream, ErrorCode::kHeadersTooLarge,
                        fmt::format("The request headers exceed {} bytes.", limits_.max_header_bytes));
        co_return;
      }
      if (hec == beast::error::timeout || hec == bhttp::error::end_of_stream || hec == asio::error::eof) co_return;
      // The parser checks Content-Length against body_limit while reading the header.
      if (hec == bhttp::error::body_limit) {
        co_await reject(stream, ErrorCode::kPayloadTooLarge,
                        fmt::format("The request body exceeds {} bytes.", limits_.max_body_bytes));
        co_return;
      }
      if (hec) {
        co_await reject(stream, ErrorCode::kInvalidRequest, "The request is not valid HTTP/1.1.");
        co_return;
      }
      auto& header = parser.get();
      if (auto length = parser.content_length(); length && *length > limits_.max_body_bytes) {
        co_await reject(stream, ErrorCode::kPayloadTooLarge,
                        fmt::format("The request body exceeds {} bytes.", limits_.max_body_bytes));
        co_return;
      }
      if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, header.version()};
        stream.expires_after(std::chrono::milliseconds(limits_.write_timeout_ms));
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, kUseTuple);
        if (cec) co_return;
      }
      if (!parser.is_done()) {
        // Not stream.expires_after(): a Beast timeout closes the socket, and the 408 could
        // never be written. A timer on the connection's strand cancels the read instead.
        // `read_over` keeps a late timer handler from touching this frame after it is gone.
        stream.expires_never();
        auto read_over = std::make_shared<bool>(false);
        auto body_timed_out = std::make_shared<bool>(false);
        asio::steady_timer body_timer(stream.get_executor(), std::chrono::milliseconds(limits_.body_timeout_ms));
        body_timer.async_wait([read_over, body_timed_out, &stream](boost::system::error_code ec) {
          if (ec || *read_over) return;
          *body_timed_out = true;
          boost::system::error_code ignored;
          stream.socket().cancel(ignored);
        });
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
        *read_over = true;
        body_timer.cancel();
        if (bec == bhttp::error::body_limit) {
          co_await reject(stream, ErrorCode::kPayloadTooLarge,
                          fmt::format("The request body exceeds {} bytes.", limits_.max_body_bytes));
          co_return;
        }
        if (*body_timed_out) {
          Response slow = Response::error(ErrorCode::kInvalidRequest, "The request body did not arrive in time.");
          slow.status = 408;
          co_await write_response(stream, slow, false, 11, false);
          co_return;
        }
        // A malformed body (bad chunk framing) is the client's error: say so, then close.
        if (bec && bec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category()) {
          co_await reject(stream, ErrorCode::kInvalidRequest, "The request body is not valid HTTP/1.1.");
          co_return;
        }
        if (bec) co_return;
      }
      stream.expires_never();

      unsigned version = header.version();
      bool keep_alive = header.keep_alive();
      bool head = header.method() == bhttp::verb::head;
      Request request = to_request(parser.release(), remote);
      Response response;
      try {
        response = co_await handler_(request);
      } catch (const std::exception& e) {
        spdlog::error("http: handler for {} {} threw: {}", request.method, request.route, e.what());
        response = Response::error(ErrorCode::kInternal, "An internal error occurred; nothing was changed.");
      }
      keep_alive = keep_alive && !response.close && !stopping_;
      std::size_t bytes = co_await write_response(stream, response, head, version, keep_alive);
      if (observer_) {
        auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        observer_(Exchange{request, response.status, bytes, elapsed});
      }
      if (!keep_alive || bytes == 0) co_return;
    }
  }

  // Early rejection: answer and close, so the unread rest of the request is never parsed.
  asio::awaitable<void> reject(beast::tcp_stream& stream, ErrorCode code, std::string message) {
    Response response = Response::error(code, message);
    co_await write_response(stream, response, false, 11, false);
    if (observer_) {
      Request placeholder;
      placeholder.route = "(rejected)";
      observer_(Exchange{placeholder, response.status, response.body.size(), {}});
    }
  }

  // Returns bytes written, 0 if the write failed.
  asio::awaitable<std::size_t> write_response(beast::tcp_stream& stream, Response& response, bool head,
                                               unsigned version, bool keep_alive) {
    stream.expires_after(std::chrono::milliseconds(limits_.write_timeout_ms));
    if (!response.stream) {
      auto out = to_beast(response, head, version, keep_alive);
      auto [ec, n] = co_await bhttp::async_write(stream, out, kUseTuple);
      co_return ec ? 0 : n;
    }
    bhttp::response<bhttp::empty_body> out{static_cast<bhttp::status>(response.status), version};
    for (const auto& h : response.headers.all()) out.insert(h.name, h.value);
    out.chunked(true);
    out.keep_alive(keep_alive);
    std::ostringstream header;
    header << out.base();
    ChunkWriter writer(stream, *this, header.str());
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
    ChunkWriter(beast::tcp_stream& stream, Impl& server, std::string header)
        : stream_(stream), server_(server), pending_header_(std::move(header)) {}
    asio::awaitable<bool> write(std::string_view chunk) override { return send(chunk, /*last=*/false); }
    asio::awaitable<bool> finish(std::string_view last_chunk) override { return send(last_chunk, /*last=*/true); }
    bool open() const override { return !failed_ && !finished_ && stream_.socket().is_open(); }
    bool ok() const { return !failed_; }
    bool finished() const { return finished_; }
    std::size_t bytes() const { return bytes_; }

   private:
    asio::awaitable<bool> send(std::string_view chunk, bool last) {
      if (!open()) co_return false;
      std::string size_line;
      if (!chunk.empty()) size_line = fmt::format("{:x}\r\n", chunk.size());
      static constexpr std::string_view kCrlf = "\r\n", kLastChunk = "0\r\n\r\n";
      std::array<asio::const_buffer, 5> buffers{asio::buffer(pending_header_), asio::buffer(size_line),
                                                asio::buffer(chunk.empty() ? std::string_view() : chunk),
                                                asio::buffer(chunk.empty() ? std::string_view() : kCrlf),
                                                asio::buffer(last ? kLastChunk : std::string_view())};
      if (asio::buffer_size(buffers) == 0) co_return true;  // nothing pending, nothing to send
      stream_.expires_after(std::chrono::milliseconds(server_.limits_.write_timeout_ms));
      auto [ec, n] = co_await asio::async_write(stream_, buffers, kUseTuple);
      pending_header_.clear();
      if (ec) failed_ = true;
      if (last) finished_ = true;
      bytes_ += n;
      co_return !failed_;
    }

    beast::tcp_stream& stream_;
    Impl& server_;
    std::string pending_header_;  // sent with the first write
    bool failed_ = false;
    bool finished_ = false;
    std::size_t bytes_ = 0;
  };

  asio::io_context& io_;
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
    : impl_(std::make_shared<Impl>(io, limits, std::move(handler), std::move(observer))) {}
Server::~Server() { impl_->stop(); }
Status Server::listen(const std::string& host, std::uint16_t port) { return impl_->listen(host, port); }
std::uint16_t Server::port() const { return impl_->port(); }
std::string Server::host() const { return impl_->host(); }
std::size_t Server::open_connections() const { return impl_->open_connections(); }
void Server::stop() { impl_->stop(); }
bool Server::stopping() const { return impl_->stopping(); }

void run_with_signals(asio::io_context& io, int threads, const std::function<void()>& on_signal) {
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec && on_signal) on_signal();
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
}

}  // namespace tollgate::http
