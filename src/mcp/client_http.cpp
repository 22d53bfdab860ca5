// Streamable HTTP client transport: every message is a POST; answers come back as JSON or an
// SSE stream read by a detached reader; a broken stream is resumed with GET + Last-Event-ID
// (after the server's `retry:`); the standalone GET stream carries server-initiated messages.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <set>

#include "common/text.hpp"
#include "http/client.hpp"
#include "mcp/sse.hpp"
#include "tollgate/mcp/client.hpp"

namespace tollgate::mcp {
namespace asio = boost::asio;

namespace {

std::string media_type(const http::Headers& headers) {
  std::string v(headers.get("Content-Type").value_or(""));
  v = v.substr(0, v.find(';'));
  v = ascii_lowercase(v);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

class HttpClientTransport final : public ClientTransport {
 public:
  class Impl;
  HttpClientTransport(asio::any_io_executor executor, HttpClientOptions options);
  ~HttpClientTransport() override;
  void set_callbacks(Callbacks callbacks) override;
  asio::awaitable<Status> start() override;
  asio::awaitable<Status> send(Message message) override;
  void set_protocol_version(std::string version) override;
  void initialized() override;
  void reset_session() override;
  asio::awaitable<void> close() override;

 private:
  std::shared_ptr<Impl> impl_;
};

class HttpClientTransport::Impl : public std::enable_shared_from_this<HttpClientTransport::Impl> {
 public:
  Impl(asio::any_io_executor executor, HttpClientOptions options)
      : executor_(executor), options_(std::move(options)) {}

  asio::any_io_executor executor_;
  HttpClientOptions options_;
  http::Client client_;
  ClientTransport::Callbacks callbacks_;

  std::mutex mutex_;
  std::string session_id_;                                // guarded by mutex_
  std::string protocol_version_;                          // guarded by mutex_
  int retry_ms_ = 0;                                      // guarded by mutex_; 0: options_.reconnect_delay_ms
  bool closed_ = false;                                   // guarded by mutex_
  std::set<std::shared_ptr<http::ResponseStream>> streams_;    // guarded by mutex_
  std::set<std::shared_ptr<asio::steady_timer>> timers_;       // guarded by mutex_

  http::ClientRequest base_request(std::string method, bool with_session) {
    http::ClientRequest req;
    req.method = std::move(method);
    req.url = options_.url;
    req.timeout_ms = options_.connect_timeout_ms;
    for (const http::Header h : options_.headers) req.headers.set(h.name, h.value);
    std::lock_guard lock(mutex_);
    if (with_session && !session_id_.empty()) req.headers.set("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) req.headers.set("MCP-Protocol-Version", protocol_version_);
    return req;
  }

  bool closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  void deliver(Message m) {
    if (callbacks_.on_message) callbacks_.on_message(std::move(m));
  }

  void track(const std::shared_ptr<http::ResponseStream>& stream, bool add) {
    std::lock_guard lock(mutex_);
    if (add) {
      streams_.insert(stream);
    } else {
      streams_.erase(stream);
    }
  }

  std::chrono::milliseconds retry_delay(int attempt) {
    int base;
    {
      std::lock_guard lock(mutex_);
      base = retry_ms_ > 0 ? retry_ms_ : options_.reconnect_delay_ms;
    }
    // The server's retry value is honoured as given; without one, back off exponentially.
    long delay = base;
    for (int i = 0; i < attempt && delay < kMaxReconnectDelayMs; ++i) delay = delay * 3 / 2;
    return std::chrono::milliseconds(std::min<long>(delay, kMaxReconnectDelayMs));
  }

  static asio::awaitable<void> sleep(std::shared_ptr<Impl> self, std::chrono::milliseconds duration) {
    auto timer = std::make_shared<asio::steady_timer>(self->executor_, duration);
    {
      std::lock_guard lock(self->mutex_);
      if (self->closed_) co_return;
      self->timers_.insert(timer);
    }
    auto op = timer->async_wait(asio::as_tuple(asio::use_awaitable));
    co_await std::move(op);
    std::lock_guard lock(self->mutex_);
    self->timers_.erase(timer);
  }

  static asio::awaitable<Result<std::string>> read_all(std::shared_ptr<http::ResponseStream> stream, std::size_t limit) {
    std::string body;
    for (;;) {
      auto op = stream->read_some();
      std::optional<std::string> piece = co_await std::move(op);
      if (!piece) break;
      body += *piece;
      if (body.size() > limit) co_return Error{ErrorCode::kPayloadTooLarge, "the response exceeds " + std::to_string(limit) + " bytes"};
    }
    co_return body;
  }

  // Reads SSE events until the stream ends; delivers messages, strikes answered ids from
  // `expected`, and remembers the last event id.
  static asio::awaitable<void> consume(std::shared_ptr<Impl> self, std::shared_ptr<http::ResponseStream> stream,
                                       std::string& last_event_id, std::set<RequestId>* expected, bool& progressed) {
    detail::SseParser parser(kMaxSseEventBytes);
    std::vector<detail::SseEvent> events;
    for (;;) {
      auto op = stream->read_some();
      std::optional<std::string> piece = co_await std::move(op);
      if (!piece) co_return;
      events.clear();
      bool ok = parser.feed(*piece, events);
      for (auto& e : events) {
        if (e.id) {
          last_event_id = *e.id;
          progressed = true;
        }
        if (e.retry_ms) {
          std::lock_guard lock(self->mutex_);
          self->retry_ms_ = *e.retry_ms;
        }
        if (e.data.empty() || !(e.event.empty() || e.event == "message")) continue;
        Decoded decoded = decode(e.data, true);
        if (!decoded.ok()) {
          spdlog::warn("mcp client: ignoring an invalid message from the server: {}", decoded.error->error.message);
          continue;
        }
        for (auto& m : decoded.messages) {
          // Our POSTs carry one request each, so what comes on its stream belongs to it.
          if (expected && expected->size() == 1 && !m.is_response()) m.related = *expected->begin();
          if (expected && m.is_response() && !m.id_null) expected->erase(m.id);
          self->deliver(std::move(m));
        }
      }
      if (!ok) {
        spdlog::warn("mcp client: an SSE event exceeded {} bytes; dropping the stream", kMaxSseEventBytes);
        co_return;
      }
      if (expected && expected->empty()) co_return;  // everything answered: the stream is done for us
    }
  }

  // Follows one POST's SSE stream to its answers, resuming it after a break.
  static asio::awaitable<void> follow(std::shared_ptr<Impl> self, std::shared_ptr<http::ResponseStream> stream,
                                      std::set<RequestId> expected) {
    std::string last_event_id;
    int attempts = 0;
    while (stream) {
      bool progressed = false;
      self->track(stream, true);
      auto op = consume(self, stream, last_event_id, &expected, progressed);
      co_await std::move(op);
      self->track(stream, false);
      stream->close();
      stream.reset();
      if (expected.empty() || self->closed()) co_return;
      if (progressed) attempts = 0;
      // Resumable only if the server gave us an event id (a priming event at least).
      while (!last_event_id.empty() && attempts < self->options_.max_resume_attempts && !self->closed()) {
        auto pause = sleep(self, self->retry_delay(attempts++));
        co_await std::move(pause);
        http::ClientRequest req = self->base_request("GET", true);
        req.headers.set("Accept", "text/event-stream");
        req.headers.set("Last-Event-ID", last_event_id);
        auto open = self->client_.open_stream(std::move(req));
        auto opened = co_await std::move(open);
        if (!opened) continue;
        std::shared_ptr<http::ResponseStream> next(std::move(*opened));
        if (next->status() == 200 && media_type(next->headers()) == "text/event-stream") {
          stream = std::move(next);
          break;
        }
        next->close();
        if (next->status() == 404 || next->status() == 405 || next->status() == 400) break;
      }
    }
    // The answers cannot arrive any more: fail those requests now instead of at their timeout.
    for (const auto& id : expected) {
      self->deliver(Message::failure(id, rpc::kConnectionClosed, "The response stream ended before the answer arrived"));
    }
  }

  // The standalone GET stream for server-initiated requests and notifications.
  static asio::awaitable<void> listen(std::shared_ptr<Impl> self) {
    std::string last_event_id;
    int failures = 0;
    while (!self->closed()) {
      http::ClientRequest req = self->base_request("GET", true);
      req.headers.set("Accept", "text/event-stream");
      if (!last_event_id.empty()) req.headers.set("Last-Event-ID", last_event_id);
      auto open = self->client_.open_stream(std::move(req));
      auto opened = co_await std::move(open);
      if (opened) {
        std::shared_ptr<http::ResponseStream> stream(std::move(*opened));
        unsigned status = stream->status();
        if (status == 200 && media_type(stream->headers()) == "text/event-stream") {
          failures = 0;
          bool progressed = false;
          self->track(stream, true);
          auto op = consume(self, stream, last_event_id, nullptr, progressed);
          co_await std::move(op);
          self->track(stream, false);
          stream->close();
        } else {
          stream->close();
          // 405: no server stream offered; 404/400: session gone; 409: another one is open.
          if (status == 405 || status == 404 || status == 400 || status == 409) co_return;
          ++failures;
        }
      } else {
        ++failures;
      }
      if (failures > self->options_.max_resume_attempts) {
        spdlog::warn("mcp client: giving up on the server stream of {}", self->options_.url);
        co_return;
      }
      auto pause = sleep(self, self->retry_delay(failures));
      co_await std::move(pause);
    }
  }

  static asio::awaitable<Status> send(std::shared_ptr<Impl> self, Message message) {
    if (self->closed()) co_return Error{ErrorCode::kPlatformUnavailable, "the transport is closed"};
    bool had_session;
    {
      std::lock_guard lock(self->mutex_);
      had_session = !self->session_id_.empty();
    }
    http::ClientRequest req = self->base_request("POST", true);
    req.headers.set("Content-Type", "application/json");
    req.headers.set("Accept", "application/json, text/event-stream");
    req.body = encode(message);
    auto open = self->client_.open_stream(std::move(req));
    auto opened = co_await std::move(open);
    if (!opened) co_return Error{ErrorCode::kPlatformUnavailable, "MCP server " + self->options_.url + ": " + opened.error().message};
    std::shared_ptr<http::ResponseStream> stream(std::move(*opened));
    unsigned status = stream->status();
    if (auto sid = stream->headers().get("Mcp-Session-Id"); sid && !sid->empty()) {
      std::lock_guard lock(self->mutex_);
      self->session_id_ = std::string(*sid);
    }
    if (status == 202) {
      stream->close();
      co_return ok_status();
    }
    if (status == 404 && had_session) {
      stream->close();
      std::lock_guard lock(self->mutex_);
      self->session_id_.clear();
      co_return Error{ErrorCode::kNotFound, "the MCP server no longer knows this session"};
    }
    std::string type = media_type(stream->headers());
    if (status < 200 || status >= 300) {
      auto read = read_all(stream, 64 << 10);
      auto body = co_await std::move(read);
      stream->close();
      std::string detail = body ? *body : std::string();
      // A JSON-RPC error naming our request is its answer; anything else is a transport error.
      if (message.is_request() && body) {
        Decoded decoded = decode(*body, false);
        if (decoded.ok() && decoded.messages.front().kind == MessageKind::kError) {
          Message error = std::move(decoded.messages.front());
          if (error.id_null) {
            error.id = message.id;
            error.id_null = false;
          }
          if (error.id == message.id) {
            self->deliver(std::move(error));
            co_return ok_status();
          }
        }
      }
      if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
      co_return Error{ErrorCode::kUpstreamError, "MCP server answered HTTP " + std::to_string(status) + ": " + detail};
    }
    if (type == "application/json") {
      auto read = read_all(stream, kMaxJsonResponseBytes);
      auto body = co_await std::move(read);
      stream->close();
      if (!body) co_return body.error();
      if (body->empty()) co_return ok_status();
      Decoded decoded = decode(*body, true);
      if (!decoded.ok()) co_return Error{ErrorCode::kUpstreamError, "MCP server sent invalid JSON-RPC: " + decoded.error->error.message};
      for (auto& m : decoded.messages) self->deliver(std::move(m));
      co_return ok_status();
    }
    if (type == "text/event-stream") {
      std::set<RequestId> expected;
      if (message.is_request()) expected.insert(message.id);
      asio::co_spawn(self->executor_, follow(self, std::move(stream), std::move(expected)), asio::detached);
      co_return ok_status();
    }
    stream->close();
    if (!message.is_request()) co_return ok_status();
    co_return Error{ErrorCode::kUpstreamError, "MCP server answered with an unexpected Content-Type: " + type};
  }

  static asio::awaitable<void> close(std::shared_ptr<Impl> self) {
    std::set<std::shared_ptr<http::ResponseStream>> streams;
    std::set<std::shared_ptr<asio::steady_timer>> timers;
    std::string session;
    {
      std::lock_guard lock(self->mutex_);
      if (self->closed_) co_return;
      self->closed_ = true;
      streams.swap(self->streams_);
      timers.swap(self->timers_);
      session = self->session_id_;
    }
    for (auto& s : streams) s->close();
    for (auto& t : timers) asio::post(t->get_executor(), [t] { t->cancel(); });
    if (!session.empty()) {
      // Ends the session on the server (it may answer 405: sessions it cannot end).
      http::ClientRequest req = self->base_request("DELETE", true);
      req.timeout_ms = std::min(self->options_.connect_timeout_ms, 2'000);
      auto op = self->client_.request(std::move(req));
      co_await std::move(op);
    }
  }
};

HttpClientTransport::HttpClientTransport(asio::any_io_executor executor, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

HttpClientTransport::~HttpClientTransport() {
  std::lock_guard lock(impl_->mutex_);
  impl_->closed_ = true;
  for (auto& s : impl_->streams_) s->close();
  for (auto& t : impl_->timers_) asio::post(t->get_executor(), [t] { t->cancel(); });
}

void HttpClientTransport::set_callbacks(Callbacks callbacks) { impl_->callbacks_ = std::move(callbacks); }

asio::awaitable<Status> HttpClientTransport::start() {
  auto url = http::parse_url(impl_->options_.url);
  if (!url) co_return url.error();
  co_return ok_status();
}

asio::awaitable<Status> HttpClientTransport::send(Message message) { return Impl::send(impl_, std::move(message)); }

void HttpClientTransport::set_protocol_version(std::string version) {
  std::lock_guard lock(impl_->mutex_);
  impl_->protocol_version_ = std::move(version);
}

void HttpClientTransport::initialized() {
  if (impl_->options_.open_server_stream) asio::co_spawn(impl_->executor_, Impl::listen(impl_), asio::detached);
}

void HttpClientTransport::reset_session() {
  std::lock_guard lock(impl_->mutex_);
  impl_->session_id_.clear();
  impl_->protocol_version_.clear();
}

asio::awaitable<void> HttpClientTransport::close() { return Impl::close(impl_); }

}  // namespace

std::unique_ptr<ClientTransport> make_http_client_transport(asio::any_io_executor executor, HttpClientOptions options) {
  return std::make_unique<HttpClientTransport>(std::move(executor), std::move(options));
}

}  // namespace tollgate::mcp
