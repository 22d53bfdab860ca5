// JSON parsing with stable errors.
#include "common/json.hpp"

#include <fmt/format.h>

#include <array>

namespace tollgate::json {

Result<bj::value> parse(std::string_view text, bj::storage_ptr storage) {
  boost::system::error_code ec;
  bj::value value = bj::parse(text, ec, std::move(storage));
  if (ec) return Error{ErrorCode::kInvalidRequest, fmt::format("The request body is not valid JSON ({}).", ec.message())};
  return value;
}

Result<bj::object> parse_object(std::string_view text, bj::storage_ptr storage) {
  auto value = parse(text, std::move(storage));
  if (!value) return value.error();
  if (!value->is_object()) return Error{ErrorCode::kInvalidRequest, "The request body must be a JSON object."};
  return std::move(value->as_object());
}

Result<std::string> required_string(const bj::object& obj, std::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null())
    return Error{ErrorCode::kInvalidRequest, fmt::format("'{}' is required.", field)};
  if (!it->value().is_string()) return Error{ErrorCode::kInvalidRequest, fmt::format("'{}' must be a string.", field)};
  return std::string(it->value().as_string());
}

Result<std::optional<std::string_view>> optional_string_view(const bj::object& obj, std::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string_view>();
  if (!it->value().is_string()) return Error{ErrorCode::kInvalidRequest, fmt::format("'{}' must be a string.", field)};
  const bj::string& text = it->value().get_string();
  return std::optional<std::string_view>(std::string_view(text.data(), text.size()));
}

Result<std::optional<std::string>> optional_string(const bj::object& obj, std::string_view field) {
  auto view = optional_string_view(obj, field);
  if (!view) return view.error();
  if (!*view) return std::optional<std::string>();
  return std::optional<std::string>(std::string(**view));
}

std::string serialize(const bj::value& value) { return bj::serialize(value); }

namespace {

// True for the bytes a JSON string cannot hold as they are: control characters, '"' and '\\'.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = true;
  return t;
}();

}  // namespace

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  const char* p = s.data();
  const char* end = p + s.size();
  while (p != end) {
    // The run of bytes copied as they are: one table load per byte, one append per run.
    const char* run = p;
    while (p != end && !kNeedsEscape[static_cast<unsigned char>(*p)]) ++p;
    out.append(run, p);
    if (p == end) break;
    auto c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out += '"';
}

void append_error(std::string& out, const Error& error) {
  out += "{\"error\":{\"code\":";
  append_string(out, to_string(error.code));
  out += ",\"message\":";
  append_string(out, error.message);
  out += "}}";
}

}  // namespace tollgate::json
