// JSON-RPC 2.0 encoding and the strict decoder shared by every MCP transport. The decoder is
// the fuzzed surface (tests/fuzz/json_rpc_fuzz.cpp): it must never throw or crash on input.
#include "tollgate/mcp/json_rpc.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include <functional>
#include <type_traits>

#include "mcp/message_arena.hpp"

namespace tollgate::mcp {

json::value RequestId::to_json() const {
  if (is_string()) return json::value(text());
  return json::value(number());
}

std::optional<RequestId> RequestId::from_json(const json::value& value) {
  if (value.is_int64()) return RequestId(value.get_int64());
  if (value.is_uint64()) {
    std::uint64_t n = value.get_uint64();
    if (n > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return RequestId(static_cast<std::int64_t>(n));
  }
  if (value.is_string()) {
    const auto& s = value.get_string();
    if (s.size() > kMaxIdBytes) return std::nullopt;
    return RequestId(std::string(s));
  }
  return std::nullopt;
}

std::string RequestId::to_string() const {
  if (is_string()) return json::serialize(json::value(text()));
  return std::to_string(number());
}

std::size_t RequestIdHash::operator()(const RequestId& id) const {
  if (id.is_string()) return std::hash<std::string>{}(id.text()) ^ 0x9e3779b97f4a7c15ULL;
  return std::hash<std::int64_t>{}(id.number());
}

json::object RpcError::to_json() const {
  json::object out;
  out["code"] = code;
  out["message"] = message;
  if (!data.is_null()) out["data"] = data;
  return out;
}

// Fields are move-constructed, never move-assigned: a json value assigned across memory
// resources is copied, and a decoded message's values live in its own arena.
Message Message::request(RequestId id, std::string method, json::object params) {
  return Message{.kind = MessageKind::kRequest, .id = std::move(id), .method = std::move(method), .params = std::move(params)};
}

Message Message::notification(std::string method, json::object params) {
  return Message{.kind = MessageKind::kNotification, .method = std::move(method), .params = std::move(params)};
}

Message Message::response(RequestId id, json::value result) {
  return Message{.kind = MessageKind::kResult, .id = std::move(id), .result = std::move(result)};
}

Message Message::failure(std::optional<RequestId> id, RpcError error) {
  Message m{.kind = MessageKind::kError, .id_null = !id, .error = std::move(error)};
  if (id) m.id = std::move(*id);
  return m;
}

Message Message::failure(std::optional<RequestId> id, int code, std::string message) {
  return failure(std::move(id), RpcError{code, std::move(message), nullptr});
}

namespace {

// Appends the JSON text of `value` (a json::value or json::object, or a string_view as a
// JSON string) to `out`, with no temporary string per field as json::serialize would make.
template <typename Json>
void append_json(std::string& out, const Json& value) {
  json::serializer serializer;
  if constexpr (std::is_convertible_v<const Json&, std::string_view>) {
    serializer.reset(json::string_view(std::string_view(value)));
  } else {
    serializer.reset(&value);
  }
  char piece[512];
  while (!serializer.done()) {
    json::string_view text = serializer.read(piece, sizeof piece);
    out.append(text.data(), text.size());
  }
}

void append_id(std::string& out, const RequestId& id) {
  if (id.is_string()) {
    append_json(out, id.text());
  } else {
    out += std::to_string(id.number());
  }
}

// Room for a typical message at once: growing the text piece by piece was a reallocation
// for each doubling.
constexpr std::size_t kTypicalMessageBytes = 256;

}  // namespace

// Written field by field: building the envelope as a json::object first would deep-copy
// params or result, which is most of a message.
std::string encode(const Message& m) {
  std::string out;
  out.reserve(kTypicalMessageBytes);
  out += "{\"jsonrpc\":\"2.0\"";
  switch (m.kind) {
    case MessageKind::kRequest:
      out += ",\"id\":";
      append_id(out, m.id);
      out += ",\"method\":";
      append_json(out, m.method);
      if (!m.params.empty()) {
        out += ",\"params\":";
        append_json(out, m.params);
      }
      break;
    case MessageKind::kNotification:
      out += ",\"method\":";
      append_json(out, m.method);
      if (!m.params.empty()) {
        out += ",\"params\":";
        append_json(out, m.params);
      }
      break;
    case MessageKind::kResult:
      out += ",\"id\":";
      append_id(out, m.id);
      if (m.result.is_null()) {
        out += ",\"result\":{}";
      } else {
        out += ",\"result\":";
        append_json(out, m.result);
      }
      break;
    case MessageKind::kError:
      out += ",\"id\":";
      if (m.id_null) {
        out += "null";
      } else {
        append_id(out, m.id);
      }
      out += ",\"error\":";
      append_json(out, m.error.to_json());
      break;
  }
  out += '}';
  return out;
}

std::string encode_batch(const std::vector<Message>& messages) {
  std::string out = "[";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i) out += ',';
    out += encode(messages[i]);
  }
  out += ']';
  return out;
}

namespace {

DecodeError invalid(std::string message, std::optional<RequestId> id = std::nullopt) {
  return DecodeError{RpcError{rpc::kInvalidRequest, std::move(message), nullptr}, std::move(id)};
}

// One message object; on failure the error names what is wrong, with the id if usable.
// Takes params, result and error data out of `value` (moved, not copied).
std::variant<Message, DecodeError> decode_one(json::value& value) {
  if (!value.is_object()) return invalid("Invalid Request: a JSON-RPC message must be an object");
  json::object& obj = value.get_object();
  std::optional<RequestId> id;
  const json::value* id_value = obj.if_contains("id");
  if (id_value && !id_value->is_null()) id = RequestId::from_json(*id_value);

  const json::value* version = obj.if_contains("jsonrpc");
  if (!version || !version->is_string() || version->get_string() != "2.0") {
    return invalid("Invalid Request: \"jsonrpc\" must be \"2.0\"", id);
  }
  const json::value* method = obj.if_contains("method");
  json::value* result = obj.if_contains("result");
  json::value* error = obj.if_contains("error");
  if (method) {
    if (result || error) return invalid("Invalid Request: a message has either \"method\" or \"result\"/\"error\"", id);
    if (!method->is_string() || method->get_string().empty()) {
      return invalid("Invalid Request: \"method\" must be a non-empty string", id);
    }
    json::value* params = obj.if_contains("params");
    if (params && !params->is_object() && !params->is_null()) {
      return invalid("Invalid Request: \"params\" must be an object", id);
    }
    if (id_value && !id) return invalid("Invalid Request: \"id\" must be an integer or a string of at most 256 bytes");
    Message m{.kind = id_value ? MessageKind::kRequest : MessageKind::kNotification,
              .method = std::string(method->get_string()),
              .params = params && params->is_object() ? std::move(params->get_object()) : json::object()};
    if (id) m.id = std::move(*id);
    return m;
  }
  if (result && error) return invalid("Invalid Request: a response has \"result\" or \"error\", not both", id);
  if (result) {
    if (!id) return invalid("Invalid Request: a result needs an integer or string \"id\"");
    return Message::response(std::move(*id), std::move(*result));
  }
  if (error) {
    if (!id_value) return invalid("Invalid Request: an error response needs an \"id\" (null if unknown)");
    if (!id && !id_value->is_null()) return invalid("Invalid Request: \"id\" must be an integer, a string or null");
    if (!error->is_object()) return invalid("Invalid Request: \"error\" must be an object", id);
    json::object& e = error->get_object();
    const json::value* code = e.if_contains("code");
    const json::value* message = e.if_contains("message");
    if (!code || !(code->is_int64() || code->is_uint64()) || !message || !message->is_string()) {
      return invalid("Invalid Request: \"error\" needs an integer \"code\" and a string \"message\"", id);
    }
    json::value* data = e.if_contains("data");
    return Message::failure(
        std::move(id),
        RpcError{code->is_int64() ? static_cast<int>(std::clamp<std::int64_t>(code->get_int64(), INT32_MIN, INT32_MAX))
                                  : static_cast<int>(std::min<std::uint64_t>(code->get_uint64(), INT32_MAX)),
                 std::string(message->get_string()), data ? std::move(*data) : json::value()});
  }
  return invalid("Invalid Request: a message needs \"method\", \"result\" or \"error\"", id);
}

}  // namespace

Decoded decode_value(json::value value, bool allow_batch) {
  Decoded out;
  if (value.is_array()) {
    json::array& items = value.get_array();
    if (!allow_batch) {
      out.error = invalid("Invalid Request: JSON-RPC batches are not supported by this protocol version");
      return out;
    }
    if (items.empty()) {
      out.error = invalid("Invalid Request: an empty batch");
      return out;
    }
    if (items.size() > kMaxBatchMessages) {
      out.error = invalid("Invalid Request: a batch must not exceed " + std::to_string(kMaxBatchMessages) + " messages");
      return out;
    }
    out.batch = true;
    out.messages.reserve(items.size());
    for (auto& item : items) {
      auto one = decode_one(item);
      if (auto* e = std::get_if<DecodeError>(&one)) {
        out.messages.clear();
        out.error = std::move(*e);
        return out;
      }
      out.messages.push_back(std::move(std::get<Message>(one)));
    }
    return out;
  }
  auto one = decode_one(value);
  if (auto* e = std::get_if<DecodeError>(&one)) {
    out.error = std::move(*e);
  } else {
    out.messages.push_back(std::move(std::get<Message>(one)));
  }
  return out;
}

Decoded decode(std::string_view text, bool allow_batch) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, make_message_arena(), options);
  if (ec) {
    Decoded out;
    out.error = DecodeError{RpcError{rpc::kParseError, "Parse error: " + ec.message(), nullptr}, std::nullopt};
    return out;
  }
  return decode_value(std::move(value), allow_batch);
}

}  // namespace tollgate::mcp
