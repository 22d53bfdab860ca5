// Beast client with a keep-alive pool per origin.
#include "http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>

namespace tollgate::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Error transport_error(const Url& url, std::string_view what, const boost::system::error_code& ec) {
  std::string reason = ec == beast::error::timeout ? "timed out" : ec.message();
  return Error{ErrorCode::kPlatformUnavailable, fmt::format("{} {} failed: {}", url.origin(), what, reason)};
}

bhttp::request<bhttp::string_body> to_beast(const ClientRequest& req, const Url& url) {
  bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(req.method), url.target, 11};
  out.set(bhttp::field::host, url.host + ":" + std::to_string(url.port));
  out.set(bhttp::field::user_agent, "tollgate");
  for (const auto& h : req.headers.all()) out.set(h.name, h.value);
  out.body() = req.body;
  out.keep_alive(true);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") out.prepare_payload();
  return out;
}

Headers to_headers(const bhttp::fields& fields) {
  Headers out;
  for (const auto& f : fields) out.add(std::string(f.name_string()), std::string(f.value()));
  return out;
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) {
    return Error{ErrorCode::kInvalidRequest, "URL must start with http:// : " + std::string(text)};
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

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(asio::any_io_executor executor, ClientOptions options) : executor_(std::move(executor)), options_(options) {}

  asio::awaitable<Result<ClientResponse>> request(ClientRequest req) {
    auto url = parse_url(req.url);
    if (!url) co_return url.error();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.timeout_ms);
    auto beast_req = to_beast(req, *url);
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = false;
      auto stream = take_idle(url->origin());
      if (stream) {
        reused = true;
      } else {
        auto fresh = co_await connect(*url, deadline);
        if (!fresh) co_return fresh.error();
        stream = std::move(*fresh);
      }
      stream->expires_at(deadline);
      auto [wec, wn] = co_await bhttp::async_write(*stream, beast_req, kUseTuple);
      beast::flat_buffer buffer;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options_.max_response_bytes);
      // A response to HEAD has a Content-Length but no body; without this the read waits for it.
      if (req.method == "HEAD") parser.skip(true);
      boost::system::error_code rec = wec;
      if (!wec) std::tie(rec, std::ignore) = co_await bhttp::async_read(*stream, buffer, parser, kUseTuple);
      if (rec) {
        // A pooled connection the server closed while idle: try once more on a new one.
        bool stale = reused && (rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                                rec == asio::error::connection_reset || rec == asio::error::broken_pipe);
        if (stale) continue;
        co_return transport_error(*url, req.method + " " + url->target, rec);
      }
      auto res = parser.release();
      ClientResponse out{res.result_int(), to_headers(res.base()), std::move(res.body())};
      if (res.keep_alive()) give_back(url->origin(), std::move(stream));
      co_return out;
    }
    co_return Error{ErrorCode::kPlatformUnavailable, url->origin() + " closed the connection twice"};
  }

  asio::awaitable<Result<std::unique_ptr<ResponseStream>>> open_stream(ClientRequest req) {
    auto url = parse_url(req.url);
    if (!url) co_return url.error();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.timeout_ms);
    auto stream = co_await connect(*url, deadline);
    if (!stream) co_return stream.error();
    auto reader = std::make_unique<StreamReader>(std::move(*stream));
    auto beast_req = to_beast(req, *url);
    reader->stream->expires_at(deadline);
    auto [wec, wn] = co_await bhttp::async_write(*reader->stream, beast_req, kUseTuple);
    if (wec) co_return transport_error(*url, "request", wec);
    auto [hec, hn] = co_await bhttp::async_read_header(*reader->stream, reader->buffer, reader->parser, kUseTuple);
    if (hec) co_return transport_error(*url, "response", hec);
    reader->stream->expires_never();
    reader->headers_ = to_headers(reader->parser.get().base());
    reader->status_code = reader->parser.get().result_int();
    co_return std::unique_ptr<ResponseStream>(std::move(reader));
  }

 private:
  struct StreamReader final : ResponseStream {
    explicit StreamReader(std::unique_ptr<beast::tcp_stream> s) : stream(std::move(s)) {
      parser.body_limit(boost::none);  // a server stream may run for hours
    }
    unsigned status() const override { return status_code; }
    const Headers& headers() const override { return headers_; }
    asio::awaitable<std::optional<std::string>> read_some() override {
      if (parser.is_done() || closed) co_return std::nullopt;
      char chunk[8192];
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      auto [ec, n] = co_await bhttp::async_read_some(*stream, buffer, parser, kUseTuple);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) co_return std::nullopt;
      std::size_t got = sizeof(chunk) - parser.get().body().size;
      co_return std::string(chunk, got);
    }
    void close() override {
      closed = true;
      // Shared ownership: the posted shutdown may run after this reader is gone.
      asio::post(stream->get_executor(), [s = stream] {
        boost::system::error_code ignored;
        s->socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    }
    ~StreamReader() override {
      boost::system::error_code ignored;
      stream->socket().close(ignored);
    }

    std::shared_ptr<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::buffer_body> parser;
    Headers headers_;
    unsigned status_code = 0;
    std::atomic<bool> closed{false};
  };

  asio::awaitable<Result<std::unique_ptr<beast::tcp_stream>>> connect(const Url& url,
                                                                      std::chrono::steady_clock::time_point deadline) {
    tcp::resolver resolver(executor_);
    auto [rec, results] = co_await resolver.async_resolve(url.host, std::to_string(url.port), kUseTuple);
    if (rec) co_return transport_error(url, "resolve", rec);
    auto stream = std::make_unique<beast::tcp_stream>(executor_);
    stream->expires_at(deadline);
    auto [cec, ep] = co_await stream->async_connect(results, kUseTuple);
    if (cec) co_return transport_error(url, "connect", cec);
    stream->socket().set_option(tcp::no_delay(true));
    co_return std::move(stream);
  }

  std::unique_ptr<beast::tcp_stream> take_idle(const std::string& origin) {
    std::lock_guard lock(mutex_);
    auto& list = idle_[origin];
    if (list.empty()) return nullptr;
    auto stream = std::move(list.back());
    list.pop_back();
    return stream;
  }

  void give_back(const std::string& origin, std::unique_ptr<beast::tcp_stream> stream) {
    std::lock_guard lock(mutex_);
    auto& list = idle_[origin];
    if (list.size() < options_.max_idle_per_origin) list.push_back(std::move(stream));
  }

  asio::any_io_executor executor_;
  ClientOptions options_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>> idle_;
};

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), options)) {}
Client::~Client() = default;

asio::awaitable<Result<ClientResponse>> Client::request(ClientRequest request) {
  auto impl = impl_;  // keeps the pool alive for the whole exchange
  co_return co_await impl->request(std::move(request));
}

asio::awaitable<Result<std::unique_ptr<ResponseStream>>> Client::open_stream(ClientRequest request) {
  auto impl = impl_;
  co_return co_await impl->open_stream(std::move(request));
}

Result<ClientResponse> fetch(const ClientRequest& request) {
  asio::io_context io;
  Client client(io.get_executor());
  std::optional<Result<ClientResponse>> out;
  // Result has no default state, so the coroutine stores it instead of returning it.
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.emplace(co_await client.request(request)); }, asio::detached);
  io.run();
  if (!out) return Error{ErrorCode::kInternal, "HTTP client failed"};
  return std::move(*out);
}

}  // namespace tollgate::http
