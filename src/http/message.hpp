// Request and response as plain values: handlers, the router and the MCP transports work on
// these and never see Beast, which stays inside server.cpp and client.cpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"

namespace tollgate::http {

struct Header {
  std::string name;
  std::string value;
};

// Case-insensitive names, insertion order kept (Set-Cookie may repeat).
class Headers {
 public:
  std::optional<std::string_view> get(std::string_view name) const;
  void set(std::string name, std::string value);  // replaces every header of that name
  void add(std::string name, std::string value);
  void reserve(std::size_t n) { items_.reserve(n); }
  const std::vector<Header>& all() const { return items_; }

 private:
  static constexpr std::size_t kTypicalCount = 4;
  std::vector<Header> items_;
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
