// Internal to src/cli: the subcommands, and the shared pieces of talking to a platform
// (where the session is kept, how errors are printed).
#pragma once

#include <CLI/CLI.hpp>

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "http/client.hpp"

namespace tollgate::cli {

// Exit codes: 0 ok, 1 the operation failed (one line on stderr), 2 bad usage (CLI11).
inline constexpr int kExitFailure = 1;

// ~/.config/tollgate/config.json (or $XDG_CONFIG_HOME/tollgate/config.json), mode 0600.
struct ClientConfig {
  std::string url = "http://127.0.0.1:8080";
  std::string session_token;
};
ClientConfig load_config();
Status save_config(const ClientConfig& config);
std::string config_path();

// Options every account command shares.
struct AccountOptions {
  std::string url;  // --url, else $TOLLGATE_URL, else the saved login's
  bool json = false;
};

// Sends a request to the platform with the saved session. Non-2xx responses become the
// Error of the body's {"error": {code, message}}.
Result<http::ClientResponse> call_platform(const AccountOptions& options, std::string method, std::string path,
                                           std::string body = {}, bool with_session = true);
// Prints "error: CODE: message" on stderr and returns kExitFailure.
int fail(const Error& error);

// One platform call as a command: on failure, the one-line error and a non-zero exit code;
// with --json, the raw body; otherwise `render` gets the parsed JSON object.
int run_and_print(const AccountOptions& options, std::string method, std::string path, std::string body,
                  const std::function<void(const boost::json::object&)>& render);

void add_serve_command(CLI::App& app, int& exit_code);
void add_account_commands(CLI::App& app, int& exit_code);
void add_wallet_commands(CLI::App& app, int& exit_code);
void add_connect_command(CLI::App& app, int& exit_code);
void add_gateway_command(CLI::App& app, int& exit_code);

}  // namespace tollgate::cli
