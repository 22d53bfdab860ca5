// Protocol vocabulary: version negotiation, log levels, content block builders.
#include "tollgate/mcp/types.hpp"

#include <algorithm>
#include <cctype>

#include "common/text.hpp"

namespace tollgate::mcp {

bool is_supported_protocol_version(std::string_view version) {
  return std::find(kSupportedProtocolVersions.begin(), kSupportedProtocolVersions.end(), version) !=
         kSupportedProtocolVersions.end();
}

std::string_view negotiate_protocol_version(std::string_view requested) {
  for (auto v : kSupportedProtocolVersions) {
    if (v == requested) return v;
  }
  return kLatestProtocolVersion;
}

json::object Icon::to_json() const {
  json::object out{{"src", src}};
  if (!mime_type.empty()) out["mimeType"] = mime_type;
  if (!sizes.empty()) {
    json::array s;
    for (const auto& size : sizes) s.emplace_back(size);
    out["sizes"] = std::move(s);
  }
  if (!theme.empty()) out["theme"] = theme;
  return out;
}

namespace {
json::array icons_json(const std::vector<Icon>& icons) {
  json::array out;
  for (const auto& icon : icons) out.push_back(icon.to_json());
  return out;
}
}  // namespace

json::object Implementation::to_json() const {
  json::object out{{"name", name}, {"version", version}};
  if (!title.empty()) out["title"] = title;
  if (!description.empty()) out["description"] = description;
  if (!website_url.empty()) out["websiteUrl"] = website_url;
  if (!icons.empty()) out["icons"] = icons_json(icons);
  return out;
}

namespace {
constexpr std::array<std::string_view, 8> kLevelNames = {"debug", "info",     "notice", "warning",
                                                        "error", "critical", "alert",  "emergency"};
}

std::string_view to_string(LogLevel level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == text) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

Result<json::value> RpcResponse::to_result() const {
  if (ok()) return result;
  return Error{ErrorCode::kUpstreamError, error->message + " (JSON-RPC " + std::to_string(error->code) + ")"};
}

std::optional<std::string> parse_bearer(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (ascii_lower(authorization[i]) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

json::object text_content(std::string_view text, json::storage_ptr storage) {
  return json::object({{"type", "text"}, {"text", text}}, std::move(storage));
}

json::object image_content(std::string_view base64_data, std::string_view mime_type) {
  return json::object{{"type", "image"}, {"data", base64_data}, {"mimeType", mime_type}};
}

json::object audio_content(std::string_view base64_data, std::string_view mime_type) {
  return json::object{{"type", "audio"}, {"data", base64_data}, {"mimeType", mime_type}};
}

json::object text_resource_contents(std::string_view uri, std::string_view mime_type, std::string_view text) {
  json::object out{{"uri", uri}};
  if (!mime_type.empty()) out["mimeType"] = mime_type;
  out["text"] = text;
  return out;
}

json::object blob_resource_contents(std::string_view uri, std::string_view mime_type, std::string_view base64_blob) {
  json::object out{{"uri", uri}};
  if (!mime_type.empty()) out["mimeType"] = mime_type;
  out["blob"] = base64_blob;
  return out;
}

json::object embedded_text_resource(std::string_view uri, std::string_view mime_type, std::string_view text) {
  return json::object{{"type", "resource"}, {"resource", text_resource_contents(uri, mime_type, text)}};
}

json::object embedded_blob_resource(std::string_view uri, std::string_view mime_type, std::string_view base64_blob) {
  return json::object{{"type", "resource"}, {"resource", blob_resource_contents(uri, mime_type, base64_blob)}};
}

json::object resource_link(std::string_view uri, std::string_view name, std::string_view mime_type,
                           std::string_view description) {
  json::object out{{"type", "resource_link"}, {"uri", uri}, {"name", name}};
  if (!mime_type.empty()) out["mimeType"] = mime_type;
  if (!description.empty()) out["description"] = description;
  return out;
}

json::object prompt_message(std::string_view role, json::object content) {
  return json::object{{"role", role}, {"content", std::move(content)}};
}

void CancelSource::cancel(std::string reason) {
  std::vector<std::pair<std::uint64_t, Hook>> hooks;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = std::move(reason);
    hooks.swap(hooks_);
  }
  // Outside the lock: a hook may add or remove hooks (or read cancelled()).
  for (auto& [handle, hook] : hooks) hook(reason_);
}

bool CancelSource::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

std::uint64_t CancelSource::add_hook(Hook hook) {
  std::uint64_t handle;
  {
    std::lock_guard lock(mutex_);
    handle = ++last_handle_;
    if (!cancelled_) {
      hooks_.emplace_back(handle, std::move(hook));
      return handle;
    }
  }
  hook(reason_);  // reason_ is final once cancelled_
  return handle;
}

void CancelSource::remove_hook(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  std::erase_if(hooks_, [handle](const auto& h) { return h.first == handle; });
}

void CancelSource::clear_hooks() {
  std::lock_guard lock(mutex_);
  hooks_.clear();
}

}  // namespace tollgate::mcp
