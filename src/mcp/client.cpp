// The client protocol engine: request ids and pending answers, timeouts with
// notifications/cancelled, progress routing, server->client requests, the initialize
// handshake, and a new session when the server lost ours.
#include "tollgate/mcp/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include "mcp/async.hpp"

namespace tollgate::mcp {
namespace asio = boost::asio;
using detail::GaveUp;
using detail::OneShot;

namespace {

// One request: its arguments live here, not in coroutine parameters (GCC 12: closures passed
// by value to coroutines corrupt memory).
struct Call {
  std::string method;
  json::object params;
  CallOptions options;
};

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(asio::any_io_executor executor, std::unique_ptr<ClientTransport> transport, ClientOptions options)
      : executor_(std::move(executor)), transport_(std::move(transport)), options_(std::move(options)) {}

  void install_callbacks() {
    std::weak_ptr<Impl> weak = weak_from_this();
    ClientTransport::Callbacks callbacks;
    callbacks.on_message = [weak](Message m) {
      if (auto self = weak.lock()) self->on_message(std::move(m));
    };
    callbacks.on_closed = [weak](Error e) {
      if (auto self = weak.lock()) self->fail_all(rpc::kConnectionClosed, e.message);
    };
    transport_->set_callbacks(std::move(callbacks));
  }

  static asio::awaitable<Result<InitializeResult>> connect(std::shared_ptr<Impl> self) {
    {
      // Closed first (a stop while this client was being set up): no child process or
      // connection is started that nobody would close.
      std::lock_guard lock(self->mutex_);
      if (self->closed_) co_return Error{ErrorCode::kUpstreamError, "the client was closed"};
    }
    auto started = self->transport_->start();
    Status status = co_await std::move(started);
    if (!status) co_return status.error();
    auto op = initialize(self);
    co_return co_await std::move(op);
  }

  static asio::awaitable<Result<InitializeResult>> initialize(std::shared_ptr<Impl> self) {
    json::object params{{"protocolVersion", self->options_.protocol_version},
                        {"capabilities", self->options_.capabilities},
                        {"clientInfo", self->options_.info.to_json()}};
    auto call = std::make_shared<Call>(Call{"initialize", std::move(params), CallOptions{}});
    auto op = run(self, call);
    RpcResponse answer = co_await std::move(op);
    if (!answer.ok()) co_return answer.to_result().error();
    if (!answer.result.is_object()) co_return Error{ErrorCode::kUpstreamError, "initialize returned no object"};
    const json::object& r = answer.result.get_object();
    InitializeResult out;
    if (const json::value* v = r.if_contains("protocolVersion"); v && v->is_string()) out.protocol_version = std::string(v->get_string());
    if (!is_supported_protocol_version(out.protocol_version)) {
      co_return Error{ErrorCode::kUpstreamError, "the server offered protocol version \"" + out.protocol_version +
                                                     "\", which this client does not support"};
    }
    if (const json::value* v = r.if_contains("capabilities"); v && v->is_object()) out.capabilities = v->get_object();
    if (const json::value* v = r.if_contains("serverInfo"); v && v->is_object()) out.server_info = v->get_object();
    if (const json::value* v = r.if_contains("instructions"); v && v->is_string()) out.instructions = std::string(v->get_string());
    self->transport_->set_protocol_version(out.protocol_version);
    {
      std::lock_guard lock(self->mutex_);
      self->server_ = out;
    }
    auto sent = self->transport_->send(Message::notification("notifications/initialized"));
    Status notified = co_await std::move(sent);
    if (!notified) co_return notified.error();
    self->transport_->initialized();
    co_return out;
  }

  static asio::awaitable<RpcResponse> run(std::shared_ptr<Impl> self, std::shared_ptr<Call> call) {
    bool retried = false;
    for (;;) {
      if (call->options.cancel && call->options.cancel->cancelled()) {
        co_return RpcResponse::failure(rpc::kRequestCancelled, call->method + " was cancelled before it was sent");
      }
      std::uint64_t generation;
      std::int64_t id;
      auto slot = std::make_shared<OneShot<RpcResponse>>(self->executor_);
      json::object params = call->params;
      {
        std::lock_guard lock(self->mutex_);
        if (self->closed_) co_return RpcResponse::failure(rpc::kConnectionClosed, "The client is closed");
        id = self->next_id_++;
        generation = self->session_generation_;
        Pending pending{slot, call->options.on_progress, call->options.on_request, call->options.on_notification};
        self->pending_.emplace(id, std::move(pending));
      }
      if (!call->options.meta.empty() || call->options.on_progress) {
        json::object meta = call->options.meta;
        if (call->options.on_progress) meta["progressToken"] = id;
        params["_meta"] = std::move(meta);
      }
      auto send_op = self->transport_->send(Message::request(id, call->method, std::move(params)));
      Status sent = co_await std::move(send_op);
      if (!sent) {
        self->forget(id);
        bool lost_session = sent.code() == ErrorCode::kNotFound;
        if (lost_session && !retried && call->method != "initialize" && self->options_.reinitialize_on_session_loss) {
          retried = true;
          auto reinit = reinitialize(self, generation);
          Result<InitializeResult> again = co_await std::move(reinit);
          if (again) continue;
          co_return RpcResponse::failure(rpc::kConnectionClosed, "The session was lost and a new one failed: " + again.error().message);
        }
        co_return RpcResponse::failure(rpc::kConnectionClosed, sent.error().message);
      }

      // The wait ends with the answer, a timeout, or the caller's cancel: whichever delivers
      // first. The last two leave `gave_up` with the reason to tell the server.
      int timeout_ms = call->options.timeout_ms > 0 ? call->options.timeout_ms : self->options_.request_timeout_ms;
      auto gave_up = std::make_shared<GaveUp<RpcResponse>>();
      asio::steady_timer timer(self->executor_, std::chrono::milliseconds(timeout_ms));
      std::weak_ptr<OneShot<RpcResponse>> weak_slot = slot;
      std::string method = call->method;
      timer.async_wait([weak_slot, gave_up, method, timeout_ms](boost::system::error_code ec) {
        if (ec) return;
        gave_up->give_up(weak_slot,
                         RpcResponse::failure(rpc::kRequestTimeout, method + " timed out after " + std::to_string(timeout_ms) + " ms"),
                         "timed out");
      });
      std::uint64_t hook = 0;
      if (call->options.cancel) {
        hook = call->options.cancel->add_hook([weak_slot, gave_up, method](const std::string& reason) {
          gave_up->give_up(weak_slot, RpcResponse::failure(rpc::kRequestCancelled, method + " was cancelled: " + reason), reason);
        });
      }
      auto take = slot->take();
      RpcResponse answer = co_await std::move(take);
      timer.cancel();
      if (call->options.cancel) call->options.cancel->remove_hook(hook);
      self->forget(id);
      // Tell the server to stop (cancellation spec); its late answer will be ignored. Except
      // for initialize, which "MUST NOT be cancelled by clients": the caller gives up on
      // this connection instead.
      if (auto reason = gave_up->reason(); reason && method != "initialize") {
        json::object cancel{{"requestId", id}, {"reason", *reason}};
        auto note = self->transport_->send(Message::notification("notifications/cancelled", std::move(cancel)));
        co_await std::move(note);
      }
      co_return answer;
    }
  }

  // A new session after the server forgot ours; concurrent callers share one attempt.
  static asio::awaitable<Result<InitializeResult>> reinitialize(std::shared_ptr<Impl> self, std::uint64_t generation) {
    {
      std::lock_guard lock(self->mutex_);
      if (self->session_generation_ != generation) co_return self->server_;  // someone already did
      ++self->session_generation_;
    }
    spdlog::info("mcp client: the server lost our session; initializing a new one");
    self->transport_->reset_session();
    auto op = initialize(self);
    co_return co_await std::move(op);
  }

  void forget(std::int64_t id) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
  }

  void on_message(Message m) {
    if (m.is_response()) {
      if (m.id_null || m.id.is_string()) return;
      std::shared_ptr<OneShot<RpcResponse>> slot;
      {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(m.id.number());
        if (it == pending_.end()) return;  // late (timed out) or unknown
        slot = it->second.slot;
      }
      if (m.kind == MessageKind::kResult) {
        slot->deliver(RpcResponse::success(std::move(m.result)));
      } else {
        slot->deliver(RpcResponse{nullptr, std::move(m.error)});
      }
      return;
    }
    if (m.is_notification()) {
      if (m.method == "notifications/progress") {
        const json::value* token = m.params.if_contains("progressToken");
        std::function<void(const json::object&)> callback;
        if (token && (token->is_int64() || token->is_uint64())) {
          std::int64_t id = token->is_int64() ? token->get_int64() : static_cast<std::int64_t>(token->get_uint64());
          std::lock_guard lock(mutex_);
          auto it = pending_.find(id);
          if (it != pending_.end()) callback = it->second.on_progress;
        }
        if (callback) callback(m.params);
      }
      if (m.method == "notifications/cancelled") cancel_serving(m.params);
      NotificationHandler handler;
      {
        std::lock_guard lock(mutex_);
        handler = notification_handler_;
        // Any other notification tied to one of our calls goes to that call's own handler, if
        // it has one.
        if (m.method != "notifications/progress" && m.related && !m.related->is_string()) {
          auto it = pending_.find(m.related->number());
          if (it != pending_.end() && it->second.on_notification) handler = it->second.on_notification;
        }
      }
      if (handler) handler(m);
      return;
    }
    asio::co_spawn(executor_, answer(shared_from_this(), std::move(m)), asio::detached);
  }

  // A request from the server: ping is answered here, the rest by the application's handler.
  static asio::awaitable<void> answer(std::shared_ptr<Impl> self, Message request) {
    RpcResponse response;
    ClientRequestHandler handler;
    {
      std::lock_guard lock(self->mutex_);
      handler = self->request_handler_;
      // A request tied to one of our calls goes to that call's own handler, if it has one.
      if (request.related && !request.related->is_string()) {
        auto it = self->pending_.find(request.related->number());
        if (it != self->pending_.end() && it->second.on_request) handler = it->second.on_request;
      }
    }
    // Until it is answered, the server may cancel it (on_message).
    auto cancel = std::make_shared<CancelSource>();
    {
      std::lock_guard lock(self->mutex_);
      self->serving_[request.id] = cancel;
    }
    if (request.method == "ping") {
      response = RpcResponse::success(json::object{});
    } else if (handler) {
      try {
        auto op = handler(request, cancel);
        response = co_await std::move(op);
      } catch (const std::exception& e) {
        response = RpcResponse::failure(rpc::kInternalError, e.what());
      }
    } else {
      response = RpcResponse::failure(rpc::kMethodNotFound, "Method not found: " + request.method);
    }
    {
      std::lock_guard lock(self->mutex_);
      self->serving_.erase(request.id);
    }
    cancel->clear_hooks();  // the handler's own hooks may point into its ended frames
    // "Receivers of cancellation notifications SHOULD ... not send a response."
    if (cancel->cancelled()) co_return;
    Message reply = response.ok() ? Message::response(request.id, std::move(response.result))
                                  : Message::failure(request.id, std::move(*response.error));
    auto op = self->transport_->send(std::move(reply));
    co_await std::move(op);
  }

  // The server cancelled one of its requests to us: its handler is told, its answer dropped.
  void cancel_serving(const json::object& params) {
    const json::value* id = params.if_contains("requestId");
    std::optional<RequestId> key = id ? RequestId::from_json(*id) : std::nullopt;
    if (!key) return;
    std::shared_ptr<CancelSource> cancel;
    {
      std::lock_guard lock(mutex_);
      auto it = serving_.find(*key);
      if (it == serving_.end()) return;  // already answered, or never asked
      cancel = it->second;
    }
    const json::value* reason = params.if_contains("reason");
    cancel->cancel(reason && reason->is_string() ? std::string(reason->get_string()) : "cancelled by the server");
  }

  void fail_all(int code, const std::string& reason) {
    std::vector<std::shared_ptr<OneShot<RpcResponse>>> slots;
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, p] : pending_) slots.push_back(p.slot);
    }
    for (auto& s : slots) s->deliver(RpcResponse::failure(code, reason));
  }

  static asio::awaitable<void> close(std::shared_ptr<Impl> self) {
    {
      std::lock_guard lock(self->mutex_);
      if (self->closed_) co_return;
      self->closed_ = true;
    }
    self->fail_all(rpc::kConnectionClosed, "The client was closed");
    auto op = self->transport_->close();
    co_await std::move(op);
  }

  struct Pending {
    std::shared_ptr<OneShot<RpcResponse>> slot;
    std::function<void(const json::object&)> on_progress;
    ClientRequestHandler on_request;
    NotificationHandler on_notification;
  };

  asio::any_io_executor executor_;
  std::unique_ptr<ClientTransport> transport_;
  ClientOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::int64_t, Pending> pending_;  // guarded by mutex_
  // The server's requests to us being answered, by id.
  std::unordered_map<RequestId, std::shared_ptr<CancelSource>, RequestIdHash> serving_;  // guarded by mutex_
  std::int64_t next_id_ = 1;                           // guarded by mutex_
  std::uint64_t session_generation_ = 0;               // guarded by mutex_
  bool closed_ = false;                                // guarded by mutex_
  InitializeResult server_;                            // guarded by mutex_ (written by initialize)
  NotificationHandler notification_handler_;           // guarded by mutex_
  ClientRequestHandler request_handler_;               // guarded by mutex_
};

Client::Client(asio::any_io_executor executor, std::unique_ptr<ClientTransport> transport, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(transport), std::move(options))) {
  impl_->install_callbacks();
}

Client::~Client() { impl_->fail_all(rpc::kConnectionClosed, "The client was destroyed"); }

void Client::on_notification(NotificationHandler handler) {
  std::lock_guard lock(impl_->mutex_);
  impl_->notification_handler_ = std::move(handler);
}

void Client::on_request(ClientRequestHandler handler) {
  std::lock_guard lock(impl_->mutex_);
  impl_->request_handler_ = std::move(handler);
}

asio::awaitable<Result<InitializeResult>> Client::connect() { return Impl::connect(impl_); }

const InitializeResult& Client::server() const { return impl_->server_; }

// Not coroutines: they move their arguments into a Call on the heap and return the
// coroutine that runs it.
asio::awaitable<RpcResponse> Client::request(std::string method, json::object params, CallOptions options) {
  auto call = std::make_shared<Call>(Call{std::move(method), std::move(params), std::move(options)});
  return Impl::run(impl_, std::move(call));
}

asio::awaitable<Status> Client::notify(std::string method, json::object params) {
  return impl_->transport_->send(Message::notification(std::move(method), std::move(params)));
}

asio::awaitable<RpcResponse> Client::ping() { return request("ping"); }

namespace {

asio::awaitable<Result<std::vector<json::object>>> list_all(std::shared_ptr<Client::Impl> impl, std::string method,
                                                            std::string key) {
  std::vector<json::object> all;
  std::optional<std::string> cursor;
  // A server that keeps handing out cursors is cut off here.
  constexpr int kMaxPages = 1000;
  for (int page = 0; page < kMaxPages; ++page) {
    json::object params;
    if (cursor) params["cursor"] = *cursor;
    auto call = std::make_shared<Call>(Call{method, std::move(params), CallOptions{}});
    auto op = Client::Impl::run(impl, call);
    RpcResponse answer = co_await std::move(op);
    if (!answer.ok()) co_return answer.to_result().error();
    if (!answer.result.is_object()) co_return Error{ErrorCode::kUpstreamError, method + " returned no object"};
    const json::object& r = answer.result.get_object();
    if (const json::value* items = r.if_contains(key); items && items->is_array()) {
      for (const auto& item : items->get_array()) {
        if (item.is_object()) all.push_back(item.get_object());
      }
    }
    const json::value* next = r.if_contains("nextCursor");
    if (!next || !next->is_string() || next->get_string().empty()) co_return all;
    cursor = std::string(next->get_string());
  }
  co_return Error{ErrorCode::kUpstreamError, method + " returned more than 1000 pages"};
}

}  // namespace

asio::awaitable<Result<std::vector<json::object>>> Client::list_tools() { return list_all(impl_, "tools/list", "tools"); }
asio::awaitable<Result<std::vector<json::object>>> Client::list_resources() {
  return list_all(impl_, "resources/list", "resources");
}
asio::awaitable<Result<std::vector<json::object>>> Client::list_resource_templates() {
  return list_all(impl_, "resources/templates/list", "resourceTemplates");
}
asio::awaitable<Result<std::vector<json::object>>> Client::list_prompts() {
  return list_all(impl_, "prompts/list", "prompts");
}

asio::awaitable<RpcResponse> Client::call_tool(std::string name, json::object arguments, CallOptions options) {
  json::object params{{"name", std::move(name)}, {"arguments", std::move(arguments)}};
  return request("tools/call", std::move(params), std::move(options));
}

asio::awaitable<RpcResponse> Client::read_resource(std::string uri) {
  return request("resources/read", json::object{{"uri", std::move(uri)}});
}

asio::awaitable<RpcResponse> Client::get_prompt(std::string name, json::object arguments) {
  return request("prompts/get", json::object{{"name", std::move(name)}, {"arguments", std::move(arguments)}});
}

asio::awaitable<RpcResponse> Client::set_logging_level(LogLevel level) {
  return request("logging/setLevel", json::object{{"level", to_string(level)}});
}

asio::awaitable<RpcResponse> Client::subscribe(std::string uri) {
  return request("resources/subscribe", json::object{{"uri", std::move(uri)}});
}

asio::awaitable<RpcResponse> Client::unsubscribe(std::string uri) {
  return request("resources/unsubscribe", json::object{{"uri", std::move(uri)}});
}

asio::awaitable<void> Client::close() { return Impl::close(impl_); }

}  // namespace tollgate::mcp
