// JSON-RPC decoding and encoding: valid shapes, every kind of invalid input, and one past each
// decoder limit (batch size, nesting depth, id length).
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <thread>
#include <vector>

#include "mcp/message_arena.hpp"
#include "tollgate/mcp/json_rpc.hpp"
#include "tollgate/mcp/server.hpp"

namespace tollgate::mcp {
namespace {

TEST(McpJsonRpc, DecodesEachKind) {
  auto r = decode(R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":"x"}})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].kind, MessageKind::kRequest);
  EXPECT_EQ(r.messages[0].id, RequestId(7));
  EXPECT_EQ(r.messages[0].method, "tools/list");
  EXPECT_EQ(r.messages[0].params.at("cursor").as_string(), "x");

  r = decode(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.messages[0].kind, MessageKind::kNotification);
  EXPECT_TRUE(r.messages[0].params.empty());

  r = decode(R"({"jsonrpc":"2.0","id":"abc","result":{}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.messages[0].kind, MessageKind::kResult);
  EXPECT_EQ(r.messages[0].id, RequestId(std::string("abc")));

  r = decode(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad","data":{"x":1}}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.messages[0].kind, MessageKind::kError);
  EXPECT_TRUE(r.messages[0].id_null);
  EXPECT_EQ(r.messages[0].error.code, -32600);
  EXPECT_EQ(r.messages[0].error.data.at("x").as_int64(), 1);
}

TEST(McpJsonRpc, InvalidJsonIsAParseError) {
  for (const char* text : {"", "{", "not json", "{\"jsonrpc\":\"2.0\",}", "\xff\xfe"}) {
    auto r = decode(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error->error.code, rpc::kParseError) << text;
    EXPECT_FALSE(r.error->id.has_value());
  }
}

TEST(McpJsonRpc, WrongShapesAreInvalidRequests) {
  const char* cases[] = {
      R"(42)",
      R"("hello")",
      R"({"id":1,"method":"ping"})",                                    // no jsonrpc
      R"({"jsonrpc":"1.0","id":1,"method":"ping"})",                    // wrong version
      R"({"jsonrpc":"2.0","id":1})",                                    // nothing to do
      R"({"jsonrpc":"2.0","id":1,"method":5})",                         // method not a string
      R"({"jsonrpc":"2.0","id":1,"method":""})",                        // empty method
      R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]})",     // params not an object
      R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",                  // fractional id
      R"({"jsonrpc":"2.0","id":{},"method":"ping"})",                   // object id
      R"({"jsonrpc":"2.0","id":1,"method":"ping","result":{}})",        // both
      R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}})",
      R"({"jsonrpc":"2.0","result":{}})",                               // result without id
      R"({"jsonrpc":"2.0","id":1,"error":"boom"})",                     // error not an object
      R"({"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}})",  // code not an integer
      R"([])",                                                          // empty batch
  };
  for (const char* text : cases) {
    auto r = decode(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error->error.code, rpc::kInvalidRequest) << text;
  }
}

TEST(McpJsonRpc, InvalidRequestKeepsTheIdWhenUsable) {
  auto r = decode(R"({"jsonrpc":"2.0","id":9,"method":7})");
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(r.error->id.has_value());
  EXPECT_EQ(*r.error->id, RequestId(9));
}

TEST(McpJsonRpc, BatchesUpToTheLimit) {
  auto batch = [](std::size_t n) {
    std::string text = "[";
    for (std::size_t i = 0; i < n; ++i) {
      if (i) text += ",";
      text += R"({"jsonrpc":"2.0","id":)" + std::to_string(i) + R"(,"method":"ping"})";
    }
    return text + "]";
  };
  auto ok = decode(batch(kMaxBatchMessages));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok.batch);
  EXPECT_EQ(ok.messages.size(), kMaxBatchMessages);

  auto over = decode(batch(kMaxBatchMessages + 1));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error->error.code, rpc::kInvalidRequest);

  auto refused = decode(batch(1), /*allow_batch=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error->error.code, rpc::kInvalidRequest);
}

TEST(McpJsonRpc, NestingUpToTheLimit) {
  auto nested = [](std::size_t depth) {
    // The message object itself and params are two levels.
    std::string inner;
    for (std::size_t i = 0; i < depth - 2; ++i) inner += "[";
    for (std::size_t i = 0; i < depth - 2; ++i) inner += "]";
    return R"({"jsonrpc":"2.0","method":"x","params":{"a":)" + inner + "}}";
  };
  EXPECT_TRUE(decode(nested(kMaxJsonDepth)).ok());
  auto over = decode(nested(kMaxJsonDepth + 1));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error->error.code, rpc::kParseError);
}

TEST(McpJsonRpc, StringIdsUpToTheLimit) {
  auto with_id = [](std::size_t n) { return R"({"jsonrpc":"2.0","id":")" + std::string(n, 'a') + R"(","method":"ping"})"; };
  EXPECT_TRUE(decode(with_id(kMaxIdBytes)).ok());
  auto over = decode(with_id(kMaxIdBytes + 1));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error->error.code, rpc::kInvalidRequest);
}

TEST(McpJsonRpc, IntegerIdsBeyondInt64AreRejected) {
  EXPECT_TRUE(decode(R"({"jsonrpc":"2.0","id":9223372036854775807,"method":"ping"})").ok());
  EXPECT_FALSE(decode(R"({"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"})").ok());
}

TEST(McpJsonRpc, EncodesCompactlyWithoutNewlines) {
  Message m = Message::request(3, "tools/call", json::object{{"text", "line1\nline2"}});
  std::string text = encode(m);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto back = decode(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.messages[0].params.at("text").as_string(), "line1\nline2");

  EXPECT_EQ(encode(Message::failure(std::nullopt, rpc::kParseError, "bad")),
            R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}})");
  EXPECT_EQ(encode(Message::response(RequestId(std::string("x")), json::object{})), R"({"jsonrpc":"2.0","id":"x","result":{}})");
  EXPECT_EQ(encode_batch({Message::notification("a"), Message::notification("b")}),
            R"([{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}])");
}

TEST(McpJsonRpc, EncodesStringIdsAndMethodsThatNeedEscaping) {
  Message m = Message::request(RequestId(std::string("a\"b\\c\n\x01")), "tools/\"call\"\t");
  std::string text = encode(m);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto back = decode(text);
  ASSERT_TRUE(back.ok()) << text;
  EXPECT_EQ(back.messages[0].id, RequestId(std::string("a\"b\\c\n\x01")));
  EXPECT_EQ(back.messages[0].method, "tools/\"call\"\t");
  EXPECT_EQ(encode(Message::response(RequestId(-42), json::value(nullptr))), R"({"jsonrpc":"2.0","id":-42,"result":{}})");
}

// A decoded message's values live in its arena: past the first block (a 100 KB argument),
// through moves of the message, and after the decoder's own values are gone.
TEST(McpJsonRpc, ADecodedMessagesValuesOutliveItsMovesAndSpillPastTheFirstBlock) {
  const std::string big(100'000, 'x');
  std::string text = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"big":")" + big +
                     R"(","list":[1,2,{"deep":"value that is longer than a small string"}]}}})";
  std::vector<Message> kept;
  {
    Decoded decoded = decode(text);
    ASSERT_TRUE(decoded.ok());
    Message moved(std::move(decoded.messages[0]));
    kept.push_back(std::move(moved));
  }
  kept.reserve(16);  // moves the message again
  const json::object& args = kept[0].params.at("arguments").as_object();
  EXPECT_EQ(args.at("big").as_string(), big);
  EXPECT_EQ(args.at("list").as_array()[2].as_object().at("deep").as_string(), "value that is longer than a small string");
  auto again = decode(encode(kept[0]));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.messages[0].params, kept[0].params);
}

// Copies of a value are made where the value lives, so two threads copying one message's
// arguments allocate in one arena at once.
TEST(McpJsonRpc, ArgumentsCopiedOnTwoThreadsAtOnceComeOutWhole) {
  Decoded decoded = decode(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":)"
                           R"({"city":"a city with a long enough name","days":[1,2,3],"units":{"temperature":"celsius"}}}})");
  ASSERT_TRUE(decoded.ok());
  const json::value& args = decoded.messages[0].params.at("arguments");
  const std::string expected = json::serialize(args);
  constexpr int kCopies = 20'000;  // each thread's; they stay in the arena until the message goes
  std::atomic<int> ready{0}, whole{0};
  auto copy_many = [&] {
    ++ready;
    while (ready.load() < 2) {
    }
    for (int i = 0; i < kCopies; ++i) {
      json::value copy(args);
      if (json::serialize(copy) == expected) ++whole;
    }
  };
  std::thread a(copy_many), b(copy_many);
  a.join();
  b.join();
  EXPECT_EQ(whole.load(), 2 * kCopies);
}

// Messages made from arena values take the arena along instead of copying out of it; a
// value moved by assignment into another resource would be copied.
TEST(McpJsonRpc, MessagesAndToolResultsKeepTheArenaTheirValuesWereMadeIn) {
  json::storage_ptr arena = make_message_arena();
  json::value result(json::object({{"k", "a value longer than a short string"}}, arena));
  Message response = Message::response(1, std::move(result));
  EXPECT_EQ(response.result.storage().get(), arena.get());
  Message request = Message::request(2, "m", json::object({{"k", "v"}}, arena));
  EXPECT_EQ(request.params.storage().get(), arena.get());
  Message failure = Message::failure(3, RpcError{1, "x", json::value(json::object({{"k", "v"}}, arena))});
  EXPECT_EQ(failure.error.data.storage().get(), arena.get());

  json::object text = ToolResult::text("hello").to_json();
  EXPECT_NE(text.storage().get(), json::storage_ptr().get());
  EXPECT_EQ(text.at("content").as_array()[0].as_object().at("text").as_string(), "hello");
  EXPECT_EQ(json::serialize(text), R"({"content":[{"type":"text","text":"hello"}]})");
}

}  // namespace
}  // namespace tollgate::mcp
