// Supervising and mirroring one upstream MCP server.
#include "gateway/upstream.hpp"

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tollgate/pay/payments.hpp"

namespace tollgate::gateway {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The elicitationId of an elicitation/create in URL mode, else "".
std::string url_elicitation_id(const mcp::Message& request) {
  if (request.method != "elicitation/create") return "";
  const json::value* mode = request.params.if_contains("mode");
  const json::value* id = request.params.if_contains("elicitationId");
  if (!mode || !id || !mode->is_string() || mode->get_string() != "url" || !id->is_string()) return "";
  return std::string(id->get_string());
}

// The elicitationIds a URLElicitationRequiredError lists (its data.elicitations).
std::vector<std::string> url_elicitation_ids(const json::value& data) {
  std::vector<std::string> ids;
  const json::object* o = data.if_object();
  const json::value* list = o ? o->if_contains("elicitations") : nullptr;
  if (!list || !list->is_array()) return ids;
  for (const json::value& e : list->get_array()) {
    const json::object* entry = e.if_object();
    const json::value* id = entry ? entry->if_contains("elicitationId") : nullptr;
    if (id && id->is_string()) ids.emplace_back(id->get_string());
  }
  return ids;
}

// "message (url)" for each elicitation a URLElicitationRequiredError lists, for a model to
// read; its message when it lists none.
std::string describe_url_elicitations(const mcp::RpcError& error) {
  std::string out;
  const json::object* data = error.data.if_object();
  const json::value* list = data ? data->if_contains("elicitations") : nullptr;
  if (list && list->is_array()) {
    for (const json::value& e : list->get_array()) {
      const json::object* entry = e.if_object();
      if (!entry) continue;
      const json::value* message = entry->if_contains("message");
      const json::value* url = entry->if_contains("url");
      if (!out.empty()) out += "; ";
      out += message && message->is_string() ? std::string(message->get_string()) : std::string("open");
      if (url && url->is_string()) out += " (" + std::string(url->get_string()) + ")";
    }
  }
  return out.empty() ? error.message : out;
}

std::string string_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<bool> bool_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

mcp::ToolAnnotations annotations_of(const json::object& tool) {
  mcp::ToolAnnotations a;
  auto* v = tool.if_contains("annotations");
  if (!v || !v->is_object()) return a;
  const auto& o = v->as_object();
  a.title = string_field(o, "title");
  a.read_only_hint = bool_field(o, "readOnlyHint");
  a.destructive_hint = bool_field(o, "destructiveHint");
  a.idempotent_hint = bool_field(o, "idempotentHint");
  a.open_world_hint = bool_field(o, "openWorldHint");
  return a;
}

json::object object_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : json::object{};
}

// What resources and resource templates both carry, as the upstream listed it.
template <typename Listed>
void copy_described(Listed& to, const json::object& from) {
  to.name = string_field(from, "name");
  to.title = string_field(from, "title");
  to.description = string_field(from, "description");
  to.mime_type = string_field(from, "mimeType");
  to.annotations = object_field(from, "annotations");
}

// Takes the upstream's result apart (moved, not copied: it is the bulk of a call's data).
mcp::ToolResult to_tool_result(json::value result) {
  mcp::ToolResult r;
  if (!result.is_object()) return mcp::ToolResult::error("UPSTREAM_ERROR: the upstream answered without a result object");
  auto& o = result.as_object();
  if (auto* c = o.if_contains("content"); c && c->is_array()) r.content = std::move(c->as_array());
  if (auto* s = o.if_contains("structuredContent")) r.structured_content = std::move(*s);
  if (auto* e = o.if_contains("isError"); e && e->is_bool()) r.is_error = e->as_bool();
  r.meta = object_field(o, "_meta");
  return r;
}

Error rpc_error(const mcp::RpcResponse& response) {
  if (response.error->code == mcp::rpc::kResourceNotFound) return Error{ErrorCode::kNotFound, response.error->message};
  if (response.error->code == mcp::rpc::kInvalidParams) return Error{ErrorCode::kInvalidRequest, response.error->message};
  return Error{ErrorCode::kUpstreamError, response.error->message};
}

// Who made a downstream call: its agent key when it sent one (one key, one account), else
// its HTTP session; a call with neither shares a caller with no other call.
std::optional<std::string> caller_of(const mcp::Context& ctx) {
  if (ctx.bearer_token()) return "key " + *ctx.bearer_token();
  if (!ctx.request_info().session_id.empty()) return "session " + ctx.request_info().session_id;
  return std::nullopt;
}

// An upstream's notifications/message, logged in a downstream call's context (which sends
// it only at or above the level that call's client set).
void forward_log(mcp::Context& ctx, const mcp::Message& message) {
  auto level = mcp::parse_log_level(string_field(message.params, "level")).value_or(mcp::LogLevel::kInfo);
  json::value data = message.params.contains("data") ? message.params.at("data") : json::value(nullptr);
  ctx.log(level, std::move(data), string_field(message.params, "logger"));
}

}  // namespace

Upstream::Upstream(asio::any_io_executor executor, UpstreamConfig config, mcp::Server& facade)
    : executor_(executor), config_(std::move(config)), facade_(facade), wake_(executor) {}

void Upstream::start() {
  // completion/complete goes to the upstream as it is (its prompts and templates are its own).
  std::weak_ptr<Upstream> weak = shared_from_this();
  facade_.set_completion_handler([weak](const json::object& params) -> asio::awaitable<mcp::RpcResponse> {
    auto s = weak.lock();
    auto c = s ? s->current_client() : nullptr;
    if (!c) co_return mcp::RpcResponse::failure(mcp::rpc::kInternalError, "the upstream server is reconnecting");
    std::string method = "completion/complete";
    json::object forwarded = params;
    auto op = c->request(std::move(method), std::move(forwarded));
    co_return co_await std::move(op);
  });
  asio::co_spawn(executor_, supervise(), asio::detached);
}

void Upstream::stop() {
  stopped_ = true;
  asio::post(executor_, [self = shared_from_this()] {
    self->wake_.cancel();
    // Whatever the supervisor waits on (a handshake, a mirror, a ping to an upstream slow to
    // answer) ends now, not at its timeout.
    std::shared_ptr<mcp::Client> supervised;
    {
      std::lock_guard lock(self->mutex_);
      supervised = self->supervised_;
    }
    if (supervised) asio::co_spawn(self->executor_, supervised->close(), asio::detached);
  });
}

std::shared_ptr<mcp::Client> Upstream::current_client() {
  std::lock_guard lock(mutex_);
  return client_;
}

std::unique_ptr<mcp::ClientTransport> Upstream::make_transport() {
  if (!config_.is_stdio()) {
    mcp::HttpClientOptions options;
    options.url = config_.url;  // no Authorization: the agent's key never leaves the gateway
    return mcp::make_http_client_transport(executor_, options);
  }
  mcp::StdioClientOptions options;
  options.command = config_.command;
  options.env = config_.env;
  // The child inherits our environment; it must not see keys that are not meant for it.
  options.env["AGENT_TOKEN"] = "";
  options.env["TOLLGATE_API_KEY"] = "";
  return mcp::make_stdio_client_transport(executor_, options);
}

asio::awaitable<void> Upstream::supervise() {
  auto self = shared_from_this();
  int delay_ms = kFirstReconnectDelayMs;
  while (!stopped_) {
    mcp::ClientOptions options;
    options.info = mcp::Implementation{.name = "tollgate-gateway", .version = "0.1.0"};
    // Offer the client features downstream clients may have; requests are forwarded, and one
    // the agent's client did not declare is refused there (Context::request). URL-mode
    // elicitation's later notifications/elicitation/complete goes to the agent the
    // elicitation went to (remember_url_elicitation_locked).
    options.capabilities = json::object{{"sampling", json::object{{"tools", json::object{}}}},
                                        {"elicitation", json::object{{"form", json::object{}}, {"url", json::object{}}}},
                                        {"roots", json::object{{"listChanged", true}}}};
    auto client = std::make_shared<mcp::Client>(executor_, make_transport(), options);
    std::weak_ptr<Upstream> weak = self;
    client->on_notification([weak](const mcp::Message& m) {
      if (auto s = weak.lock()) s->on_notification(m);
    });
    client->on_request([weak](const mcp::Message& m, const std::shared_ptr<mcp::CancelSource>& cancel)
                           -> asio::awaitable<mcp::RpcResponse> {
      auto s = weak.lock();
      if (!s) co_return mcp::RpcResponse::failure(mcp::rpc::kInternalError, "the gateway is stopping");
      auto op = s->on_request(m, cancel);
      co_return co_await std::move(op);
    });
    {
      std::lock_guard lock(mutex_);
      supervised_ = client;
    }
    if (stopped_) {  // stop() may have looked before supervised_ was set
      co_await client->close();
      break;
    }
    auto connected = co_await client->connect();
    if (stopped_) {
      co_await client->close();
      break;
    }
    if (!connected) {
      spdlog::warn("gateway: upstream '{}' unavailable ({}); retrying in {} ms", config_.name,
                   connected.error().message, delay_ms);
      co_await client->close();
      wake_.expires_after(std::chrono::milliseconds(delay_ms));
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      delay_ms = std::min(delay_ms * 2, kMaxReconnectDelayMs);
      continue;
    }
    ++connections_;
    broken_ = false;
    {
      std::lock_guard lock(mutex_);
      client_ = client;
    }
    auto first_mirror = mirror(client);
    auto mirrored = co_await std::move(first_mirror);
    if (!mirrored.ok()) spdlog::warn("gateway: upstream '{}': {}", config_.name, mirrored.error().message);
    ready_ = true;
    delay_ms = kFirstReconnectDelayMs;
    spdlog::info("gateway: upstream '{}' connected", config_.name);

    // Watch: list changes re-mirror; a failed call or ping ends the connection.
    while (!stopped_ && !broken_) {
      wake_.expires_after(std::chrono::milliseconds(kHealthCheckIntervalMs));
      auto [ec] = co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopped_ || broken_) break;
      if (remirror_.exchange(false)) {
        auto remirror = mirror(client);
        auto again = co_await std::move(remirror);
        if (!again.ok()) spdlog::warn("gateway: upstream '{}': {}", config_.name, again.error().message);
        continue;
      }
      if (ec == asio::error::operation_aborted) continue;
      auto pong = co_await client->ping();
      if (!pong.ok()) {
        spdlog::warn("gateway: upstream '{}' stopped answering: {}", config_.name, pong.error->message);
        broken_ = true;
      }
    }
    ready_ = false;
    {
      std::lock_guard lock(mutex_);
      client_.reset();
    }
    co_await client->close();
    if (!stopped_) spdlog::warn("gateway: reconnecting to upstream '{}'", config_.name);
  }
}

void Upstream::schedule_mirror() {
  remirror_ = true;
  asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
}

asio::awaitable<Status> Upstream::mirror(std::shared_ptr<mcp::Client> client) {
  auto self = shared_from_this();
  std::weak_ptr<Upstream> weak = self;
  const json::object& caps = client->server().capabilities;

  if (caps.contains("tools")) {
    auto listed = co_await client->list_tools();
    if (!listed) co_return listed.error();
    std::set<std::string> names;
    for (const json::object& t : *listed) {
      mcp::Tool tool;
      tool.name = string_field(t, "name");
      tool.title = string_field(t, "title");
      tool.description = string_field(t, "description");
      tool.input_schema = object_field(t, "inputSchema");
      if (auto* out = t.if_contains("outputSchema"); out && out->is_object()) tool.output_schema = out->as_object();
      tool.annotations = annotations_of(t);
      tool.meta = object_field(t, "_meta");
      pay::mark_price(tool, config_.price_of(tool.name));
      std::string name = tool.name;
      tool.handler = [weak, name](mcp::Context& ctx, const json::object& args) -> asio::awaitable<mcp::ToolResult> {
        auto s = weak.lock();
        if (!s) co_return mcp::ToolResult::error("UPSTREAM_ERROR: the gateway is stopping");
        auto op = s->call_tool(ctx, name, args);
        co_return co_await std::move(op);
      };
      if (auto st = facade_.replace_tool(std::move(tool)); !st.ok()) {
        spdlog::warn("gateway: upstream '{}' tool '{}' skipped: {}", config_.name, name, st.error().message);
        continue;
      }
      names.insert(name);
    }
    for (const auto& old : tools_) {
      if (!names.contains(old)) facade_.remove_tool(old);
    }
    tools_ = std::move(names);
  }

  if (caps.contains("resources")) {
    bool subscribe = false;
    if (auto* r = caps.if_contains("resources"); r && r->is_object()) subscribe = bool_field(r->as_object(), "subscribe").value_or(false);
    auto reader = [weak](mcp::Context&, const std::string& uri,
                         const std::map<std::string, std::string>&) -> asio::awaitable<Result<json::array>> {
      auto s = weak.lock();
      auto c = s ? s->current_client() : nullptr;
      if (!c) co_return Error{ErrorCode::kUpstreamError, "the upstream server is reconnecting"};
      std::string target = uri;
      auto op = c->read_resource(std::move(target));
      auto response = co_await std::move(op);
      if (!response.ok()) co_return rpc_error(response);
      json::array contents;
      if (response.result.is_object()) {
        if (auto* v = response.result.as_object().if_contains("contents"); v && v->is_array()) contents = v->as_array();
      }
      co_return contents;
    };
    auto listed = co_await client->list_resources();
    if (!listed) co_return listed.error();
    std::set<std::string> uris;
    for (const json::object& r : *listed) {
      mcp::Resource resource;
      resource.uri = string_field(r, "uri");
      copy_described(resource, r);
      resource.read = reader;
      std::string uri = resource.uri;
      if (!facade_.replace_resource(std::move(resource)).ok()) continue;
      uris.insert(uri);
      if (subscribe) {
        std::string target = uri;
        auto op = client->subscribe(std::move(target));
        co_await std::move(op);
      }
    }
    for (const auto& old : resources_) {
      if (!uris.contains(old)) facade_.remove_resource(old);
    }
    resources_ = std::move(uris);
    if (templates_.empty()) {
      // Templates are added once: the facade cannot remove them, and upstreams rarely change them.
      auto listed_templates = co_await client->list_resource_templates();
      if (listed_templates) {
        for (const json::object& t : *listed_templates) {
          mcp::ResourceTemplate rt;
          rt.uri_template = string_field(t, "uriTemplate");
          copy_described(rt, t);
          rt.read = reader;
          std::string key = rt.uri_template;
          if (facade_.add_resource_template(std::move(rt)).ok()) templates_.insert(key);
        }
      }
    }
  }

  if (caps.contains("prompts")) {
    auto listed = co_await client->list_prompts();
    if (!listed) co_return listed.error();
    std::set<std::string> names;
    for (const json::object& p : *listed) {
      mcp::Prompt prompt;
      prompt.name = string_field(p, "name");
      prompt.title = string_field(p, "title");
      prompt.description = string_field(p, "description");
      if (auto* args = p.if_contains("arguments"); args && args->is_array()) {
        for (const auto& a : args->as_array()) {
          if (!a.is_object()) continue;
          prompt.arguments.push_back(mcp::PromptArgument{string_field(a.as_object(), "name"),
                                                         string_field(a.as_object(), "title"),
                                                         string_field(a.as_object(), "description"),
                                                         bool_field(a.as_object(), "required").value_or(false), {}});
        }
      }
      std::string name = prompt.name;
      prompt.get = [weak, name](mcp::Context&, const std::map<std::string, std::string>& arguments)
          -> asio::awaitable<Result<json::object>> {
        auto s = weak.lock();
        auto c = s ? s->current_client() : nullptr;
        if (!c) co_return Error{ErrorCode::kUpstreamError, "the upstream server is reconnecting"};
        json::object args;
        for (const auto& [k, v] : arguments) args[k] = v;
        std::string prompt_name = name;
        auto op = c->get_prompt(std::move(prompt_name), std::move(args));
        auto response = co_await std::move(op);
        if (!response.ok()) co_return rpc_error(response);
        if (!response.result.is_object()) co_return Error{ErrorCode::kUpstreamError, "prompts/get returned no object"};
        co_return response.result.as_object();
      };
      if (facade_.replace_prompt(std::move(prompt)).ok()) names.insert(name);
    }
    for (const auto& old : prompts_) {
      if (!names.contains(old)) facade_.remove_prompt(old);
    }
    prompts_ = std::move(names);
  }
  co_return ok_status();
}

void Upstream::on_notification(const mcp::Message& message) {
  const std::string& method = message.method;
  if (method == "notifications/tools/list_changed" || method == "notifications/resources/list_changed" ||
      method == "notifications/prompts/list_changed") {
    schedule_mirror();
  } else if (method == "notifications/resources/updated") {
    if (auto* uri = message.params.if_contains("uri"); uri && uri->is_string()) {
      facade_.notify_resource_updated(std::string(uri->as_string()));
    }
  } else if (method == "notifications/elicitation/complete") {
    std::string id = string_field(message.params, "elicitationId");
    mcp::SessionHandle to;
    bool known = false;
    {
      std::lock_guard lock(mutex_);
      if (auto it = url_elicitations_.find(id); it != url_elicitations_.end()) {
        to = std::move(it->second.to);
        url_elicitation_order_.erase(it->second.age);
        url_elicitations_.erase(it);
        known = true;
      }
    }
    if (!known || !to.complete_elicitation(id)) {
      spdlog::debug("gateway: upstream '{}' completed elicitation '{}', which no connected agent is waiting for",
                    config_.name, id);
    }
  } else if (method == "notifications/message") {
    // A log message that does not say which call it is about (a stdio upstream, or an HTTP
    // upstream's GET stream; those sent on a call's own stream went to that call). Logs are
    // about someone's work: they go to the one caller whose calls are in flight, never to
    // every connected agent; otherwise only to the gateway's own log.
    std::lock_guard lock(mutex_);
    Attribution to = attribute_locked();
    if (to.ctx && !to.ambiguous) {
      forward_log(*to.ctx, message);
    } else {
      spdlog::debug("gateway: upstream '{}' log message not forwarded ({}): {}", config_.name,
                    to.ctx ? "calls of several clients in flight" : "no call in flight", json::serialize(message.params));
    }
  }
  // Progress arrives through the call's on_progress; the upstream cancelling one of its own
  // requests to us (sampling, elicitation) reaches that request's CancelSource (on_request).
}

// A call by its serial (not its address: a Context lives in a coroutine frame, whose
// memory the next call on that thread may well get).
mcp::Context* Upstream::active_locked(std::uint64_t serial) const {
  for (const auto& call : active_calls_) {
    if (call.serial == serial) return call.ctx;
  }
  return nullptr;
}

// When the calls in flight all come from one caller, its newest call; when they come from
// several, guessing could show one agent's request or log (a sampling prompt, an
// elicitation, what its tool is doing) to another agent's client, so nobody gets it.
Upstream::Attribution Upstream::attribute_locked() const {
  Attribution to;
  if (active_calls_.empty()) return to;
  to.ctx = active_calls_.back().ctx;
  auto caller = caller_of(*to.ctx);
  to.ambiguous = active_calls_.size() > 1 &&
                 (!caller || std::any_of(active_calls_.begin(), active_calls_.end(),
                                         [&](const ActiveCall& c) { return caller_of(*c.ctx) != caller; }));
  return to;
}

asio::awaitable<mcp::RpcResponse> Upstream::on_request(const mcp::Message& message,
                                                       std::shared_ptr<mcp::CancelSource> cancel) {
  // The upstream asks without saying for which call (stdio) while our calls wait on it.
  // (Requests an HTTP upstream ties to a call never get here.) The request to the call's
  // client is made under the lock that keeps the call in flight; once made, it no longer
  // needs the call (Context::request).
  std::optional<asio::awaitable<mcp::RpcResponse>> asked;
  Attribution to;
  {
    std::lock_guard lock(mutex_);
    to = attribute_locked();
    // The upstream cancelling its request cancels the downstream one: the agent's client
    // stops asking its user.
    if (to.ctx && !to.ambiguous) {
      if (auto id = url_elicitation_id(message); !id.empty()) remember_url_elicitation_locked(id, to.ctx->session());
      asked.emplace(to.ctx->request(message.method, message.params, std::move(cancel)));
    }
  }
  if (!to.ctx) {
    co_return mcp::RpcResponse::failure(mcp::rpc::kInternalError,
                                        "no client is connected to the gateway to answer " + message.method);
  }
  if (to.ambiguous) {
    co_return mcp::RpcResponse::failure(
        mcp::rpc::kInternalError,
        message.method + " cannot be answered: calls from several clients are in flight on this stdio server, and "
                         "the request does not say which one it belongs to (the gateway does not guess; an HTTP "
                         "upstream ties each request to its call)");
  }
  co_return co_await std::move(*asked);
}

void Upstream::remember_url_elicitation_locked(const std::string& elicitation_id, mcp::SessionHandle to) {
  if (auto it = url_elicitations_.find(elicitation_id); it != url_elicitations_.end()) {
    // Asked again (the upstream reuses its id): the newest asking counts.
    url_elicitation_order_.splice(url_elicitation_order_.end(), url_elicitation_order_, it->second.age);
    it->second.to = std::move(to);
    return;
  }
  auto age = url_elicitation_order_.insert(url_elicitation_order_.end(), elicitation_id);
  url_elicitations_.emplace(elicitation_id, UrlElicitation{age, std::move(to)});
  if (url_elicitations_.size() > kMaxUrlElicitations) {  // never completed: the oldest goes
    url_elicitations_.erase(url_elicitation_order_.front());
    url_elicitation_order_.pop_front();
  }
}

mcp::ToolResult Upstream::upstream_error(const std::string& tool, const std::string& text) const {
  mcp::ToolResult r = mcp::ToolResult::error("UPSTREAM_ERROR: " + text);
  r.meta["tollgate/error"] = json::object{
      {"code", "UPSTREAM_ERROR"}, {"tool", tool}, {"price", format_money(config_.price_of(tool))}};
  return r;
}

mcp::ToolResult Upstream::upstream_failure(const std::string& tool, const std::string& detail) const {
  return upstream_error(tool, fmt::format("The MCP server behind this gateway ('{}') failed: {}. A paid call that "
                                          "fails this way is refunded.",
                                          config_.name, detail));
}

std::optional<mcp::ToolResult> Upstream::unavailable(const std::string& tool) {
  if (current_client()) return std::nullopt;
  return upstream_error(tool, fmt::format("The MCP server behind this gateway ('{}') is restarting, so the call did "
                                          "not run and nothing was charged. Try again in a moment.",
                                          config_.name));
}

asio::awaitable<mcp::ToolResult> Upstream::call_tool(mcp::Context& ctx, const std::string& name,
                                                     const json::object& arguments) {
  auto self = shared_from_this();
  auto client = current_client();
  if (!client) co_return upstream_failure(name, "it is restarting");
  // In active_calls_ until this call ends, however it ends (an answer, an exception, its
  // coroutine destroyed): on_request dereferences every entry.
  struct InFlight {
    Upstream& upstream;
    std::uint64_t serial;
    InFlight(Upstream& u, mcp::Context* ctx) : upstream(u) {
      std::lock_guard lock(upstream.mutex_);
      serial = ++upstream.last_call_serial_;
      upstream.active_calls_.push_back(ActiveCall{serial, ctx});
    }
    ~InFlight() {
      std::lock_guard lock(upstream.mutex_);
      std::erase_if(upstream.active_calls_, [this](const ActiveCall& c) { return c.serial == serial; });
    }
  };
  InFlight active(*this, &ctx);
  // The per-call handlers below run on the upstream client's thread and may run just after
  // this call ended: they use the call only while it is still in active_calls_ (under mutex_).
  std::weak_ptr<Upstream> weak = self;
  const std::uint64_t call = active.serial;
  mcp::CallOptions options;
  options.on_progress = [weak, call](const json::object& p) {
    auto s = weak.lock();
    if (!s) return;
    double progress = 0;
    if (auto* v = p.if_contains("progress"); v && v->is_number()) progress = v->to_number<double>();
    std::optional<double> total;
    if (auto* v = p.if_contains("total"); v && v->is_number()) total = v->to_number<double>();
    std::lock_guard lock(s->mutex_);
    if (mcp::Context* ctx = s->active_locked(call)) ctx->report_progress(progress, total, string_field(p, "message"));
  };
  // An HTTP upstream's requests (sampling, elicitation) arrive on this call's own stream, so
  // this call's client answers them; a stdio upstream's go through on_request. The request
  // is made while the call is known to be in flight; once made, it no longer needs it.
  options.on_request = [weak, call](const mcp::Message& request,
                                    const std::shared_ptr<mcp::CancelSource>& cancel) -> asio::awaitable<mcp::RpcResponse> {
    std::optional<asio::awaitable<mcp::RpcResponse>> asked;
    if (auto s = weak.lock()) {
      std::lock_guard lock(s->mutex_);
      if (mcp::Context* ctx = s->active_locked(call)) {
        if (auto id = url_elicitation_id(request); !id.empty()) s->remember_url_elicitation_locked(id, ctx->session());
        asked.emplace(ctx->request(request.method, request.params, cancel));
      }
    }
    if (!asked) co_return mcp::RpcResponse::failure(mcp::rpc::kInvalidRequest, "the call this request belongs to has ended");
    co_return co_await std::move(*asked);
  };
  // Log messages an HTTP upstream sends on this call's stream are about this call; anything
  // else sent there (list changes, resource updates) is the upstream's news for everyone.
  options.on_notification = [weak, call](const mcp::Message& notification) {
    auto s = weak.lock();
    if (!s) return;
    if (notification.method != "notifications/message") {
      s->on_notification(notification);
      return;
    }
    std::lock_guard lock(s->mutex_);
    if (mcp::Context* ctx = s->active_locked(call)) forward_log(*ctx, notification);
  };
  // The downstream client cancelling its call cancels ours: the upstream hears of it
  // (notifications/cancelled) and can stop the work.
  options.cancel = std::make_shared<mcp::CancelSource>();
  ctx.on_cancel([cancel = options.cancel] { cancel->cancel("cancelled by the client of the gateway"); });
  std::string tool_name = name;
  json::object args = arguments;
  auto call_op = client->call_tool(std::move(tool_name), std::move(args), std::move(options));
  auto response = co_await std::move(call_op);
  if (!response.ok()) {
    // Not an upstream failure: the tool had started, so a paid call stays charged, as with a
    // cancelled call to an SDK server (and the client gets no answer either way).
    if (response.error->code == mcp::rpc::kRequestCancelled) co_return mcp::ToolResult::error(response.error->message);
    if (response.error->code == mcp::rpc::kUrlElicitationRequired) {
      // The upstream needs the agent's user to act first. An agent whose client does URL
      // mode gets the error as it is (the payments interceptor refunds the call), and the
      // completions later; to the others it says, in words the model can pass on, what to
      // do (refunded as UPSTREAM_ERROR: the tool could not do its work).
      if (!ctx.client_supports("elicitation", "url")) {
        co_return upstream_error(name, fmt::format("The MCP server behind this gateway ('{}') needs the user to do this "
                                                   "first, then call again: {}",
                                                   config_.name, describe_url_elicitations(*response.error)));
      }
      // A completion cannot come before the agent has the URL, so it finds the id here.
      {
        std::lock_guard lock(mutex_);
        for (const std::string& id : url_elicitation_ids(response.error->data)) remember_url_elicitation_locked(id, ctx.session());
      }
      throw mcp::ProtocolError(*response.error);
    }
    if (response.error->code == mcp::rpc::kConnectionClosed) {
      broken_ = true;
      asio::post(executor_, [self] { self->wake_.cancel(); });
    }
    co_return upstream_failure(name, response.error->message);
  }
  co_return to_tool_result(std::move(response.result));
}

}  // namespace tollgate::gateway
