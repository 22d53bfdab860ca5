// `tollgate gateway --config FILE`: a stand-alone gateway that puts the config's MCP servers
// behind prices at /mcp/NAME and charges through a remote platform's charge API with the
// provider key in $TOLLGATE_API_KEY (or the config's api_key_env).
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "cli/cli.hpp"
#include "common/log.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"
#include "http/server.hpp"

namespace tollgate::cli {
namespace {

struct GatewayOptions {
  std::string config_path;
  std::string listen = "127.0.0.1:8090";
  std::string log_level = "info";
  int threads = 2;
  int timeout_ms = 5'000;
};

int run_gateway(const GatewayOptions& options) {
  init_logging(options.log_level);
  auto config = gateway::load_gateway_config(options.config_path);
  if (!config) return fail(config.error());
  if (!config->platform_url) {
    return fail({ErrorCode::kInvalidRequest, options.config_path + ": [platform] url is required for `tollgate gateway`"});
  }
  const char* key = std::getenv(config->api_key_env.c_str());
  if (!key || !*key) {
    return fail({ErrorCode::kInvalidRequest,
                 fmt::format("put the provider key (tollgate provider-keys create) in ${}", config->api_key_env)});
  }
  std::size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) return fail({ErrorCode::kInvalidRequest, "--listen must be HOST:PORT"});
  std::string host = options.listen.substr(0, colon);
  int port = std::atoi(options.listen.c_str() + colon + 1);

  http::IoPool pool(options.threads);
  std::string platform_url = *config->platform_url;
  auto charger = pay::make_platform_charger(platform_url, key, options.timeout_ms, 2);
  gateway::Gateway mcp_gateway(pool.main(), std::move(*config), charger, platform_url);
  http::Router router;
  router.add("GET", "/healthz", [&mcp_gateway](http::Request&) -> boost::asio::awaitable<http::Response> {
    co_return http::Response::json(200, boost::json::object{{"status", "ok"}, {"upstreams_ready", mcp_gateway.ready()}});
  });
  mcp_gateway.mount(router, host);
  http::Server server(pool, http::ServerLimits{}, [&router](http::Request& r) { return router(r); },
                      [](const http::Exchange& ex) {
                        spdlog::info("{} \"{} {}\" {} {}us", ex.request.remote_address, ex.request.method,
                                     redact_secrets(ex.request.target), ex.status, ex.duration.count());
                      });
  if (auto st = server.listen(host, static_cast<std::uint16_t>(port)); !st.ok()) return fail(st.error());
  mcp_gateway.start();
  pool.run(
      [&] {
        mcp_gateway.stop();
        server.stop();
      },
      [&] {
        std::cout << "listening on http://" << server.host() << ":" << server.port() << std::endl;
        for (const auto& name : mcp_gateway.names()) spdlog::info("gateway: serving /mcp/{}", name);
      });
  return 0;
}

}  // namespace

void add_gateway_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<GatewayOptions>();
  CLI::App* cmd = app.add_subcommand("gateway", "Put any MCP server behind per-tool prices (stand-alone gateway)");
  cmd->add_option("--config", options->config_path, "Gateway config (TOML), see docs/provider-guide.md")->required();
  cmd->add_option("--listen", options->listen, "HOST:PORT; port 0 picks a free port")->capture_default_str();
  cmd->add_option("--threads", options->threads, "I/O threads")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--platform-timeout-ms", options->timeout_ms, "Per attempt at the platform")->capture_default_str();
  cmd->add_option("--log-level", options->log_level, "trace|debug|info|warn|error|off")->capture_default_str();
  cmd->callback([options, &exit_code] { exit_code = run_gateway(*options); });
}

}  // namespace tollgate::cli
