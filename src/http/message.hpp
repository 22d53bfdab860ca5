// Request and response as plain values: handlers, the router and the MCP transports work on
// these and never see Beast, which stays inside server.cpp and client.cpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"

namespace tollgate::http {

// One header, as views into the Headers it was read from (valid until that changes).
struct Header {
  std::string_view name;
  std::string_view value;
};

// Case-insensitive names, insertion order kept (Set-Cookie may repeat). Every name and
// value is in one string, each header as [name size][value size][name][value]: a
// request's headers cost one allocation, not one per name and value, and the object stays
// small (it is in every request and response, and they are in coroutine frames).
class Headers {
 public:
  class Iterator {
   public:
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(const std::string* text, std::size_t at) : text_(text), at_(at) {}
    Header operator*() const { return entry_at(*text_, at_); }
    Iterator& operator++() {
      Header h = entry_at(*text_, at_);
      at_ += kEntryHead + h.name.size() + h.value.size();
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.at_ == b.at_; }

   private:
    const std::string* text_ = nullptr;
    std::size_t at_ = 0;
  };

  std::optional<std::string_view> get(std::string_view name) const;
  void set(std::string_view name, std::string_view value);  // replaces every header of that name
  void add(std::string_view name, std::string_view value);
  // Room for `bytes` of names and values.
  void reserve(std::size_t bytes) { text_.reserve(bytes + 8 * kEntryHead); }
  std::size_t size() const { return count_; }
  Iterator begin() const { return {&text_, 0}; }
  Iterator end() const { return {&text_, text_.size()}; }

 private:
  static constexpr std::size_t kEntryHead = 2 * sizeof(std::uint32_t);  // the two sizes
  static constexpr std::size_t kTypicalBytes = 128;                    // a response's few headers
  static Header entry_at(const std::string& text, std::size_t at) {
    std::uint32_t sizes[2];
    std::memcpy(sizes, text.data() + at, sizeof sizes);
    const char* name = text.data() + at + kEntryHead;
    return {std::string_view(name, sizes[0]), std::string_view(name + sizes[0], sizes[1])};
  }

  std::string text_;
  std::uint32_t count_ = 0;
};

struct Request {
  std::string method;     // "GET", "POST", ...
  std::string target;     // path and query as received
  std::string path;       // percent-decoded path without the query
  std::string query;      // raw query string without '?'
  Headers headers;
  std::string body;
  std::string remote_address;
  bool tls = false;
  // Filled in by the router: the matched pattern ("/api/v1/keys/{id}") and its parameters.
  std::string route;
  std::unordered_map<std::string, std::string> params;

  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  // Percent-decoded query parameter, or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;
  // Value of cookie `name`, or nullopt.
  std::optional<std::string> cookie(std::string_view name) const;
};

// Sink for a streamed (chunked) response body, e.g. Server-Sent Events. The response's
// header goes out with the first write, and `finish` ends the body in the same write as its
// last chunk: a stream answered at once (the common SSE case) is one segment on the wire,
// not three.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends one chunk; an empty one sends only what is pending (the header). False once the
  // peer is gone or the server is stopping.
  virtual boost::asio::awaitable<bool> write(std::string_view chunk) = 0;
  // Sends `last_chunk` (may be empty) and ends the body; nothing can be written after it.
  virtual boost::asio::awaitable<bool> finish(std::string_view last_chunk) = 0;
  virtual bool open() const = 0;
};

struct Response {
  unsigned status = 200;
  Headers headers;
  std::string body;
  // When set, the body is produced by this coroutine and sent chunked; `body` is ignored.
  std::function<boost::asio::awaitable<void>(StreamWriter&)> stream;
  // Close the connection after this response (also done on errors that leave the request
  // body unread).
  bool close = false;

  static Response json(unsigned status, const boost::json::value& body);
  static Response text(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  // `{"error": {"code": ..., "message": ...}}` with the code's HTTP status.
  static Response error(ErrorCode code, std::string_view message);
  static Response error(const Error& error) { return Response::error(error.code, error.message); }
  static Response no_content();
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Appends "name: value\r\n" to a message head being written by hand (server responses,
// client requests). A CR or LF in either becomes a space: text from anywhere upstream must
// not end the line and start a header of its own.
void append_header_line(std::string& head, std::string_view name, std::string_view value);

// Percent-decoding for paths and query values ('+' is a space only in queries).
std::string percent_decode(std::string_view text, bool plus_is_space);
std::string percent_encode(std::string_view text);

}  // namespace tollgate::http
