// stdio client transport: starts the server as a child process and speaks newline-delimited
// JSON-RPC over its stdin/stdout (Asio pipe descriptors). Shutdown follows the lifecycle
// spec: close the child's stdin, wait, SIGTERM, wait, SIGKILL. The child gets
// PR_SET_PDEATHSIG so it never outlives us.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>

#include "mcp/async.hpp"
#include "tollgate/mcp/client.hpp"

extern char** environ;

namespace tollgate::mcp {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kReadChunkBytes = 64 << 10;

class StdioClientTransport final : public ClientTransport {
 public:
  class Impl;
  StdioClientTransport(asio::any_io_executor executor, StdioClientOptions options);
  ~StdioClientTransport() override;
  void set_callbacks(Callbacks callbacks) override;
  asio::awaitable<Status> start() override;
  asio::awaitable<Status> send(Message message) override;
  asio::awaitable<void> close() override;

 private:
  std::shared_ptr<Impl> impl_;
};

class StdioClientTransport::Impl : public std::enable_shared_from_this<StdioClientTransport::Impl> {
 public:
  Impl(asio::any_io_executor executor, StdioClientOptions options)
      : strand_(asio::make_strand(executor)), options_(std::move(options)), input_(strand_), output_(strand_) {}

  ~Impl() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  Status spawn() {
    if (options_.command.empty()) return Error{ErrorCode::kInvalidRequest, "the stdio server command is empty"};
    // Everything the child needs is built before fork: only async-signal-safe calls after it.
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& [k, v] : options_.env) env[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = options_.command;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return Error{ErrorCode::kInternal, "pipe failed"};
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
      ::close(to_child[0]);
      ::close(to_child[1]);
      return Error{ErrorCode::kInternal, "pipe failed"};
    }
    // Under the lock from the closing_ check to pid_ being set: a shutdown on another thread
    // either comes first (and nothing is started) or sees the child it must stop.
    std::lock_guard lock(mutex_);
    if (closing_) {
      ::close(to_child[0]);
      ::close(to_child[1]);
      ::close(from_child[0]);
      ::close(from_child[1]);
      return Error{ErrorCode::kPlatformUnavailable, "the stdio client was closed"};
    }
    int err_fd = options_.forward_stderr ? 2 : ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t parent = ::getpid();
    const char* dir = options_.working_dir.empty() ? nullptr : options_.working_dir.c_str();
    pid_t pid = ::fork();
    if (pid < 0) {
      for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
      if (err_fd != 2 && err_fd >= 0) ::close(err_fd);
      return Error{ErrorCode::kInternal, "fork failed"};
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      if (err_fd != 2) ::dup2(err_fd, 2);
      if (dir && ::chdir(dir) != 0) ::_exit(126);
      ::execvpe(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (err_fd != 2 && err_fd >= 0) ::close(err_fd);
    pid_ = pid;
    input_.assign(to_child[1]);
    output_.assign(from_child[0]);
    return ok_status();
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self) {
    std::string pending;
    std::vector<char> buffer(kReadChunkBytes);
    bool discarding = false;
    for (;;) {
      auto op = self->output_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      auto [ec, n] = co_await std::move(op);
      if (ec) break;
      std::string_view chunk(buffer.data(), n);
      while (!chunk.empty()) {
        std::size_t nl = chunk.find('\n');
        std::string_view piece = chunk.substr(0, nl);
        if (!discarding) {
          if (pending.size() + piece.size() > self->options_.max_line_bytes) {
            spdlog::warn("mcp client: a line from the stdio server exceeds {} bytes; skipped", self->options_.max_line_bytes);
            discarding = true;
            pending.clear();
          } else {
            pending.append(piece);
          }
        }
        if (nl == std::string_view::npos) break;
        chunk.remove_prefix(nl + 1);
        if (!discarding) self->handle_line(pending);
        pending.clear();
        discarding = false;
      }
    }
    bool was_closing;
    {
      std::lock_guard lock(self->mutex_);
      was_closing = self->closing_;
      self->ended_ = true;
    }
    if (!was_closing && self->callbacks_.on_closed) {
      self->callbacks_.on_closed(Error{ErrorCode::kUpstreamError, "the stdio MCP server ended its output"});
    }
  }

  void handle_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    Decoded decoded = decode(line, true);
    if (!decoded.ok()) {
      spdlog::warn("mcp client: ignoring an invalid line from the stdio server: {}", decoded.error->error.message);
      return;
    }
    for (auto& m : decoded.messages) {
      if (callbacks_.on_message) callbacks_.on_message(std::move(m));
    }
  }

  // Queues a line; one writer coroutine drains the queue in order.
  Status queue(std::string line) {
    bool start_writer = false;
    {
      std::lock_guard lock(mutex_);
      if (closing_ || ended_ || write_failed_) return Error{ErrorCode::kPlatformUnavailable, "the stdio MCP server is not running"};
      queue_.push_back(std::move(line));
      if (!writing_) {
        writing_ = true;
        start_writer = true;
      }
    }
    if (start_writer) asio::co_spawn(strand_, write_loop(shared_from_this()), asio::detached);
    return ok_status();
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self) {
    for (;;) {
      std::string line;
      {
        std::lock_guard lock(self->mutex_);
        if (self->queue_.empty()) {
          self->writing_ = false;
          co_return;
        }
        line = std::move(self->queue_.front());
        self->queue_.pop_front();
      }
      auto op = asio::async_write(self->input_, asio::buffer(line), asio::as_tuple(asio::use_awaitable));
      auto [ec, n] = co_await std::move(op);
      if (ec) {
        std::lock_guard lock(self->mutex_);
        self->write_failed_ = true;
        self->queue_.clear();
        self->writing_ = false;
        co_return;
      }
    }
  }

  // Waits up to `timeout` for the child to exit; true if it did (and it is reaped).
  static asio::awaitable<bool> wait_exit(std::shared_ptr<Impl> self, std::chrono::milliseconds timeout) {
    if (self->reaped_) co_return true;
    int status = 0;
    if (::waitpid(self->pid_, &status, WNOHANG) == self->pid_) {
      self->reaped_ = true;
      co_return true;
    }
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, self->pid_, 0));
    if (pidfd >= 0) {
      auto done = std::make_shared<detail::OneShot<bool>>(self->strand_);
      asio::posix::stream_descriptor watch(self->strand_, pidfd);
      asio::steady_timer timer(self->strand_, timeout);
      watch.async_wait(asio::posix::descriptor_base::wait_read, [done](boost::system::error_code ec) {
        if (!ec) done->deliver(true);
      });
      timer.async_wait([done](boost::system::error_code ec) {
        if (!ec) done->deliver(false);
      });
      auto op = done->take();
      co_await std::move(op);
      timer.cancel();
      watch.cancel();
    } else {
      // No pidfd (old kernel): poll the exit status a few times within the timeout.
      auto deadline = std::chrono::steady_clock::now() + timeout;
      while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(self->pid_, &status, WNOHANG) == self->pid_) {
          self->reaped_ = true;
          co_return true;
        }
        asio::steady_timer tick(self->strand_, std::chrono::milliseconds(20));
        auto op = tick.async_wait(asio::as_tuple(asio::use_awaitable));
        co_await std::move(op);
      }
    }
    if (::waitpid(self->pid_, &status, WNOHANG) == self->pid_) self->reaped_ = true;
    co_return self->reaped_;
  }

  static asio::awaitable<void> shutdown(std::shared_ptr<Impl> self) {
    pid_t pid;
    {
      std::lock_guard lock(self->mutex_);
      if (self->closing_) co_return;
      self->closing_ = true;
      pid = self->pid_;  // set under this lock by spawn(), if it ran first
    }
    if (pid <= 0) co_return;
    auto grace = std::chrono::milliseconds(self->options_.shutdown_grace_ms);
    asio::post(self->strand_, [self] {
      boost::system::error_code ignored;
      self->input_.close(ignored);  // end of input: the server should exit by itself
    });
    auto first = wait_exit(self, grace);
    if (!co_await std::move(first)) {
      ::kill(self->pid_, SIGTERM);
      auto second = wait_exit(self, grace);
      if (!co_await std::move(second)) {
        ::kill(self->pid_, SIGKILL);
        auto last = wait_exit(self, grace);
        co_await std::move(last);
      }
    }
    asio::post(self->strand_, [self] {
      boost::system::error_code ignored;
      self->output_.close(ignored);
    });
  }

  asio::strand<asio::any_io_executor> strand_;
  StdioClientOptions options_;
  asio::posix::stream_descriptor input_;   // the child's stdin
  asio::posix::stream_descriptor output_;  // the child's stdout
  ClientTransport::Callbacks callbacks_;
  pid_t pid_ = -1;  // written once, under mutex_, by spawn()
  bool reaped_ = false;
  std::mutex mutex_;
  std::deque<std::string> queue_;  // guarded by mutex_
  bool writing_ = false;           // guarded by mutex_
  bool write_failed_ = false;      // guarded by mutex_
  bool closing_ = false;           // guarded by mutex_
  bool ended_ = false;             // guarded by mutex_
};

StdioClientTransport::StdioClientTransport(asio::any_io_executor executor, StdioClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

StdioClientTransport::~StdioClientTransport() {
  // Not closed: stop the child now, so the reader sees the end of its output and lets go.
  bool closing;
  pid_t pid;
  {
    std::lock_guard lock(impl_->mutex_);
    closing = impl_->closing_;
    impl_->closing_ = true;
    pid = impl_->pid_;
  }
  if (!closing && pid > 0 && !impl_->reaped_) ::kill(pid, SIGKILL);
}

void StdioClientTransport::set_callbacks(Callbacks callbacks) { impl_->callbacks_ = std::move(callbacks); }

asio::awaitable<Status> StdioClientTransport::start() {
  Status spawned = impl_->spawn();
  if (!spawned) co_return spawned;
  asio::co_spawn(impl_->strand_, Impl::read_loop(impl_), asio::detached);
  co_return ok_status();
}

asio::awaitable<Status> StdioClientTransport::send(Message message) {
  Status queued = impl_->queue(encode(message) + "\n");
  co_return queued;
}

asio::awaitable<void> StdioClientTransport::close() { return Impl::shutdown(impl_); }

}  // namespace

std::unique_ptr<ClientTransport> make_stdio_client_transport(asio::any_io_executor executor, StdioClientOptions options) {
  // A server that exits while we write to its stdin must be an EPIPE error, not SIGPIPE
  // ending this process. Only a default disposition is changed.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
  return std::make_unique<StdioClientTransport>(std::move(executor), std::move(options));
}

}  // namespace tollgate::mcp
