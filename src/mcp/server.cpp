// The server protocol engine: registry, lifecycle and version negotiation, request dispatch
// (tools, resources, prompts, completion, logging), cancellation, progress, and requests from
// server to client awaited by handlers.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/crypto.hpp"
#include "http/message.hpp"
#include "mcp/async.hpp"
#include "mcp/message_arena.hpp"
#include "mcp/server_session.hpp"
#include "tollgate/mcp/schema.hpp"

namespace tollgate::mcp {
namespace asio = boost::asio;

// ---------------------------------------------------------------------------------------
// Definitions as JSON.

// The result's values go in an arena of their own (the typical result: one allocation
// instead of seven), which the response message then carries to the transport.
ToolResult ToolResult::text(std::string_view text) {
  json::storage_ptr arena = make_message_arena();
  ToolResult r{.content = json::array(arena), .meta = json::object(arena)};
  r.content.push_back(text_content(text, arena));
  return r;
}

ToolResult ToolResult::error(std::string_view message) {
  ToolResult r = text(message);
  r.is_error = true;
  return r;
}

ToolResult ToolResult::structured(json::value value) {
  ToolResult r = text(json::serialize(value));
  r.structured_content = std::move(value);
  return r;
}

ToolResult& ToolResult::add(json::object content_block) {
  content.push_back(std::move(content_block));
  return *this;
}

json::object ToolResult::to_json() const& { return ToolResult(*this).to_json(); }

json::object ToolResult::to_json() && {
  json::object out(content.storage());  // where the content is: moved, not copied
  out.emplace("content", std::move(content));
  if (!structured_content.is_null()) out["structuredContent"] = std::move(structured_content);
  if (is_error) out["isError"] = true;
  if (!meta.empty()) out["_meta"] = std::move(meta);
  return out;
}

json::object ToolAnnotations::to_json() const {
  json::object out;
  if (!title.empty()) out["title"] = title;
  if (read_only_hint) out["readOnlyHint"] = *read_only_hint;
  if (destructive_hint) out["destructiveHint"] = *destructive_hint;
  if (idempotent_hint) out["idempotentHint"] = *idempotent_hint;
  if (open_world_hint) out["openWorldHint"] = *open_world_hint;
  return out;
}

bool ToolAnnotations::empty() const {
  return title.empty() && !read_only_hint && !destructive_hint && !idempotent_hint && !open_world_hint;
}

namespace {

json::array icons_json(const std::vector<Icon>& icons) {
  json::array out;
  for (const auto& icon : icons) out.push_back(icon.to_json());
  return out;
}

void put_if(json::object& out, std::string_view key, const std::string& value) {
  if (!value.empty()) out[key] = value;
}

}  // namespace

json::object Tool::to_json() const {
  json::object out{{"name", name}};
  put_if(out, "title", title);
  put_if(out, "description", description);
  out["inputSchema"] = input_schema;
  if (output_schema) out["outputSchema"] = *output_schema;
  if (!annotations.empty()) out["annotations"] = annotations.to_json();
  if (!icons.empty()) out["icons"] = icons_json(icons);
  if (!meta.empty()) out["_meta"] = meta;
  return out;
}

json::object Resource::to_json() const {
  json::object out{{"uri", uri}, {"name", name}};
  put_if(out, "title", title);
  put_if(out, "description", description);
  put_if(out, "mimeType", mime_type);
  if (size) out["size"] = *size;
  if (!annotations.empty()) out["annotations"] = annotations;
  if (!icons.empty()) out["icons"] = icons_json(icons);
  return out;
}

json::object ResourceTemplate::to_json() const {
  json::object out{{"uriTemplate", uri_template}, {"name", name}};
  put_if(out, "title", title);
  put_if(out, "description", description);
  put_if(out, "mimeType", mime_type);
  if (!annotations.empty()) out["annotations"] = annotations;
  if (!icons.empty()) out["icons"] = icons_json(icons);
  return out;
}

json::object Prompt::to_json() const {
  json::object out{{"name", name}};
  put_if(out, "title", title);
  put_if(out, "description", description);
  if (!arguments.empty()) {
    json::array args;
    for (const auto& a : arguments) {
      json::object arg{{"name", a.name}};
      put_if(arg, "title", a.title);
      put_if(arg, "description", a.description);
      arg["required"] = a.required;
      args.push_back(std::move(arg));
    }
    out["arguments"] = std::move(args);
  }
  if (!icons.empty()) out["icons"] = icons_json(icons);
  return out;
}

std::optional<std::string> tool_name_problem(std::string_view name) {
  constexpr std::size_t kMaxToolName = 128;
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxToolName) return "it is " + std::to_string(name.size()) + " characters long (at most 128)";
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!allowed) return "it contains '" + std::string(1, c) + "' (allowed: A-Z a-z 0-9 _ - .)";
  }
  return std::nullopt;
}

namespace detail {

namespace {

json::value progress_token_of(const json::object& meta) {
  const json::value* t = meta.if_contains("progressToken");
  if (t && (t->is_string() || t->is_int64() || t->is_uint64())) return *t;
  return nullptr;
}

// Opaque page cursors: the hex of "page:<offset>", so clients treat them as tokens.
std::string encode_cursor(std::size_t offset) {
  std::string plain = "page:" + std::to_string(offset);
  return to_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size()));
}

std::optional<std::size_t> decode_cursor(std::string_view cursor) {
  if (cursor.size() % 2 != 0 || cursor.size() > 64) return std::nullopt;
  std::string plain;
  for (std::size_t i = 0; i < cursor.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nibble(cursor[i]);
    int lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    plain.push_back(static_cast<char>(hi * 16 + lo));
  }
  if (!plain.starts_with("page:") || plain.size() == 5) return std::nullopt;
  std::size_t offset = 0;
  for (char c : std::string_view(plain).substr(5)) {
    if (c < '0' || c > '9') return std::nullopt;
    offset = offset * 10 + static_cast<std::size_t>(c - '0');
    if (offset > 1'000'000'000) return std::nullopt;
  }
  return offset;
}

RpcResponse invalid_params(std::string message) { return RpcResponse::failure(rpc::kInvalidParams, std::move(message)); }

// A view into `params`, which outlives every handler that reads it (the request is kept in
// the frame that awaits execute()).
std::optional<std::string_view> string_param(const json::object& params, std::string_view key) {
  const json::value* v = params.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

}  // namespace

RpcError to_rpc_error(const Error& error) {
  switch (error.code) {
    case ErrorCode::kNotFound: return RpcError{rpc::kResourceNotFound, error.message, nullptr};
    case ErrorCode::kInvalidRequest: return RpcError{rpc::kInvalidParams, error.message, nullptr};
    default: return RpcError{rpc::kInternalError, error.message, nullptr};
  }
}

// ---------------------------------------------------------------------------------------
// URI templates.

Result<UriTemplate> UriTemplate::parse(std::string_view text) {
  UriTemplate t;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find('{', pos);
    if (open == std::string_view::npos) open = text.size();
    if (open > pos) t.parts.push_back(Part{std::string(text.substr(pos, open - pos)), false, false});
    if (open == text.size()) break;
    std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) return Error{ErrorCode::kInvalidRequest, "unclosed '{' in URI template"};
    std::string_view expr = text.substr(open + 1, close - open - 1);
    bool reserved = false;
    if (!expr.empty() && expr.front() == '+') {
      reserved = true;
      expr.remove_prefix(1);
    }
    if (expr.empty() || expr.find_first_of("#./;?&=,!@|{ ") != std::string_view::npos) {
      return Error{ErrorCode::kInvalidRequest, "URI template expressions must be {name} or {+name}"};
    }
    if (!t.parts.empty() && t.parts.back().variable) {
      return Error{ErrorCode::kInvalidRequest, "URI template variables must be separated by literal text"};
    }
    t.parts.push_back(Part{std::string(expr), true, reserved});
    pos = close + 1;
  }
  return t;
}

namespace {
bool match_from(const std::vector<UriTemplate::Part>& parts, std::size_t i, std::string_view uri, std::size_t pos,
                std::map<std::string, std::string>& vars) {
  if (i == parts.size()) return pos == uri.size();
  const auto& part = parts[i];
  if (!part.variable) {
    if (uri.compare(pos, part.text.size(), part.text) != 0) return false;
    return match_from(parts, i + 1, uri, pos + part.text.size(), vars);
  }
  // Variables are separated by literals (checked at parse), so try each end up to the next
  // '/' (or anywhere for {+name}); templates have few variables, so this stays cheap.
  for (std::size_t end = pos + 1; end <= uri.size(); ++end) {
    char c = uri[end - 1];
    if (!part.reserved && (c == '/' || c == '?' || c == '#')) break;
    if (match_from(parts, i + 1, uri, end, vars)) {
      vars[part.text] = http::percent_decode(uri.substr(pos, end - pos), false);
      return true;
    }
  }
  return false;
}
}  // namespace

bool UriTemplate::match(std::string_view uri, std::map<std::string, std::string>& variables) const {
  variables.clear();
  return match_from(parts, 0, uri, 0, variables);
}

// ---------------------------------------------------------------------------------------
// Registry.

namespace {
template <typename T, typename Key>
bool erase_by(std::vector<std::shared_ptr<const T>>& items, Key key) {
  auto before = items.size();
  std::erase_if(items, key);
  return items.size() != before;
}

// Whether `capabilities` (a client's) declare `capability`, and with `sub` non-empty that
// sub-capability; "elicitation": {} means form mode only.
bool declares_capability(const json::object& capabilities, std::string_view capability, std::string_view sub) {
  const json::value* declared = capabilities.if_contains(capability);
  if (!declared) return false;
  if (sub.empty()) return true;
  const json::object* subs = declared->if_object();
  bool form_by_default = capability == "elicitation" && sub == "form" && (!subs || subs->empty());
  return form_by_default || (subs && subs->contains(sub));
}

enum class Put { kAdded, kChanged, kUnchanged, kDuplicate };

// Appends `entry` when its key is new; else, with `replace`, puts it in place of the item
// with that key, so readers find the old item or the new one, never neither, and listing
// order (which pagination cursors count in) stays. kUnchanged: what the list shows of it
// (`shown`) is the same, so clients need not be told.
template <typename T, typename KeyOf, typename Shown>
Put put_item(std::vector<std::shared_ptr<const T>>& items, std::shared_ptr<const T> entry, bool replace, KeyOf key_of,
             Shown shown) {
  auto it = std::find_if(items.begin(), items.end(), [&](const auto& item) { return key_of(*item) == key_of(*entry); });
  if (it == items.end()) {
    items.push_back(std::move(entry));
    return Put::kAdded;
  }
  if (!replace) return Put::kDuplicate;
  bool same = shown(**it) == shown(*entry);
  *it = std::move(entry);
  return same ? Put::kUnchanged : Put::kChanged;
}
}  // namespace

Status ServerCore::add_tool(Tool tool) { return put_tool(std::move(tool), /*replace=*/false); }
Status ServerCore::replace_tool(Tool tool) { return put_tool(std::move(tool), /*replace=*/true); }

Status ServerCore::put_tool(Tool tool, bool replace) {
  if (tool.name.empty()) return Error{ErrorCode::kInvalidRequest, "a tool needs a name"};
  if (!tool.handler) return Error{ErrorCode::kInvalidRequest, "tool " + tool.name + " needs a handler"};
  if (tool.input_schema.empty()) tool.input_schema = json::object{{"type", "object"}};
  json::value input_schema(tool.input_schema);
  json::value output_schema = tool.output_schema ? json::value(*tool.output_schema) : json::value(nullptr);
  if (auto s = check_object_schema(input_schema); !s) {
    return Error{ErrorCode::kInvalidRequest, "tool " + tool.name + " input schema: " + s.error().message};
  }
  if (tool.output_schema) {
    if (auto s = check_object_schema(output_schema); !s) {
      return Error{ErrorCode::kInvalidRequest, "tool " + tool.name + " output schema: " + s.error().message};
    }
  }
  std::string name = tool.name;
  Put put;
  {
    std::unique_lock lock(registry_mutex_);
    put = put_item(tools_, std::make_shared<const ToolEntry>(ToolEntry{std::move(tool), std::move(input_schema), std::move(output_schema)}),
                   replace, [](const ToolEntry& t) -> const std::string& { return t.definition.name; },
                   [](const ToolEntry& t) { return t.definition.to_json(); });
  }
  if (put == Put::kDuplicate) return Error{ErrorCode::kInvalidRequest, "tool " + name + " is already registered"};
  // Once per name: a gateway re-mirroring its upstream replaces every tool each time.
  if (auto problem = tool_name_problem(name); problem && put == Put::kAdded) {
    spdlog::warn("mcp: tool name \"{}\" breaks MCP's naming rules: {}; clients may refuse or rename it", name,
                 *problem);
  }
  if (put != Put::kUnchanged) broadcast_list_changed("tools");
  return ok_status();
}

bool ServerCore::remove_tool(std::string_view name) {
  bool removed;
  {
    std::unique_lock lock(registry_mutex_);
    removed = erase_by(tools_, [&](const auto& t) { return t->definition.name == name; });
  }
  if (removed) broadcast_list_changed("tools");
  return removed;
}

std::shared_ptr<const ServerCore::ToolEntry> ServerCore::find_tool_entry(std::string_view name) const {
  std::shared_lock lock(registry_mutex_);
  for (const auto& t : tools_) {
    if (t->definition.name == name) return t;
  }
  return nullptr;
}

// The public views share ownership of the entry (aliasing shared_ptr): no copies.
std::shared_ptr<const Tool> ServerCore::find_tool(std::string_view name) const {
  auto entry = find_tool_entry(name);
  if (!entry) return nullptr;
  return std::shared_ptr<const Tool>(entry, &entry->definition);
}

std::vector<std::shared_ptr<const Tool>> ServerCore::tools() const {
  std::shared_lock lock(registry_mutex_);
  std::vector<std::shared_ptr<const Tool>> out;
  out.reserve(tools_.size());
  for (const auto& t : tools_) out.emplace_back(t, &t->definition);
  return out;
}

void ServerCore::set_interceptor(ToolInterceptor interceptor) {
  std::unique_lock lock(registry_mutex_);
  interceptor_ = interceptor ? std::make_shared<const ToolInterceptor>(std::move(interceptor)) : nullptr;
}

std::shared_ptr<const ToolInterceptor> ServerCore::interceptor() const {
  std::shared_lock lock(registry_mutex_);
  return interceptor_;
}

void ServerCore::set_completion_handler(CompletionHandler handler) {
  std::unique_lock lock(registry_mutex_);
  completion_handler_ = handler ? std::make_shared<const CompletionHandler>(std::move(handler)) : nullptr;
}

std::shared_ptr<const CompletionHandler> ServerCore::completion_handler() const {
  std::shared_lock lock(registry_mutex_);
  return completion_handler_;
}

Status ServerCore::add_resource(Resource resource) { return put_resource(std::move(resource), /*replace=*/false); }
Status ServerCore::replace_resource(Resource resource) { return put_resource(std::move(resource), /*replace=*/true); }

Status ServerCore::put_resource(Resource resource, bool replace) {
  if (resource.uri.empty() || resource.name.empty()) return Error{ErrorCode::kInvalidRequest, "a resource needs a uri and a name"};
  if (!resource.read) return Error{ErrorCode::kInvalidRequest, "resource " + resource.uri + " needs a reader"};
  std::string uri = resource.uri;
  Put put;
  {
    std::unique_lock lock(registry_mutex_);
    put = put_item(resources_, std::make_shared<const Resource>(std::move(resource)), replace,
                   [](const Resource& r) -> const std::string& { return r.uri; }, [](const Resource& r) { return r.to_json(); });
  }
  if (put == Put::kDuplicate) return Error{ErrorCode::kInvalidRequest, "resource " + uri + " is already registered"};
  if (put != Put::kUnchanged) broadcast_list_changed("resources");
  return ok_status();
}

bool ServerCore::remove_resource(std::string_view uri) {
  bool removed;
  {
    std::unique_lock lock(registry_mutex_);
    removed = erase_by(resources_, [&](const auto& r) { return r->uri == uri; });
  }
  if (removed) broadcast_list_changed("resources");
  return removed;
}

Status ServerCore::add_template(ResourceTemplate resource_template) {
  if (resource_template.uri_template.empty() || resource_template.name.empty()) {
    return Error{ErrorCode::kInvalidRequest, "a resource template needs a uriTemplate and a name"};
  }
  if (!resource_template.read) return Error{ErrorCode::kInvalidRequest, "resource template needs a reader"};
  auto parsed = UriTemplate::parse(resource_template.uri_template);
  if (!parsed) return Error{ErrorCode::kInvalidRequest, resource_template.uri_template + ": " + parsed.error().message};
  {
    std::unique_lock lock(registry_mutex_);
    templates_.push_back(std::make_shared<const TemplateEntry>(TemplateEntry{std::move(resource_template), std::move(*parsed)}));
  }
  broadcast_list_changed("resources");
  return ok_status();
}

Status ServerCore::add_prompt(Prompt prompt) { return put_prompt(std::move(prompt), /*replace=*/false); }
Status ServerCore::replace_prompt(Prompt prompt) { return put_prompt(std::move(prompt), /*replace=*/true); }

Status ServerCore::put_prompt(Prompt prompt, bool replace) {
  if (prompt.name.empty()) return Error{ErrorCode::kInvalidRequest, "a prompt needs a name"};
  if (!prompt.get) return Error{ErrorCode::kInvalidRequest, "prompt " + prompt.name + " needs a handler"};
  std::string name = prompt.name;
  Put put;
  {
    std::unique_lock lock(registry_mutex_);
    put = put_item(prompts_, std::make_shared<const Prompt>(std::move(prompt)), replace,
                   [](const Prompt& p) -> const std::string& { return p.name; }, [](const Prompt& p) { return p.to_json(); });
  }
  if (put == Put::kDuplicate) return Error{ErrorCode::kInvalidRequest, "prompt " + name + " is already registered"};
  if (put != Put::kUnchanged) broadcast_list_changed("prompts");
  return ok_status();
}

bool ServerCore::remove_prompt(std::string_view name) {
  bool removed;
  {
    std::unique_lock lock(registry_mutex_);
    removed = erase_by(prompts_, [&](const auto& p) { return p->name == name; });
  }
  if (removed) broadcast_list_changed("prompts");
  return removed;
}

std::vector<std::shared_ptr<const Resource>> ServerCore::resources() const {
  std::shared_lock lock(registry_mutex_);
  return resources_;
}

std::vector<std::shared_ptr<const ServerCore::TemplateEntry>> ServerCore::templates() const {
  std::shared_lock lock(registry_mutex_);
  return templates_;
}

std::vector<std::shared_ptr<const Prompt>> ServerCore::prompts() const {
  std::shared_lock lock(registry_mutex_);
  return prompts_;
}

std::shared_ptr<const Resource> ServerCore::find_resource(std::string_view uri) const {
  std::shared_lock lock(registry_mutex_);
  for (const auto& r : resources_) {
    if (r->uri == uri) return r;
  }
  return nullptr;
}

std::shared_ptr<const Prompt> ServerCore::find_prompt(std::string_view name) const {
  std::shared_lock lock(registry_mutex_);
  for (const auto& p : prompts_) {
    if (p->name == name) return p;
  }
  return nullptr;
}

json::object ServerCore::capabilities() const {
  std::shared_lock lock(registry_mutex_);
  json::object caps;
  if (options_.logging) caps["logging"] = json::object{};
  if (options_.completions) caps["completions"] = json::object{};
  if (!prompts_.empty() || options_.declare_prompts) caps["prompts"] = json::object{{"listChanged", true}};
  if (!resources_.empty() || !templates_.empty() || options_.declare_resources) {
    caps["resources"] = json::object{{"subscribe", true}, {"listChanged", true}};
  }
  if (!tools_.empty() || options_.declare_tools) caps["tools"] = json::object{{"listChanged", true}};
  return caps;
}

void ServerCore::attach(const std::shared_ptr<ServerSession>& session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_[session.get()] = session;
}

void ServerCore::detach(ServerSession* session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(session);
}

std::vector<std::shared_ptr<ServerSession>> ServerCore::sessions() const {
  std::vector<std::shared_ptr<ServerSession>> out;
  std::lock_guard lock(sessions_mutex_);
  out.reserve(sessions_.size());
  for (const auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

std::size_t ServerCore::session_count() const {
  std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

void ServerCore::broadcast_list_changed(std::string_view kind) {
  Message note = Message::notification("notifications/" + std::string(kind) + "/list_changed");
  for (const auto& session : sessions()) {
    if (session->initialized()) session->send(note, nullptr);
  }
}

// ---------------------------------------------------------------------------------------
// Sessions.

std::shared_ptr<ServerSession> ServerSession::create(std::shared_ptr<ServerCore> core,
                                                     std::shared_ptr<SessionOutput> output, bool broadcasts) {
  std::shared_ptr<ServerSession> session(new ServerSession(std::move(core), std::move(output)));
  if (broadcasts) {
    session->attached_ = true;
    session->core_->attach(session);
  }
  return session;
}

ServerSession::ServerSession(std::shared_ptr<ServerCore> core, std::shared_ptr<SessionOutput> output)
    : core_(std::move(core)), output_(std::move(output)) {}

ServerSession::~ServerSession() {
  if (attached_) core_->detach(this);
}

std::string ServerSession::protocol_version() const {
  std::lock_guard lock(mutex_);
  return protocol_version_;
}

void ServerSession::assume_initialized(std::string_view protocol_version) {
  {
    std::lock_guard lock(mutex_);
    protocol_version_ = std::string(protocol_version);
  }
  initialized_ = true;
}

void ServerSession::receive(Message&& message, std::shared_ptr<const RequestInfo> info, asio::any_io_executor executor) {
  if (closed_) return;
  switch (message.kind) {
    case MessageKind::kRequest: {
      auto admitted = admit(message, std::move(info), executor);
      if (auto* error = std::get_if<RpcError>(&admitted)) {
        output_->respond(message.id, Message::failure(message.id, std::move(*error)));
        return;
      }
      auto state = std::get<0>(std::move(admitted));
      asio::co_spawn(executor, run_and_respond(shared_from_this(), std::move(state), std::move(message)), asio::detached);
      return;
    }
    case MessageKind::kNotification: handle_notification(message); return;
    case MessageKind::kResult:
    case MessageKind::kError: handle_response(message); return;
  }
}

asio::awaitable<std::optional<Message>> ServerSession::run_request(const Message& request,
                                                                   std::shared_ptr<const RequestInfo> info,
                                                                   asio::any_io_executor executor) {
  auto admitted = admit(request, std::move(info), std::move(executor));
  if (auto* error = std::get_if<RpcError>(&admitted)) return ready(Message::failure(request.id, std::move(*error)));
  return execute(std::get<0>(std::move(admitted)), request);
}

std::variant<std::shared_ptr<RequestState>, RpcError> ServerSession::admit(const Message& request,
                                                                           std::shared_ptr<const RequestInfo> info,
                                                                           asio::any_io_executor executor) {
  const std::size_t limit = core_->options().max_in_flight_requests;
  auto state = std::make_shared<RequestState>();
  state->session = shared_from_this();
  state->id = request.id;
  state->method = request.method;
  if (const json::value* meta = request.params.if_contains("_meta"); meta && meta->is_object()) {
    state->meta = meta->get_object();
    json::value token = progress_token_of(state->meta);
    if (!token.is_null()) state->progress_token = std::move(token);
  }
  state->info = std::move(info);
  state->executor = std::move(executor);

  std::lock_guard lock(mutex_);
  // Checked under the lock close() takes after setting closed_: a request admitted here is
  // either refused or among those close() cancels, never left running in a closed session.
  if (closed_) return RpcError{rpc::kConnectionClosed, "The session was closed", nullptr};
  bool is_init = request.method == "initialize";
  if (is_init && initialized_) return RpcError{rpc::kInvalidRequest, "Invalid Request: the session is already initialized", nullptr};
  if (!is_init && !initialized_ && request.method != "ping") {
    return RpcError{rpc::kInvalidRequest, "Invalid Request: send initialize before " + request.method, nullptr};
  }
  if (in_flight_.contains(request.id)) {
    return RpcError{rpc::kInvalidRequest, "Invalid Request: request id " + request.id.to_string() + " is already in use", nullptr};
  }
  if (in_flight_.size() >= limit) {
    return RpcError{rpc::kServerError, "Too many concurrent requests in this session (limit " + std::to_string(limit) + ")", nullptr};
  }
  in_flight_.emplace(request.id, state);
  return state;
}

asio::awaitable<void> ServerSession::run_and_respond(std::shared_ptr<ServerSession> self,
                                                     std::shared_ptr<RequestState> state, Message request) {
  RequestId id = state->id;
  auto op = self->execute(std::move(state), request);
  std::optional<Message> response = co_await std::move(op);
  self->output_->respond(id, response);
}

asio::awaitable<std::optional<Message>> ServerSession::execute(std::shared_ptr<RequestState> state, const Message& request) {
  // Emplaced, not assigned: the result keeps the arena it was built in.
  std::optional<RpcResponse> answer;
  try {
    auto op = dispatch(state, request);
    answer.emplace(co_await std::move(op));
  } catch (const std::exception& e) {
    spdlog::error("mcp: {} handler threw: {}", request.method, e.what());
    answer.emplace(RpcResponse::failure(rpc::kInternalError, "Internal error while handling " + request.method));
  }
  finish(state->id);
  if (state->cancelled.load()) co_return std::nullopt;
  if (answer->ok()) co_return Message::response(state->id, std::move(answer->result));
  co_return Message::failure(state->id, std::move(*answer->error));
}

void ServerSession::finish(const RequestId& id) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(id);
}

// Not a coroutine: an awaiting handler's awaitable is handed straight to execute(), one
// coroutine frame fewer on every tools/call. `request` lives in the frame of execute()'s
// caller.
asio::awaitable<RpcResponse> ServerSession::dispatch(std::shared_ptr<RequestState> state, const Message& request) {
  const std::string& m = request.method;
  const json::object& p = request.params;
  if (m == "tools/call") return handle_call_tool(std::move(state), p);
  if (m == "resources/read") return handle_read_resource(std::move(state), p);
  if (m == "prompts/get") return handle_get_prompt(std::move(state), p);
  if (m == "completion/complete" && core_->options().completions) {
    if (auto handler = core_->completion_handler()) return (*handler)(p);
  }
  return ready(answer_now(m, p));
}

asio::awaitable<RpcResponse> ServerSession::ready(RpcResponse response) { co_return response; }
asio::awaitable<std::optional<Message>> ServerSession::ready(Message message) { co_return message; }

RpcResponse ServerSession::answer_now(const std::string& m, const json::object& p) {
  if (m == "initialize") return handle_initialize(p);
  if (m == "ping") return RpcResponse::success(json::object{});
  if (m == "tools/list" || m == "resources/list" || m == "resources/templates/list" || m == "prompts/list") {
    return handle_list(m, p);
  }
  if (m == "resources/subscribe" || m == "resources/unsubscribe") return handle_subscribe(p, m == "resources/subscribe");
  if (m == "logging/setLevel" && core_->options().logging) return handle_set_level(p);
  if (m == "completion/complete" && core_->options().completions) return handle_complete(p);
  return RpcResponse::failure(rpc::kMethodNotFound, "Method not found: " + m);
}

RpcResponse ServerSession::handle_initialize(const json::object& params) {
  auto requested = string_param(params, "protocolVersion");
  if (!requested) return invalid_params("initialize needs a string \"protocolVersion\"");
  std::string_view version = negotiate_protocol_version(*requested);
  if (const json::value* caps = params.if_contains("capabilities"); caps && caps->is_object()) {
    client_capabilities_ = caps->get_object();
  }
  if (const json::value* client = params.if_contains("clientInfo"); client && client->is_object()) {
    client_info_ = client->get_object();
  }
  {
    std::lock_guard lock(mutex_);
    protocol_version_ = std::string(version);
  }
  initialized_ = true;
  json::object result{{"protocolVersion", version},
                      {"capabilities", core_->capabilities()},
                      {"serverInfo", core_->info().to_json()}};
  if (!core_->options().instructions.empty()) result["instructions"] = core_->options().instructions;
  return RpcResponse::success(std::move(result));
}

RpcResponse ServerSession::handle_set_level(const json::object& params) {
  auto text = string_param(params, "level");
  auto level = text ? parse_log_level(*text) : std::nullopt;
  if (!level) return invalid_params("logging/setLevel needs \"level\": debug, info, notice, warning, error, critical, alert or emergency");
  std::lock_guard lock(mutex_);
  log_level_ = *level;
  return RpcResponse::success(json::object{});
}

RpcResponse ServerSession::handle_list(std::string_view method, const json::object& params) {
  std::size_t offset = 0;
  if (const json::value* c = params.if_contains("cursor"); c && !c->is_null()) {
    auto decoded = c->is_string() ? decode_cursor(c->get_string()) : std::nullopt;
    if (!decoded) return invalid_params("Invalid cursor");
    offset = *decoded;
  }
  const std::size_t page = std::max<std::size_t>(1, core_->options().page_size);
  json::array items;
  std::size_t total = 0;
  auto take = [&](const auto& all) {
    total = all.size();
    for (std::size_t i = offset; i < all.size() && items.size() < page; ++i) items.push_back(all[i]->to_json());
  };
  std::string_view key;
  if (method == "tools/list") {
    key = "tools";
    take(core_->tools());
  } else if (method == "resources/list") {
    key = "resources";
    take(core_->resources());
  } else if (method == "prompts/list") {
    key = "prompts";
    take(core_->prompts());
  } else {
    key = "resourceTemplates";
    auto all = core_->templates();
    total = all.size();
    for (std::size_t i = offset; i < all.size() && items.size() < page; ++i) items.push_back(all[i]->definition.to_json());
  }
  if (offset > total) return invalid_params("Invalid cursor");
  json::object result{{key, std::move(items)}};
  if (offset + page < total) result["nextCursor"] = encode_cursor(offset + page);
  return RpcResponse::success(std::move(result));
}

asio::awaitable<RpcResponse> ServerSession::handle_call_tool(std::shared_ptr<RequestState> state,
                                                             const json::object& params) {
  auto name = string_param(params, "name");
  if (!name) co_return invalid_params("tools/call needs a string \"name\"");
  // The arguments are read where they were decoded, not copied.
  static const json::value kNoArguments = json::object();
  const json::value* arguments = &kNoArguments;
  if (const json::value* a = params.if_contains("arguments")) {
    if (a->is_object()) {
      arguments = a;
    } else if (!a->is_null()) {
      co_return invalid_params("tools/call \"arguments\" must be an object");
    }
  }
  auto entry = core_->find_tool_entry(*name);
  if (!entry) co_return invalid_params("Unknown tool: " + std::string(*name));
  const Tool* tool = &entry->definition;

  if (auto violation = validate(entry->input_schema, *arguments)) {
    std::string message = "Invalid arguments for tool " + std::string(*name) + ": " + violation->to_string();
    // 2025-11-25 reports input validation as a tool execution error, so the model can fix
    // its call; earlier revisions as a protocol error.
    if (version_at_least(protocol_version(), "2025-11-25")) co_return RpcResponse::success(ToolResult::error(message).to_json());
    co_return invalid_params(std::move(message));
  }

  Context ctx(state);
  std::optional<ToolResult> result;
  std::optional<RpcError> protocol_error;
  try {
    if (auto interceptor = core_->interceptor()) {
      auto op = (*interceptor)(ctx, *tool, arguments->get_object());
      result = co_await std::move(op);
    }
    if (!result) {
      auto op = tool->handler(ctx, arguments->get_object());
      result = co_await std::move(op);
    }
  } catch (const ProtocolError& e) {
    protocol_error = e.error();
  } catch (const std::exception& e) {
    // A handler that throws is reported to the model like a returned error.
    result = ToolResult::error(e.what());
  }
  if (protocol_error) co_return RpcResponse{nullptr, std::move(*protocol_error)};
  if (tool->output_schema && !result->is_error) {
    if (result->structured_content.is_null()) {
      co_return RpcResponse::failure(rpc::kInternalError, "Tool " + std::string(*name) + " has an outputSchema but returned no structuredContent");
    }
    if (auto violation = validate(entry->output_schema, result->structured_content)) {
      co_return RpcResponse::failure(rpc::kInternalError,
                                     "Tool " + std::string(*name) + " returned structuredContent that does not match its outputSchema: " +
                                         violation->to_string());
    }
  }
  co_return RpcResponse::success(std::move(*result).to_json());
}

asio::awaitable<RpcResponse> ServerSession::handle_read_resource(std::shared_ptr<RequestState> state,
                                                                 const json::object& params) {
  auto uri = string_param(params, "uri");
  if (!uri) co_return invalid_params("resources/read needs a string \"uri\"");
  if (uri->size() > kMaxUriBytes) co_return invalid_params("The resource URI exceeds " + std::to_string(kMaxUriBytes) + " bytes");
  const ResourceReader* reader = nullptr;
  std::shared_ptr<const Resource> resource = core_->find_resource(*uri);
  std::shared_ptr<const ServerCore::TemplateEntry> entry;
  std::map<std::string, std::string> variables;
  if (resource) {
    reader = &resource->read;
  } else {
    for (auto& t : core_->templates()) {
      if (t->parsed.match(*uri, variables)) {
        entry = t;
        reader = &entry->definition.read;
        break;
      }
    }
  }
  if (!reader) {
    co_return RpcResponse{nullptr, RpcError{rpc::kResourceNotFound, "Resource not found: " + std::string(*uri), json::object{{"uri", *uri}}}};
  }
  Context ctx(state);
  std::string uri_copy(*uri);
  auto op = (*reader)(ctx, uri_copy, variables);
  Result<json::array> contents = co_await std::move(op);
  if (!contents) {
    RpcError error = to_rpc_error(contents.error());
    if (error.code == rpc::kResourceNotFound) error.data = json::object{{"uri", *uri}};
    co_return RpcResponse{nullptr, std::move(error)};
  }
  co_return RpcResponse::success(json::object{{"contents", std::move(*contents)}});
}

RpcResponse ServerSession::handle_subscribe(const json::object& params, bool subscribe) {
  auto uri = string_param(params, "uri");
  if (!uri) return invalid_params("resources/subscribe needs a string \"uri\"");
  if (uri->size() > kMaxUriBytes) return invalid_params("The resource URI exceeds " + std::to_string(kMaxUriBytes) + " bytes");
  std::lock_guard lock(mutex_);
  if (!subscribe) {
    subscriptions_.erase(std::string(*uri));
  } else if (!subscriptions_.contains(*uri)) {
    if (subscriptions_.size() >= kMaxSubscriptionsPerSession) {
      return invalid_params("Too many subscriptions in this session (limit " + std::to_string(kMaxSubscriptionsPerSession) + ")");
    }
    subscriptions_.insert(std::string(*uri));
  }
  return RpcResponse::success(json::object{});
}

asio::awaitable<RpcResponse> ServerSession::handle_get_prompt(std::shared_ptr<RequestState> state,
                                                              const json::object& params) {
  auto name = string_param(params, "name");
  if (!name) co_return invalid_params("prompts/get needs a string \"name\"");
  auto prompt = core_->find_prompt(*name);
  if (!prompt) co_return invalid_params("Unknown prompt: " + std::string(*name));
  std::map<std::string, std::string> arguments;
  if (const json::value* a = params.if_contains("arguments"); a && !a->is_null()) {
    if (!a->is_object()) co_return invalid_params("prompts/get \"arguments\" must be an object");
    for (const auto& kv : a->get_object()) {
      if (!kv.value().is_string()) co_return invalid_params("Prompt argument " + std::string(kv.key()) + " must be a string");
      arguments[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }
  for (const auto& arg : prompt->arguments) {
    if (arg.required && !arguments.contains(arg.name)) {
      co_return invalid_params("Prompt " + std::string(*name) + " needs the argument \"" + arg.name + "\"");
    }
  }
  Context ctx(state);
  auto op = prompt->get(ctx, arguments);
  Result<json::object> result = co_await std::move(op);
  if (!result) co_return RpcResponse{nullptr, to_rpc_error(result.error())};
  if (!result->contains("messages")) (*result)["messages"] = json::array{};
  co_return RpcResponse::success(std::move(*result));
}

RpcResponse ServerSession::handle_complete(const json::object& params) {
  const json::value* ref = params.if_contains("ref");
  const json::value* argument = params.if_contains("argument");
  if (!ref || !ref->is_object() || !argument || !argument->is_object()) {
    return invalid_params("completion/complete needs \"ref\" and \"argument\" objects");
  }
  auto type = string_param(ref->get_object(), "type");
  auto arg_name = string_param(argument->get_object(), "name");
  auto value = string_param(argument->get_object(), "value");
  if (!type || !arg_name || !value) return invalid_params("completion/complete needs ref.type, argument.name and argument.value");
  std::map<std::string, std::string> context;
  if (const json::value* c = params.if_contains("context"); c && c->is_object()) {
    if (const json::value* args = c->get_object().if_contains("arguments"); args && args->is_object()) {
      for (const auto& kv : args->get_object()) {
        if (kv.value().is_string()) context[std::string(kv.key())] = std::string(kv.value().get_string());
      }
    }
  }
  const Completer* completer = nullptr;
  std::shared_ptr<const Prompt> prompt;
  std::shared_ptr<const ServerCore::TemplateEntry> entry;
  if (*type == "ref/prompt") {
    auto name = string_param(ref->get_object(), "name");
    prompt = name ? core_->find_prompt(*name) : nullptr;
    if (!prompt) return invalid_params("Unknown prompt in completion ref");
    for (const auto& a : prompt->arguments) {
      if (a.name == *arg_name && a.complete) completer = &a.complete;
    }
  } else if (*type == "ref/resource") {
    auto uri = string_param(ref->get_object(), "uri");
    if (!uri) return invalid_params("ref/resource needs a \"uri\"");
    for (auto& t : core_->templates()) {
      if (t->definition.uri_template == *uri) {
        entry = t;
        auto it = entry->definition.completers.find(std::string(*arg_name));
        if (it != entry->definition.completers.end() && it->second) completer = &it->second;
      }
    }
    if (!entry && !core_->find_resource(*uri)) return invalid_params("Unknown resource in completion ref");
  } else {
    return invalid_params("Unknown completion ref type: " + std::string(*type));
  }
  std::vector<std::string> values;
  if (completer) values = (*completer)(*value, context);
  json::array out;
  for (std::size_t i = 0; i < values.size() && i < kMaxCompletionValues; ++i) out.emplace_back(values[i]);
  json::object completion{{"values", std::move(out)},
                          {"total", values.size()},
                          {"hasMore", values.size() > kMaxCompletionValues}};
  return RpcResponse::success(json::object{{"completion", std::move(completion)}});
}

void ServerSession::handle_notification(const Message& message) {
  if (message.method == "notifications/cancelled") {
    const json::value* id_value = message.params.if_contains("requestId");
    auto id = id_value ? RequestId::from_json(*id_value) : std::nullopt;
    if (!id) return;
    std::shared_ptr<RequestState> state;
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(*id);
      if (it != in_flight_.end()) state = it->second;
    }
    // initialize cannot be cancelled (lifecycle spec).
    if (state && state->method != "initialize") state->cancel();
  }
  // notifications/initialized, notifications/progress, notifications/roots/list_changed and
  // unknown notifications need no action here.
}

void ServerSession::handle_response(const Message& message) {
  if (message.id_null || message.id.is_string()) return;
  std::shared_ptr<OneShot<RpcResponse>> slot;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_calls_.find(message.id.number());
    if (it == pending_calls_.end()) return;
    slot = std::move(it->second.slot);
    pending_calls_.erase(it);
  }
  if (message.kind == MessageKind::kResult) {
    slot->deliver(RpcResponse::success(message.result));
  } else {
    slot->deliver(RpcResponse{nullptr, message.error});
  }
}

void ServerSession::close() {
  if (closed_.exchange(true)) return;
  std::vector<std::shared_ptr<RequestState>> requests;
  std::vector<std::shared_ptr<OneShot<RpcResponse>>> calls;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, state] : in_flight_) requests.push_back(state);
    for (auto& [id, call] : pending_calls_) calls.push_back(call.slot);
    pending_calls_.clear();
  }
  for (auto& call : calls) call->deliver(RpcResponse::failure(rpc::kConnectionClosed, "The session was closed"));
  for (auto& state : requests) state->cancel();
  if (attached_) core_->detach(this);
}

void ServerSession::send(const Message& message, const RequestId* related) {
  if (closed_) return;
  output_->send(message, related);
}

void ServerSession::log(LogLevel level, const json::value& data, std::string_view logger, const RequestId* related) {
  // "Servers that emit log message notifications MUST declare the logging capability."
  if (!core_->options().logging) return;
  {
    std::lock_guard lock(mutex_);
    if (log_level_ && level < *log_level_) return;
  }
  json::object params{{"level", to_string(level)}, {"data", data}};
  if (!logger.empty()) params["logger"] = logger;
  send(Message::notification("notifications/message", std::move(params)), related);
}

bool ServerSession::subscribed(std::string_view uri) const {
  std::lock_guard lock(mutex_);
  return subscriptions_.contains(uri);
}

void ServerSession::close_stream(const RequestId& id) { output_->close_stream(id); }

// The capability a server->client request needs that the client did not declare, as the
// refusal's message. Sub-capabilities count too: an elicitation's mode ("elicitation": {}
// means form only) and tool use in sampling ("sampling": {"tools": {}}), which servers MUST
// NOT send to clients that did not declare them.
std::optional<std::string> ServerSession::missing_client_capability(std::string_view method,
                                                                    const json::object& params) const {
  std::string_view capability;
  std::string_view sub;
  if (method == "sampling/createMessage") {
    capability = "sampling";
    if (params.contains("tools") || params.contains("toolChoice")) sub = "tools";
  } else if (method == "elicitation/create") {
    capability = "elicitation";
    const json::value* mode = params.if_contains("mode");
    sub = mode && mode->is_string() ? std::string_view(mode->get_string()) : "form";
  } else if (method == "roots/list") {
    capability = "roots";
  }
  if (capability.empty()) return std::nullopt;
  if (!declares_capability(client_capabilities_, capability, "")) {
    return "The client does not support " + std::string(capability) + " (needed for " + std::string(method) + ")";
  }
  if (declares_capability(client_capabilities_, capability, sub)) return std::nullopt;
  return "The client does not support " + std::string(capability) + "." + std::string(sub) + " (needed for " +
         std::string(method) + ")";
}

asio::awaitable<RpcResponse> ServerSession::call_client(std::shared_ptr<RequestState> origin, std::string method,
                                                        json::object params, std::shared_ptr<CancelSource> cancel) {
  if (closed_) co_return RpcResponse::failure(rpc::kConnectionClosed, "The session was closed");
  if (!output_->can_reach_client()) {
    co_return RpcResponse::failure(rpc::kInvalidRequest, method + " is not possible here: stateless HTTP has no way back to the client");
  }
  if (auto missing = missing_client_capability(method, params)) co_return RpcResponse::failure(rpc::kInvalidRequest, *missing);
  if (cancel && cancel->cancelled()) co_return RpcResponse::failure(rpc::kRequestCancelled, method + " was cancelled");
  auto executor = co_await asio::this_coro::executor;
  // The wait ends with the client's answer or on this side: a timeout, `cancel`, or the
  // origin's cancellation (fail_calls), whichever comes first. In the last three the client
  // is told, so it can stop (its late answer is ignored).
  const PendingCall call{std::make_shared<OneShot<RpcResponse>>(executor), std::make_shared<GaveUp<RpcResponse>>()};
  std::int64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    std::size_t limit = core_->options().max_pending_client_requests;
    if (pending_calls_.size() >= limit) {
      co_return RpcResponse::failure(rpc::kServerError, "Too many requests awaiting the client (limit " + std::to_string(limit) + ")");
    }
    id = next_call_id_++;
    pending_calls_[id] = call;
  }
  {
    std::lock_guard lock(origin->mutex);
    origin->pending_calls.insert(id);
  }
  // Checked after the origin knows of this call (so its cancel() cannot slip between).
  const bool sent = !origin->cancelled;
  if (sent) {
    send(Message::request(id, method, std::move(params)), &origin->id);
  } else {
    call.end(rpc::kRequestTimeout, "The request was cancelled", "");
  }

  asio::steady_timer timer(executor, std::chrono::milliseconds(core_->options().client_request_timeout_ms));
  timer.async_wait([call, method](boost::system::error_code ec) {
    if (!ec) call.end(rpc::kRequestTimeout, "The client did not answer " + method + " in time", "timed out");
  });
  std::uint64_t hook = 0;
  if (cancel) {
    hook = cancel->add_hook([call, method](const std::string& why) {
      call.end(rpc::kRequestCancelled, method + " was cancelled: " + why, why);
    });
  }
  auto op = call.slot->take();
  RpcResponse response = co_await std::move(op);
  timer.cancel();
  if (cancel) cancel->remove_hook(hook);
  {
    std::lock_guard lock(mutex_);
    pending_calls_.erase(id);
  }
  {
    std::lock_guard lock(origin->mutex);
    origin->pending_calls.erase(id);
  }
  if (auto why = call.gave_up->reason(); sent && why) {
    json::object note{{"requestId", id}, {"reason", *why}};
    send(Message::notification("notifications/cancelled", std::move(note)), &origin->id);
  }
  co_return response;
}

void RequestState::cancel() {
  if (cancelled.exchange(true)) return;
  std::vector<std::function<void()>> callbacks;
  std::vector<std::int64_t> calls;
  {
    std::lock_guard lock(mutex);
    callbacks.swap(on_cancel);
    calls.assign(pending_calls.begin(), pending_calls.end());
  }
  for (auto& cb : callbacks) cb();
  // Server->client requests this request awaits end with it.
  if (!calls.empty() && session) session->fail_calls(calls, "The request was cancelled");
}

void ServerSession::PendingCall::end(int code, const std::string& message, const std::string& why) const {
  gave_up->give_up(slot, RpcResponse::failure(code, message), why);
}

void ServerSession::fail_calls(const std::vector<std::int64_t>& ids, const std::string& reason) {
  std::vector<PendingCall> calls;
  {
    std::lock_guard lock(mutex_);
    for (auto id : ids) {
      auto it = pending_calls_.find(id);
      if (it == pending_calls_.end()) continue;
      calls.push_back(std::move(it->second));
      pending_calls_.erase(it);
    }
  }
  for (const auto& call : calls) call.end(rpc::kRequestTimeout, reason, "the request it serves was cancelled");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Context.

using detail::RequestState;

Context::Context(std::shared_ptr<RequestState> state) : state_(std::move(state)) {}
Context::~Context() = default;

const RequestId& Context::request_id() const { return state_->id; }
const std::string& Context::method() const { return state_->method; }
const RequestInfo& Context::request_info() const { return *state_->info; }
const std::optional<std::string>& Context::bearer_token() const { return state_->info->bearer_token; }
const json::object& Context::meta() const { return state_->meta; }
const json::object& Context::client_capabilities() const { return state_->session->client_capabilities(); }
const json::object& Context::client_info() const { return state_->session->client_info(); }
bool Context::client_supports(std::string_view capability, std::string_view sub) const {
  return detail::declares_capability(client_capabilities(), capability, sub);
}
asio::any_io_executor Context::executor() const { return state_->executor; }
SessionHandle Context::session() const { return SessionHandle(state_->session); }
bool Context::cancelled() const { return state_->cancelled.load(); }

const std::string& Context::protocol_version() const {
  // The version is fixed once initialize ran; cache it in the request for a stable reference.
  if (!version_cache_) version_cache_ = state_->session->protocol_version();
  return *version_cache_;
}

void Context::on_cancel(std::function<void()> callback) {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->cancelled) {
      state_->on_cancel.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

asio::awaitable<bool> Context::sleep_for(std::chrono::milliseconds duration) {
  auto state = state_;
  if (state->cancelled) co_return false;
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor, duration);
  std::weak_ptr<asio::steady_timer> weak = timer;
  on_cancel([weak, executor] {
    asio::post(executor, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  auto op = timer->async_wait(asio::as_tuple(asio::use_awaitable));
  co_await std::move(op);
  co_return !state->cancelled.load();
}

namespace {
// 50 rather than 5E1 on the wire when the value is whole.
json::value number(double value) {
  if (std::isfinite(value) && std::floor(value) == value && std::fabs(value) < 9.0e15) {
    return json::value(static_cast<std::int64_t>(value));
  }
  return json::value(value);
}
}  // namespace

void Context::report_progress(double progress, std::optional<double> total, std::string_view message) {
  if (!state_->progress_token) return;
  json::object params{{"progressToken", *state_->progress_token}, {"progress", number(progress)}};
  if (total) params["total"] = number(*total);
  if (!message.empty()) params["message"] = message;
  state_->session->send(Message::notification("notifications/progress", std::move(params)), &state_->id);
}

void Context::log(LogLevel level, json::value data, std::string_view logger) {
  state_->session->log(level, data, logger, &state_->id);
}

void Context::notify(std::string method, json::object params) {
  state_->session->send(Message::notification(std::move(method), std::move(params)), &state_->id);
}

// Not a coroutine: the awaitable it returns holds the request's state from the moment it
// is made, so it may be made while the Context is known to be alive and awaited after.
asio::awaitable<RpcResponse> Context::request(std::string method, json::object params,
                                              std::shared_ptr<CancelSource> cancel) {
  return state_->session->call_client(state_, std::move(method), std::move(params), std::move(cancel));
}

asio::awaitable<RpcResponse> Context::create_message(json::object params) {
  auto op = request("sampling/createMessage", std::move(params));
  co_return co_await std::move(op);
}

asio::awaitable<RpcResponse> Context::elicit(json::object params) {
  auto op = request("elicitation/create", std::move(params));
  co_return co_await std::move(op);
}

asio::awaitable<RpcResponse> Context::list_roots() {
  auto op = request("roots/list", json::object{});
  co_return co_await std::move(op);
}

void Context::close_sse_stream() { state_->session->close_stream(state_->id); }

// ---------------------------------------------------------------------------------------
// After the request: SessionHandle, and the errors a tool answers with.


bool SessionHandle::notify(std::string method, json::object params) const {
  auto session = session_.lock();
  if (!session || session->closed() || !session->can_reach_client()) return false;
  session->send(Message::notification(std::move(method), std::move(params)), nullptr);
  return true;
}

bool SessionHandle::complete_elicitation(std::string_view elicitation_id) const {
  auto session = session_.lock();
  if (!session || !detail::declares_capability(session->client_capabilities(), "elicitation", "url")) return false;
  return notify("notifications/elicitation/complete", json::object{{"elicitationId", elicitation_id}});
}

ProtocolError url_elicitation_required(json::array elicitations, std::string message) {
  return ProtocolError(RpcError{rpc::kUrlElicitationRequired, std::move(message),
                                json::object{{"elicitations", std::move(elicitations)}}});
}

// ---------------------------------------------------------------------------------------
// Server.

Server::Server(Implementation info, ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>(std::move(info), std::move(options))) {}

Server::~Server() {
  for (auto& session : core_->sessions()) session->close();
}

Status Server::add_tool(Tool tool) { return core_->add_tool(std::move(tool)); }
Status Server::replace_tool(Tool tool) { return core_->replace_tool(std::move(tool)); }
bool Server::remove_tool(std::string_view name) { return core_->remove_tool(name); }
std::shared_ptr<const Tool> Server::find_tool(std::string_view name) const { return core_->find_tool(name); }
std::vector<std::shared_ptr<const Tool>> Server::tools() const { return core_->tools(); }
void Server::set_tool_interceptor(ToolInterceptor interceptor) { core_->set_interceptor(std::move(interceptor)); }
void Server::set_completion_handler(CompletionHandler handler) { core_->set_completion_handler(std::move(handler)); }
Status Server::add_resource(Resource resource) { return core_->add_resource(std::move(resource)); }
Status Server::replace_resource(Resource resource) { return core_->replace_resource(std::move(resource)); }
bool Server::remove_resource(std::string_view uri) { return core_->remove_resource(uri); }
Status Server::add_resource_template(ResourceTemplate t) { return core_->add_template(std::move(t)); }
Status Server::add_prompt(Prompt prompt) { return core_->add_prompt(std::move(prompt)); }
Status Server::replace_prompt(Prompt prompt) { return core_->replace_prompt(std::move(prompt)); }
bool Server::remove_prompt(std::string_view name) { return core_->remove_prompt(name); }
const Implementation& Server::info() const { return core_->info(); }
std::size_t Server::session_count() const { return core_->session_count(); }

void Server::notify_resource_updated(std::string_view uri) {
  Message note = Message::notification("notifications/resources/updated", json::object{{"uri", uri}});
  for (const auto& session : core_->sessions()) {
    if (session->subscribed(uri)) session->send(note, nullptr);
  }
}

void Server::log(LogLevel level, json::value data, std::string_view logger) {
  for (const auto& session : core_->sessions()) {
    if (session->initialized()) session->log(level, data, logger, nullptr);
  }
}

}  // namespace tollgate::mcp
