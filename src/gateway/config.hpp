// The gateway's configuration file (TOML, API.md "Gateway config"): where the platform is,
// and for each upstream MCP server its name, how to reach it (a stdio command or an HTTP
// URL) and its prices.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/money.hpp"
#include "common/result.hpp"

namespace tollgate::gateway {

inline constexpr std::size_t kMaxUpstreams = 64;
inline constexpr std::size_t kMaxUpstreamNameLength = 64;

struct UpstreamConfig {
  std::string name;                         // served at /mcp/NAME; [a-z0-9_-], 1-64 characters
  std::vector<std::string> command;         // stdio upstream: argv (command[0] looked up in PATH)
  std::map<std::string, std::string> env;   // extra environment for the stdio command
  std::string url;                          // HTTP upstream: its Streamable HTTP endpoint
  Micros default_price_micros = 0;          // tools not listed in `prices`
  std::map<std::string, Micros> prices;     // tool -> price

  bool is_stdio() const { return !command.empty(); }
  Micros price_of(const std::string& tool) const {
    auto it = prices.find(tool);
    return it == prices.end() ? default_price_micros : it->second;
  }
};

struct GatewayConfig {
  // [platform] is required for `tollgate gateway` and ignored inside `tollgate serve`.
  std::optional<std::string> platform_url;
  std::string api_key_env = "TOLLGATE_API_KEY";
  std::vector<UpstreamConfig> upstreams;
};

// Parses the TOML text; `origin` names the file in errors. INVALID_REQUEST with the first
// problem found (unknown keys too: a typo in a price table must not make a tool free).
Result<GatewayConfig> parse_gateway_config(std::string_view text, std::string_view origin);
Result<GatewayConfig> load_gateway_config(const std::string& path);

}  // namespace tollgate::gateway
