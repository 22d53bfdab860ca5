// The JSON Schema validator: one recursive walk over (schema, instance), first violation wins.
#include "tollgate/mcp/schema.hpp"

#include <boost/json/serialize.hpp>

#include <cmath>
#include <regex>

namespace tollgate::mcp {
namespace json = boost::json;

std::string SchemaViolation::to_string() const { return (path.empty() ? std::string("(root)") : path) + ": " + message; }

namespace {

std::string escape_pointer(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (v.is_double()) {
    double d = v.get_double();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

// Deep equality where numbers compare by value (1 == 1.0), as JSON Schema requires.
bool json_equal(const json::value& a, const json::value& b) {
  auto na = as_number(a);
  auto nb = as_number(b);
  if (na && nb) {
    if (a.is_double() || b.is_double()) return *na == *nb;
    if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
    if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
    // int64 vs uint64: equal only when both are non-negative and the same.
    std::int64_t s = a.is_int64() ? a.get_int64() : b.get_int64();
    std::uint64_t u = a.is_uint64() ? a.get_uint64() : b.get_uint64();
    return s >= 0 && static_cast<std::uint64_t>(s) == u;
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!json_equal(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (!other || !json_equal(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool type_matches(std::string_view type, const json::value& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return is_integer(v);
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_bool();
  if (type == "null") return v.is_null();
  return false;
}

std::string_view kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: return "an object";
    case json::kind::array: return "an array";
    case json::kind::string: return "a string";
    case json::kind::bool_: return "a boolean";
    case json::kind::null: return "null";
    default: return is_integer(v) ? "an integer" : "a number";
  }
}

// Code points, not bytes: minLength/maxLength count characters.
std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string brief(const json::value& v) {
  std::string s = json::serialize(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

class Validator {
 public:
  explicit Validator(const json::value& root) : root_(root) {}

  std::optional<SchemaViolation> check(const json::value& schema, const json::value& instance, const std::string& path,
                                       int depth) {
    if (depth > kMaxSchemaDepth) return fail(path, "schema nesting exceeds the validator's depth limit");
    if (schema.is_bool()) {
      if (schema.get_bool()) return std::nullopt;
      return fail(path, "is not allowed here");
    }
    if (!schema.is_object()) return std::nullopt;  // not a schema: nothing to check
    const json::object& s = schema.get_object();

    if (const json::value* ref = s.if_contains("$ref"); ref && ref->is_string()) {
      const json::value* target = resolve(ref->get_string());
      if (target) {
        if (auto v = check(*target, instance, path, depth + 1)) return v;
      }
      // An unresolvable (remote) $ref is not checked: we never fetch schemas.
    }

    if (const json::value* type = s.if_contains("type")) {
      bool ok = false;
      std::string expected;
      if (type->is_string()) {
        ok = type_matches(type->get_string(), instance);
        expected = std::string(type->get_string());
      } else if (type->is_array()) {
        for (const auto& t : type->get_array()) {
          if (!t.is_string()) continue;
          if (!expected.empty()) expected += " or ";
          expected += std::string(t.get_string());
          ok = ok || type_matches(t.get_string(), instance);
        }
      } else {
        ok = true;
      }
      if (!ok) {
        std::string article = (!expected.empty() && std::string_view("aeiou").find(expected[0]) != std::string_view::npos) ? "an " : "a ";
        return fail(path, "must be " + article + expected + ", not " + std::string(kind_name(instance)));
      }
    }
    if (const json::value* e = s.if_contains("enum"); e && e->is_array()) {
      bool found = false;
      for (const auto& option : e->get_array()) {
        if (json_equal(option, instance)) {
          found = true;
          break;
        }
      }
      if (!found) return fail(path, "must be one of " + brief(*e));
    }
    if (const json::value* c = s.if_contains("const"); c && !json_equal(*c, instance)) {
      return fail(path, "must be " + brief(*c));
    }

    if (instance.is_object()) {
      if (auto v = check_object(s, instance.get_object(), path, depth)) return v;
    } else if (instance.is_array()) {
      if (auto v = check_array(s, instance.get_array(), path, depth)) return v;
    } else if (instance.is_string()) {
      if (auto v = check_string(s, instance.get_string(), path)) return v;
    } else if (instance.is_number()) {
      if (auto v = check_number(s, instance, path)) return v;
    }

    if (const json::value* all = s.if_contains("allOf"); all && all->is_array()) {
      for (const auto& sub : all->get_array()) {
        if (auto v = check(sub, instance, path, depth + 1)) return v;
      }
    }
    if (const json::value* any = s.if_contains("anyOf"); any && any->is_array()) {
      bool matched = false;
      std::optional<SchemaViolation> first;
      for (const auto& sub : any->get_array()) {
        auto v = check(sub, instance, path, depth + 1);
        if (!v) {
          matched = true;
          break;
        }
        if (!first) first = std::move(v);
      }
      if (!matched) {
        return fail(path, "does not match any allowed form" + (first ? " (first: " + first->message + ")" : std::string()));
      }
    }
    if (const json::value* one = s.if_contains("oneOf"); one && one->is_array()) {
      int matches = 0;
      for (const auto& sub : one->get_array()) {
        if (!check(sub, instance, path, depth + 1)) ++matches;
      }
      if (matches != 1) {
        return fail(path, matches == 0 ? "does not match any allowed form" : "matches more than one exclusive form");
      }
    }
    if (const json::value* n = s.if_contains("not")) {
      if (!check(*n, instance, path, depth + 1)) return fail(path, "matches a form that is not allowed");
    }
    if (const json::value* cond = s.if_contains("if")) {
      bool holds = !check(*cond, instance, path, depth + 1);
      const json::value* branch = s.if_contains(holds ? "then" : "else");
      if (branch) {
        if (auto v = check(*branch, instance, path, depth + 1)) return v;
      }
    }
    return std::nullopt;
  }

 private:
  static std::optional<SchemaViolation> fail(const std::string& path, std::string message) {
    return SchemaViolation{path, std::move(message)};
  }

  // "#", "#/$defs/x", "#/definitions/x": JSON Pointer into the root schema.
  const json::value* resolve(std::string_view ref) const {
    if (ref.empty() || ref[0] != '#') return nullptr;
    std::string_view pointer = ref.substr(1);
    if (pointer.empty()) return &root_;
    const json::value* node = &root_;
    std::size_t pos = 0;
    while (pos < pointer.size()) {
      if (pointer[pos] != '/') return nullptr;
      std::size_t end = pointer.find('/', pos + 1);
      std::string_view raw = pointer.substr(pos + 1, end == std::string_view::npos ? std::string_view::npos : end - pos - 1);
      std::string token;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '~' && i + 1 < raw.size()) {
          token.push_back(raw[i + 1] == '1' ? '/' : '~');
          ++i;
        } else if (raw[i] == '%' && i + 2 < raw.size() && hex_digit(raw[i + 1]) >= 0 && hex_digit(raw[i + 2]) >= 0) {
          token.push_back(static_cast<char>(hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2])));
          i += 2;
        } else {
          token.push_back(raw[i]);
        }
      }
      if (node->is_object()) {
        node = node->get_object().if_contains(token);
      } else if (node->is_array()) {
        std::size_t index = 0;
        for (char c : token) {
          if (c < '0' || c > '9') return nullptr;
          index = index * 10 + static_cast<std::size_t>(c - '0');
          if (index > node->get_array().size()) return nullptr;
        }
        node = index < node->get_array().size() ? &node->get_array()[index] : nullptr;
      } else {
        return nullptr;
      }
      if (!node) return nullptr;
      pos = end == std::string_view::npos ? pointer.size() : end;
    }
    return node;
  }

  static std::optional<std::size_t> count(const json::object& s, std::string_view key) {
    const json::value* v = s.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::size_t>(v->get_int64());
    if (v->is_uint64()) return static_cast<std::size_t>(v->get_uint64());
    if (v->is_double() && v->get_double() >= 0) return static_cast<std::size_t>(v->get_double());
    return std::nullopt;
  }

  static bool regex_search(std::string_view pattern, std::string_view subject, bool& error) {
    try {
      std::regex re(pattern.begin(), pattern.end(), std::regex::ECMAScript);
      return std::regex_search(subject.begin(), subject.end(), re);
    } catch (const std::exception&) {
      // An invalid or too complex pattern is the provider's bug; report rather than crash.
      error = true;
      return false;
    }
  }

  std::optional<SchemaViolation> check_object(const json::object& s, const json::object& obj, const std::string& path,
                                              int depth) {
    if (const json::value* req = s.if_contains("required"); req && req->is_array()) {
      for (const auto& name : req->get_array()) {
        if (name.is_string() && !obj.contains(name.get_string())) {
          return fail(path + "/" + escape_pointer(name.get_string()), "is required");
        }
      }
    }
    if (auto n = count(s, "minProperties"); n && obj.size() < *n) {
      return fail(path, "must have at least " + std::to_string(*n) + " properties");
    }
    if (auto n = count(s, "maxProperties"); n && obj.size() > *n) {
      return fail(path, "must have at most " + std::to_string(*n) + " properties");
    }
    if (const json::value* dep = s.if_contains("dependentRequired"); dep && dep->is_object()) {
      for (const auto& kv : dep->get_object()) {
        if (!obj.contains(kv.key()) || !kv.value().is_array()) continue;
        for (const auto& name : kv.value().get_array()) {
          if (name.is_string() && !obj.contains(name.get_string())) {
            return fail(path + "/" + escape_pointer(name.get_string()),
                        "is required when \"" + std::string(kv.key()) + "\" is present");
          }
        }
      }
    }
    const json::object* properties = nullptr;
    if (const json::value* p = s.if_contains("properties"); p && p->is_object()) properties = &p->get_object();
    const json::object* patterns = nullptr;
    if (const json::value* p = s.if_contains("patternProperties"); p && p->is_object()) patterns = &p->get_object();
    const json::value* additional = s.if_contains("additionalProperties");
    const json::value* names = s.if_contains("propertyNames");

    for (const auto& kv : obj) {
      std::string child = path + "/" + escape_pointer(kv.key());
      if (names) {
        if (auto v = check(*names, json::value(kv.key()), child, depth + 1)) return fail(child, "is not an allowed property name");
      }
      bool known = false;
      if (properties) {
        if (const json::value* sub = properties->if_contains(kv.key())) {
          known = true;
          if (auto v = check(*sub, kv.value(), child, depth + 1)) return v;
        }
      }
      if (patterns) {
        for (const auto& pp : *patterns) {
          bool error = false;
          if (regex_search(pp.key(), kv.key(), error)) {
            known = true;
            if (auto v = check(pp.value(), kv.value(), child, depth + 1)) return v;
          }
          if (error) return fail(child, "the schema's patternProperties pattern cannot be evaluated");
        }
      }
      if (!known && additional) {
        if (additional->is_bool() && !additional->get_bool()) return fail(child, "is not an allowed property");
        if (auto v = check(*additional, kv.value(), child, depth + 1)) return v;
      }
    }
    return std::nullopt;
  }

  std::optional<SchemaViolation> check_array(const json::object& s, const json::array& arr, const std::string& path,
                                             int depth) {
    if (auto n = count(s, "minItems"); n && arr.size() < *n) {
      return fail(path, "must have at least " + std::to_string(*n) + " items");
    }
    if (auto n = count(s, "maxItems"); n && arr.size() > *n) {
      return fail(path, "must have at most " + std::to_string(*n) + " items");
    }
    std::size_t prefix = 0;
    if (const json::value* p = s.if_contains("prefixItems"); p && p->is_array()) {
      const auto& forms = p->get_array();
      prefix = forms.size();
      for (std::size_t i = 0; i < forms.size() && i < arr.size(); ++i) {
        if (auto v = check(forms[i], arr[i], path + "/" + std::to_string(i), depth + 1)) return v;
      }
    }
    if (const json::value* items = s.if_contains("items")) {
      if (items->is_array()) {
        // draft-07 tuple form
        const auto& forms = items->get_array();
        for (std::size_t i = 0; i < forms.size() && i < arr.size(); ++i) {
          if (auto v = check(forms[i], arr[i], path + "/" + std::to_string(i), depth + 1)) return v;
        }
      } else {
        for (std::size_t i = prefix; i < arr.size(); ++i) {
          if (auto v = check(*items, arr[i], path + "/" + std::to_string(i), depth + 1)) return v;
        }
      }
    }
    if (const json::value* u = s.if_contains("uniqueItems"); u && u->is_bool() && u->get_bool()) {
      for (std::size_t i = 0; i < arr.size(); ++i) {
        for (std::size_t j = i + 1; j < arr.size(); ++j) {
          if (json_equal(arr[i], arr[j])) return fail(path + "/" + std::to_string(j), "duplicates an earlier item");
        }
      }
    }
    if (const json::value* c = s.if_contains("contains")) {
      std::size_t matches = 0;
      for (const auto& item : arr) {
        if (!check(*c, item, path, depth + 1)) ++matches;
      }
      std::size_t min = count(s, "minContains").value_or(1);
      if (matches < min) return fail(path, "does not contain enough matching items");
      if (auto max = count(s, "maxContains"); max && matches > *max) return fail(path, "contains too many matching items");
    }
    return std::nullopt;
  }

  std::optional<SchemaViolation> check_string(const json::object& s, json::string_view str, const std::string& path) {
    std::size_t length = utf8_length(str);
    if (auto n = count(s, "minLength"); n && length < *n) {
      return fail(path, "must be at least " + std::to_string(*n) + " characters long");
    }
    if (auto n = count(s, "maxLength"); n && length > *n) {
      return fail(path, "must be at most " + std::to_string(*n) + " characters long");
    }
    if (const json::value* p = s.if_contains("pattern"); p && p->is_string()) {
      if (str.size() > kMaxPatternSubjectBytes) {
        return fail(path, "is too long to be matched against its pattern (limit " + std::to_string(kMaxPatternSubjectBytes) + " bytes)");
      }
      bool error = false;
      bool ok = regex_search(p->get_string(), str, error);
      if (error) return fail(path, "the schema's pattern cannot be evaluated");
      if (!ok) return fail(path, "must match the pattern " + brief(*p));
    }
    return std::nullopt;
  }

  std::optional<SchemaViolation> check_number(const json::object& s, const json::value& instance, const std::string& path) {
    double x = *as_number(instance);
    auto bound = [&](std::string_view key) -> std::optional<double> {
      const json::value* v = s.if_contains(key);
      return v ? as_number(*v) : std::nullopt;
    };
    if (auto b = bound("minimum"); b && x < *b) return fail(path, "must be >= " + brief(*s.if_contains("minimum")));
    if (auto b = bound("maximum"); b && x > *b) return fail(path, "must be <= " + brief(*s.if_contains("maximum")));
    if (auto b = bound("exclusiveMinimum"); b && x <= *b) {
      return fail(path, "must be > " + brief(*s.if_contains("exclusiveMinimum")));
    }
    if (auto b = bound("exclusiveMaximum"); b && x >= *b) {
      return fail(path, "must be < " + brief(*s.if_contains("exclusiveMaximum")));
    }
    if (auto m = bound("multipleOf"); m && *m > 0) {
      double q = x / *m;
      if (!std::isfinite(q) || std::fabs(q - std::round(q)) > 1e-9 * std::max(1.0, std::fabs(q))) {
        return fail(path, "must be a multiple of " + brief(*s.if_contains("multipleOf")));
      }
    }
    return std::nullopt;
  }

  const json::value& root_;
};

}  // namespace

std::optional<SchemaViolation> validate(const json::value& schema, const json::value& instance) {
  Validator v(schema);
  return v.check(schema, instance, "", 0);
}

Status check_object_schema(const json::value& schema) {
  if (!schema.is_object()) return Error{ErrorCode::kInvalidRequest, "a tool schema must be a JSON object"};
  const json::value* type = schema.get_object().if_contains("type");
  if (!type || !type->is_string() || type->get_string() != "object") {
    return Error{ErrorCode::kInvalidRequest, "a tool schema must have \"type\": \"object\""};
  }
  return ok_status();
}

}  // namespace tollgate::mcp
