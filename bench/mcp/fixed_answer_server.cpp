// fixed_answer_server: the ceiling of bench/mcp/run.sh on the machine it runs on. It reads
// HTTP requests and answers every one with the same bytes that conformance_server sends for
// a tools/call of test_simple_text in SSE mode, and does nothing else: no HTTP parsing
// beyond finding where a request ends, no JSON, no sessions, no MCP. One thread, epoll,
// plain POSIX sockets.
//
// What it measures is what the load tool and the kernel's loopback TCP cost per call on
// this machine, where wrk and the server share the cores: no server can answer this load
// faster. run.sh sets both MCP servers against it, so a ratio to the TS SDK can be read
// against the most any server could reach here.
//
// Usage: fixed_answer_server   (prints "listening on http://127.0.0.1:PORT"; stop it with a signal)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

// conformance_server's answer in SSE mode (the session id and event ids have the same
// lengths as its own), so both write the same number of bytes per call.
constexpr std::string_view kEvents =
    "id: 2_0\nretry: 1000\ndata: \n\n"
    "id: 2_1\nevent: message\n"
    "data: {\"jsonrpc\":\"2.0\",\"id\":\"t1-12345\",\"result\":{\"content\":[{\"type\":\"text\","
    "\"text\":\"This is a simple text response for testing.\"}]}}\n\n";

std::string make_answer() {
  char size[16];
  int n = std::snprintf(size, sizeof size, "%zx", kEvents.size());
  return std::string(
             "HTTP/1.1 200 OK\r\n"
             "Content-Type: text/event-stream\r\n"
             "Cache-Control: no-cache, no-transform\r\n"
             "X-Accel-Buffering: no\r\n"
             "Mcp-Session-Id: 38cf97e7e0e906bf3b6fa38ea3fc8e58\r\n"
             "Transfer-Encoding: chunked\r\n\r\n") +
         std::string(size, n) + "\r\n" + std::string(kEvents) + "\r\n0\r\n\r\n";
}

// Where the first complete request in `in` ends (its head and Content-Length bytes of body),
// or npos while it is incomplete. Header names are matched as wrk and curl spell them.
std::size_t request_end(std::string_view in) {
  std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return std::string_view::npos;
  std::string_view head = in.substr(0, head_end);
  std::size_t body = 0;
  if (std::size_t at = head.find("\r\nContent-Length: "); at != std::string_view::npos) {
    std::string_view digits = head.substr(at + 18);
    std::from_chars(digits.data(), digits.data() + digits.size(), body);
  }
  std::size_t end = head_end + 4 + body;
  return end <= in.size() ? end : std::string_view::npos;
}

}  // namespace

int main() {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("fixed_answer_server: listen");
    return 1;
  }
  std::printf("listening on http://127.0.0.1:%u\n", ntohs(address.sin_port));
  std::fflush(stdout);

  const std::string answer = make_answer();
  int poller = epoll_create1(0);
  epoll_event event{.events = EPOLLIN, .data = {.fd = listener}};
  epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
  std::unordered_map<int, std::string> pending;  // bytes of a request not yet complete, per connection
  std::array<epoll_event, 256> ready;
  std::array<char, 65536> buffer;
  for (;;) {
    int count = epoll_wait(poller, ready.data(), ready.size(), -1);
    for (int i = 0; i < count; ++i) {
      int fd = ready[i].data.fd;
      if (fd == listener) {
        for (int client; (client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event added{.events = EPOLLIN, .data = {.fd = client}};
          epoll_ctl(poller, EPOLL_CTL_ADD, client, &added);
        }
        continue;
      }
      ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
      if (got <= 0) {
        pending.erase(fd);
        close(fd);  // also takes it out of the epoll set
        continue;
      }
      std::string& in = pending[fd];
      in.append(buffer.data(), static_cast<std::size_t>(got));
      // wrk sends one request at a time per connection, so a read holds at most one and the
      // answer (a few hundred bytes) fits the socket's buffer: one send, never partial here.
      for (std::size_t end; (end = request_end(in)) != std::string_view::npos;) {
        in.erase(0, end);
        send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
      }
    }
  }
}
