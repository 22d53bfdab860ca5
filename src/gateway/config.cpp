// TOML parsing with toml++ and strict validation.
#include "gateway/config.hpp"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace tollgate::gateway {
namespace {

Error invalid(std::string_view origin, std::string message) {
  return Error{ErrorCode::kInvalidRequest, fmt::format("{}: {}", origin, message)};
}

Status only_known_keys(const toml::table& table, std::initializer_list<std::string_view> known, std::string_view origin,
                       std::string_view where) {
  for (const auto& [key, value] : table) {
    bool ok = std::find(known.begin(), known.end(), key.str()) != known.end();
    if (!ok) return invalid(origin, fmt::format("unknown key '{}' in {}", key.str(), where));
  }
  return ok_status();
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxUpstreamNameLength) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; });
}

Result<Micros> price(const toml::node& node, std::string_view origin, std::string_view where) {
  auto text = node.value<std::string>();
  if (!text) return invalid(origin, fmt::format("{} must be a decimal string like \"0.01\"", where));
  auto micros = parse_money(*text, where);
  if (!micros) return invalid(origin, micros.error().message);
  return micros;
}

}  // namespace

Result<GatewayConfig> parse_gateway_config(std::string_view text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return invalid(origin, fmt::format("line {}: {}", e.source().begin.line, e.description()));
  }
  if (auto st = only_known_keys(root, {"platform", "upstream"}, origin, "the file"); !st.ok()) return st.error();

  GatewayConfig config;
  if (auto* platform = root["platform"].as_table()) {
    if (auto st = only_known_keys(*platform, {"url", "api_key_env"}, origin, "[platform]"); !st.ok()) return st.error();
    if (auto url = (*platform)["url"].value<std::string>()) config.platform_url = *url;
    if (auto env = (*platform)["api_key_env"].value<std::string>()) config.api_key_env = *env;
  }

  auto* upstreams = root["upstream"].as_array();
  if (!upstreams || upstreams->empty()) return invalid(origin, "at least one [[upstream]] is required");
  if (upstreams->size() > kMaxUpstreams) return invalid(origin, fmt::format("at most {} upstreams", kMaxUpstreams));
  std::set<std::string> names;
  for (std::size_t i = 0; i < upstreams->size(); ++i) {
    auto* table = (*upstreams)[i].as_table();
    std::string where = fmt::format("[[upstream]] #{}", i + 1);
    if (!table) return invalid(origin, where + " must be a table");
    if (auto st = only_known_keys(*table, {"name", "command", "url", "env", "default_price", "prices"}, origin, where);
        !st.ok())
      return st.error();
    UpstreamConfig up;
    up.name = (*table)["name"].value_or(std::string());
    if (!valid_name(up.name)) {
      return invalid(origin, where + ": 'name' must be 1-64 characters of a-z, 0-9, '-' and '_'");
    }
    where = fmt::format("upstream '{}'", up.name);
    if (!names.insert(up.name).second) return invalid(origin, where + " is defined twice");
    if (auto* command = (*table)["command"].as_array()) {
      for (const auto& part : *command) {
        auto s = part.value<std::string>();
        if (!s) return invalid(origin, where + ": 'command' must be an array of strings");
        up.command.push_back(*s);
      }
      if (up.command.empty()) return invalid(origin, where + ": 'command' must not be empty");
    } else if ((*table).contains("command")) {
      return invalid(origin, where + ": 'command' must be an array of strings, e.g. [\"npx\", \"server\"]");
    }
    up.url = (*table)["url"].value_or(std::string());
    if (up.command.empty() == up.url.empty()) return invalid(origin, where + ": set exactly one of 'command' and 'url'");
    if (!up.url.empty() && !up.url.starts_with("http://")) {
      return invalid(origin, where + ": 'url' must start with http://");
    }
    if (auto* env = (*table)["env"].as_table()) {
      for (const auto& [key, value] : *env) {
        auto s = value.value<std::string>();
        if (!s) return invalid(origin, where + ": 'env' values must be strings");
        up.env[std::string(key.str())] = *s;
      }
    }
    if (auto* node = table->get("default_price")) {
      auto p = price(*node, origin, where + " default_price");
      if (!p) return p.error();
      up.default_price_micros = *p;
    }
    if (auto* prices = (*table)["prices"].as_table()) {
      for (const auto& [tool, value] : *prices) {
        auto p = price(value, origin, fmt::format("{} price of '{}'", where, tool.str()));
        if (!p) return p.error();
        up.prices[std::string(tool.str())] = *p;
      }
    } else if (table->contains("prices")) {
      return invalid(origin, where + ": 'prices' must be a table of tool = \"price\"");
    }
    config.upstreams.push_back(std::move(up));
  }
  return config;
}

Result<GatewayConfig> load_gateway_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::kInvalidRequest, "cannot read gateway config " + path};
  std::stringstream text;
  text << in.rdbuf();
  return parse_gateway_config(text.str(), path);
}

}  // namespace tollgate::gateway
