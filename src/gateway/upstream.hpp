// One upstream MCP server behind the gateway: an MCP client to it (a stdio child process or a
// Streamable HTTP URL), kept connected — a crashed or unreachable upstream is reconnected
// with exponential backoff — and mirrored onto a facade mcp::Server that the gateway serves
// at /mcp/NAME: its tools (with prices), resources, resource templates and prompts, list
// changes and resource updates, completion requests, cancellations, and its log messages
// and requests back to the client (sampling, elicitation, roots), which go to the
// downstream call they belong to (when a message does not say which call, as over stdio:
// to the newest call when all calls in flight come from one caller, and otherwise to
// nobody: a request gets an error, a log message stays in the gateway's own log).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "tollgate/mcp/client.hpp"
#include "tollgate/mcp/server.hpp"

namespace tollgate::gateway {

inline constexpr int kFirstReconnectDelayMs = 500;
inline constexpr int kMaxReconnectDelayMs = 30'000;
inline constexpr int kHealthCheckIntervalMs = 10'000;  // a ping to a quiet upstream
inline constexpr std::size_t kMaxUrlElicitations = 1'024;  // open URL-mode elicitations remembered per upstream

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  Upstream(boost::asio::any_io_executor executor, UpstreamConfig config, mcp::Server& facade);

  // Starts the supervision loop (connect, mirror, watch, reconnect) in the background.
  void start();
  void stop();
  // True while connected and mirrored (GET /healthz's upstreams_ready): false until the first
  // mirror completed, and again while reconnecting.
  bool ready() const { return ready_.load(); }
  // The answer to a paid call while no connection is up (it could not run, so it is not
  // charged), or nullopt when connected (PaymentPolicy::before_charge).
  std::optional<mcp::ToolResult> unavailable(const std::string& tool);
  std::uint64_t connections() const { return connections_.load(); }
  const UpstreamConfig& config() const { return config_; }

 private:
  boost::asio::awaitable<void> supervise();
  boost::asio::awaitable<Status> mirror(std::shared_ptr<mcp::Client> client);
  std::unique_ptr<mcp::ClientTransport> make_transport();
  std::shared_ptr<mcp::Client> current_client();
  // The downstream call a message from the upstream that names no call belongs to.
  struct Attribution {
    mcp::Context* ctx = nullptr;  // the newest call in flight; null when none is
    bool ambiguous = false;       // calls of several callers are in flight: ctx is a guess
  };
  Attribution attribute_locked() const;  // mutex_ held
  // The call with this serial while it is in flight, else nullptr (mutex_ held).
  mcp::Context* active_locked(std::uint64_t serial) const;
  void on_notification(const mcp::Message& message);
  boost::asio::awaitable<mcp::RpcResponse> on_request(const mcp::Message& message,
                                                      std::shared_ptr<mcp::CancelSource> cancel);
  boost::asio::awaitable<mcp::ToolResult> call_tool(mcp::Context& ctx, const std::string& name,
                                                    const boost::json::object& arguments);
  // The UPSTREAM_ERROR result of `tool`: "UPSTREAM_ERROR: " + text, and _meta tollgate/error.
  mcp::ToolResult upstream_error(const std::string& tool, const std::string& text) const;
  // A charged call that failed upstream (refunded by the payments interceptor).
  mcp::ToolResult upstream_failure(const std::string& tool, const std::string& detail) const;
  void schedule_mirror();
  // A URL-mode elicitation this upstream started (an elicitation/create, or one listed by a
  // -32042 error) went to `to`: its notifications/elicitation/complete goes there and to no
  // other agent (mutex_ held).
  void remember_url_elicitation_locked(const std::string& elicitation_id, mcp::SessionHandle to);

  boost::asio::any_io_executor executor_;
  UpstreamConfig config_;
  mcp::Server& facade_;
  boost::asio::steady_timer wake_;  // cancelled to wake the supervisor early

  mutable std::mutex mutex_;
  std::shared_ptr<mcp::Client> client_;  // null while (re)connecting
  std::shared_ptr<mcp::Client> supervised_;  // the supervisor's client, connected or not: stop() closes it
  std::set<std::string> tools_, resources_, templates_, prompts_;  // what is mirrored now
  struct ActiveCall {
    std::uint64_t serial;
    mcp::Context* ctx;
  };
  std::vector<ActiveCall> active_calls_;  // downstream calls in flight, newest last
  struct UrlElicitation {
    std::list<std::string>::iterator age;  // its place in url_elicitation_order_
    mcp::SessionHandle to;
  };
  std::map<std::string, UrlElicitation> url_elicitations_;  // open ones, by elicitationId; guarded by mutex_
  std::list<std::string> url_elicitation_order_;            // the same ids, oldest first; guarded by mutex_
  std::uint64_t last_call_serial_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> broken_{false};
  std::atomic<bool> ready_{false};
  std::atomic<bool> remirror_{false};
  std::atomic<std::uint64_t> connections_{0};
};

}  // namespace tollgate::gateway
