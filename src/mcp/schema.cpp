// The JSON Schema validator: one recursive walk over (schema, instance), first violation wins.
#include "tollgate/mcp/schema.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <regex>
#include <vector>

namespace tollgate::mcp {
namespace json = boost::json;

std::string SchemaViolation::to_string() const { return (path.empty() ? std::string("(root)") : path) + ": " + message; }

namespace {

// Compiled `pattern`s kept per thread (Validator::compiled).
constexpr std::size_t kMaxCachedPatterns = 64;

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
  if (s.size() > 60) {
    s.resize(57);
    s += "...";
  }
  return s;
}

// Where the validator is in the instance: a chain of frames on the stack, rendered as a JSON
// Pointer only when a violation is reported (building it for every property visited was a
// third of a successful validation's time).
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // a property name, unless is_index
  std::size_t index = 0;
  bool is_index = false;

  Path child(std::string_view name) const { return Path{this, name, 0, false}; }
  Path item(std::size_t i) const { return Path{this, {}, i, true}; }

  std::string render() const {
    std::vector<const Path*> chain;
    for (const Path* p = this; p->parent; p = p->parent) chain.push_back(p);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      out += '/';
      out += (*it)->is_index ? std::to_string((*it)->index) : escape_pointer((*it)->key);
    }
    return out;
  }
};

// The keywords the validator knows.
enum class Kw : std::uint8_t {
  kRef, kType, kEnum, kConst, kAllOf, kAnyOf, kOneOf, kNot, kIf, kThen, kElse,
  kRequired, kMinProperties, kMaxProperties, kDependentRequired, kDependentSchemas, kProperties,
  kPatternProperties, kAdditionalProperties, kPropertyNames, kUnevaluatedProperties,
  kMinItems, kMaxItems, kPrefixItems, kItems, kUniqueItems, kContains, kMinContains, kMaxContains,
  kUnevaluatedItems,
  kMinLength, kMaxLength, kPattern,
  kMinimum, kMaximum, kExclusiveMinimum, kExclusiveMaximum, kMultipleOf,
  kCount
};

constexpr std::array<std::string_view, static_cast<std::size_t>(Kw::kCount)> kKeywordNames = {
    "$ref", "type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "required", "minProperties", "maxProperties", "dependentRequired", "dependentSchemas", "properties",
    "patternProperties", "additionalProperties", "propertyNames", "unevaluatedProperties",
    "minItems", "maxItems", "prefixItems", "items", "uniqueItems", "contains", "minContains", "maxContains",
    "unevaluatedItems",
    "minLength", "maxLength", "pattern",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"};

// What a schema evaluated of the instance at its own location (2020-12 annotations), for
// unevaluatedProperties and unevaluatedItems: the properties that properties,
// patternProperties, additionalProperties or unevaluatedProperties applied to, and the items
// of prefixItems, items, contains and unevaluatedItems; gathered from the schema's own
// keywords and from the subschemas it applies in place ($ref, allOf, the valid ones of
// anyOf and oneOf, if/then/else, dependentSchemas) that hold. Collected only when some
// schema asks for it, so ordinary schemas pay nothing.
struct Evaluated {
  // By position in the instance (its members in order, or its items): one schema location,
  // one instance, so every schema applied here numbers them alike.
  std::vector<bool> properties;
  std::vector<bool> items;

  static void add(std::vector<bool>& set, std::size_t i) {
    if (set.size() <= i) set.resize(i + 1, false);
    set[i] = true;
  }
  static bool has(const std::vector<bool>& set, std::size_t i) { return i < set.size() && set[i]; }
  static void merge(std::vector<bool>& into, const std::vector<bool>& from) {
    if (into.size() < from.size()) into.resize(from.size(), false);
    for (std::size_t i = 0; i < from.size(); ++i) into[i] = into[i] || from[i];
  }
  void merge(const Evaluated& other) {
    merge(properties, other.properties);
    merge(items, other.items);
  }
};

// The keywords of one schema object, found in one pass over its members: a schema uses a few
// of the keywords above, and asking the object for each of them in turn was most of a
// validation's time.
class Keywords {
 public:
  explicit Keywords(const json::object& schema) {
    for (const auto& kv : schema) {
      std::string_view key = kv.key();
      for (std::size_t i = 0; i < kKeywordNames.size(); ++i) {
        if (kKeywordNames[i] == key) {
          found_[i] = &kv.value();
          break;
        }
      }
    }
  }
  const json::value* operator[](Kw k) const { return found_[static_cast<std::size_t>(k)]; }

 private:
  std::array<const json::value*, kKeywordNames.size()> found_{};
};

class Validator {
 public:
  explicit Validator(const json::value& root) : root_(root) {}

  // `out`, when given, receives what this schema evaluated (only if it holds).
  std::optional<SchemaViolation> check(const json::value& schema, const json::value& instance, const Path& path,
                                       int depth, Evaluated* out = nullptr) {
    if (depth > kMaxSchemaDepth) return fail(path, "schema nesting exceeds the validator's depth limit");
    if (schema.is_bool()) {
      if (schema.get_bool()) return std::nullopt;
      return fail(path, "is not allowed here");
    }
    if (!schema.is_object()) return std::nullopt;  // not a schema: nothing to check
    const Keywords k(schema.get_object());
    const json::value* unevaluated_properties = instance.is_object() ? k[Kw::kUnevaluatedProperties] : nullptr;
    const json::value* unevaluated_items = instance.is_array() ? k[Kw::kUnevaluatedItems] : nullptr;
    Evaluated evaluated;
    Evaluated* ev = out || unevaluated_properties || unevaluated_items ? &evaluated : nullptr;

    if (const json::value* ref = k[Kw::kRef]; ref && ref->is_string()) {
      const json::value* target = resolve(ref->get_string());
      if (target) {
        if (auto v = check(*target, instance, path, depth + 1, ev)) return v;
      }
      // An unresolvable (remote) $ref is not checked: we never fetch schemas.
    }

    if (const json::value* type = k[Kw::kType]) {
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
    if (const json::value* e = k[Kw::kEnum]; e && e->is_array()) {
      bool found = false;
      for (const auto& option : e->get_array()) {
        if (json_equal(option, instance)) {
          found = true;
          break;
        }
      }
      if (!found) return fail(path, "must be one of " + brief(*e));
    }
    if (const json::value* c = k[Kw::kConst]; c && !json_equal(*c, instance)) {
      return fail(path, "must be " + brief(*c));
    }

    if (instance.is_object()) {
      if (auto v = check_object(k, instance, path, depth, ev)) return v;
    } else if (instance.is_array()) {
      if (auto v = check_array(k, instance.get_array(), path, depth, ev)) return v;
    } else if (instance.is_string()) {
      if (auto v = check_string(k, instance.get_string(), path)) return v;
    } else if (instance.is_number()) {
      if (auto v = check_number(k, instance, path)) return v;
    }

    if (const json::value* all = k[Kw::kAllOf]; all && all->is_array()) {
      for (const auto& sub : all->get_array()) {
        if (auto v = check(sub, instance, path, depth + 1, ev)) return v;
      }
    }
    if (const json::value* any = k[Kw::kAnyOf]; any && any->is_array()) {
      bool matched = false;
      std::optional<SchemaViolation> first;
      for (const auto& sub : any->get_array()) {
        // Every form that holds adds what it evaluated, so while collecting, all are tried.
        Evaluated branch;
        auto v = check(sub, instance, path, depth + 1, ev ? &branch : nullptr);
        if (!v) {
          matched = true;
          if (!ev) break;
          ev->merge(branch);
        } else if (!first) {
          first = std::move(v);
        }
      }
      if (!matched) {
        return fail(path, "does not match any allowed form" + (first ? " (first: " + first->message + ")" : std::string()));
      }
    }
    if (const json::value* one = k[Kw::kOneOf]; one && one->is_array()) {
      int matches = 0;
      Evaluated matched;
      for (const auto& sub : one->get_array()) {
        Evaluated branch;
        if (!check(sub, instance, path, depth + 1, ev ? &branch : nullptr)) {
          ++matches;
          matched = std::move(branch);
        }
      }
      if (matches != 1) {
        return fail(path, matches == 0 ? "does not match any allowed form" : "matches more than one exclusive form");
      }
      if (ev) ev->merge(matched);
    }
    if (const json::value* n = k[Kw::kNot]) {
      if (!check(*n, instance, path, depth + 1)) return fail(path, "matches a form that is not allowed");
    }
    if (const json::value* cond = k[Kw::kIf]) {
      Evaluated condition;
      bool holds = !check(*cond, instance, path, depth + 1, ev ? &condition : nullptr);
      if (holds && ev) ev->merge(condition);
      const json::value* branch = k[holds ? Kw::kThen : Kw::kElse];
      if (branch) {
        if (auto v = check(*branch, instance, path, depth + 1, ev)) return v;
      }
    }
    if (const json::value* dep = k[Kw::kDependentSchemas]; dep && dep->is_object() && instance.is_object()) {
      for (const auto& kv : dep->get_object()) {
        if (!instance.get_object().contains(kv.key())) continue;
        if (auto v = check(kv.value(), instance, path, depth + 1, ev)) return v;
      }
    }
    // Last: they apply to what every other keyword here left unevaluated.
    if (unevaluated_properties) {
      std::size_t i = 0;
      for (const auto& kv : instance.get_object()) {
        if (!Evaluated::has(evaluated.properties, i)) {
          const Path child = path.child(kv.key());
          if (unevaluated_properties->is_bool() && !unevaluated_properties->get_bool()) {
            return fail(child, "is not an allowed property");
          }
          if (auto v = check(*unevaluated_properties, kv.value(), child, depth + 1)) return v;
          Evaluated::add(evaluated.properties, i);
        }
        ++i;
      }
    }
    if (unevaluated_items) {
      const json::array& arr = instance.get_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        if (Evaluated::has(evaluated.items, i)) continue;
        if (unevaluated_items->is_bool() && !unevaluated_items->get_bool()) return fail(path.item(i), "is not an allowed item");
        if (auto v = check(*unevaluated_items, arr[i], path.item(i), depth + 1)) return v;
        Evaluated::add(evaluated.items, i);
      }
    }
    if (out) out->merge(evaluated);
    return std::nullopt;
  }

 private:
  static std::optional<SchemaViolation> fail(const Path& path, std::string message) {
    return SchemaViolation{path.render(), std::move(message)};
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

  static std::optional<std::size_t> count(const json::value* v) {
    if (!v) return std::nullopt;
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::size_t>(v->get_int64());
    if (v->is_uint64()) return static_cast<std::size_t>(v->get_uint64());
    if (v->is_double() && v->get_double() >= 0) return static_cast<std::size_t>(v->get_double());
    return std::nullopt;
  }

  static bool regex_search(std::string_view pattern, std::string_view subject, bool& error) {
    const std::regex* re = compiled(pattern);
    if (!re) {
      // An invalid or too complex pattern is the provider's bug; report rather than crash.
      error = true;
      return false;
    }
    try {
      return std::regex_search(subject.begin(), subject.end(), *re);
    } catch (const std::exception&) {
      error = true;
      return false;
    }
  }

  // Compiling a pattern costs far more than matching it, and a tool's schema is checked on
  // every call: compiled patterns are kept per thread, a bounded number of them (schemas
  // come from the provider or an upstream server, so the set is small but not ours to trust).
  // nullptr for a pattern that does not compile.
  static const std::regex* compiled(std::string_view pattern) {
    struct Entry {
      std::string pattern;
      std::optional<std::regex> re;  // nullopt: does not compile
    };
    thread_local std::vector<Entry> cache;
    for (const Entry& e : cache) {
      if (e.pattern == pattern) return e.re ? &*e.re : nullptr;
    }
    if (cache.size() >= kMaxCachedPatterns) cache.erase(cache.begin());
    Entry entry{std::string(pattern), std::nullopt};
    try {
      entry.re.emplace(pattern.begin(), pattern.end(), std::regex::ECMAScript);
    } catch (const std::exception&) {
    }
    cache.push_back(std::move(entry));
    return cache.back().re ? &*cache.back().re : nullptr;
  }

  std::optional<SchemaViolation> check_object(const Keywords& k, const json::value& instance, const Path& path,
                                              int depth, Evaluated* ev) {
    const json::object& obj = instance.get_object();
    if (const json::value* req = k[Kw::kRequired]; req && req->is_array()) {
      for (const auto& name : req->get_array()) {
        if (name.is_string() && !obj.contains(name.get_string())) {
          return fail(path.child(name.get_string()), "is required");
        }
      }
    }
    if (auto n = count(k[Kw::kMinProperties]); n && obj.size() < *n) {
      return fail(path, "must have at least " + std::to_string(*n) + " properties");
    }
    if (auto n = count(k[Kw::kMaxProperties]); n && obj.size() > *n) {
      return fail(path, "must have at most " + std::to_string(*n) + " properties");
    }
    if (const json::value* dep = k[Kw::kDependentRequired]; dep && dep->is_object()) {
      for (const auto& kv : dep->get_object()) {
        if (!obj.contains(kv.key()) || !kv.value().is_array()) continue;
        for (const auto& name : kv.value().get_array()) {
          if (name.is_string() && !obj.contains(name.get_string())) {
            return fail(path.child(name.get_string()),
                        "is required when \"" + std::string(kv.key()) + "\" is present");
          }
        }
      }
    }
    const json::object* properties = nullptr;
    if (const json::value* p = k[Kw::kProperties]; p && p->is_object()) properties = &p->get_object();
    const json::object* patterns = nullptr;
    if (const json::value* p = k[Kw::kPatternProperties]; p && p->is_object()) patterns = &p->get_object();
    const json::value* additional = k[Kw::kAdditionalProperties];
    const json::value* names = k[Kw::kPropertyNames];

    std::size_t index = 0;  // the member's position, for Evaluated
    for (const auto& kv : obj) {
      const Path child = path.child(kv.key());
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
      if (ev && (known || additional)) Evaluated::add(ev->properties, index);
      ++index;
    }
    return std::nullopt;
  }

  std::optional<SchemaViolation> check_array(const Keywords& k, const json::array& arr, const Path& path,
                                             int depth, Evaluated* ev) {
    if (auto n = count(k[Kw::kMinItems]); n && arr.size() < *n) {
      return fail(path, "must have at least " + std::to_string(*n) + " items");
    }
    if (auto n = count(k[Kw::kMaxItems]); n && arr.size() > *n) {
      return fail(path, "must have at most " + std::to_string(*n) + " items");
    }
    std::size_t prefix = 0;
    if (const json::value* p = k[Kw::kPrefixItems]; p && p->is_array()) {
      const auto& forms = p->get_array();
      prefix = forms.size();
      for (std::size_t i = 0; i < forms.size() && i < arr.size(); ++i) {
        if (auto v = check(forms[i], arr[i], path.item(i), depth + 1)) return v;
        if (ev) Evaluated::add(ev->items, i);
      }
    }
    if (const json::value* items = k[Kw::kItems]) {
      if (items->is_array()) {
        // draft-07 tuple form
        const auto& forms = items->get_array();
        for (std::size_t i = 0; i < forms.size() && i < arr.size(); ++i) {
          if (auto v = check(forms[i], arr[i], path.item(i), depth + 1)) return v;
          if (ev) Evaluated::add(ev->items, i);
        }
      } else {
        for (std::size_t i = prefix; i < arr.size(); ++i) {
          if (auto v = check(*items, arr[i], path.item(i), depth + 1)) return v;
          if (ev) Evaluated::add(ev->items, i);
        }
      }
    }
    if (const json::value* u = k[Kw::kUniqueItems]; u && u->is_bool() && u->get_bool()) {
      for (std::size_t i = 0; i < arr.size(); ++i) {
        for (std::size_t j = i + 1; j < arr.size(); ++j) {
          if (json_equal(arr[i], arr[j])) return fail(path.item(j), "duplicates an earlier item");
        }
      }
    }
    if (const json::value* c = k[Kw::kContains]) {
      std::size_t matches = 0;
      for (std::size_t i = 0; i < arr.size(); ++i) {
        if (check(*c, arr[i], path, depth + 1)) continue;
        ++matches;
        if (ev) Evaluated::add(ev->items, i);
      }
      std::size_t min = count(k[Kw::kMinContains]).value_or(1);
      if (matches < min) return fail(path, "does not contain enough matching items");
      if (auto max = count(k[Kw::kMaxContains]); max && matches > *max) return fail(path, "contains too many matching items");
    }
    return std::nullopt;
  }

  std::optional<SchemaViolation> check_string(const Keywords& k, json::string_view str, const Path& path) {
    std::size_t length = utf8_length(str);
    if (auto n = count(k[Kw::kMinLength]); n && length < *n) {
      return fail(path, "must be at least " + std::to_string(*n) + " characters long");
    }
    if (auto n = count(k[Kw::kMaxLength]); n && length > *n) {
      return fail(path, "must be at most " + std::to_string(*n) + " characters long");
    }
    if (const json::value* p = k[Kw::kPattern]; p && p->is_string()) {
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

  std::optional<SchemaViolation> check_number(const Keywords& k, const json::value& instance, const Path& path) {
    double x = *as_number(instance);
    auto bound = [](const json::value* v) -> std::optional<double> { return v ? as_number(*v) : std::nullopt; };
    if (auto b = bound(k[Kw::kMinimum]); b && x < *b) return fail(path, "must be >= " + brief(*k[Kw::kMinimum]));
    if (auto b = bound(k[Kw::kMaximum]); b && x > *b) return fail(path, "must be <= " + brief(*k[Kw::kMaximum]));
    if (auto b = bound(k[Kw::kExclusiveMinimum]); b && x <= *b) {
      return fail(path, "must be > " + brief(*k[Kw::kExclusiveMinimum]));
    }
    if (auto b = bound(k[Kw::kExclusiveMaximum]); b && x >= *b) {
      return fail(path, "must be < " + brief(*k[Kw::kExclusiveMaximum]));
    }
    if (auto m = bound(k[Kw::kMultipleOf]); m && *m > 0) {
      double q = x / *m;
      if (!std::isfinite(q) || std::fabs(q - std::round(q)) > 1e-9 * std::max(1.0, std::fabs(q))) {
        return fail(path, "must be a multiple of " + brief(*k[Kw::kMultipleOf]));
      }
    }
    return std::nullopt;
  }

  const json::value& root_;
};

}  // namespace

std::optional<SchemaViolation> validate(const json::value& schema, const json::value& instance) {
  Validator v(schema);
  return v.check(schema, instance, Path{}, 0);
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
