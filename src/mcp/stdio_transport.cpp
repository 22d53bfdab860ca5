// stdio server transport: one JSON-RPC message per line on stdin/stdout. A reader thread
// (poll + read, so any kind of stdin works: pipe, file, terminal) hands lines to the
// io_context; a writer thread drains the output queue with blocking writes, so a slow
// client never stalls request handling. Logs belong on stderr (init_logging).
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <thread>

#include "common/log.hpp"
#include "mcp/server_session.hpp"
#include "tollgate/mcp/transport.hpp"

namespace tollgate::mcp {
namespace asio = boost::asio;
using detail::ServerSession;

namespace {

constexpr std::size_t kReadChunkBytes = 64 << 10;

// Blocking writes of whole lines, in order, from a queue; bounded for notifications.
class LineWriter {
 public:
  LineWriter(int fd, std::size_t max_queued_bytes) : fd_(fd), max_bytes_(max_queued_bytes), thread_([this] { run(); }) {}
  ~LineWriter() { finish(); }

  // Responses are always queued; other messages are dropped past the limit.
  void push(std::string line, bool must_send) {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (!must_send && queued_bytes_ + line.size() > max_bytes_) {
      ++dropped_;
      return;
    }
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
    wake_.notify_one();
  }

  // Writes what is queued, then ends the thread.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    for (;;) {
      std::string line;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        line = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= line.size();
      }
      if (!write_all(line)) {
        std::lock_guard lock(mutex_);
        queue_.clear();
        queued_bytes_ = 0;
        stopping_ = true;  // the reader of our stdout is gone
        return;
      }
    }
  }

  bool write_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          pollfd p{fd_, POLLOUT, 0};
          ::poll(&p, 1, -1);
          continue;
        }
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  int fd_;
  std::size_t max_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;  // guarded by mutex_
  std::size_t queued_bytes_ = 0;   // guarded by mutex_
  std::size_t dropped_ = 0;        // guarded by mutex_
  bool stopping_ = false;          // guarded by mutex_
  std::thread thread_;
};

class StdioOutput final : public detail::SessionOutput {
 public:
  explicit StdioOutput(LineWriter& writer) : writer_(writer) {}

  void send(const Message& message, const RequestId*) override { writer_.push(encode(message) + "\n", false); }

  void respond(const RequestId&, const std::optional<Message>& response) override {
    if (response) writer_.push(encode(*response) + "\n", true);
    std::function<void()> idle;
    {
      std::lock_guard lock(mutex_);
      if (outstanding_ > 0) --outstanding_;
      if (outstanding_ == 0) idle = on_idle_;
    }
    if (idle) idle();
  }

  void started() {
    std::lock_guard lock(mutex_);
    ++outstanding_;
  }

  // Calls `callback` now if no request is running, else after the last one answers.
  void when_idle(std::function<void()> callback) {
    {
      std::lock_guard lock(mutex_);
      if (outstanding_ > 0) {
        on_idle_ = std::move(callback);
        return;
      }
    }
    callback();
  }

 private:
  LineWriter& writer_;
  std::mutex mutex_;
  std::size_t outstanding_ = 0;    // guarded by mutex_
  std::function<void()> on_idle_;  // guarded by mutex_
};

// Reads lines on its own thread until end of input or stop().
class LineReader {
 public:
  using OnLine = std::function<void(std::string line, bool too_long)>;
  LineReader(int fd, std::size_t max_line_bytes, OnLine on_line, std::function<void()> on_end)
      : fd_(fd), max_(max_line_bytes), on_line_(std::move(on_line)), on_end_(std::move(on_end)) {
    if (::pipe(wake_) != 0) wake_[0] = wake_[1] = -1;
    thread_ = std::thread([this] { run(); });
  }
  ~LineReader() {
    stop();
    if (thread_.joinable()) thread_.join();
    if (wake_[0] >= 0) ::close(wake_[0]);
    if (wake_[1] >= 0) ::close(wake_[1]);
  }
  void stop() {
    if (wake_[1] >= 0) {
      char c = 1;
      ssize_t ignored = ::write(wake_[1], &c, 1);
      (void)ignored;
    }
  }

 private:
  void run() {
    std::string line;
    bool discarding = false;
    std::vector<char> buffer(kReadChunkBytes);
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int r = ::poll(fds, wake_[0] >= 0 ? 2 : 1, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || (fds[1].revents & POLLIN)) return;
      ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
      while (!chunk.empty()) {
        std::size_t nl = chunk.find('\n');
        std::string_view piece = chunk.substr(0, nl);
        if (!discarding) {
          if (line.size() + piece.size() > max_) {
            discarding = true;  // answered once, at the end of the line
            line.clear();
          } else {
            line.append(piece);
          }
        }
        if (nl == std::string_view::npos) break;
        chunk.remove_prefix(nl + 1);
        if (discarding) {
          on_line_(std::string(), true);
          discarding = false;
        } else {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          on_line_(std::move(line), false);
          line.clear();
        }
      }
    }
    if (discarding) {
      on_line_(std::string(), true);
    } else if (!line.empty()) {
      on_line_(std::move(line), false);  // a last line without newline still counts
    }
    on_end_();
  }

  int fd_;
  std::size_t max_;
  OnLine on_line_;
  std::function<void()> on_end_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

int serve_stdio(Server& server, StdioOptions options) {
  // A client that closed our stdout is an EPIPE error for the writer, not SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  // stdout carries the protocol: a log line there would break the client. spdlog's own
  // default logger writes to stdout, so a program that never set up logging gets ours
  // (stderr, warnings and worse); a logger the program installed is left alone.
  if (spdlog::default_logger()->name().empty()) init_logging("warn");
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  LineWriter writer(options.output_fd, options.max_queued_bytes);
  auto output = std::make_shared<StdioOutput>(writer);
  auto session = ServerSession::create(server.core(), output);

  auto info = std::make_shared<RequestInfo>();
  info->transport = RequestInfo::Transport::kStdio;
  if (const char* token = std::getenv("AGENT_TOKEN"); token && *token) info->bearer_token = std::string(token);
  // On stderr, which a desktop client keeps as the server's log: what serves, and whether an
  // agent key came with it (never the key).
  spdlog::info("mcp stdio: serving {} {} on stdin/stdout, {}", server.info().name, server.info().version,
               info->bearer_token ? "with the agent key in AGENT_TOKEN" : "without AGENT_TOKEN");

  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::atomic<bool> shutting_down{false};
  auto shutdown = [&] {
    if (shutting_down.exchange(true)) return;
    asio::post(io, [&] {
      session->close();
      boost::system::error_code ignored;
      signals.cancel(ignored);
      work.reset();  // run() returns once the handlers still running are done
    });
  };
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) shutdown();
  });

  auto executor = io.get_executor();
  auto on_line = [&, executor](std::string line, bool too_long) {
    asio::post(executor, [&, line = std::move(line), too_long, executor]() mutable {
      if (shutting_down) return;
      if (too_long) {
        spdlog::warn("mcp stdio: an input line exceeds {} bytes; answered with a parse error", options.max_line_bytes);
        writer.push(encode(Message::failure(std::nullopt, rpc::kParseError,
                                            "Parse error: the line exceeds " + std::to_string(options.max_line_bytes) + " bytes")) +
                        "\n",
                    true);
        return;
      }
      if (blank(line)) return;
      bool batches = session->initialized() && session->protocol_version() == "2025-03-26";
      Decoded decoded = decode(line, batches);
      if (!decoded.ok()) {
        spdlog::warn("mcp stdio: an input line is not a valid message: {}", decoded.error->error.message);
        writer.push(encode(Message::failure(decoded.error->id, decoded.error->error)) + "\n", true);
        return;
      }
      for (auto& m : decoded.messages) {
        if (m.is_request()) output->started();
        session->receive(std::move(m), info, executor);
      }
    });
  };
  // End of input: answer what is running, then stop (lifecycle "Shutdown": the client closes
  // our stdin and waits for us to exit).
  auto on_end = [&] {
    spdlog::info("mcp stdio: input ended; exiting once the requests in flight are answered");
    asio::post(io, [&] { output->when_idle(shutdown); });
  };
  LineReader reader(options.input_fd, options.max_line_bytes, on_line, on_end);

  std::vector<std::thread> pool;
  for (int i = 1; i < options.threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  reader.stop();
  writer.finish();
  return 0;
}

}  // namespace tollgate::mcp
