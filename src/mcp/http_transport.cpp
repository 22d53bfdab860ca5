// Streamable HTTP server transport (MCP 2025-11-25 "Transports"), on the project's one HTTP
// server. A session is a ServerSession plus SSE streams: one per POST that carries requests
// and one standalone stream for GET. Every event is kept in its stream's bounded log, so a
// client that lost a connection (or was asked to poll, SEP-1699) resumes with GET +
// Last-Event-ID and gets what it missed; event ids are "<stream>_<seq>".
#include <arpa/inet.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/container/devector.hpp>
#include <boost/container/small_vector.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

#include "common/crypto.hpp"
#include "common/text.hpp"
#include "http/router.hpp"
#include "mcp/async.hpp"
#include "mcp/server_session.hpp"
#include "tollgate/mcp/transport.hpp"

namespace tollgate::mcp {
namespace asio = boost::asio;
using detail::ServerSession;
using detail::SessionOutput;
using detail::Signal;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kSessionHeader = "Mcp-Session-Id";
constexpr std::string_view kVersionHeader = "MCP-Protocol-Version";
constexpr std::uint64_t kStandaloneStream = 0;
// The generation of a stream while the POST that opened it still holds it; each resumption
// (GET with Last-Event-ID) takes the next one.
constexpr std::uint64_t kPostGeneration = 1;
// The idle-session sweep runs at most this often.
constexpr int kMaxSweepIntervalMs = 60'000;

http::Response rpc_error(unsigned status, int code, std::string message, std::optional<RequestId> id = std::nullopt) {
  return http::Response::text(status, encode(Message::failure(std::move(id), code, std::move(message))), "application/json");
}

// RFC 9110 12.4.2: a weight of 0 ("q=0", "q=0.000") means "not acceptable".
bool has_zero_weight(std::string_view parameters) {
  while (!parameters.empty()) {
    std::size_t semi = parameters.find(';');
    std::string_view p = trim_ows(parameters.substr(0, semi));
    parameters = semi == std::string_view::npos ? std::string_view{} : parameters.substr(semi + 1);
    if (p.size() < 3 || ascii_lower(p[0]) != 'q' || p[1] != '=') continue;
    std::string_view q = p.substr(2);
    if (q.front() != '0') return false;
    for (char c : q.substr(1)) {
      if (c != '0' && c != '.') return false;
    }
    return true;
  }
  return false;
}

// Which of the two media types MCP answers in an Accept header allows. Each media range is
// compared whole: "application/json-seq" does not accept JSON, while "*/*" and
// "application/*" do. One pass, as it runs on every POST.
struct Accepted {
  bool json = false;
  bool event_stream = false;
};

Accepted accepted_types(std::optional<std::string_view> header) {
  Accepted out;
  if (!header) return out;
  std::string_view rest = *header;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    std::size_t semi = item.find(';');
    std::string_view range = trim_ows(item.substr(0, semi));
    if (semi != std::string_view::npos && has_zero_weight(item.substr(semi + 1))) continue;
    if (ascii_iequals(range, "*/*")) {
      out.json = out.event_stream = true;
    } else if (ascii_iequals(range, "application/json") || ascii_iequals(range, "application/*")) {
      out.json = true;
    } else if (ascii_iequals(range, "text/event-stream") || ascii_iequals(range, "text/*")) {
      out.event_stream = true;
    }
  }
  return out;
}

// Media type essence (before ';', trimmed) compared exactly, never as a substring.
bool is_json_content_type(std::optional<std::string_view> value) {
  if (!value) return false;
  return ascii_iequals(trim_ows(value->substr(0, value->find(';'))), "application/json");
}

// "host:port", "[::1]:port", "host" -> the host part, lowercased.
std::string host_part(std::string_view authority) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    host = close == std::string_view::npos ? host : host.substr(0, close + 1);
  } else if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string out(host);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// Only names that cannot be re-pointed by DNS: "localhost", ::1 and the IPv4 literals of
// 127.0.0.0/8. A name such as "127.attacker.example" merely starts like one, and an attacker
// who owns it can resolve it to 127.0.0.1: that is the rebinding this check exists to stop.
bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  in_addr address{};
  return inet_pton(AF_INET, std::string(host).c_str(), &address) == 1 && (ntohl(address.s_addr) >> 24) == 127;
}

// An SSE event id, "<stream>_<seq>", appended to `out`: every event of a stream writes one.
void append_event_id(std::string& out, std::uint64_t stream, std::uint64_t seq) {
  char digits[41];  // two 20-digit numbers and the separator
  char* end = std::to_chars(digits, digits + 20, stream).ptr;
  *end++ = '_';
  end = std::to_chars(end, digits + sizeof digits, seq).ptr;
  out.append(digits, end);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_event_id(std::string_view text) {
  std::size_t sep = text.find('_');
  if (sep == std::string_view::npos || sep == 0 || sep + 1 >= text.size() || text.size() > 41) return std::nullopt;
  auto number = [](std::string_view digits) -> std::optional<std::uint64_t> {
    std::uint64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
  };
  auto stream = number(text.substr(0, sep));
  auto seq = number(text.substr(sep + 1));
  if (!stream || !seq) return std::nullopt;
  return std::make_pair(*stream, *seq);
}

struct SseEvent {
  std::uint64_t seq;
  std::string data;
  bool response;
};

// One SSE stream's log and its current connection.
struct SseStream {
  std::uint64_t id = 0;
  // Not a std::deque, which allocates two blocks as it is made: one per POST. Evicting the
  // oldest event moves the few before it.
  boost::container::devector<SseEvent> events;
  std::uint64_t next_seq = 1;        // 0 is the priming event
  std::uint64_t delivered = 0;       // last seq written to a connection
  std::size_t open_requests = 0;     // answers still to come
  std::size_t bytes = 0;
  bool json_only = false;            // ResponseMode::kJson: only answers go here
  bool done = false;                 // every answer is in `events`
  bool attached = false;
  bool close_requested = false;      // SEP-1699: end the connection, keep the stream
  std::uint64_t generation = 0;      // the current connection; an older one stops
  std::shared_ptr<Signal> signal;    // wakes the current connection
};

}  // namespace

// One MCP session over Streamable HTTP.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::string session_id, std::shared_ptr<const HttpOptions> options)
      : id(std::move(session_id)), options_(std::move(options)) {}

  const std::string id;
  std::shared_ptr<ServerSession> protocol;
  std::mutex mutex;
  std::map<std::uint64_t, std::shared_ptr<SseStream>> streams;                     // guarded by mutex
  std::unordered_map<RequestId, std::uint64_t, RequestIdHash> request_streams;     // guarded by mutex
  boost::container::devector<std::uint64_t> finished;                              // guarded by mutex
  std::uint64_t next_stream = 1;                                                    // guarded by mutex
  std::size_t buffered_bytes = 0;                                                   // guarded by mutex
  std::size_t active = 0;                                                           // guarded by mutex
  Clock::time_point last_seen = Clock::now();                                       // guarded by mutex
  bool closed = false;                                                              // guarded by mutex

  const HttpOptions& options() const { return *options_; }

  std::shared_ptr<SseStream> standalone_locked() {
    auto& s = streams[kStandaloneStream];
    if (!s) {
      s = std::make_shared<SseStream>();
      s->id = kStandaloneStream;
    }
    return s;
  }

  void append_locked(SseStream& stream, std::string data, bool response) {
    std::size_t size = data.size();
    stream.events.push_back(SseEvent{stream.next_seq++, std::move(data), response});
    stream.bytes += size;
    buffered_bytes += size;
    while (stream.events.size() > options_->max_events_per_stream && evict_one_locked(stream)) {
    }
    while (buffered_bytes > options_->max_session_buffer_bytes && !finished.empty()) drop_oldest_finished_locked();
    while (buffered_bytes > options_->max_session_buffer_bytes && evict_one_locked(stream)) {
    }
    if (stream.signal) stream.signal->notify();
  }

  // A POST's stream, for its answers (and in SSE its other messages).
  std::shared_ptr<SseStream> open_post_stream_locked(bool json_only) {
    auto stream = std::make_shared<SseStream>();
    stream->id = next_stream++;
    stream->json_only = json_only;
    stream->attached = true;
    stream->generation = kPostGeneration;
    streams.emplace(stream->id, stream);
    return stream;
  }

  // An answered stream whose last event was written: kept (bounded) for late resumption.
  void retire_locked(std::uint64_t stream_id) {
    finished.push_back(stream_id);
    while (finished.size() > options_->max_retained_streams) drop_oldest_finished_locked();
  }

  void remove_stream_locked(std::uint64_t stream_id) {
    auto it = streams.find(stream_id);
    if (it == streams.end()) return;
    buffered_bytes -= it->second->bytes;
    streams.erase(it);
  }

  void close_locked() {
    closed = true;
    for (auto& [sid, stream] : streams) {
      if (stream->signal) stream->signal->notify();
    }
  }

 private:
  // Drops the oldest event that is not an answer (answers are never lost to a limit).
  bool evict_one_locked(SseStream& stream) {
    for (auto it = stream.events.begin(); it != stream.events.end(); ++it) {
      if (it->response) continue;
      stream.bytes -= it->data.size();
      buffered_bytes -= it->data.size();
      stream.events.erase(it);
      return true;
    }
    return false;
  }

  void drop_oldest_finished_locked() {
    std::uint64_t oldest = finished.front();
    finished.pop_front();
    remove_stream_locked(oldest);
  }

  std::shared_ptr<const HttpOptions> options_;
};

namespace {

// Routes a session's outgoing messages into its streams.
class HttpOutput final : public SessionOutput {
 public:
  explicit HttpOutput(std::weak_ptr<HttpSession> session) : session_(std::move(session)) {}

  void send(const Message& message, const RequestId* related) override {
    auto session = session_.lock();
    if (!session) return;
    std::string data = encode(message);
    std::lock_guard lock(session->mutex);
    if (session->closed) return;
    std::shared_ptr<SseStream> target;
    if (related) {
      auto it = session->request_streams.find(*related);
      if (it != session->request_streams.end()) {
        auto s = session->streams.find(it->second);
        if (s != session->streams.end() && !s->second->json_only) target = s->second;
      }
    }
    if (!target) target = session->standalone_locked();
    session->append_locked(*target, std::move(data), false);
  }

  void respond(const RequestId& id, const std::optional<Message>& response) override {
    auto session = session_.lock();
    if (!session) return;
    std::string data = response ? encode(*response) : std::string();
    std::lock_guard lock(session->mutex);
    auto it = session->request_streams.find(id);
    if (it == session->request_streams.end()) return;
    auto s = session->streams.find(it->second);
    session->request_streams.erase(it);
    if (s == session->streams.end()) return;
    SseStream& stream = *s->second;
    if (response) {
      session->append_locked(stream, std::move(data), true);
    }
    if (stream.open_requests > 0 && --stream.open_requests == 0) stream.done = true;
    if (stream.signal) stream.signal->notify();
  }

  void close_stream(const RequestId& id) override {
    auto session = session_.lock();
    if (!session) return;
    std::lock_guard lock(session->mutex);
    auto it = session->request_streams.find(id);
    if (it == session->request_streams.end()) return;
    auto s = session->streams.find(it->second);
    if (s == session->streams.end()) return;
    s->second->close_requested = true;
    if (s->second->signal) s->second->signal->notify();
  }

 private:
  std::weak_ptr<HttpSession> session_;
};

// Stateless HTTP: nothing outside a response reaches the client.
class NullOutput final : public SessionOutput {
 public:
  void send(const Message&, const RequestId*) override {}
  void respond(const RequestId&, const std::optional<Message>&) override {}
  bool can_reach_client() const override { return false; }
};

// Counts a session as busy while a POST or an SSE connection uses it.
class ActiveGuard {
 public:
  // A busy session is never idle, so only the end of its use is the time to remember.
  explicit ActiveGuard(std::shared_ptr<HttpSession> session) : session_(std::move(session)) {
    std::lock_guard lock(session_->mutex);
    ++session_->active;
  }
  ~ActiveGuard() {
    std::lock_guard lock(session_->mutex);
    --session_->active;
    session_->last_seen = Clock::now();
  }
  ActiveGuard(const ActiveGuard&) = delete;
  ActiveGuard& operator=(const ActiveGuard&) = delete;

 private:
  std::shared_ptr<HttpSession> session_;
};

void detach(HttpSession& session, SseStream& stream, std::uint64_t generation) {
  std::lock_guard lock(session.mutex);
  if (stream.generation != generation) return;
  stream.attached = false;
  stream.signal.reset();
}

// Writes a stream's events to one connection until the stream is answered, the connection
// fails, another connection takes the stream over, or the stream is asked to close.
// `signal` wakes it for new events; a POST's stream passes none and gets one only when it
// has to wait (most calls are answered before their stream is written).
asio::awaitable<void> pump(std::shared_ptr<HttpSession> session, std::shared_ptr<SseStream> stream,
                           std::uint64_t generation, std::uint64_t cursor, bool priming, std::shared_ptr<Signal> signal,
                           http::StreamWriter& writer) {
  ActiveGuard guard(session);
  const auto executor = co_await asio::this_coro::executor;
  const auto keep_alive = std::chrono::milliseconds(std::max(1, session->options().keep_alive_ms));
  auto last_write = Clock::now();
  // The priming event goes out with whatever is already queued: one write, not two.
  std::string out;
  bool first = true;
  if (priming) {
    out = "id: ";
    append_event_id(out, stream->id, 0);
    out += "\nretry: ";
    out += std::to_string(session->options().retry_ms);
    out += "\ndata: \n\n";
  }
  for (;;) {
    std::uint64_t last = cursor;
    bool finished = false;
    bool stop = false;
    {
      std::lock_guard lock(session->mutex);
      if (session->closed || stream->generation != generation) {
        stop = true;
      } else if (stream->close_requested) {
        // Closed at once: what is pending stays in the log for the client's resumption.
        stream->close_requested = false;
        stop = true;
      } else {
        // Sized once: an event's framing is under 64 bytes ("id: <stream>_<seq>", "event:
        // message", "data: ", blank line).
        std::size_t size = out.size();
        for (const auto& e : stream->events) {
          if (e.seq > cursor) size += e.data.size() + 64;
        }
        out.reserve(size);
        for (const auto& e : stream->events) {
          if (e.seq <= cursor) continue;
          out += "id: ";
          append_event_id(out, stream->id, e.seq);
          out += "\nevent: message\ndata: ";
          out += e.data;
          out += "\n\n";
          last = e.seq;
        }
        std::uint64_t end = stream->events.empty() ? 0 : stream->events.back().seq;
        finished = stream->done && last >= end;
        if (!finished && !signal) {
          // Made under the lock that saw no more events, so none can slip past it.
          if (!stream->signal) stream->signal = std::make_shared<Signal>(executor);
          signal = stream->signal;
        }
      }
    }
    // The first pass always writes, if only the response header (the client is waiting for
    // it); the last ends the body in the same write as its events.
    if (!out.empty() || first || finished) {
      auto op = finished ? writer.finish(out) : writer.write(out);
      if (!co_await std::move(op)) {
        detach(*session, *stream, generation);
        co_return;
      }
      first = false;
      out.clear();
      cursor = last;
      last_write = Clock::now();
      std::lock_guard lock(session->mutex);
      stream->delivered = std::max(stream->delivered, cursor);
    }
    if (finished) {
      std::lock_guard lock(session->mutex);
      if (stream->generation == generation) {
        stream->attached = false;
        stream->signal.reset();
        if (stream->id != kStandaloneStream && session->streams.contains(stream->id)) session->retire_locked(stream->id);
      }
      co_return;
    }
    if (stop) {
      detach(*session, *stream, generation);
      co_return;
    }
    auto since = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_write);
    auto wait = since >= keep_alive ? std::chrono::milliseconds(1) : keep_alive - since;
    auto op = signal->wait_for(wait);
    co_await std::move(op);
    if (Clock::now() - last_write >= keep_alive) {
      // A comment line: keeps proxies from timing out and finds peers that went away.
      std::string ping = ": keepalive\n\n";
      auto wop = writer.write(ping);
      if (!co_await std::move(wop)) {
        detach(*session, *stream, generation);
        co_return;
      }
      last_write = Clock::now();
    }
  }
}

// 202 Accepted: a POST of notifications and responses only.
http::Response accepted_response() {
  http::Response r;
  r.status = 202;
  return r;
}

http::Response sse_response(const std::string& session_id) {
  http::Response r;
  r.status = 200;
  r.headers.set("Content-Type", "text/event-stream");
  r.headers.set("Cache-Control", "no-cache, no-transform");
  r.headers.set("X-Accel-Buffering", "no");
  if (!session_id.empty()) r.headers.set(std::string(kSessionHeader), session_id);
  return r;
}

}  // namespace

class HttpTransport::Impl : public std::enable_shared_from_this<HttpTransport::Impl> {
 public:
  Impl(std::shared_ptr<detail::ServerCore> core, asio::any_io_executor executor, HttpOptions options)
      : core_(std::move(core)),
        executor_(std::move(executor)),
        options_(std::make_shared<const HttpOptions>(std::move(options))),
        null_output_(std::make_shared<NullOutput>()) {}

  void set_listen_host(const std::string& host) {
    std::lock_guard lock(mutex_);
    loopback_ = is_loopback_host(host_part(host)) || host == "::1";
  }

  std::size_t session_count() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

  void close_all() {
    Sessions sessions;
    std::shared_ptr<asio::steady_timer> timer;
    {
      std::lock_guard lock(mutex_);
      sessions.swap(sessions_);
      timer = sweep_timer_;
      stopped_ = true;
    }
    for (auto& [id, session] : sessions) end_session(*session);
    if (timer) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }

  static asio::awaitable<http::Response> handle(std::shared_ptr<Impl> self, http::Request& request) {
    auto checked = self->check_origin_and_host(request);
    if (checked) co_return std::move(*checked);
    http::Response response;
    if (request.method == "POST") {
      auto op = self->post(self, request);
      response = co_await std::move(op);
    } else if (request.method == "GET") {
      response = self->get(request);
    } else if (request.method == "DELETE") {
      response = self->remove(request);
    } else if (request.method == "OPTIONS") {
      response = http::Response::no_content();
      response.headers.set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      response.headers.set("Access-Control-Allow-Headers",
                           "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID");
      response.headers.set("Access-Control-Max-Age", "600");
    } else {
      response = rpc_error(405, rpc::kServerError, "Method not allowed.");
      response.headers.set("Allow", "GET, POST, DELETE, OPTIONS");
    }
    if (auto origin = request.header("Origin")) {
      response.headers.set("Access-Control-Allow-Origin", std::string(*origin));
      response.headers.set("Access-Control-Expose-Headers", "Mcp-Session-Id, MCP-Protocol-Version");
      response.headers.add("Vary", "Origin");
    }
    co_return response;
  }

 private:
  // DNS rebinding protection: a page on evil.example resolving to 127.0.0.1 sends
  // Host: evil.example (and its Origin); both are refused with 403.
  std::optional<http::Response> check_origin_and_host(const http::Request& request) const {
    std::string host_header(request.header("Host").value_or(""));
    bool loopback;
    {
      std::lock_guard lock(mutex_);
      loopback = loopback_;
    }
    if (!options_->allowed_hosts.empty()) {
      bool ok = false;
      for (const auto& allowed : options_->allowed_hosts) {
        bool with_port = host_part(allowed).size() != allowed.size();
        if (with_port ? ascii_iequals(allowed, host_header) : host_part(host_header) == host_part(allowed)) ok = true;
      }
      if (!ok) return rpc_error(403, rpc::kServerError, "Forbidden: Host " + host_header + " is not allowed");
    } else if (loopback && !is_loopback_host(host_part(host_header))) {
      return rpc_error(403, rpc::kServerError, "Forbidden: Host " + host_header + " is not allowed");
    }
    auto origin = request.header("Origin");
    if (!origin) return std::nullopt;
    bool ok = false;
    if (!options_->allowed_origins.empty()) {
      for (const auto& allowed : options_->allowed_origins) ok = ok || ascii_iequals(allowed, *origin);
    } else {
      std::string_view o = *origin;
      std::size_t scheme = o.find("://");
      if (scheme != std::string_view::npos) {
        std::string_view authority = o.substr(scheme + 3);
        authority = authority.substr(0, authority.find('/'));
        ok = is_loopback_host(host_part(authority)) || ascii_iequals(authority, host_header);
      }
    }
    if (!ok) return rpc_error(403, rpc::kServerError, "Forbidden: Origin " + std::string(*origin) + " is not allowed");
    return std::nullopt;
  }

  std::variant<std::shared_ptr<HttpSession>, http::Response> find_session(const http::Request& request) {
    auto header = request.header(kSessionHeader);
    if (!header || header->empty()) {
      return rpc_error(400, rpc::kServerError, "Bad Request: Mcp-Session-Id header is required");
    }
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(*header);
    if (it == sessions_.end()) return rpc_error(404, rpc::kSessionNotFound, "Session not found");
    return it->second;
  }

  static std::optional<http::Response> check_version_header(const http::Request& request) {
    auto version = request.header(kVersionHeader);
    if (version && !is_supported_protocol_version(*version)) {
      std::string supported;
      for (auto v : kSupportedProtocolVersions) supported += (supported.empty() ? "" : ", ") + std::string(v);
      return rpc_error(400, rpc::kServerError,
                       "Bad Request: Unsupported protocol version: " + std::string(*version) + " (supported versions: " + supported + ")");
    }
    return std::nullopt;
  }

  // Moves the headers out of `request` (copying them was a dozen allocations per call): the
  // last use of the request's headers in post().
  std::shared_ptr<const RequestInfo> take_request_info(http::Request& request, const std::string& session_id) const {
    auto info = std::make_shared<RequestInfo>();
    info->transport = RequestInfo::Transport::kHttp;
    info->headers = std::move(request.headers);
    info->remote_address = request.remote_address;
    info->session_id = session_id;
    if (auto auth = info->header("Authorization")) info->bearer_token = parse_bearer(*auth);
    return info;
  }

  std::variant<std::shared_ptr<HttpSession>, http::Response> create_session() {
    auto session = std::make_shared<HttpSession>(random_hex(16), options_);
    session->protocol = ServerSession::create(core_, std::make_shared<HttpOutput>(session));
    std::shared_ptr<asio::steady_timer> start_sweep;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return rpc_error(503, rpc::kServerError, "The server is shutting down");
      if (sessions_.size() >= options_->max_sessions) {
        return rpc_error(503, rpc::kServerError,
                         "Too many sessions (limit " + std::to_string(options_->max_sessions) + "); try again later");
      }
      sessions_.emplace(session->id, session);
      if (!sweep_timer_) {
        // On a strand, so that close_all's cancel cannot slip between a check and a re-arm.
        sweep_timer_ = std::make_shared<asio::steady_timer>(asio::make_strand(executor_));
        start_sweep = sweep_timer_;
      }
    }
    // Spawned outside the lock: co_spawn may run the coroutine at once, and it takes the lock.
    if (start_sweep) asio::co_spawn(start_sweep->get_executor(), sweep(weak_from_this(), start_sweep), asio::detached);
    return session;
  }

  static void end_session(HttpSession& session) {
    {
      std::lock_guard lock(session.mutex);
      session.close_locked();
    }
    session.protocol->close();
  }

  static asio::awaitable<void> sweep(std::weak_ptr<Impl> weak, std::shared_ptr<asio::steady_timer> timer) {
    for (;;) {
      int interval_ms;
      {
        auto self = weak.lock();
        if (!self) co_return;
        {
          std::lock_guard lock(self->mutex_);
          if (self->stopped_) co_return;
        }
        interval_ms = std::clamp(self->options_->session_idle_timeout_ms / 2, 1, kMaxSweepIntervalMs);
      }
      timer->expires_after(std::chrono::milliseconds(interval_ms));
      auto op = timer->async_wait(asio::as_tuple(asio::use_awaitable));
      auto [ec] = co_await std::move(op);
      auto self = weak.lock();
      if (!self || ec) co_return;
      self->expire_idle();
    }
  }

  void expire_idle() {
    auto limit = std::chrono::milliseconds(options_->session_idle_timeout_ms);
    auto now = Clock::now();
    std::vector<std::shared_ptr<HttpSession>> expired;
    {
      std::lock_guard lock(mutex_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        bool idle;
        {
          std::lock_guard session_lock(it->second->mutex);
          idle = it->second->active == 0 && now - it->second->last_seen > limit;
        }
        if (idle) {
          expired.push_back(it->second);
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : expired) end_session(*s);
  }

  // A POST is cut into synchronous steps around one small coroutine: GCC keeps every local
  // and temporary of a coroutine in its heap frame, and the frame of the whole exchange in
  // one function was 2,000 bytes, an allocation past glibc's 1 KiB small-chunk range that
  // consolidated the fast bins on every call (measured: one malloc_consolidate per call).

  // A checked and decoded POST that still has to be answered.
  struct StatelessPost {
    Decoded decoded;
    bool has_init = false;
    std::string version;
  };
  struct SessionPost {
    Decoded decoded;
    std::size_t request_count = 0;
    std::shared_ptr<HttpSession> session;
    bool initialize = false;  // the POST is an initialize, which made `session`
  };
  using AdmittedPost = std::variant<http::Response, StatelessPost, SessionPost>;

  // Headers, body and session checks; the answer when one of them fails.
  AdmittedPost admit_post(const http::Request& request) {
    const Accepted accepted = accepted_types(request.header("Accept"));
    if (!accepted.json || (!options_->stateless && !accepted.event_stream)) {
      return rpc_error(406, rpc::kServerError,
                       "Not Acceptable: Client must accept both application/json and text/event-stream");
    }
    if (!is_json_content_type(request.header("Content-Type"))) {
      return rpc_error(415, rpc::kServerError, "Unsupported Media Type: Content-Type must be application/json");
    }
    if (request.body.size() > options_->max_body_bytes) {
      return rpc_error(413, rpc::kServerError,
                       "Payload Too Large: the body exceeds " + std::to_string(options_->max_body_bytes) + " bytes");
    }
    if (auto bad = check_version_header(request)) return std::move(*bad);
    Decoded decoded = decode(request.body, true);
    if (!decoded.ok())
      return rpc_error(400, decoded.error->error.code, decoded.error->error.message, decoded.error->id);
    bool has_init = false;
    std::size_t request_count = 0;
    for (const auto& m : decoded.messages) {
      if (m.is_request()) ++request_count;
      if (m.is_request() && m.method == "initialize") has_init = true;
    }
    // Not even as a batch of one: initialize "MUST NOT be part of a JSON-RPC batch", and a
    // session made for one would be refused below and never known to its client.
    if (has_init && (decoded.batch || decoded.messages.size() > 1)) {
      return rpc_error(400, rpc::kInvalidRequest, "Invalid Request: initialize must be sent on its own");
    }
    if (options_->stateless) {
      std::string version(request.header(kVersionHeader).value_or(kDefaultHttpProtocolVersion));
      if (decoded.batch && version != "2025-03-26") {
        return rpc_error(400, rpc::kInvalidRequest,
                         "Invalid Request: JSON-RPC batches are not supported in protocol version " + version);
      }
      return StatelessPost{std::move(decoded), has_init, std::move(version)};
    }
    auto found = has_init ? create_session() : find_session(request);
    if (auto* r = std::get_if<http::Response>(&found)) return std::move(*r);
    auto session = std::get<0>(std::move(found));
    if (decoded.batch && session->protocol->protocol_version() != "2025-03-26") {
      return rpc_error(400, rpc::kInvalidRequest,
                       "Invalid Request: JSON-RPC batches are not supported in protocol version " +
                           session->protocol->protocol_version());
    }
    return SessionPost{std::move(decoded), request_count, std::move(session), has_init};
  }

  // Hands a session's messages to its protocol. Requests get a stream that collects their
  // answers (nullptr: only notifications and responses, answered 202 at once).
  std::shared_ptr<SseStream> receive_post(SessionPost& post, const std::shared_ptr<const RequestInfo>& info,
                                          const asio::any_io_executor& executor) {
    HttpSession& session = *post.session;
    auto& messages = post.decoded.messages;
    if (post.request_count == 0) {
      for (auto& m : messages) session.protocol->receive(std::move(m), info, executor);
      return nullptr;
    }
    // The wake-up signal is made only when this connection has to wait (most calls are
    // answered while they are received), in JSON (json_progress) and SSE (pump) alike; under
    // the session lock, so no notification can slip past it.
    std::shared_ptr<SseStream> stream;
    boost::container::small_vector<bool, 4> skip(messages.size(), false);
    {
      std::lock_guard lock(session.mutex);
      stream = session.open_post_stream_locked(options_->response_mode == ResponseMode::kJson);
      for (std::size_t i = 0; i < messages.size(); ++i) {
        const Message& m = messages[i];
        if (!m.is_request()) continue;
        if (session.request_streams.contains(m.id)) {
          // Two live requests with one id would be indistinguishable to the client.
          Message dup = Message::failure(m.id, rpc::kInvalidRequest, "Invalid Request: request id " + m.id.to_string() + " is already in use");
          session.append_locked(*stream, encode(dup), true);
          skip[i] = true;
          continue;
        }
        session.request_streams.emplace(m.id, stream->id);
        ++stream->open_requests;
      }
      if (stream->open_requests == 0) stream->done = true;
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (!skip[i]) session.protocol->receive(std::move(messages[i]), info, executor);
    }
    return stream;
  }

  // A GET with Last-Event-ID took this POST's stream over (its generation moved on from
  // kPostGeneration): that connection gets the answers and the signal, and the POST stops
  // waiting.
  static http::Response taken_over() {
    return rpc_error(409, rpc::kServerError,
                     "Conflict: this request's stream was resumed by another connection, which gets its answers");
  }

  // What a waiting POST does next: answer as JSON now (true), become an SSE stream (false),
  // or wait on the signal (taken under the lock). 404 when the session ended meanwhile, 409
  // when the stream was taken over.
  using JsonProgress = std::variant<http::Response, bool, std::shared_ptr<Signal>>;
  JsonProgress json_progress(HttpSession& session, SseStream& stream, const asio::any_io_executor& executor) {
    const ResponseMode mode = options_->response_mode;
    if (mode == ResponseMode::kSse) return false;
    std::lock_guard lock(session.mutex);
    if (session.closed) {
      session.remove_stream_locked(stream.id);
      return rpc_error(404, rpc::kSessionNotFound, "Session not found");
    }
    if (stream.generation != kPostGeneration) return taken_over();
    bool only_answers =
        std::all_of(stream.events.begin(), stream.events.end(), [](const SseEvent& e) { return e.response; });
    if (mode == ResponseMode::kAuto && (!only_answers || stream.close_requested)) return false;
    if (stream.done) return true;
    if (!stream.signal) stream.signal = std::make_shared<Signal>(executor);
    return stream.signal;
  }

  // The JSON answer of a finished stream: one response, or a batch's array. Nullopt when
  // every request was cancelled, so there is nothing to answer: a POST of requests is
  // answered with JSON or SSE, never 202, so it gets an SSE stream that ends without one.
  static std::optional<http::Response> json_answer(HttpSession& session, SseStream& stream, bool batch,
                                                   bool session_header = true) {
    std::string body;
    {
      std::lock_guard lock(session.mutex);
      if (stream.generation != kPostGeneration) return taken_over();
      if (std::none_of(stream.events.begin(), stream.events.end(), [](const SseEvent& e) { return e.response; })) {
        return std::nullopt;
      }
      for (auto& e : stream.events) {
        if (!e.response) continue;
        if (!batch) {
          body = std::move(e.data);  // one request, one answer
          break;
        }
        body += body.empty() ? "[" : ",";
        body += e.data;
      }
      if (batch) body += "]";
      session.remove_stream_locked(stream.id);
    }
    return json_response(session_header ? std::string_view(session.id) : std::string_view(), std::move(body));
  }

  // A failed initialize leaves no session behind: the Mcp-Session-Id belongs on the response
  // that carries an InitializeResult, and a session nobody can use would hold a place under
  // max_sessions until the idle sweep. Its answer is there already (handle_initialize never
  // waits); nullopt when initialize succeeded, or in any case where it is not.
  std::optional<http::Response> failed_initialize(const std::shared_ptr<HttpSession>& session, SseStream& stream) {
    {
      // `done` first: a successful initialize marks the session initialized before its
      // answer makes the stream done, so after `done` the flag is final.
      std::lock_guard lock(session->mutex);
      if (!stream.done) return std::nullopt;
    }
    if (session->protocol->initialized()) return std::nullopt;
    std::optional<http::Response> answer = json_answer(*session, stream, false, /*session_header=*/false);
    if (answer) drop_session(session);
    return answer;
  }

  void drop_session(const std::shared_ptr<HttpSession>& session) {
    {
      std::lock_guard lock(mutex_);
      sessions_.erase(session->id);
    }
    end_session(*session);
  }

  // The SSE answer of `stream`, which pump() writes as its events come. Clients that
  // negotiated 2025-11-25 get a priming event (id, retry, empty data) first, so they can
  // resume even if the connection ends before anything else was sent.
  static http::Response sse_answer(const std::shared_ptr<HttpSession>& session,
                                   const std::shared_ptr<SseStream>& stream) {
    bool priming = version_at_least(session->protocol->protocol_version(), "2025-11-25");
    http::Response response = sse_response(session->id);
    response.stream = [session, stream, priming](http::StreamWriter& writer) {
      return pump(session, stream, kPostGeneration, 0, priming, nullptr, writer);
    };
    return response;
  }

  static asio::awaitable<http::Response> post(std::shared_ptr<Impl> self, http::Request& request) {
    AdmittedPost admitted = self->admit_post(request);
    if (auto* r = std::get_if<http::Response>(&admitted)) co_return std::move(*r);
    if (auto* stateless = std::get_if<StatelessPost>(&admitted)) {
      auto op = self->post_stateless(std::move(stateless->decoded), stateless->has_init, std::move(stateless->version),
                                     self->take_request_info(request, ""));
      co_return co_await std::move(op);
    }
    SessionPost& post = std::get<SessionPost>(admitted);
    const std::shared_ptr<HttpSession> session = post.session;
    ActiveGuard guard(session);
    auto executor = co_await asio::this_coro::executor;
    if (self->runs_in_post(post)) {
      auto op = run_in_post(session, post.decoded.messages.front(), self->take_request_info(request, session->id), executor);
      co_return co_await std::move(op);
    }
    std::shared_ptr<SseStream> stream =
        self->receive_post(post, self->take_request_info(request, session->id), executor);
    if (!stream) co_return accepted_response();  // notifications and responses only
    if (post.initialize) {
      if (auto failed = self->failed_initialize(session, *stream)) co_return std::move(*failed);
    }

    // A JSON answer once every request is answered, unless the exchange needs SSE: in auto
    // mode, a message that is not an answer, or no answer within auto_sse_after_ms (counted
    // from the first wait: most calls are answered before any).
    std::optional<Clock::time_point> deadline;
    for (;;) {
      JsonProgress progress = self->json_progress(*session, *stream, executor);
      if (auto* r = std::get_if<http::Response>(&progress)) co_return std::move(*r);
      if (auto* json_now = std::get_if<bool>(&progress)) {
        if (*json_now) {
          if (auto answer = json_answer(*session, *stream, post.decoded.batch)) co_return std::move(*answer);
        }
        break;
      }
      const std::shared_ptr<Signal>& signal = std::get<std::shared_ptr<Signal>>(progress);
      if (self->options_->response_mode == ResponseMode::kAuto) {
        auto now = Clock::now();
        if (!deadline) deadline = now + std::chrono::milliseconds(self->options_->auto_sse_after_ms);
        if (now >= *deadline) break;
        auto op = signal->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now) +
                                   std::chrono::milliseconds(1));
        co_await std::move(op);
      } else {
        auto op = signal->wait();
        co_await std::move(op);
      }
    }
    co_return sse_answer(session, stream);
  }

  // In JSON mode a POST of one request (not initialize, which has its own checks) runs that
  // request in its own coroutine, as stateless mode does: the request's other messages go to
  // the GET stream in this mode, so nothing has to be written beside it, and the spawn of a
  // coroutine and the hand-over of its answer through the stream are saved (41.3k -> 37.5k
  // instructions per tools/call, callgrind). Auto and SSE modes may turn the POST into an SSE
  // stream while the request runs, so their requests run beside it.
  bool runs_in_post(const SessionPost& post) const {
    return options_->response_mode == ResponseMode::kJson && !post.initialize && !post.decoded.batch &&
           post.decoded.messages.size() == 1 && post.request_count == 1;
  }

  // `request` is in post()'s frame, which awaits this.
  static asio::awaitable<http::Response> run_in_post(std::shared_ptr<HttpSession> session, const Message& request,
                                                     std::shared_ptr<const RequestInfo> info, asio::any_io_executor executor) {
    auto op = session->protocol->run_request(request, std::move(info), std::move(executor));
    std::optional<Message> answer = co_await std::move(op);
    co_return answer_of_run(session, answer);
  }

  // What run_in_post answers, as the spawned path would: 404 when the session ended while the
  // request ran; for a cancelled request, an SSE stream that ends without a message (a POST of
  // requests is never answered 202).
  static http::Response answer_of_run(const std::shared_ptr<HttpSession>& session, const std::optional<Message>& answer) {
    std::shared_ptr<SseStream> empty;
    {
      std::lock_guard lock(session->mutex);
      if (session->closed) return rpc_error(404, rpc::kSessionNotFound, "Session not found");
      if (!answer) {
        empty = session->open_post_stream_locked(/*json_only=*/true);
        empty->done = true;
      }
    }
    if (empty) return sse_answer(session, empty);
    return json_response(session->id, encode(*answer));
  }

  // `session_id` empty: no Mcp-Session-Id header.
  static http::Response json_response(std::string_view session_id, std::string body) {
    http::Response response;
    response.status = 200;
    response.headers.set("Content-Type", "application/json");
    if (!session_id.empty()) response.headers.set(kSessionHeader, session_id);
    response.body = std::move(body);
    return response;
  }

  asio::awaitable<http::Response> post_stateless(Decoded decoded, bool has_init, std::string version,
                                                 std::shared_ptr<const RequestInfo> info) {
    // Not registered for broadcasts: nothing outside the response reaches a stateless client.
    auto protocol = ServerSession::create(core_, null_output_, /*broadcasts=*/false);
    if (!has_init) protocol->assume_initialized(version);
    auto executor = co_await asio::this_coro::executor;
    std::vector<std::string> answers;
    bool any_request = false;
    for (auto& m : decoded.messages) {
      if (!m.is_request()) {
        protocol->receive(std::move(m), info, executor);
        continue;
      }
      any_request = true;
      auto op = protocol->run_request(m, info, executor);
      std::optional<Message> answer = co_await std::move(op);
      if (answer) answers.push_back(encode(*answer));
    }
    protocol->close();
    http::Response response;
    if (!any_request || answers.empty()) {
      response.status = 202;
      co_return response;
    }
    response.headers.set("Content-Type", "application/json");
    if (!decoded.batch) {
      response.body = std::move(answers.front());
    } else {
      response.body = "[";
      for (std::size_t i = 0; i < answers.size(); ++i) {
        if (i) response.body += ",";
        response.body += answers[i];
      }
      response.body += "]";
    }
    co_return response;
  }

  http::Response get(const http::Request& request) {
    if (options_->stateless) {
      auto r = rpc_error(405, rpc::kServerError, "Method not allowed: this server is stateless and has no server stream");
      r.headers.set("Allow", "POST");
      return r;
    }
    if (!accepted_types(request.header("Accept")).event_stream) {
      return rpc_error(406, rpc::kServerError, "Not Acceptable: Client must accept text/event-stream");
    }
    auto found = find_session(request);
    if (auto* r = std::get_if<http::Response>(&found)) return std::move(*r);
    auto session = std::get<0>(std::move(found));
    if (auto bad = check_version_header(request)) return std::move(*bad);

    std::shared_ptr<SseStream> stream;
    std::uint64_t cursor = 0;
    std::uint64_t generation = 0;
    auto signal = std::make_shared<Signal>(executor_);
    {
      std::lock_guard lock(session->mutex);
      session->last_seen = Clock::now();
      if (auto last = request.header("Last-Event-ID")) {
        auto parsed = parse_event_id(*last);
        auto it = parsed ? session->streams.find(parsed->first) : session->streams.end();
        if (it == session->streams.end()) {
          return rpc_error(400, rpc::kServerError, "Bad Request: unknown Last-Event-ID " + std::string(*last));
        }
        stream = it->second;
        cursor = parsed->second;
        // A resumption takes the stream over from a connection we may not know is dead.
        if (stream->signal) stream->signal->notify();
      } else {
        stream = session->standalone_locked();
        if (stream->attached) {
          return rpc_error(409, rpc::kServerError, "Conflict: Only one SSE stream is allowed per session");
        }
        cursor = stream->delivered;
      }
      stream->attached = true;
      generation = ++stream->generation;
      stream->signal = signal;
    }
    http::Response response = sse_response(session->id);
    response.stream = [session, stream, generation, cursor, signal](http::StreamWriter& writer) {
      return pump(session, stream, generation, cursor, false, signal, writer);
    };
    return response;
  }

  http::Response remove(const http::Request& request) {
    if (options_->stateless) {
      auto r = rpc_error(405, rpc::kServerError, "Method not allowed: this server is stateless");
      r.headers.set("Allow", "POST");
      return r;
    }
    auto found = find_session(request);
    if (auto* r = std::get_if<http::Response>(&found)) return std::move(*r);
    auto session = std::get<0>(std::move(found));
    if (auto bad = check_version_header(request)) return std::move(*bad);
    drop_session(session);
    return http::Response::no_content();
  }

  std::shared_ptr<detail::ServerCore> core_;
  asio::any_io_executor executor_;
  std::shared_ptr<const HttpOptions> options_;
  std::shared_ptr<NullOutput> null_output_;
  mutable std::mutex mutex_;
  bool loopback_ = false;                                                   // guarded by mutex_
  bool stopped_ = false;                                                    // guarded by mutex_
  // Found by the Mcp-Session-Id header's view.
  using Sessions = std::unordered_map<std::string, std::shared_ptr<HttpSession>, StringViewHash, std::equal_to<>>;
  Sessions sessions_;  // guarded by mutex_
  std::shared_ptr<asio::steady_timer> sweep_timer_;                         // guarded by mutex_
};

HttpTransport::HttpTransport(Server& server, asio::any_io_executor executor, HttpOptions options)
    : impl_(std::make_shared<Impl>(server.core(), std::move(executor), std::move(options))) {}

HttpTransport::~HttpTransport() { impl_->close_all(); }

http::Handler HttpTransport::handler() const {
  auto impl = impl_;
  return [impl](http::Request& request) { return Impl::handle(impl, request); };
}

void HttpTransport::set_listen_host(const std::string& host) { impl_->set_listen_host(host); }
std::size_t HttpTransport::session_count() const { return impl_->session_count(); }
void HttpTransport::close_all() { impl_->close_all(); }

namespace {

// The transport's endpoint as the only route of an HTTP server.
http::Handler routed(const HttpTransport& transport, const std::string& path) {
  auto router = std::make_shared<http::Router>();
  router->add("*", path, transport.handler());
  return [router](http::Request& request) { return (*router)(request); };
}

}  // namespace

HttpServer::HttpServer(Server& server, asio::io_context& io, HttpOptions options, std::string path,
                       http::ServerLimits limits) {
  // The HTTP server rejects a larger body itself, early, closing the connection.
  limits.max_body_bytes = options.max_body_bytes;
  transport_ = std::make_unique<HttpTransport>(server, io.get_executor(), std::move(options));
  server_ = std::make_unique<http::Server>(io, limits, routed(*transport_, path));
}

HttpServer::HttpServer(Server& server, http::IoPool& pool, HttpOptions options, std::string path,
                       http::ServerLimits limits) {
  limits.max_body_bytes = options.max_body_bytes;
  transport_ = std::make_unique<HttpTransport>(server, pool.main().get_executor(), std::move(options));
  server_ = std::make_unique<http::Server>(pool, limits, routed(*transport_, path));
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::listen(const std::string& host, std::uint16_t port) {
  transport_->set_listen_host(host);
  return server_->listen(host, port);
}

std::uint16_t HttpServer::port() const { return server_->port(); }
std::string HttpServer::host() const { return server_->host(); }

void HttpServer::stop() {
  transport_->close_all();
  server_->stop();
}

}  // namespace tollgate::mcp
