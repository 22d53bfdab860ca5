// The HTTP client. Like the server (server.cpp) it keeps Beast to the parsing: a request's
// head is written by hand and leaves with its body in one write, a response is parsed
// straight into a ClientResponse, and one timer bounds a whole exchange instead of a timer
// wait per read and write (two handler runs and a timerfd update per operation).
#include "http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <unordered_map>

#include "common/text.hpp"
#include "http/parse.hpp"

namespace tollgate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// One TCP connection to an origin. Its timer bounds an exchange (connect, write, read): when
// the deadline passes first it cancels the socket's I/O, and the pending operation ends with
// operation_aborted. `exchange` numbers the exchanges, so that a wait which fired just as
// its exchange ended cannot cancel the connection's next one.
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(const asio::any_io_executor& executor) : socket(executor), timer(executor) {}

  // The wait's handler runs on `executor`, the awaiting coroutine's, so never beside its I/O.
  void begin_exchange(std::chrono::steady_clock::time_point deadline, const asio::any_io_executor& executor) {
    timed_out = false;
    timer.expires_at(deadline);
    auto on_deadline = [self = shared_from_this(), n = exchange.load()](boost::system::error_code ec) {
      if (ec || n != self->exchange.load()) return;
      self->timed_out = true;
      boost::system::error_code ignored;
      self->socket.cancel(ignored);
    };
    timer.async_wait(asio::bind_executor(executor, std::move(on_deadline)));
  }
  void end_exchange() {
    ++exchange;
    timer.cancel();
  }

  tcp::socket socket;
  asio::steady_timer timer;
  beast::flat_buffer buffer;
  std::atomic<std::uint64_t> exchange{0};
  bool timed_out = false;
};

// The idle keep-alive connections of one io_context, by origin. An Asio service of that
// context: the pooled sockets close when it shuts down, while their reactor still exists,
// whoever else still holds a Client.
class ConnectionPool final : public asio::execution_context::service {
 public:
  inline static asio::execution_context::id id;
  explicit ConnectionPool(asio::execution_context& context) : service(context) {}

  static ConnectionPool& of(const asio::any_io_executor& executor) {
    return asio::use_service<ConnectionPool>(asio::query(executor, asio::execution::context));
  }

  std::shared_ptr<Connection> take(const std::string& origin) {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(origin);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto connection = std::move(it->second.back());
    it->second.pop_back();
    return connection;
  }

  void give_back(const std::string& origin, std::shared_ptr<Connection> connection, std::size_t max_idle) {
    std::lock_guard lock(mutex_);
    auto& list = idle_[origin];
    if (list.size() < max_idle) list.push_back(std::move(connection));
  }

 private:
  void shutdown() override {
    std::lock_guard lock(mutex_);
    idle_.clear();
  }

  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>> idle_;
};

// Parses a response straight into a ClientResponse (no Beast field container and copy). The
// body is appended to `out.body`; a stream takes it from there piece by piece.
class ResponseParser final : public bhttp::basic_parser<false> {
 public:
  static constexpr std::size_t kExpectedHeaders = 16;
  explicit ResponseParser(ClientResponse& out) : out_(out) { out_.headers.reserve(kExpectedHeaders); }

 private:
  static std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    out_.status = static_cast<unsigned>(code);
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    out_.headers.add(std::string(view(name)), std::string(view(value)));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    // The parser's body limit has already refused a larger Content-Length.
    if (length) out_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  ClientResponse& out_;
};

Error transport_error(const Url& url, std::string_view what, const boost::system::error_code& ec, bool timed_out) {
  std::string reason = timed_out ? "timed out" : ec.message();
  return Error{ErrorCode::kPlatformUnavailable, fmt::format("{} {} failed: {}", url.origin(), what, reason)};
}

// RFC 9110 token characters: a method is written onto the request line as it is.
bool valid_method(std::string_view method) {
  if (method.empty()) return false;
  return std::all_of(method.begin(), method.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// The request line and header block, written by hand into one string. The body's length is
// the client's to write (a caller's Content-Length or Transfer-Encoding is left out); Host
// and User-Agent are the caller's when given.
std::string request_head(const ClientRequest& req, const Url& url) {
  std::string head;
  head.reserve(96 + url.target.size() + 48 * req.headers.size());
  head += req.method;
  head += ' ';
  head += url.target;
  head += " HTTP/1.1\r\n";
  bool host = false, user_agent = false;
  for (const Header h : req.headers) {
    if (ascii_iequals(h.name, "Content-Length") || ascii_iequals(h.name, "Transfer-Encoding")) continue;
    host = host || ascii_iequals(h.name, "Host");
    user_agent = user_agent || ascii_iequals(h.name, "User-Agent");
    append_header_line(head, h.name, h.value);
  }
  if (!host) {
    head += "Host: ";
    head += url.host;
    head += ':';
    head += fmt::format_int(url.port).c_str();
    head += "\r\n";
  }
  if (!user_agent) head += "User-Agent: tollgate\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    head += "Content-Length: ";
    head += fmt::format_int(req.body.size()).c_str();
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

// A response whose body is handed out as it arrives. It has a connection of its own, never
// pooled: a server stream may run for hours.
class StreamReader final : public ResponseStream {
 public:
  explicit StreamReader(std::shared_ptr<Connection> connection) : connection_(std::move(connection)), parser_(response_) {
    parser_.body_limit(boost::none);
  }
  ~StreamReader() override {
    boost::system::error_code ignored;
    connection_->socket.close(ignored);
  }

  unsigned status() const override { return response_.status; }
  const Headers& headers() const override { return response_.headers; }
  ResponseParser& parser() { return parser_; }
  Connection& connection() { return *connection_; }

  asio::awaitable<std::optional<std::string>> read_some() override {
    for (;;) {
      if (!response_.body.empty()) co_return std::exchange(response_.body, std::string());
      if (failed_ || closed_ || parser_.is_done()) co_return std::nullopt;
      auto [ec, n] = co_await bhttp::async_read_some(connection_->socket, connection_->buffer, parser_, kUseTuple);
      if (ec) failed_ = true;  // what was parsed before the error is still handed out
    }
  }

  void close() override {
    closed_ = true;
    // On the socket's executor, where its reads run; the posted step keeps the connection.
    asio::post(connection_->socket.get_executor(), [c = connection_] {
      boost::system::error_code ignored;
      c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

 private:
  std::shared_ptr<Connection> connection_;
  ClientResponse response_;  // status and headers; `body` holds what is not handed out yet
  ResponseParser parser_;
  bool failed_ = false;
  std::atomic<bool> closed_{false};
};

}  // namespace

Result<Url> parse_url(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) {
    return Error{ErrorCode::kInvalidRequest, "URL must start with http:// : " + std::string(text)};
  }
  // The target goes onto the request line as it is: no spaces or control characters.
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return Error{ErrorCode::kInvalidRequest, "URL has a space or control character: " + std::string(text)};
  }
  std::string_view rest = text.substr(kScheme.size());
  std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  Url url;
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target.insert(0, "/");
  std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    std::string_view port_text = authority.substr(colon + 1);
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return Error{ErrorCode::kInvalidRequest, "URL has an invalid port: " + std::string(text)};
    }
    url.port = static_cast<std::uint16_t>(port);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return Error{ErrorCode::kInvalidRequest, "URL has no host: " + std::string(text)};
  url.host = std::string(authority);
  return url;
}

class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(options) {}

  asio::awaitable<Result<ClientResponse>> request(ClientRequest req) {
    auto url = parse_url(req.url);
    if (!url) co_return url.error();
    if (!valid_method(req.method)) co_return Error{ErrorCode::kInvalidRequest, "not an HTTP method: " + req.method};
    auto executor = co_await asio::this_coro::executor;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.timeout_ms);
    std::string head = request_head(req, *url);
    std::string origin = url->origin();
    ConnectionPool& pool = ConnectionPool::of(executor);
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto connection = pool.take(origin);
      bool reused = connection != nullptr;
      if (reused) {
        connection->begin_exchange(deadline, executor);
      } else {
        auto fresh = co_await connect(*url, deadline, executor);
        if (!fresh) co_return fresh.error();
        connection = std::move(*fresh);
      }
      std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(req.body)};
      auto [wec, wn] = co_await asio::async_write(connection->socket, out, kUseTuple);
      ClientResponse response;
      ResponseParser parser(response);
      parser.body_limit(options_.max_response_bytes);
      // A response to HEAD has a Content-Length but no body; without this the read waits for it.
      if (req.method == "HEAD") parser.skip(true);
      boost::system::error_code rec = wec;
      std::size_t used = 0;
      auto& buffer = connection->buffer;
      while (!rec && feed(parser, buffer, true, rec, used)) {
        auto [ec, n] = co_await connection->socket.async_read_some(buffer.prepare(kReadChunkBytes), kUseTuple);
        if (ec == asio::error::eof) {
          // The end of a body that runs to the close, or a close before any answer.
          if (parser.got_some()) {
            parser.put_eof(rec);
          } else {
            rec = bhttp::error::end_of_stream;
          }
          break;
        }
        rec = ec;
        if (!ec) buffer.commit(n);
      }
      bool timed_out = connection->timed_out;
      connection->end_exchange();
      if (rec) {
        // A pooled connection the server closed while idle: try once more on a new one.
        bool stale = reused && !timed_out &&
                     (rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                      rec == asio::error::connection_reset || rec == asio::error::broken_pipe);
        if (stale) continue;
        co_return transport_error(*url, req.method + " " + url->target, rec, timed_out);
      }
      // Bytes past the response would be taken for the start of the next one: not reused.
      if (parser.keep_alive() && connection->buffer.size() == 0) {
        pool.give_back(origin, std::move(connection), options_.max_idle_per_origin);
      }
      co_return response;
    }
    co_return Error{ErrorCode::kPlatformUnavailable, origin + " closed the connection twice"};
  }

  asio::awaitable<Result<std::unique_ptr<ResponseStream>>> open_stream(ClientRequest req) {
    auto url = parse_url(req.url);
    if (!url) co_return url.error();
    if (!valid_method(req.method)) co_return Error{ErrorCode::kInvalidRequest, "not an HTTP method: " + req.method};
    auto executor = co_await asio::this_coro::executor;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.timeout_ms);
    auto connection = co_await connect(*url, deadline, executor);
    if (!connection) co_return connection.error();
    auto reader = std::make_unique<StreamReader>(std::move(*connection));
    Connection& c = reader->connection();
    std::string head = request_head(req, *url);
    std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(req.body)};
    auto [wec, wn] = co_await asio::async_write(c.socket, out, kUseTuple);
    boost::system::error_code hec = wec;
    if (!wec) std::tie(hec, std::ignore) = co_await bhttp::async_read_header(c.socket, c.buffer, reader->parser(), kUseTuple);
    bool timed_out = c.timed_out;
    c.end_exchange();  // the body may take as long as it takes
    if (hec) co_return transport_error(*url, wec ? "request" : "response", hec, timed_out);
    co_return std::unique_ptr<ResponseStream>(std::move(reader));
  }

 private:
  // A new connection with its first exchange begun (the deadline covers the connect).
  static asio::awaitable<Result<std::shared_ptr<Connection>>> connect(const Url& url,
                                                                     std::chrono::steady_clock::time_point deadline,
                                                                     asio::any_io_executor executor) {
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port), kUseTuple);
    if (rec) co_return transport_error(url, "resolve", rec, false);
    auto connection = std::make_shared<Connection>(executor);
    connection->begin_exchange(deadline, executor);
    boost::system::error_code cec = asio::error::host_not_found;
    // Each address in turn until one answers, but none once the deadline has passed.
    for (const auto& entry : endpoints) {
      boost::system::error_code ignored;
      connection->socket.close(ignored);
      std::tie(cec) = co_await connection->socket.async_connect(entry.endpoint(), kUseTuple);
      if (!cec || connection->timed_out) break;
    }
    if (cec) {
      bool timed_out = connection->timed_out;
      connection->end_exchange();
      co_return transport_error(url, "connect", cec, timed_out);
    }
    // Requests are written whole; waiting to coalesce small writes (Nagle) only adds latency.
    connection->socket.set_option(tcp::no_delay(true), cec);
    co_return connection;
  }

  ClientOptions options_;
};

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(options)) {}
Client::~Client() = default;

asio::awaitable<Result<ClientResponse>> Client::request(ClientRequest request) {
  auto impl = impl_;  // keeps the options alive for the whole exchange
  co_return co_await impl->request(std::move(request));
}

asio::awaitable<Result<std::unique_ptr<ResponseStream>>> Client::open_stream(ClientRequest request) {
  auto impl = impl_;
  co_return co_await impl->open_stream(std::move(request));
}

Result<ClientResponse> fetch(const ClientRequest& request) {
  asio::io_context io(1);
  Client client;
  std::optional<Result<ClientResponse>> out;
  // Result has no default state, so the coroutine stores it instead of returning it.
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.emplace(co_await client.request(request)); }, asio::detached);
  io.run();
  if (!out) return Error{ErrorCode::kInternal, "HTTP client failed"};
  return std::move(*out);
}

}  // namespace tollgate::http
