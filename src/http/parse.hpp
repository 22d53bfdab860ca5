// Parsing bytes the connection already holds, for the server and the client alike.
// Internal to src/http (it brings Beast).
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <cstddef>

namespace tollgate::http {

// Reads are made in pieces of this size.
inline constexpr std::size_t kReadChunkBytes = 8192;

// Feeds the buffered bytes to `parser` until it has the header (`whole_message` false) or the
// whole message. Returns true when it needs more bytes from the socket; on false, `ec` holds
// the parse error if there was one. `used` adds up the bytes consumed.
//
// Why not Beast's async_read_header/async_read: those composed operations cost a few
// thousand instructions per message in executor and work-guard bookkeeping, and when the
// bytes are already buffered (a request arrives in one segment) each ends in a post to the
// io_context: two scheduler round trips per request on the server.
template <bool isRequest>
bool feed(boost::beast::http::basic_parser<isRequest>& parser, boost::beast::flat_buffer& buffer, bool whole_message,
          boost::beast::error_code& ec, std::size_t& used) {
  for (;;) {
    if (buffer.size() == 0) return true;
    std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    used += n;
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
      return true;
    }
    if (ec) return false;
    if (whole_message ? parser.is_done() : parser.is_header_done()) return false;
    if (n == 0) return true;
  }
}

}  // namespace tollgate::http
