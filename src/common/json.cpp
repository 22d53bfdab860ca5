// JSON parsing with stable errors.
#include "common/json.hpp"

#include <fmt/format.h>

namespace tollgate::json {

Result<bj::value> parse(std::string_view text) {
  boost::system::error_code ec;
  bj::value value = bj::parse(text, ec);
  if (ec) return Error{ErrorCode::kInvalidRequest, fmt::format("The request body is not valid JSON ({}).", ec.message())};
  return value;
}

Result<bj::object> parse_object(std::string_view text) {
  auto value = parse(text);
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

Result<std::optional<std::string>> optional_string(const bj::object& obj, std::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return Error{ErrorCode::kInvalidRequest, fmt::format("'{}' must be a string.", field)};
  return std::optional<std::string>(std::string(it->value().as_string()));
}

std::string serialize(const bj::value& value) { return bj::serialize(value); }

}  // namespace tollgate::json
