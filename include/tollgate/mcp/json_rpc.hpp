// JSON-RPC 2.0 as MCP uses it: request ids, messages, errors, and the one decoder every
// transport (stdio lines, HTTP bodies, SSE events) feeds its bytes through.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tollgate::mcp {

namespace json = boost::json;

// Limits of the decoder. A batch (2025-03-26 only) holds at most this many messages; nesting
// deeper than kMaxJsonDepth is a parse error (tool schemas nest, but not this deep); a string
// request id longer than kMaxIdBytes is an invalid request (ids are echoed and used as keys).
inline constexpr std::size_t kMaxBatchMessages = 100;
inline constexpr std::size_t kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxIdBytes = 256;

// JSON-RPC and MCP error codes.
namespace rpc {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Implementation-defined range: transport and session problems (as the official SDKs use it).
inline constexpr int kServerError = -32000;
inline constexpr int kRequestTimeout = -32001;
inline constexpr int kSessionNotFound = -32001;  // Streamable HTTP: unknown or ended session
inline constexpr int kResourceNotFound = -32002;
inline constexpr int kConnectionClosed = -32000;
inline constexpr int kRequestCancelled = -32800;  // the caller cancelled (CancelSource)
// MCP 2025-11-25: the request needs the user to complete URL-mode elicitations first
// (data.elicitations).
inline constexpr int kUrlElicitationRequired = -32042;
}  // namespace rpc

// A request id: an integer or a string (MCP forbids null for requests).
class RequestId {
 public:
  RequestId() = default;
  RequestId(std::int64_t number) : value_(number) {}      // NOLINT: implicit by design
  RequestId(std::string text) : value_(std::move(text)) {}  // NOLINT: implicit by design

  bool is_string() const { return value_.index() == 1; }
  std::int64_t number() const { return std::get<0>(value_); }
  const std::string& text() const { return std::get<1>(value_); }
  json::value to_json() const;
  // Integer (within int64) or string of at most kMaxIdBytes; anything else is nullopt.
  static std::optional<RequestId> from_json(const json::value& value);
  // For logs: 7 or "abc".
  std::string to_string() const;

  friend bool operator==(const RequestId&, const RequestId&) = default;
  // Numbers before strings; for ordered containers.
  friend bool operator<(const RequestId& a, const RequestId& b) { return a.value_ < b.value_; }

 private:
  std::variant<std::int64_t, std::string> value_{std::int64_t{0}};
};

struct RequestIdHash {
  std::size_t operator()(const RequestId& id) const;
};

struct RpcError {
  int code = rpc::kInternalError;
  std::string message;
  json::value data;  // null: absent

  json::object to_json() const;
};

enum class MessageKind { kRequest, kNotification, kResult, kError };

// One JSON-RPC message, decoded. Fields not used by a kind stay empty.
struct Message {
  MessageKind kind = MessageKind::kNotification;
  RequestId id;            // requests, results, errors (unless id_null)
  bool id_null = false;    // an error response whose request id was unknown
  std::string method;      // requests and notifications
  json::object params;     // requests and notifications; {} when absent
  json::value result;      // results
  RpcError error;          // errors
  // Not on the wire: the request of ours whose response stream carried this message (a
  // Streamable HTTP POST's SSE stream), when the transport knows it.
  std::optional<RequestId> related;

  bool is_request() const { return kind == MessageKind::kRequest; }
  bool is_notification() const { return kind == MessageKind::kNotification; }
  bool is_response() const { return kind == MessageKind::kResult || kind == MessageKind::kError; }

  static Message request(RequestId id, std::string method, json::object params = {});
  static Message notification(std::string method, json::object params = {});
  static Message response(RequestId id, json::value result);
  static Message failure(std::optional<RequestId> id, RpcError error);
  static Message failure(std::optional<RequestId> id, int code, std::string message);
};

// Compact JSON with no raw newlines (JSON escapes them), so one message is one stdio line
// and one SSE `data:` line.
std::string encode(const Message& message);
std::string encode_batch(const std::vector<Message>& messages);

// A payload that is not a valid message: the error to answer with and the request id, when
// one could be recovered.
struct DecodeError {
  RpcError error;
  std::optional<RequestId> id;
};

struct Decoded {
  std::vector<Message> messages;
  bool batch = false;
  std::optional<DecodeError> error;  // set: `messages` is empty
  bool ok() const { return !error.has_value(); }
};

// Decodes one transport payload: a single message or, when `allow_batch`, an array of at
// most kMaxBatchMessages (an invalid element fails the whole batch). Never throws.
Decoded decode(std::string_view text, bool allow_batch = true);
// Checks the shape of an already parsed value.
Decoded decode_value(json::value value, bool allow_batch = true);

}  // namespace tollgate::mcp
