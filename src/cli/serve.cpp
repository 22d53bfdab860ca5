// `tollgate serve`: the platform on SQLite (default) or PostgreSQL.
#include <fmt/format.h>
#include <sched.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/cli.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "gateway/gateway.hpp"
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
  std::string gateway_config;
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

std::string self_path() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("tollgate") : path.string();
}

// The newcomer's guide of `serve --demo` (stdout, not the logs): who to sign in as, and a
// paid tool ready to call from an MCP client with the demo agent key.
void print_demo_guide(const std::string& url, const platform::Platform::DemoSetup& demo, bool gateway) {
  std::string tollgate = (std::filesystem::path(self_path()).parent_path() / "tollgate").string();
  std::string mcp_url = url + "/mcp/weather";
  std::cout << fmt::format(R"(
Tollgate is running at {0}

  Dashboard    {0}   sign in as {1} / {2} ($5.00 of demo credits),
               or sign up with your own email.
  Agent key    {3}
               (a new demo key, shown once; the dashboard shows only sk_live_...{4})
)",
                           url, demo.email, demo.password, demo.agent_key, demo.agent_key.substr(demo.agent_key.size() - 4));
  if (gateway) {
    std::cout << fmt::format(R"(
  A paid MCP server is ready at {0}
  (the weather example behind the gateway: current_conditions $0.01, forecast $0.05,
  list_cities free). Add it to your MCP client:

  Claude Desktop (claude_desktop_config.json) or Cursor (~/.cursor/mcp.json):
    {{
      "mcpServers": {{
        "weather": {{
          "command": "{1}",
          "args": ["connect", "{0}"],
          "env": {{ "AGENT_TOKEN": "{2}" }}
        }}
      }}
    }}

  Claude Code:
    claude mcp add --transport http weather {0} --header "Authorization: Bearer {2}"

  Then ask: "What is the weather in Paris?" and watch the Wallet page.
)",
                             mcp_url, tollgate, demo.agent_key);
  }
  std::cout << fmt::format(R"(
  In a terminal (build/tollgate):
    tollgate login --url {0} --email {1}
    tollgate keys list          tollgate wallet transactions
    tollgate keys create --name "Cursor"

  Press Ctrl+C to stop.
)",
                           url, demo.email)
            << std::flush;
}

struct ResolvedGateway {
  std::optional<gateway::GatewayConfig> config;
  std::string provider_key;
};

// --gateway-config FILE, or with --demo the weather example (its binary sits next to ours).
Result<ResolvedGateway> resolve_gateway_config(const ServeOptions& options,
                                               const std::optional<platform::Platform::DemoSetup>& demo) {
  ResolvedGateway out;
  if (!options.gateway_config.empty()) {
    auto loaded = gateway::load_gateway_config(options.gateway_config);
    if (!loaded) return loaded.error();
    out.config = std::move(*loaded);
    const char* key = std::getenv(out.config->api_key_env.c_str());
    if (key && *key) {
      out.provider_key = key;
    } else if (demo) {
      out.provider_key = demo->provider_key;
    } else {
      return Error{ErrorCode::kInvalidRequest,
                   fmt::format("the gateway charges as a provider: put a provider key (tollgate provider-keys create) "
                               "in ${}",
                               out.config->api_key_env)};
    }
    return out;
  }
  if (!demo) return out;
  auto weather = std::filesystem::path(self_path()).parent_path() / "weather_server";
  if (!std::filesystem::exists(weather)) {
    spdlog::warn("demo: {} is missing (scripts/build weather_server); no paid MCP server in this demo", weather.string());
    return out;
  }
  gateway::UpstreamConfig up;
  up.name = "weather";
  up.command = {weather.string(), "--stdio", "--free"};
  up.prices = {{"current_conditions", 10'000}, {"forecast", 50'000}};
  out.config = gateway::GatewayConfig{};
  out.config->upstreams.push_back(std::move(up));
  out.provider_key = demo->provider_key;
  return out;
}

// The cores this process may run on (taskset, a container's cpuset), not the machine's: more
// I/O threads than cores only adds context switches.
int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Store calls block the I/O thread that makes them. With SQLite reads take microseconds and
// writes on request paths are group-committed (the thread awaits them without blocking), so
// one thread per core is right; with PostgreSQL each read is a network round trip, so more
// threads keep the cores busy while some wait.
int resolve_threads(int requested, const store::Store& store) {
  if (requested > 0) return requested;
  int cores = usable_cores();
  return store.backend_name() == "sqlite" ? cores : std::max(8, 4 * cores);
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

  int threads = resolve_threads(options.threads, *store);
  // The hint lets Asio skip cross-thread hand-offs when one thread runs everything.
  boost::asio::io_context io(threads);
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

  // The gateway, charging through this platform's own ledger (no HTTP hop).
  std::optional<platform::Platform::DemoSetup> demo;
  if (options.demo) {
    auto seeded = platform->seed_demo();
    if (!seeded) return fail(seeded.error());
    demo = std::move(*seeded);
  }
  std::unique_ptr<gateway::Gateway> mcp_gateway;
  auto gateway_config = resolve_gateway_config(options, demo);
  if (!gateway_config) return fail(gateway_config.error());
  if (gateway_config->config) {
    mcp_gateway = std::make_unique<gateway::Gateway>(io, std::move(*gateway_config->config),
                                                     platform->local_charger(gateway_config->provider_key),
                                                     platform_options.public_url);
    mcp_gateway->mount(platform->router(), host);
    mcp_gateway->start();
    platform->report_upstreams([gw = mcp_gateway.get()] { return gw->ready(); });
    for (const auto& name : mcp_gateway->names()) spdlog::info("gateway: serving /mcp/{}", name);
  }

  http::run_with_signals(
      io, threads,
      [&] {
        spdlog::info("shutting down: finishing requests in flight");
        if (mcp_gateway) mcp_gateway->stop();
        server.stop();
        platform->shutdown();
      },
      [&] {
        std::cout << "listening on " << url << std::endl;  // the line scripts wait for (docs/cli.md)
        spdlog::info("tollgate serve: {} store, {} threads", store->backend_name(), threads);
        if (demo) print_demo_guide(url, *demo, mcp_gateway != nullptr);
      });
  mcp_gateway.reset();
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
  cmd->add_flag("--demo", options->demo,
                "Seed a demo account, key and paid weather tool, and print a guide for a first run");
  cmd->add_option("--gateway-config", options->gateway_config,
                  "Also serve the MCP servers of this gateway config at /mcp/NAME, charging in-process");
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
