// Incremental Server-Sent Events parser (WHATWG "event stream interpretation"), for the MCP
// client: fields data/id/event/retry, comments, any of \n, \r\n, \r as line ends, and a bound
// on one event's size.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::mcp::detail {

struct SseEvent {
  std::string event;               // "" means "message"
  std::string data;                // data lines joined with '\n'
  std::optional<std::string> id;   // set when the event carried an id field
  std::optional<int> retry_ms;
};

class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}
  // Parses `chunk`; complete events (also those with only an id or retry) go to `out`.
  // False once an event grew past the limit: the stream should be dropped.
  bool feed(std::string_view chunk, std::vector<SseEvent>& out);

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);

  std::size_t max_event_bytes_;
  std::string line_;
  bool skip_lf_ = false;   // the previous chunk ended with '\r'
  bool started_ = false;   // a field was seen since the last dispatch
  bool has_data_ = false;
  bool bom_checked_ = false;
  std::size_t event_bytes_ = 0;
  SseEvent current_;
};

}  // namespace tollgate::mcp::detail
