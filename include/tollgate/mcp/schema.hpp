// A small JSON Schema validator for what tool input/output schemas use (2020-12 keywords;
// draft-07 `definitions` too): type, enum, const, properties, required,
// additionalProperties, patternProperties, propertyNames, min/maxProperties,
// unevaluatedProperties, items, prefixItems, min/maxItems, uniqueItems,
// contains/min/maxContains, unevaluatedItems, minimum/maximum (exclusive too), multipleOf,
// min/maxLength, pattern, allOf/anyOf/oneOf/not, if/then/else, dependentRequired,
// dependentSchemas, and $ref as a JSON Pointer into the same schema ("#/$defs/x"); a $ref
// it cannot resolve that way (another document, an $anchor, $dynamicRef) is not checked,
// since schemas are never fetched. Annotations (title, description, default, format,
// examples...) are ignored, as 2020-12 says they are by default. Arguments are checked
// before a tool runs, so a malformed call never reaches a handler (and is never charged).
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>

#include "common/result.hpp"

namespace tollgate::mcp {

// Recursion bound for nested schemas and $ref chains: deeper is reported as an error, never
// a stack overflow.
inline constexpr int kMaxSchemaDepth = 64;
// `pattern` is matched only against strings up to this length (std::regex recurses per
// character); longer strings fail validation with a clear message.
inline constexpr std::size_t kMaxPatternSubjectBytes = 4096;

struct SchemaViolation {
  std::string path;     // JSON Pointer into the instance, "" for the root
  std::string message;  // "must be a string", "is required", ...
  std::string to_string() const;  // "/address/city: must be a string"
};

// nullopt when `instance` conforms to `schema`.
std::optional<SchemaViolation> validate(const boost::json::value& schema, const boost::json::value& instance);

// A tool's input (or output) schema must be an object schema: {"type": "object", ...}.
Status check_object_schema(const boost::json::value& schema);

}  // namespace tollgate::mcp
