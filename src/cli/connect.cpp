// `tollgate connect URL`: a stdio MCP server for desktop clients (Claude Desktop, Cursor)
// that forwards every message, both ways, to a remote Streamable HTTP MCP server, adding
// `Authorization: Bearer $AGENT_TOKEN`. The agent key stays in the desktop client's config
// (the env of this process) and is sent to that URL only.
#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/cli.hpp"
#include "common/log.hpp"
#include "keys/key.hpp"
#include "tollgate/mcp/client.hpp"
#include "tollgate/mcp/json_rpc.hpp"

namespace tollgate::cli {
namespace {

namespace asio = boost::asio;

// Longest line accepted from the desktop client (a bigger message is answered with an error).
constexpr std::size_t kMaxInputLineBytes = 4 << 20;

class Bridge {
 public:
  Bridge(asio::io_context& io, std::unique_ptr<mcp::ClientTransport> transport)
      : io_(io), strand_(asio::make_strand(io)), work_(asio::make_work_guard(io)), transport_(std::move(transport)) {}

  // Runs until stdin ends; returns the exit code.
  int run() {
    transport_->set_callbacks({
        [this](mcp::Message message) { on_upstream(std::move(message)); },
        [this](Error error) {
          spdlog::error("connect: the remote server closed the connection: {}", error.message);
          asio::post(strand_, [this] { finish(); });
        },
    });
    asio::co_spawn(strand_, start(), asio::detached);
    std::thread reader([this] { read_stdin(); });
    io_.run();  // until finish() closed the transport and nothing is left to do
    if (reader_done_) {
      reader.join();
      return exit_code_;
    }
    // The remote side ended while the reader is blocked on stdin: there is nothing left to
    // forward, and no way to interrupt a blocking read, so leave without unwinding.
    std::cout.flush();
    std::_Exit(exit_code_);
  }

 private:
  asio::awaitable<void> start() {
    auto started = co_await transport_->start();
    if (!started.ok()) {
      spdlog::error("connect: {}", started.error().message);
      exit_code_ = kExitFailure;
      finish();
    }
  }

  // Desktop client -> remote server.
  void read_stdin() {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      if (line.size() > kMaxInputLineBytes) {
        write(mcp::Message::failure(std::nullopt, mcp::rpc::kInvalidRequest, "message too large"));
        continue;
      }
      mcp::Decoded decoded = mcp::decode(line, /*allow_batch=*/false);
      if (!decoded.ok()) {
        write(mcp::Message::failure(decoded.error->id, decoded.error->error.code, decoded.error->error.message));
        continue;
      }
      for (auto& message : decoded.messages) {
        asio::co_spawn(strand_, forward(std::move(message)), asio::detached);
      }
    }
    reader_done_ = true;
    asio::post(strand_, [this] { finish(); });
  }

  asio::awaitable<void> forward(mcp::Message message) {
    if (message.is_request() && message.method == "initialize") initialize_id_ = message.id;
    bool initialized = message.is_notification() && message.method == "notifications/initialized";
    bool request = message.is_request();
    mcp::RequestId id = message.id;
    auto sent = co_await transport_->send(std::move(message));
    if (!sent.ok()) {
      spdlog::warn("connect: could not forward a message: {}", sent.error().message);
      // The client must not wait for an answer that will never come.
      if (request) write(mcp::Message::failure(id, mcp::rpc::kConnectionClosed, sent.error().message));
      co_return;
    }
    if (initialized) transport_->initialized();
  }

  // Remote server -> desktop client.
  void on_upstream(mcp::Message message) {
    if (message.kind == mcp::MessageKind::kResult && initialize_id_ && message.id == *initialize_id_ &&
        message.result.is_object()) {
      if (auto* v = message.result.as_object().if_contains("protocolVersion"); v && v->is_string()) {
        transport_->set_protocol_version(std::string(v->as_string()));
      }
    }
    write(message);
  }

  void write(const mcp::Message& message) {
    std::string line = mcp::encode(message) + "\n";
    std::lock_guard lock(stdout_mutex_);
    std::cout << line << std::flush;
  }

  void finish() {
    if (finishing_) return;
    finishing_ = true;
    asio::co_spawn(strand_, [this]() -> asio::awaitable<void> {
      co_await transport_->close();
      work_.reset();  // io_.run() returns once the last pending operation is done
    }, asio::detached);
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<mcp::ClientTransport> transport_;
  std::atomic<bool> reader_done_{false};
  std::optional<mcp::RequestId> initialize_id_;
  std::mutex stdout_mutex_;
  bool finishing_ = false;
  int exit_code_ = 0;
};

// What is wrong with a token that is not a well-formed agent key, in the words of someone
// who pasted it: the usual slips are a line break or space copied along, the header's
// "Bearer " pasted too, or a key cut short.
std::string malformed_reason(std::string_view token) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  if (!token.empty() && (space(token.front()) || space(token.back()))) {
    return "it begins or ends with a space or line break; the key has none";
  }
  if (!token.starts_with(keys::kApiKeyPrefix)) return "it does not start with sk_live_";
  std::string_view rest = token.substr(keys::kApiKeyPrefix.size());
  if (rest.size() != 64) return fmt::format("it has {} characters after sk_live_, not 64", rest.size());
  return "after sk_live_ it has characters other than 0-9 and a-f";
}

int run_connect(const std::string& url, const std::string& log_level) {
  init_logging(log_level);  // stderr: stdout carries the MCP messages
  if (!url.starts_with("http://")) {
    spdlog::error("connect: URL must start with http:// (got '{}')", url);
    return 2;
  }
  const char* env = std::getenv("AGENT_TOKEN");
  std::string token = env ? env : "";
  mcp::HttpClientOptions options;
  options.url = url;
  if (token.empty()) {
    spdlog::warn("connect: AGENT_TOKEN is not set, so paid tools will answer TOKEN_MISSING. Put your agent key "
                 "(sk_live_...) in the \"env\" of this server in your MCP client's configuration.");
  } else if (!keys::is_well_formed(token, keys::kApiKeyPrefix)) {
    spdlog::error("connect: AGENT_TOKEN is malformed ({}): copy the whole key again from where you saved it, or "
                  "create a new key under API Keys in the dashboard.", malformed_reason(token));
    return 2;
  } else {
    options.headers.set("Authorization", "Bearer " + token);
    spdlog::info("connect: forwarding to {} with agent key {}", url, redact_secrets(token));
  }
  asio::io_context io;
  Bridge bridge(io, mcp::make_http_client_transport(io.get_executor(), options));
  return bridge.run();
}

}  // namespace

void add_connect_command(CLI::App& app, int& exit_code) {
  auto url = std::make_shared<std::string>();
  auto log_level = std::make_shared<std::string>("warn");
  CLI::App* cmd = app.add_subcommand("connect", "Stdio MCP server forwarding to a remote paid MCP server with AGENT_TOKEN");
  cmd->add_option("url", *url, "The remote Streamable HTTP endpoint, e.g. http://host:8080/mcp/weather")->required();
  cmd->add_option("--log-level", *log_level, "stderr log level: trace|debug|info|warn|error|off")->capture_default_str();
  cmd->footer("The agent key is read from the AGENT_TOKEN environment variable.");
  cmd->callback([url, log_level, &exit_code] { exit_code = run_connect(*url, *log_level); });
}

}  // namespace tollgate::cli
