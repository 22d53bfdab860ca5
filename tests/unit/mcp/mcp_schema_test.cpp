// The JSON Schema validator on the keywords tool schemas use, and its recursion bound.
#include <gtest/gtest.h>

#include "tollgate/mcp/schema.hpp"

namespace tollgate::mcp {
namespace {

namespace json = boost::json;

std::optional<SchemaViolation> check(std::string_view schema, std::string_view instance) {
  return validate(json::parse(schema), json::parse(instance));
}

TEST(McpSchema, Types) {
  EXPECT_FALSE(check(R"({"type":"string"})", R"("x")"));
  EXPECT_TRUE(check(R"({"type":"string"})", R"(1)"));
  EXPECT_FALSE(check(R"({"type":"integer"})", R"(3)"));
  EXPECT_FALSE(check(R"({"type":"integer"})", R"(3.0)"));
  EXPECT_TRUE(check(R"({"type":"integer"})", R"(3.5)"));
  EXPECT_FALSE(check(R"({"type":"number"})", R"(3.5)"));
  EXPECT_FALSE(check(R"({"type":["string","null"]})", R"(null)"));
  EXPECT_TRUE(check(R"({"type":["string","null"]})", R"(false)"));
  EXPECT_FALSE(check(R"({"type":"boolean"})", R"(true)"));
  EXPECT_FALSE(check(R"({"type":"array"})", R"([])"));
  EXPECT_FALSE(check(R"(true)", R"({"anything":1})"));
  EXPECT_TRUE(check(R"(false)", R"(1)"));
  auto v = check(R"({"type":"object","properties":{"a":{"type":"string"}}})", R"({"a":5})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->path, "/a");
  EXPECT_EQ(v->to_string(), "/a: must be a string, not an integer");
}

TEST(McpSchema, ObjectKeywords) {
  const char* schema = R"({"type":"object","properties":{"name":{"type":"string"}},"required":["name"],
                          "additionalProperties":false,"minProperties":1,"maxProperties":2})";
  EXPECT_FALSE(check(schema, R"({"name":"x"})"));
  auto missing = check(schema, R"({})");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->to_string(), "/name: is required");
  auto extra = check(schema, R"({"name":"x","other":1})");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->path, "/other");
  EXPECT_TRUE(check(R"({"additionalProperties":{"type":"integer"}})", R"({"a":"s"})"));
  EXPECT_FALSE(check(R"({"additionalProperties":{"type":"integer"}})", R"({"a":1})"));
  EXPECT_FALSE(check(R"({"patternProperties":{"^x_":{"type":"integer"}},"additionalProperties":false})", R"({"x_a":1})"));
  EXPECT_TRUE(check(R"({"patternProperties":{"^x_":{"type":"integer"}},"additionalProperties":false})", R"({"y":1})"));
  EXPECT_TRUE(check(R"({"dependentRequired":{"a":["b"]}})", R"({"a":1})"));
  EXPECT_TRUE(check(R"({"maxProperties":1})", R"({"a":1,"b":2})"));
}

TEST(McpSchema, EnumConstAndComposition) {
  EXPECT_FALSE(check(R"({"enum":["a","b",1]})", R"(1.0)"));
  EXPECT_TRUE(check(R"({"enum":["a","b"]})", R"("c")"));
  EXPECT_FALSE(check(R"({"const":{"x":[1,2]}})", R"({"x":[1,2]})"));
  EXPECT_TRUE(check(R"({"const":{"x":[1,2]}})", R"({"x":[2,1]})"));
  EXPECT_FALSE(check(R"({"anyOf":[{"type":"string"},{"type":"integer"}]})", R"(3)"));
  EXPECT_TRUE(check(R"({"anyOf":[{"type":"string"},{"type":"integer"}]})", R"(3.5)"));
  EXPECT_FALSE(check(R"({"oneOf":[{"const":"a"},{"const":"b"}]})", R"("a")"));
  EXPECT_TRUE(check(R"({"oneOf":[{"type":"number"},{"type":"integer"}]})", R"(3)"));  // matches both
  EXPECT_TRUE(check(R"({"allOf":[{"minimum":1},{"maximum":2}]})", R"(3)"));
  EXPECT_TRUE(check(R"({"not":{"type":"string"}})", R"("s")"));
  EXPECT_TRUE(check(R"({"if":{"properties":{"a":{"const":1}}},"then":{"required":["b"]}})", R"({"a":1})"));
  EXPECT_FALSE(check(R"({"if":{"properties":{"a":{"const":1}}},"then":{"required":["b"]}})", R"({"a":2})"));
}

TEST(McpSchema, NumbersStringsArrays) {
  EXPECT_TRUE(check(R"({"minimum":1})", R"(0)"));
  EXPECT_FALSE(check(R"({"minimum":1})", R"(1)"));
  EXPECT_TRUE(check(R"({"exclusiveMinimum":1})", R"(1)"));
  EXPECT_TRUE(check(R"({"maximum":10})", R"(10.5)"));
  EXPECT_TRUE(check(R"({"exclusiveMaximum":10})", R"(10)"));
  EXPECT_FALSE(check(R"({"multipleOf":0.5})", R"(2.5)"));
  EXPECT_TRUE(check(R"({"multipleOf":2})", R"(3)"));
  EXPECT_FALSE(check(R"({"minLength":2,"maxLength":3})", R"("ab")"));
  EXPECT_TRUE(check(R"({"minLength":2})", R"("a")"));
  EXPECT_FALSE(check(R"({"maxLength":2})", R"("éé")"));  // characters, not bytes
  EXPECT_TRUE(check(R"({"maxLength":2})", R"("abc")"));
  EXPECT_FALSE(check(R"({"pattern":"^[a-z]+$"})", R"("abc")"));
  EXPECT_TRUE(check(R"({"pattern":"^[a-z]+$"})", R"("ab1")"));
  EXPECT_TRUE(check(R"({"pattern":"("})", R"("x")"));  // an invalid pattern fails closed
  EXPECT_FALSE(check(R"({"items":{"type":"integer"},"minItems":1,"maxItems":2})", R"([1,2])"));
  EXPECT_TRUE(check(R"({"items":{"type":"integer"}})", R"([1,"2"])"));
  EXPECT_TRUE(check(R"({"minItems":1})", R"([])"));
  EXPECT_TRUE(check(R"({"maxItems":1})", R"([1,2])"));
  EXPECT_TRUE(check(R"({"uniqueItems":true})", R"([1,1.0])"));
  EXPECT_FALSE(check(R"({"prefixItems":[{"type":"string"}],"items":{"type":"integer"}})", R"(["a",1,2])"));
  EXPECT_TRUE(check(R"({"prefixItems":[{"type":"string"}],"items":{"type":"integer"}})", R"(["a","b"])"));
  EXPECT_FALSE(check(R"({"contains":{"const":3}})", R"([1,3])"));
  EXPECT_TRUE(check(R"({"contains":{"const":3}})", R"([1,2])"));
}

TEST(McpSchema, PatternSubjectUpToTheLimit) {
  json::value schema = json::parse(R"({"pattern":"^a*$"})");
  EXPECT_FALSE(validate(schema, json::value(std::string(kMaxPatternSubjectBytes, 'a'))));
  EXPECT_TRUE(validate(schema, json::value(std::string(kMaxPatternSubjectBytes + 1, 'a'))));
}

TEST(McpSchema, UnevaluatedPropertiesSeeWhatSubschemasEvaluated) {
  // The 2020-12 way to close an object whose properties come from several subschemas.
  const char* closed = R"({"type":"object","properties":{"a":{}},
                          "allOf":[{"properties":{"b":{"type":"integer"}}}],
                          "unevaluatedProperties":false})";
  EXPECT_FALSE(check(closed, R"({"a":1,"b":2})"));
  auto extra = check(closed, R"({"a":1,"c":3})");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->to_string(), "/c: is not an allowed property");
  EXPECT_TRUE(check(closed, R"({"a":1,"b":"x"})"));  // b is checked by its own schema
  // A schema for the leftovers; patternProperties and additionalProperties evaluate too.
  EXPECT_FALSE(check(R"({"unevaluatedProperties":{"type":"string"}})", R"({"x":"ok"})"));
  EXPECT_TRUE(check(R"({"unevaluatedProperties":{"type":"string"}})", R"({"x":1})"));
  EXPECT_FALSE(check(R"({"patternProperties":{"^x_":{}},"unevaluatedProperties":false})", R"({"x_1":1})"));
  EXPECT_FALSE(check(R"({"additionalProperties":true,"unevaluatedProperties":false})", R"({"y":1})"));
  // Only forms that hold count: anyOf's valid branches, oneOf's one, if and then (or else).
  const char* any = R"({"anyOf":[{"properties":{"a":{"type":"string"}},"required":["a"]},
                                  {"properties":{"b":{}},"required":["b"]}],"unevaluatedProperties":false})";
  EXPECT_FALSE(check(any, R"({"a":"x","b":1})"));
  EXPECT_TRUE(check(any, R"({"a":1,"b":1})"));  // the first form fails, so "a" is not evaluated
  const char* cond = R"({"if":{"properties":{"kind":{"const":"x"}},"required":["kind"]},
                         "then":{"properties":{"x":{}}},"else":{"properties":{"y":{}}},
                         "unevaluatedProperties":false})";
  EXPECT_FALSE(check(cond, R"({"kind":"x","x":1})"));
  EXPECT_TRUE(check(cond, R"({"kind":"x","y":1})"));
  EXPECT_TRUE(check(cond, R"({"kind":"z","y":1})"));  // if fails: "kind" is not evaluated by it
  EXPECT_FALSE(check(R"({"properties":{"kind":{}},"if":{"properties":{"kind":{"const":"x"}}},"else":{"properties":{"y":{}}},
                        "unevaluatedProperties":false})", R"({"kind":"z","y":1})"));
  // An inner closed object does not close the outer one.
  EXPECT_FALSE(check(R"({"properties":{"inner":{"unevaluatedProperties":false}}})", R"({"inner":{},"other":1})"));
  EXPECT_TRUE(check(R"({"properties":{"inner":{"unevaluatedProperties":false}}})", R"({"inner":{"x":1}})"));
  // Through $ref.
  EXPECT_FALSE(check(R"({"$defs":{"base":{"properties":{"id":{}}}},"$ref":"#/$defs/base","unevaluatedProperties":false})",
                     R"({"id":1})"));
  EXPECT_TRUE(check(R"({"$defs":{"base":{"properties":{"id":{}}}},"$ref":"#/$defs/base","unevaluatedProperties":false})",
                    R"({"id":1,"more":2})"));
  // `not` evaluates nothing.
  EXPECT_TRUE(check(R"({"not":{"properties":{"a":{"type":"string"}},"required":["a"]},"unevaluatedProperties":false})",
                    R"({"a":1})"));
}

TEST(McpSchema, UnevaluatedItemsAndDependentSchemas) {
  const char* tuple = R"({"prefixItems":[{"type":"string"}],"unevaluatedItems":false})";
  EXPECT_FALSE(check(tuple, R"(["a"])"));
  auto extra = check(tuple, R"(["a",2])");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->to_string(), "/1: is not an allowed item");
  EXPECT_FALSE(check(R"({"allOf":[{"prefixItems":[{},{}]}],"unevaluatedItems":false})", R"([1,2])"));
  EXPECT_FALSE(check(R"({"contains":{"type":"string"},"unevaluatedItems":{"type":"integer"}})", R"(["a",1,"b"])"));
  EXPECT_TRUE(check(R"({"contains":{"type":"string"},"unevaluatedItems":{"type":"integer"}})", R"(["a",true])"));
  EXPECT_FALSE(check(R"({"items":{},"unevaluatedItems":false})", R"([1,2,3])"));

  const char* dependent = R"({"type":"object","dependentSchemas":{"card":{"required":["cvc"]}}})";
  EXPECT_FALSE(check(dependent, R"({"name":"x"})"));
  EXPECT_FALSE(check(dependent, R"({"card":"4111","cvc":"123"})"));
  auto missing = check(dependent, R"({"card":"4111"})");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->to_string(), "/cvc: is required");
}

TEST(McpSchema, LocalRefs) {
  const char* schema = R"({"$defs":{"address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                           "type":"object","properties":{"home":{"$ref":"#/$defs/address"}}})";
  EXPECT_FALSE(check(schema, R"({"home":{"city":"Oslo"}})"));
  auto v = check(schema, R"({"home":{}})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->path, "/home/city");
  EXPECT_FALSE(check(R"({"definitions":{"n":{"type":"integer"}},"items":{"$ref":"#/definitions/n"}})", R"([1])"));
  EXPECT_FALSE(check(R"({"$ref":"https://example.com/remote.json"})", R"(1)"));  // never fetched
}

// The JSON Pointer of a violation: array indexes, "~" and "/" in names escaped, "" at the root.
TEST(McpSchema, ViolationPathsAreJsonPointers) {
  const char* schema = R"({"type":"object","properties":{"a/b~c":{"type":"array",
                           "items":{"type":"object","required":["x/y"],"properties":{"n":{"type":"integer"}}}}}})";
  EXPECT_FALSE(check(schema, R"({"a/b~c":[{"x/y":1,"n":2}]})"));
  auto wrong_type = check(schema, R"({"a/b~c":[{"x/y":1},{"x/y":1,"n":"two"}]})");
  ASSERT_TRUE(wrong_type);
  EXPECT_EQ(wrong_type->path, "/a~1b~0c/1/n");
  auto missing = check(schema, R"({"a/b~c":[{"n":1}]})");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->path, "/a~1b~0c/0/x~1y");
  EXPECT_EQ(missing->message, "is required");
  auto unique = check(R"({"uniqueItems":true})", R"([1,2,1])");
  ASSERT_TRUE(unique);
  EXPECT_EQ(unique->path, "/2");
  auto root = check(R"({"type":"object"})", R"([])");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->path, "");
  EXPECT_EQ(root->to_string(), "(root): must be an object, not an array");
}

// Compiled patterns are cached per thread (64 of them): more patterns than that, each used
// twice, and an invalid one asked again, all still answer as if compiled afresh.
TEST(McpSchema, PatternsBeyondTheCacheStillMatchCorrectly) {
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 100; ++i) {
      std::string schema = R"({"pattern":"^p)" + std::to_string(i) + R"(x$"})";
      EXPECT_FALSE(check(schema, "\"p" + std::to_string(i) + "x\"")) << i;
      EXPECT_TRUE(check(schema, "\"p" + std::to_string(i) + "y\"")) << i;
    }
    auto invalid = check(R"({"pattern":"(["})", R"("x")");
    ASSERT_TRUE(invalid);
    EXPECT_EQ(invalid->message, "the schema's pattern cannot be evaluated");
  }
}

TEST(McpSchema, RecursionIsBounded) {
  // A schema that refers to itself forever is an error, not a stack overflow.
  auto v = check(R"({"$ref":"#"})", R"(1)");
  ASSERT_TRUE(v);
  EXPECT_NE(v->message.find("depth"), std::string::npos);
  // Nesting up to the limit is fine, one more level is reported.
  auto nested = [](int levels) {
    json::value schema = json::object{{"type", "string"}};
    json::value instance = "x";
    for (int i = 0; i < levels; ++i) {
      schema = json::object{{"items", schema}};
      instance = json::array{instance};
    }
    return std::make_pair(schema, instance);
  };
  auto [fits, fits_instance] = nested(kMaxSchemaDepth);
  EXPECT_FALSE(validate(fits, fits_instance));
  auto [deep, deep_instance] = nested(kMaxSchemaDepth + 1);
  EXPECT_TRUE(validate(deep, deep_instance));
}

TEST(McpSchema, ObjectSchemaCheck) {
  EXPECT_TRUE(check_object_schema(json::parse(R"({"type":"object"})")).ok());
  EXPECT_FALSE(check_object_schema(json::parse(R"({"type":"string"})")).ok());
  EXPECT_FALSE(check_object_schema(json::parse(R"([])")).ok());
}

}  // namespace
}  // namespace tollgate::mcp
