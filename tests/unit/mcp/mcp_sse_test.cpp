// The client's SSE parser: fields, line endings, chunk boundaries, comments, the size bound.
#include <gtest/gtest.h>

#include "mcp/sse.hpp"

namespace tollgate::mcp::detail {
namespace {

TEST(McpSse, ParsesEventsAcrossChunks) {
  SseParser parser(1 << 20);
  std::vector<SseEvent> events;
  std::string text = ": keepalive\n\nid: 1_0\nretry: 500\ndata: \n\nid: 1_1\nevent: message\ndata: {\"a\":1}\n\n";
  for (char c : text) ASSERT_TRUE(parser.feed(std::string_view(&c, 1), events));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, "1_0");
  EXPECT_EQ(events[0].retry_ms, 500);
  EXPECT_EQ(events[0].data, "");
  EXPECT_EQ(events[1].id, "1_1");
  EXPECT_EQ(events[1].event, "message");
  EXPECT_EQ(events[1].data, "{\"a\":1}");
}

TEST(McpSse, LineEndingsAndMultilineData) {
  SseParser parser(1 << 20);
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.feed("data: a\r\ndata: b\r\n\r\ndata:c\rdata: d\r", events));
  ASSERT_TRUE(parser.feed("\n", events));  // a \r\n split across chunks is one line end
  ASSERT_TRUE(parser.feed("\n", events));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a\nb");
  EXPECT_EQ(events[1].data, "c\nd");
}

TEST(McpSse, EventSizeUpToTheLimit) {
  std::vector<SseEvent> events;
  SseParser ok(16);
  EXPECT_TRUE(ok.feed("data: 0123456789\n\n", events));  // 16 bytes of field text
  SseParser over(16);
  EXPECT_FALSE(over.feed("data: 01234567890\n\n", events));
}

}  // namespace
}  // namespace tollgate::mcp::detail
