// MCP protocol vocabulary shared by server and client: versions, implementation info, log
// levels, content blocks, the answer to a request, and what a request arrived with.
#pragma once

#include <boost/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "http/message.hpp"
#include "tollgate/mcp/json_rpc.hpp"

namespace tollgate::mcp {

// Newest first. The server answers a requested version it supports with that version and
// anything else with the newest (lifecycle "Version Negotiation").
inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";
inline constexpr std::array<std::string_view, 3> kSupportedProtocolVersions = {"2025-11-25", "2025-06-18", "2025-03-26"};
// What an HTTP request without MCP-Protocol-Version is taken to speak (transports spec).
inline constexpr std::string_view kDefaultHttpProtocolVersion = "2025-03-26";

bool is_supported_protocol_version(std::string_view version);
std::string_view negotiate_protocol_version(std::string_view requested);
// Version strings are dates, so they order as text.
inline bool version_at_least(std::string_view version, std::string_view minimum) { return version >= minimum; }

// Cancels a request in flight, from the side that waits for it. The client's
// (CallOptions::cancel): the caller's wait ends at once with rpc::kRequestCancelled and the
// server is sent notifications/cancelled with the reason, so it can stop the work (its late
// answer is ignored); cancelling before the request is sent means it is never sent. The
// server's (Context::request): likewise for a request to the client. A request's handler
// gets one too (ClientRequestHandler): cancelled when the other side cancels. After the
// answer, nothing happens. Thread-safe.
class CancelSource {
 public:
  void cancel(std::string reason);
  bool cancelled() const;

  using Hook = std::function<void(const std::string& reason)>;
  // Runs `hook(reason)` once on cancel (at once if already cancelled). Any number of waits
  // can hook the same source (a handler's own timer, and the request it passes the source
  // on to); each removes its hook with the returned handle when it ends.
  std::uint64_t add_hook(Hook hook);
  void remove_hook(std::uint64_t handle);
  // Drops every hook: for the owner of the source, once the work it cancels has ended, so
  // that a later cancel runs none of them (they may point into frames that are gone). A
  // cancel already running its hooks finishes them.
  void clear_hooks();

 private:
  mutable std::mutex mutex_;
  bool cancelled_ = false;
  std::string reason_;
  std::uint64_t last_handle_ = 0;
  std::vector<std::pair<std::uint64_t, Hook>> hooks_;
};

struct Icon {
  std::string src;
  std::string mime_type;
  std::vector<std::string> sizes;
  std::string theme;  // "light" | "dark" | ""
  json::object to_json() const;
};

// serverInfo / clientInfo.
struct Implementation {
  std::string name;
  std::string version;
  std::string title;
  std::string description;
  std::string website_url;
  std::vector<Icon> icons;
  json::object to_json() const;
};

enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError, kCritical, kAlert, kEmergency };
std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);

// The answer to a request: its result, or the JSON-RPC error (local failures too: a timeout
// is rpc::kRequestTimeout, a closed connection rpc::kConnectionClosed).
struct RpcResponse {
  json::value result;
  std::optional<RpcError> error;

  bool ok() const { return !error.has_value(); }
  static RpcResponse success(json::value result) { return RpcResponse{std::move(result), std::nullopt}; }
  static RpcResponse failure(int code, std::string message) {
    return RpcResponse{nullptr, RpcError{code, std::move(message), nullptr}};
  }
  // As the project's Result: an error becomes UPSTREAM_ERROR naming the JSON-RPC code.
  Result<json::value> to_result() const;
};

// Where a request came from. Handlers read the caller's credentials here: the paid-tools SDK
// takes `bearer_token` (HTTP `Authorization: Bearer`, or `AGENT_TOKEN` on stdio).
struct RequestInfo {
  enum class Transport { kStdio, kHttp, kInProcess };
  Transport transport = Transport::kInProcess;
  http::Headers headers;        // HTTP only
  std::string remote_address;   // HTTP only
  std::string session_id;       // HTTP sessions only
  std::optional<std::string> bearer_token;

  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};

// "Bearer abc" -> "abc" (scheme case-insensitive); nullopt otherwise.
std::optional<std::string> parse_bearer(std::string_view authorization);

// Content blocks (tool results, prompt messages, sampling). `storage`: where the block's
// values are allocated, e.g. the result's own (default: the heap).
json::object text_content(std::string_view text, json::storage_ptr storage = {});
json::object image_content(std::string_view base64_data, std::string_view mime_type);
json::object audio_content(std::string_view base64_data, std::string_view mime_type);
json::object embedded_text_resource(std::string_view uri, std::string_view mime_type, std::string_view text);
json::object embedded_blob_resource(std::string_view uri, std::string_view mime_type, std::string_view base64_blob);
json::object resource_link(std::string_view uri, std::string_view name, std::string_view mime_type = {},
                           std::string_view description = {});

// Resource contents (resources/read).
json::object text_resource_contents(std::string_view uri, std::string_view mime_type, std::string_view text);
json::object blob_resource_contents(std::string_view uri, std::string_view mime_type, std::string_view base64_blob);

// A prompt message: {"role": role, "content": content}.
json::object prompt_message(std::string_view role, json::object content);

}  // namespace tollgate::mcp
