// Boost.JSON helpers for request bodies: parse with a clear INVALID_REQUEST, typed field
// access that names the field in its error.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace tollgate::json {

namespace bj = boost::json;

// Parses text that must be a JSON object. `storage`: where its values are allocated (the
// default heap, or an arena such as a bj::monotonic_resource that outlives the result).
Result<bj::object> parse_object(std::string_view text, bj::storage_ptr storage = {});
// Parses any JSON value; INVALID_REQUEST with the parser's reason on failure.
Result<bj::value> parse(std::string_view text, bj::storage_ptr storage = {});

// Required string field. Missing, null or not a string -> INVALID_REQUEST.
Result<std::string> required_string(const bj::object& obj, std::string_view field);
// Optional string field: missing or null -> nullopt; present but not a string -> error.
Result<std::optional<std::string>> optional_string(const bj::object& obj, std::string_view field);
// The same, as a view into `obj` (valid while `obj` is), for a value that is only read.
Result<std::optional<std::string_view>> optional_string_view(const bj::object& obj, std::string_view field);

std::string serialize(const bj::value& value);

// Appends `s` as a JSON string: quoted, with '"', '\\' and control characters escaped, other
// bytes (UTF-8, which every stored string is: request bodies are parsed as JSON) as they are.
// For hot responses written straight into their text (the key listing), where building a
// document first and serializing it cost more than the rest of the request.
void append_string(std::string& out, std::string_view s);
// Appends the error object of API.md, `{"error":{"code":...,"message":...}}`.
void append_error(std::string& out, const Error& error);

}  // namespace tollgate::json
