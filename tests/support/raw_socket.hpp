// A blocking TCP client with byte-level control for tests of the HTTP server's limits:
// send exactly these bytes, read what comes back until a deadline, see when the peer closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tollgate::test {

// "http://127.0.0.1:PORT" -> PORT.
std::uint16_t port_of(const std::string& url);

class RawSocket {
 public:
  // Connects to 127.0.0.1:port. If it cannot, is_open() is false and, unless
  // `must_connect` is false (a test that expects a refusal), the test fails.
  explicit RawSocket(std::uint16_t port, bool must_connect = true);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool is_open() const { return fd_ >= 0; }
  // False once the peer has closed (EPIPE/ECONNRESET).
  bool send(const std::string& bytes);

  struct ReadResult {
    std::string data;    // everything received
    bool closed = false; // the peer closed (EOF or reset) before the deadline
  };
  // Reads until the peer closes or the deadline passes.
  ReadResult read_until_close(std::chrono::milliseconds timeout);
  // Reads one complete HTTP response (headers plus Content-Length body) or until the
  // deadline/close; the response text is returned without consuming more.
  ReadResult read_response(std::chrono::milliseconds timeout);

  void close();

 private:
  int fd_ = -1;
  std::string pending_;  // received bytes not yet returned
};

// Status code of a raw HTTP response ("HTTP/1.1 413 ..." -> 413), 0 if none.
unsigned status_of(const std::string& response);
// Body of a raw HTTP response (after the blank line).
std::string body_of(const std::string& response);

}  // namespace tollgate::test
