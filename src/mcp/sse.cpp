// Server-Sent Events parsing.
#include "mcp/sse.hpp"

#include <charconv>

namespace tollgate::mcp::detail {

bool SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
  if (!bom_checked_ && !chunk.empty()) {
    bom_checked_ = true;
    if (chunk.starts_with("\xEF\xBB\xBF")) chunk.remove_prefix(3);
  }
  for (char c : chunk) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      line(line_, out);
      line_.clear();
      continue;
    }
    line_.push_back(c);
    if (++event_bytes_ > max_event_bytes_) return false;
  }
  return true;
}

void SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    if (started_) {
      if (!has_data_) current_.data.clear();
      out.push_back(std::move(current_));
    }
    current_ = SseEvent{};
    started_ = false;
    has_data_ = false;
    event_bytes_ = 0;
    return;
  }
  if (text.front() == ':') return;  // comment (keep-alive)
  std::size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
    started_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id = std::string(value);
    started_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
    started_ = true;
  } else if (field == "retry") {
    int ms = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec == std::errc{} && ptr == value.data() + value.size() && ms >= 0) current_.retry_ms = ms;
    started_ = true;
  }
}

}  // namespace tollgate::mcp::detail
