// Account commands: signup, login, logout, keys. They talk to a running platform over its
// REST API with the session saved by `tollgate login`.
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/table.hpp"
#include "common/json.hpp"

namespace tollgate::cli {
namespace bj = boost::json;

std::string config_path() {
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::filesystem::path(home) / ".config";
  } else {
    base = ".";
  }
  return (base / "tollgate" / "config.json").string();
}

ClientConfig load_config() {
  ClientConfig config;
  std::ifstream in(config_path());
  if (!in) return config;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = json::parse_object(text);
  if (!parsed) return config;
  if (auto url = json::optional_string(*parsed, "url"); url && url->has_value()) config.url = **url;
  if (auto token = json::optional_string(*parsed, "session_token"); token && token->has_value()) {
    config.session_token = **token;
  }
  return config;
}

Status save_config(const ClientConfig& config) {
  std::filesystem::path path = config_path();
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all, ec);
  std::string tmp = path.string() + ".tmp";
  // Created 0600 before anything is written: the session token is a credential.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Error{ErrorCode::kInternal, "cannot write " + tmp};
  std::string text = json::serialize(bj::object{{"url", config.url}, {"session_token", config.session_token}}) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fchmod(fd, 0600) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return Error{ErrorCode::kInternal, "cannot write " + path.string()};
  return ok_status();
}

int run_and_print(const AccountOptions& options, std::string method, std::string path, std::string body,
                  const std::function<void(const bj::object&)>& render) {
  auto response = call_platform(options, std::move(method), std::move(path), std::move(body));
  if (!response) return fail(response.error());
  if (options.json) {
    std::cout << response->body << std::endl;
    return 0;
  }
  auto parsed = json::parse_object(response->body);
  if (!parsed) return fail(parsed.error());
  render(*parsed);
  return 0;
}

int fail(const Error& error) {
  std::cerr << "error: " << to_string(error.code) << ": " << error.message << std::endl;
  return kExitFailure;
}

Result<http::ClientResponse> call_platform(const AccountOptions& options, std::string method, std::string path,
                                           std::string body, bool with_session) {
  ClientConfig config = load_config();
  std::string url = options.url;
  if (url.empty()) {
    const char* env = std::getenv("TOLLGATE_URL");
    url = env && *env ? env : config.url;
  }
  while (url.ends_with('/')) url.pop_back();
  http::ClientRequest request;
  request.method = std::move(method);
  request.url = url + path;
  request.body = std::move(body);
  if (!request.body.empty()) request.headers.set("Content-Type", "application/json");
  if (with_session) {
    if (config.session_token.empty()) {
      return Error{ErrorCode::kUnauthenticated, "Not signed in. Run `tollgate login --url URL --email EMAIL` first."};
    }
    request.headers.set("Authorization", "Bearer " + config.session_token);
  }
  auto response = http::fetch(request);
  if (!response) {
    return Error{ErrorCode::kPlatformUnavailable, fmt::format("cannot reach {} ({})", url, response.error().message)};
  }
  if (response->status >= 400) {
    auto parsed = json::parse_object(response->body);
    ErrorCode code = ErrorCode::kInternal;
    std::string message = fmt::format("HTTP {}", response->status);
    if (parsed && parsed->contains("error") && parsed->at("error").is_object()) {
      const auto& err = parsed->at("error").as_object();
      if (auto c = json::optional_string(err, "code"); c && c->has_value()) parse_error_code(**c, code);
      if (auto m = json::optional_string(err, "message"); m && m->has_value()) message = **m;
    }
    return Error{code, message};
  }
  return response;
}

namespace {

std::string read_password(const std::string& prompt) {
  std::string password;
  if (::isatty(STDIN_FILENO)) {
    std::cerr << prompt << std::flush;
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, password);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << std::endl;
  } else {
    std::getline(std::cin, password);  // scripts: echo "$PASSWORD" | tollgate login ...
  }
  return password;
}

std::string resolved_url(const AccountOptions& options) {
  if (!options.url.empty()) return options.url;
  const char* env = std::getenv("TOLLGATE_URL");
  return env && *env ? env : load_config().url;
}

// signup and login: same body, same response, same saved session.
int start_session(const AccountOptions& options, const std::string& email, const std::string& path) {
  std::string password = read_password("Password: ");
  std::string body = json::serialize(bj::object{{"email", email}, {"password", password}});
  auto response = call_platform(options, "POST", path, body, /*with_session=*/false);
  if (!response) return fail(response.error());
  auto parsed = json::parse_object(response->body);
  auto token = parsed ? json::required_string(*parsed, "session_token") : Result<std::string>(parsed.error());
  if (!token) return fail(token.error());
  ClientConfig config;
  config.url = resolved_url(options);
  config.session_token = *token;
  if (auto st = save_config(config); !st.ok()) return fail(st.error());
  if (options.json) {
    std::cout << response->body << std::endl;
  } else {
    std::cout << fmt::format("Signed in to {} as {}. Session saved in {}.\n", config.url, email, config_path());
  }
  return 0;
}

std::string optional_time(const bj::value& v) { return v.is_string() ? std::string(v.as_string()).substr(0, 19) + "Z" : "never"; }

std::string spend_limit_text(const bj::value& v) {
  if (!v.is_object()) return "-";
  const auto& o = v.as_object();
  return fmt::format("${} / {}", std::string(o.at("amount").as_string()), std::string(o.at("period").as_string()));
}

void add_key_commands(CLI::App& parent, int& exit_code, const std::string& command, const std::string& path,
                      const std::string& what) {
  auto options = std::make_shared<AccountOptions>();
  CLI::App* keys = parent.add_subcommand(command, "Create, list and delete " + what);
  keys->require_subcommand(1);
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--url", options->url, "Platform URL (default: $TOLLGATE_URL or the saved login)");
    cmd->add_flag("--json", options->json, "Print the raw JSON response");
  };

  auto name = std::make_shared<std::string>();
  auto limit = std::make_shared<std::string>();
  auto period = std::make_shared<std::string>("total");
  CLI::App* create = keys->add_subcommand("create", "Create a key; the full key is printed once");
  create->add_option("--name", *name, "A name you will recognise (1-64 characters)")->required();
  if (command == "keys") {
    create->add_option("--spend-limit", *limit, "Most this key may spend per --period, in dollars (e.g. 5.00)");
    create->add_option("--period", *period, "day|month|total")->check(CLI::IsMember({"day", "month", "total"}));
  }
  add_common(create);
  create->callback([=, &exit_code] {
    bj::object body{{"name", *name}};
    if (!limit->empty()) body["spend_limit"] = bj::object{{"amount", *limit}, {"period", *period}};
    exit_code = run_and_print(*options, "POST", path, json::serialize(body), [](const bj::object& key) {
      std::cout << fmt::format(
          "Created {} \"{}\" ({})\n\n  {}\n\nCopy it now: this is the only time the full key is shown.\n",
          std::string(key.at("id").as_string()), std::string(key.at("name").as_string()),
          std::string(key.at("scope").as_string()), std::string(key.at("key").as_string()));
    });
  });

  CLI::App* list = keys->add_subcommand("list", "List keys (never the full key)");
  add_common(list);
  list->callback([=, &exit_code] {
    exit_code = run_and_print(*options, "GET", path, "", [&](const bj::object& parsed) {
      Table table({"ID", "NAME", "KEY", "CREATED", "LAST USED", "SPEND LIMIT"});
      for (const auto& item : parsed.at("keys").as_array()) {
        const auto& k = item.as_object();
        table.add({std::string(k.at("id").as_string()), std::string(k.at("name").as_string()),
                   std::string(k.at("display").as_string()), optional_time(k.at("created_at")),
                   optional_time(k.at("last_used_at")), spend_limit_text(k.at("spend_limit"))});
      }
      if (table.empty()) {
        std::cout << "No keys yet. Create one with `tollgate " << command << " create --name NAME`.\n";
      } else {
        std::cout << table.render();
      }
    });
  });

  auto id = std::make_shared<std::string>();
  auto yes = std::make_shared<bool>(false);
  CLI::App* remove = keys->add_subcommand("delete", "Delete a key: it stops working at once, for good");
  remove->add_option("id", *id, "The key's id (from `list`)")->required();
  remove->add_flag("--yes,-y", *yes, "Do not ask for confirmation");
  add_common(remove);
  remove->callback([=, &exit_code] {
    if (!*yes) {
      std::cerr << fmt::format("Delete {}? Agents using it will get TOKEN_INVALID at once. This cannot be undone. [y/N] ", *id)
                << std::flush;
      std::string answer;
      std::getline(std::cin, answer);
      // A terminal echoes the answer and its newline; piped input does not, and the error
      // below must still be a line of its own for scripts.
      if (!::isatty(STDIN_FILENO)) std::cerr << std::endl;
      if (answer != "y" && answer != "Y" && answer != "yes") {
        exit_code = fail({ErrorCode::kInvalidRequest, "not confirmed; nothing was deleted"});
        return;
      }
    }
    auto response = call_platform(*options, "DELETE", path + "/" + http::percent_encode(*id));
    if (!response) {
      exit_code = fail(response.error());
      return;
    }
    if (options->json) {
      std::cout << json::serialize(bj::object{{"deleted", *id}}) << std::endl;
    } else {
      std::cout << "Deleted " << *id << ".\n";
    }
  });
}

}  // namespace

void add_account_commands(CLI::App& app, int& exit_code) {
  for (auto [command, path, help] : {std::tuple{"signup", "/api/v1/auth/signup", "Create an account and sign in"},
                                     std::tuple{"login", "/api/v1/auth/login", "Sign in; the session is saved (0600)"}}) {
    auto options = std::make_shared<AccountOptions>();
    auto email = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand(command, help);
    cmd->add_option("--url", options->url, "Platform URL (default: $TOLLGATE_URL or http://127.0.0.1:8080)");
    cmd->add_option("--email", *email, "Account email")->required();
    cmd->add_flag("--json", options->json, "Print the raw JSON response");
    cmd->footer("The password is read from the terminal without echo, or from one line of stdin.");
    cmd->callback([=, &exit_code, path = std::string(path)] { exit_code = start_session(*options, *email, path); });
  }

  auto logout_options = std::make_shared<AccountOptions>();
  CLI::App* logout = app.add_subcommand("logout", "End the saved session");
  logout->add_option("--url", logout_options->url, "Platform URL");
  logout->callback([=, &exit_code] {
    auto response = call_platform(*logout_options, "POST", "/api/v1/auth/logout");
    ClientConfig config = load_config();
    config.session_token.clear();
    (void)save_config(config);
    if (!response && response.code() != ErrorCode::kUnauthenticated) {
      exit_code = fail(response.error());
      return;
    }
    std::cout << "Signed out.\n";
  });

  add_key_commands(app, exit_code, "keys", "/api/v1/keys", "agent API keys (scope agent:connect)");
  add_key_commands(app, exit_code, "provider-keys", "/api/v1/provider-keys", "provider keys (scope provider:charge)");
}

}  // namespace tollgate::cli
