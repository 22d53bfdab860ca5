// The CLI against the real binary: `tollgate signup/login/logout/keys ...` drive a running
// `tollgate serve` like a person or a script would. Each test has its own HOME and
// XDG_CONFIG_HOME, so the saved session (mode 0600) is the test's alone.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/api_helpers.hpp"
#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;

const std::string kPassword = "correct horse battery";

std::string str(const bj::value& v) { return std::string(v.as_string()); }

// One user's machine: a home directory and the `tollgate` binary run inside it.
class CliUser {
 public:
  RunResult run(std::vector<std::string> args, std::optional<std::string> stdin_text = std::string()) const {
    Process::Options p;
    p.args = {tollgate_binary()};
    p.args.insert(p.args.end(), args.begin(), args.end());
    p.env = {{"HOME", home_.path()}, {"XDG_CONFIG_HOME", home_.file("config")}, {"TOLLGATE_URL", ""}};
    p.stdin_text = std::move(stdin_text);
    p.working_dir = home_.path();
    return test::run(std::move(p));
  }
  std::string config_file() const { return home_.file("config") + "/tollgate/config.json"; }
  bj::object config() const { return parse_object(read_file(config_file())); }

 private:
  TempDir home_;
};

// stderr of a failed command: exactly one line, "error: CODE: message" (after the
// confirmation prompt's own line, for a command that asked one).
void expect_one_line_error(const RunResult& r, const std::string& code, bool after_prompt = false) {
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), after_prompt ? 2 : 1) << "stderr: '" << r.err << "'";
  std::string last_line = r.err;
  if (!last_line.empty() && last_line.back() == '\n') last_line.pop_back();
  last_line = last_line.substr(last_line.rfind('\n') == std::string::npos ? 0 : last_line.rfind('\n') + 1);
  EXPECT_TRUE(std::regex_match(last_line, std::regex("error: " + code + ": [^\n]+"))) << "stderr: '" << r.err << "'";
  EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << "the error line ends with a newline";
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// The agent-side verdict on a key, from the charge API's verify endpoint.
std::string verify_code(const PlatformProcess& platform, const std::string& provider_key, const std::string& agent_key) {
  auto r = platform.request("POST", "/api/v1/verify", bj::serialize(bj::object{{"agent_token", agent_key}}), provider_key);
  return r.status == 200 ? "OK" : error_code(r);
}

TEST(Cli, SignupCreateListDeleteVerify) {
  PlatformProcess platform;
  CliUser user;

  auto signup = user.run({"signup", "--url", platform.url(), "--email", "alice@example.com"}, kPassword + "\n");
  ASSERT_EQ(signup.status, 0) << signup.err;
  EXPECT_NE(signup.out.find("Signed in to " + platform.url() + " as alice@example.com"), std::string::npos) << signup.out;
  EXPECT_EQ(signup.out.find("sess_"), std::string::npos) << "the session token is not printed";
  EXPECT_EQ(mode_of(user.config_file()), 0600u);
  EXPECT_EQ(mode_of(std::filesystem::path(user.config_file()).parent_path().string()), 0700u);
  bj::object config = user.config();
  EXPECT_EQ(config.at("url"), bj::value(platform.url()));
  std::string session = str(config.at("session_token"));
  EXPECT_EQ(platform.json_request("GET", "/api/v1/me", nullptr, session, 200).at("email"), "alice@example.com");

  // Human output: the key once, with the warning to copy it.
  auto created = user.run({"keys", "create", "--name", "Claude Desktop"});
  ASSERT_EQ(created.status, 0) << created.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(created.out, m, std::regex("Created (key_[0-9a-f]+) \"Claude Desktop\" \\(agent:connect\\)")))
      << created.out;
  std::string human_id = m[1];
  ASSERT_TRUE(std::regex_search(created.out, m, std::regex("\n  (sk_live_[0-9a-f]{64})\n"))) << created.out;
  std::string human_key = m[1];
  EXPECT_NE(created.out.find("only time the full key is shown"), std::string::npos) << created.out;

  // --json output for scripts: the create response as is.
  auto created_json = user.run({"keys", "create", "--name", "Production", "--json"});
  ASSERT_EQ(created_json.status, 0) << created_json.err;
  bj::object json_key = parse_object(created_json.out);
  std::string json_id = str(json_key.at("id"));
  std::string json_secret = str(json_key.at("key"));
  EXPECT_EQ(json_key.at("scope"), "agent:connect");

  auto provider = user.run({"provider-keys", "create", "--name", "My server", "--json"});
  ASSERT_EQ(provider.status, 0) << provider.err;
  std::string provider_key = str(parse_object(provider.out).at("key"));
  EXPECT_EQ(verify_code(platform, provider_key, human_key), "OK");
  EXPECT_EQ(verify_code(platform, provider_key, json_secret), "OK");

  // Human table: header, one row per key, display form only.
  auto list = user.run({"keys", "list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("^ID +NAME +KEY +CREATED +LAST USED +SPEND LIMIT\n"))) << list.out;
  EXPECT_TRUE(std::regex_search(list.out, std::regex(human_id + " +Claude Desktop +sk_live_\\.\\.\\." +
                                                     human_key.substr(68) + " +\\d{4}-\\d\\d-\\d\\dT[0-9:]{8}Z +"))) << list.out;
  EXPECT_NE(list.out.find(json_id + "  "), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(human_key), std::string::npos) << "list never shows a full key";
  EXPECT_EQ(list.out.find(json_secret), std::string::npos);
  EXPECT_EQ(list.out.find(human_key.substr(8, 60)), std::string::npos);
  // Columns line up: KEY starts at the same offset on every line.
  std::istringstream lines(list.out);
  std::string line;
  std::size_t key_column = std::string::npos;
  while (std::getline(lines, line)) {
    std::size_t col = line.find("KEY") != std::string::npos ? line.find("KEY") : line.find("sk_live_...");
    if (key_column == std::string::npos) key_column = col;
    EXPECT_EQ(col, key_column) << list.out;
  }

  auto list_json = user.run({"keys", "list", "--json"});
  ASSERT_EQ(list_json.status, 0);
  bj::object listed = parse_object(list_json.out);
  ASSERT_EQ(listed.at("keys").as_array().size(), 2u);
  for (const auto& k : listed.at("keys").as_array()) EXPECT_FALSE(k.as_object().contains("key"));

  // Delete asks first; "n" (or no answer) deletes nothing.
  for (std::optional<std::string> answer : {std::optional<std::string>("n\n"), std::optional<std::string>("")}) {
    auto declined = user.run({"keys", "delete", human_id}, answer);
    expect_one_line_error(declined, "INVALID_REQUEST", /*after_prompt=*/true);
    EXPECT_NE(declined.err.find("[y/N]"), std::string::npos) << "asked for confirmation: " << declined.err;
    EXPECT_NE(declined.err.find("nothing was deleted"), std::string::npos);
    EXPECT_EQ(verify_code(platform, provider_key, human_key), "OK") << "declining deleted the key";
  }
  auto confirmed = user.run({"keys", "delete", human_id}, std::string("y\n"));
  ASSERT_EQ(confirmed.status, 0) << confirmed.err;
  EXPECT_NE(confirmed.out.find("Deleted " + human_id), std::string::npos) << confirmed.out;
  // The very next verification of the deleted key fails.
  EXPECT_EQ(verify_code(platform, provider_key, human_key), "TOKEN_INVALID");
  EXPECT_EQ(verify_code(platform, provider_key, json_secret), "OK");

  // --yes skips the question; --json reports what was deleted.
  auto yes = user.run({"keys", "delete", json_id, "--yes", "--json"}, std::nullopt);
  ASSERT_EQ(yes.status, 0) << yes.err;
  EXPECT_EQ(parse_object(yes.out).at("deleted"), bj::value(json_id));
  EXPECT_EQ(yes.err.find("[y/N]"), std::string::npos) << yes.err;
  EXPECT_EQ(verify_code(platform, provider_key, json_secret), "TOKEN_INVALID");

  auto empty = user.run({"keys", "list"});
  EXPECT_EQ(empty.status, 0);
  EXPECT_NE(empty.out.find("No keys yet"), std::string::npos) << empty.out;

  // Deleting again: a one-line error and a non-zero exit.
  expect_one_line_error(user.run({"keys", "delete", json_id, "--yes"}), "NOT_FOUND");
}

TEST(Cli, LoginAndLogout) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com", kPassword);
  CliUser user;

  auto wrong = user.run({"login", "--url", platform.url(), "--email", "alice@example.com"}, std::string("nope nope\n"));
  expect_one_line_error(wrong, "INVALID_CREDENTIALS");
  EXPECT_FALSE(std::filesystem::exists(user.config_file())) << "a failed login saves nothing";

  auto login = user.run({"login", "--url", platform.url(), "--email", "alice@example.com", "--json"}, kPassword + "\n");
  ASSERT_EQ(login.status, 0) << login.err;
  bj::object body = parse_object(login.out);
  EXPECT_EQ(body.at("account").at("email"), "alice@example.com");
  EXPECT_EQ(mode_of(user.config_file()), 0600u);
  std::string session = str(user.config().at("session_token"));
  EXPECT_NE(session, alice.token);

  auto list = user.run({"keys", "list", "--json"});
  EXPECT_EQ(list.status, 0) << list.err;

  auto logout = user.run({"logout"});
  EXPECT_EQ(logout.status, 0) << logout.err;
  EXPECT_NE(logout.out.find("Signed out"), std::string::npos);
  EXPECT_EQ(mode_of(user.config_file()), 0600u);
  EXPECT_EQ(user.config().at("session_token"), "") << "the token is gone from the config file";
  EXPECT_EQ(read_file(user.config_file()).find(session), std::string::npos);
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/me", "", session)), "UNAUTHENTICATED") << "the session ended";
  EXPECT_EQ(platform.request("GET", "/api/v1/me", "", alice.token).status, 200u) << "other sessions live on";

  expect_one_line_error(user.run({"keys", "list"}), "UNAUTHENTICATED");
  expect_one_line_error(user.run({"keys", "create", "--name", "x"}), "UNAUTHENTICATED");
}

TEST(Cli, ConfigFileIs0600WhateverTheUmaskAndPreviousMode) {
  PlatformProcess platform;
  platform.signup("alice@example.com", kPassword);
  CliUser user;
  std::filesystem::create_directories(std::filesystem::path(user.config_file()).parent_path());
  {
    std::ofstream(user.config_file()) << "{}";
  }
  chmod(user.config_file().c_str(), 0644);
  mode_t old_umask = umask(0);  // inherited by the child: the CLI must not rely on it
  auto login = user.run({"login", "--url", platform.url(), "--email", "alice@example.com"}, kPassword + "\n");
  umask(old_umask);
  ASSERT_EQ(login.status, 0) << login.err;
  EXPECT_EQ(mode_of(user.config_file()), 0600u);
  EXPECT_EQ(mode_of(std::filesystem::path(user.config_file()).parent_path().string()), 0700u);
  // No temporary file with the token is left behind.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(user.config_file()).parent_path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(Cli, FailuresExitNonZeroWithOneErrorLine) {
  PlatformProcess platform;
  CliUser user;
  ASSERT_EQ(user.run({"signup", "--url", platform.url(), "--email", "alice@example.com"}, kPassword + "\n").status, 0);

  expect_one_line_error(user.run({"keys", "create", "--name", std::string(65, 'n')}), "INVALID_REQUEST");
  expect_one_line_error(user.run({"signup", "--url", platform.url(), "--email", "alice@example.com"}, kPassword + "\n"),
                        "EMAIL_TAKEN");
  expect_one_line_error(user.run({"signup", "--url", platform.url(), "--email", "bob@example.com"}, std::string("short\n")),
                        "INVALID_REQUEST");
  // An unreachable platform: port 1 on loopback refuses at once.
  expect_one_line_error(user.run({"keys", "list", "--url", "http://127.0.0.1:1"}), "PLATFORM_UNAVAILABLE");
  expect_one_line_error(user.run({"keys", "list", "--url", "ftp://example.com"}), "[A-Z_]+");
  // Usage errors (CLI11) exit non-zero too.
  auto missing_name = user.run({"keys", "create"});
  EXPECT_NE(missing_name.status, 0);
  EXPECT_NE(missing_name.err.find("--name"), std::string::npos) << missing_name.err;
  // The saved session was not disturbed by any of this.
  EXPECT_EQ(user.run({"keys", "list"}).status, 0);
}

}  // namespace
}  // namespace tollgate::test
