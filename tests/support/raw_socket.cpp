// POSIX sockets with poll() deadlines; no Asio, so the tests control every byte and every
// pause themselves.
#include "support/raw_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace tollgate::test {

std::uint16_t port_of(const std::string& url) {
  auto colon = url.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

RawSocket::RawSocket(std::uint16_t port, bool must_connect) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) {
    ADD_FAILURE() << "socket: " << std::strerror(errno);
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (must_connect) ADD_FAILURE() << "connect to port " << port << ": " << std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
  }
}

RawSocket::~RawSocket() { close(); }

void RawSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawSocket::send(const std::string& bytes) {
  if (fd_ < 0) return false;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

namespace {

// Reads what is available within `remaining`; false when the peer closed.
bool read_some(int fd, std::string& into, std::chrono::milliseconds remaining, bool& timed_out) {
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, remaining.count())));
  if (ready == 0) {
    timed_out = true;
    return true;
  }
  if (ready < 0) return errno == EINTR;
  char buf[8192];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  if (n <= 0) return n < 0 && errno == EINTR;  // 0: EOF; <0: reset
  into.append(buf, static_cast<std::size_t>(n));
  return true;
}

// Length of the first complete response in `data`, or 0.
std::size_t complete_response_length(const std::string& data) {
  auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  std::size_t header_end = end + 4;
  std::size_t length = 0;
  std::string lower = data.substr(0, header_end);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto cl = lower.find("\r\ncontent-length:");
  if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 17));
  if (data.size() < header_end + length) return 0;
  return header_end + length;
}

}  // namespace

RawSocket::ReadResult RawSocket::read_until_close(std::chrono::milliseconds timeout) {
  ReadResult r;
  r.data = std::move(pending_);
  pending_.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fd_ >= 0) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) break;
    bool timed_out = false;
    if (!read_some(fd_, r.data, remaining, timed_out)) {
      r.closed = true;
      break;
    }
    if (timed_out) break;
  }
  return r;
}

RawSocket::ReadResult RawSocket::read_response(std::chrono::milliseconds timeout) {
  ReadResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string data = std::move(pending_);
  pending_.clear();
  for (;;) {
    if (std::size_t n = complete_response_length(data)) {
      r.data = data.substr(0, n);
      pending_ = data.substr(n);
      return r;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0 || fd_ < 0) break;
    bool timed_out = false;
    if (!read_some(fd_, data, remaining, timed_out)) {
      r.closed = true;
      break;
    }
    if (timed_out) break;
  }
  r.data = std::move(data);
  return r;
}

unsigned status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return static_cast<unsigned>(std::atoi(response.substr(9, 3).c_str()));
}

std::string body_of(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace tollgate::test
