// `tollgate serve`: the platform on SQLite (default) or PostgreSQL.
#include <fmt/format.h>

#include <iostream>
#include <thread>

#include "cli/cli.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "http/server.hpp"
#include "platform/platform.hpp"
#include "store/store.hpp"

namespace tollgate::cli {
namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string db = "sqlite:./data/tollgate.db";
  std::string public_url;
  std::string log_level = "info";
  int threads = 0;  // 0: chosen from the store (see resolve_threads)
  bool access_log = true;
  bool demo = false;
  http::ServerLimits limits;
  platform::PlatformOptions platform;
};

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  try {
    int p = std::stoi(listen.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

void print_demo_guide(const std::string& url) {
  std::cout << fmt::format(R"(
Tollgate is running at {0}

  Next steps
  1. Open {0} in a browser and sign up (the first account is the admin),
     or in a terminal:
       tollgate signup --url {0} --email you@example.com
  2. Create an agent API key (shown once: copy it):
       tollgate keys create --name "Claude Desktop"
  3. See your keys (only sk_live_... and the last 4 characters are ever shown again):
       tollgate keys list
  4. Delete a key; it stops working at once:
       tollgate keys delete KEY_ID

  Press Ctrl+C to stop.
)",
                           url)
            << std::flush;
}

// Store calls block the I/O thread that makes them. With SQLite they take microseconds, so one
// thread per core is right; with PostgreSQL each is a network round trip, so more threads
// keep the cores busy while some wait.
int resolve_threads(int requested, const store::Store& store) {
  if (requested > 0) return requested;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return store.backend_name() == "sqlite" ? std::max(2, cores) : std::max(8, 4 * cores);
}

int run_serve(const ServeOptions& options) {
  init_logging(options.log_level);
  std::string host;
  std::uint16_t port = 0;
  if (!split_listen(options.listen, host, port)) return fail({ErrorCode::kInvalidRequest, "--listen must be HOST:PORT"});

  std::unique_ptr<store::Store> store;
  try {
    store = store::open_store(options.db);
  } catch (const std::exception& e) {
    return fail({ErrorCode::kPlatformUnavailable, e.what()});
  }

  boost::asio::io_context io;
  Metrics metrics;
  // The platform is built after listen() so that it knows the real port (--listen :0);
  // nothing is served before io.run(), so the handler is set in time.
  http::Handler platform_handler;
  bool access_log = options.access_log;
  auto forward = [&platform_handler](http::Request& request) { return platform_handler(request); };
  http::Server server(io, options.limits, forward, [&metrics, access_log](const http::Exchange& ex) {
    metrics.observe_request(ex.request.route, ex.status, ex.duration);
    if (access_log) {
      spdlog::info("{} \"{} {}\" {} {} {}us", ex.request.remote_address, ex.request.method,
                   redact_secrets(ex.request.target), ex.status, ex.response_bytes, ex.duration.count());
    }
  });
  if (auto st = server.listen(host, port); !st.ok()) return fail(st.error());

  std::string url = fmt::format("http://{}:{}", server.host(), server.port());
  platform::PlatformOptions platform_options = options.platform;
  platform_options.public_url = options.public_url.empty() ? url : options.public_url;
  platform_options.demo = options.demo;
  auto platform = std::make_unique<platform::Platform>(io, *store, metrics, platform_options);
  platform_handler = platform->handler();
  // The line scripts and tests wait for (API.md "Command line").
  std::cout << "listening on " << url << std::endl;
  int threads = resolve_threads(options.threads, *store);
  spdlog::info("tollgate serve: {} store, {} threads", store->backend_name(), threads);
  if (options.demo) print_demo_guide(url);

  http::run_with_signals(io, threads, [&] {
    spdlog::info("shutting down: finishing requests in flight");
    server.stop();
    platform->shutdown();
  });
  platform.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the platform: REST API, dashboard, charge API");
  cmd->add_option("--listen", options->listen, "HOST:PORT to listen on; port 0 picks a free port")->capture_default_str();
  cmd->add_option("--db", options->db, "sqlite:PATH or postgres://...")->capture_default_str();
  cmd->add_option("--public-url", options->public_url, "URL users reach this server at (default: the listen address)");
  cmd->add_option("--threads", options->threads, "I/O threads (default: cores for SQLite, 4x cores for PostgreSQL)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--log-level", options->log_level, "trace|debug|info|warn|error|off")->capture_default_str();
  cmd->add_flag("--access-log,!--no-access-log", options->access_log, "Log one line per request")->capture_default_str();
  cmd->add_flag("--demo", options->demo, "Print a guide for a first run");
  auto& limits = options->limits;
  cmd->add_option("--max-body-bytes", limits.max_body_bytes, "Request body limit (413 past it)")->capture_default_str();
  cmd->add_option("--max-header-bytes", limits.max_header_bytes, "Header block limit (431 past it)")->capture_default_str();
  cmd->add_option("--header-timeout-ms", limits.header_timeout_ms, "Time to send the headers")->capture_default_str();
  cmd->add_option("--body-timeout-ms", limits.body_timeout_ms, "Time to send the body (408 past it)")->capture_default_str();
  cmd->add_option("--idle-timeout-ms", limits.idle_timeout_ms, "Keep-alive idle time")->capture_default_str();
  cmd->add_option("--max-connections", limits.max_connections, "Open connections (503 past it)")->capture_default_str();
  cmd->add_option("--max-keys-per-account", options->platform.max_keys_per_account, "Keys per account and kind")
      ->capture_default_str();
  cmd->callback([options, &exit_code] { exit_code = run_serve(*options); });
}

}  // namespace tollgate::cli
