// Accounts and sessions over HTTP against the real binary: who may call account endpoints
// (sessions only: API keys are SCOPE_DENIED, anything else UNAUTHENTICATED), CSRF for
// cookie writes, login rate limiting, the first account being admin, duplicate emails,
// logout, and the length limits on passwords and emails.
#include <gtest/gtest.h>

#include "keys/key.hpp"
#include "support/api_helpers.hpp"
#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;

std::string str(const bj::value& v) { return std::string(v.as_string()); }

std::string credentials(const std::string& email, const std::string& password) {
  return bj::serialize(bj::object{{"email", email}, {"password", password}});
}

TEST(Auth, ApiKeysOnAccountEndpointsAreScopeDenied) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  bj::object agent = platform.create_key(alice, "agent");
  bj::object provider = platform.create_key(alice, "server", /*provider=*/true);
  const std::string id = str(agent.at("id"));
  struct Call {
    const char* method;
    std::string path;
    std::string body;
  };
  const std::vector<Call> calls = {{"GET", "/api/v1/me", ""},
                                   {"GET", "/api/v1/keys", ""},
                                   {"POST", "/api/v1/keys", R"({"name": "x"})"},
                                   {"DELETE", "/api/v1/keys/" + id, ""},
                                   {"GET", "/api/v1/provider-keys", ""},
                                   {"POST", "/api/v1/provider-keys", R"({"name": "x"})"},
                                   {"POST", "/api/v1/auth/logout", ""}};
  for (const std::string& key : {str(agent.at("key")), str(provider.at("key"))}) {
    for (const auto& c : calls) {
      auto r = platform.request(c.method, c.path, c.body, key);
      EXPECT_EQ(r.status, 403u) << c.method << " " << c.path << ": " << r.body;
      EXPECT_EQ(error_code(r), "SCOPE_DENIED") << c.method << " " << c.path;
      EXPECT_EQ(r.body.find(key), std::string::npos) << "an error never echoes the key";
    }
  }
  // Nothing was created or deleted by those calls.
  bj::object list = platform.json_request("GET", "/api/v1/keys", nullptr, alice.token, 200);
  ASSERT_EQ(list.at("keys").as_array().size(), 1u);
  EXPECT_EQ(list.at("keys").as_array()[0].at("id").as_string(), id);
}

TEST(Auth, BadOrAbsentSessionIsUnauthenticated) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  std::string hex64(64, 'a');
  std::string upper = alice.token;
  for (std::size_t i = 5; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  const std::vector<std::pair<std::string, http::Headers>> attempts = {
      {"no credentials", {}},
      {"empty bearer", headers_of({{"Authorization", "Bearer "}})},
      {"bearer without token", headers_of({{"Authorization", "Bearer"}})},
      {"basic auth", headers_of({{"Authorization", "Basic YWxpY2U6cGFzc3dvcmQ="}})},
      {"garbage", headers_of({{"Authorization", "Bearer nonsense"}})},
      {"unknown session", headers_of({{"Authorization", "Bearer sess_" + hex64}})},
      {"truncated session", headers_of({{"Authorization", "Bearer " + alice.token.substr(0, alice.token.size() - 1)}})},
      {"uppercase session", headers_of({{"Authorization", "Bearer " + upper}})},
      {"session with trailing junk", headers_of({{"Authorization", "Bearer " + alice.token + "x"}})},
      {"unknown agent key", headers_of({{"Authorization", "Bearer sk_live_" + hex64}})},
      {"malformed agent key", headers_of({{"Authorization", "Bearer sk_live_123"}})},
      {"junk cookie", headers_of({{"Cookie", "tollgate_session=junk"}})},
      {"unknown session cookie", headers_of({{"Cookie", "tollgate_session=sess_" + hex64}})},
      {"token in another cookie", headers_of({{"Cookie", "other=" + alice.token}})},
  };
  for (const auto& [what, headers] : attempts) {
    for (const char* path : {"/api/v1/me", "/api/v1/keys", "/api/v1/provider-keys"}) {
      auto r = platform.request("GET", path, "", "", headers);
      EXPECT_EQ(r.status, 401u) << what << " " << path << ": " << r.body;
      EXPECT_EQ(error_code(r), "UNAUTHENTICATED") << what << " " << path;
    }
    auto post = platform.request("POST", "/api/v1/keys", R"({"name": "x"})", "", headers);
    EXPECT_EQ(error_code(post), "UNAUTHENTICATED") << what;
  }
  // The real session still works, by header and by cookie.
  EXPECT_EQ(platform.json_request("GET", "/api/v1/me", nullptr, alice.token, 200).at("email"), "alice@example.com");
  auto by_cookie = platform.request("GET", "/api/v1/me", "", "", headers_of({{"Cookie", "tollgate_session=" + alice.token}}));
  EXPECT_EQ(by_cookie.status, 200u) << by_cookie.body;
}

TEST(Auth, CookieWritesNeedTheCsrfHeader) {
  PlatformProcess platform;
  platform.signup("alice@example.com");
  auto login = platform.request("POST", "/api/v1/auth/login", credentials("alice@example.com", "correct horse battery"));
  ASSERT_EQ(login.status, 200u) << login.body;
  auto session = set_cookie_value(login, "tollgate_session");
  auto csrf = set_cookie_value(login, "tollgate_csrf");
  ASSERT_TRUE(session && csrf);
  EXPECT_EQ(*session, str(parse_object(login.body).at("session_token")));
  std::string session_cookie = set_cookie_header(login, "tollgate_session");
  EXPECT_NE(session_cookie.find("HttpOnly"), std::string::npos) << session_cookie;
  EXPECT_NE(session_cookie.find("SameSite=Strict"), std::string::npos) << session_cookie;
  EXPECT_NE(session_cookie.find("Path=/"), std::string::npos) << session_cookie;
  EXPECT_EQ(session_cookie.find("Secure"), std::string::npos) << "plain http: a Secure cookie would never come back";
  EXPECT_EQ(set_cookie_header(login, "tollgate_csrf").find("HttpOnly"), std::string::npos)
      << "the dashboard script must be able to read the CSRF cookie";
  std::string cookies = "tollgate_session=" + *session + "; tollgate_csrf=" + *csrf;

  // Reads need no CSRF token.
  EXPECT_EQ(platform.request("GET", "/api/v1/keys", "", "", headers_of({{"Cookie", cookies}})).status, 200u);

  const std::string body = R"({"name": "from the browser"})";
  for (const auto& [what, headers] :
       std::vector<std::pair<std::string, http::Headers>>{
           {"no header", headers_of({{"Cookie", cookies}})},
           {"wrong header", headers_of({{"Cookie", cookies}, {"X-CSRF-Token", std::string(csrf->size(), '0')}})},
           {"empty header", headers_of({{"Cookie", cookies}, {"X-CSRF-Token", ""}})},
           {"header but no csrf cookie", headers_of({{"Cookie", "tollgate_session=" + *session}, {"X-CSRF-Token", *csrf}})},
           {"both empty", headers_of({{"Cookie", "tollgate_session=" + *session + "; tollgate_csrf="}, {"X-CSRF-Token", ""}})},
       }) {
    auto r = platform.request("POST", "/api/v1/keys", body, "", headers);
    EXPECT_EQ(r.status, 403u) << what << ": " << r.body;
    EXPECT_EQ(error_code(r), "CSRF_FAILED") << what;
  }
  EXPECT_TRUE(platform.json_request("GET", "/api/v1/keys", nullptr, *session, 200).at("keys").as_array().empty())
      << "a rejected write wrote nothing";

  auto created = platform.request("POST", "/api/v1/keys", body, "", headers_of({{"Cookie", cookies}, {"X-CSRF-Token", *csrf}}));
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string id = str(parse_object(created.body).at("id"));

  auto del = platform.request("DELETE", "/api/v1/keys/" + id, "", "", headers_of({{"Cookie", cookies}}));
  EXPECT_EQ(error_code(del), "CSRF_FAILED");
  EXPECT_EQ(platform.json_request("GET", "/api/v1/keys", nullptr, *session, 200).at("keys").as_array().size(), 1u);
  del = platform.request("DELETE", "/api/v1/keys/" + id, "", "", headers_of({{"Cookie", cookies}, {"X-CSRF-Token", *csrf}}));
  EXPECT_EQ(del.status, 204u) << del.body;

  auto logout = platform.request("POST", "/api/v1/auth/logout", "", "", headers_of({{"Cookie", cookies}}));
  EXPECT_EQ(error_code(logout), "CSRF_FAILED");
  logout = platform.request("POST", "/api/v1/auth/logout", "", "", headers_of({{"Cookie", cookies}, {"X-CSRF-Token", *csrf}}));
  EXPECT_EQ(logout.status, 204u);
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/me", "", "", headers_of({{"Cookie", cookies}}))), "UNAUTHENTICATED");
}

TEST(Auth, EleventhFailedLoginIsRateLimited) {
  PlatformProcess platform;
  platform.signup("alice@example.com");
  for (int i = 1; i <= 10; ++i) {
    auto r = platform.request("POST", "/api/v1/auth/login", credentials("alice@example.com", "wrong password"));
    ASSERT_EQ(r.status, 401u) << "attempt " << i << ": " << r.body;
    EXPECT_EQ(error_code(r), "INVALID_CREDENTIALS");
  }
  // The 11th attempt is refused before the password is even checked, so the right password
  // does not get through either.
  auto limited = platform.request("POST", "/api/v1/auth/login", credentials("alice@example.com", "correct horse battery"));
  EXPECT_EQ(limited.status, 429u) << limited.body;
  EXPECT_EQ(error_code(limited), "RATE_LIMITED");
  auto other_case = platform.request("POST", "/api/v1/auth/login", credentials("ALICE@example.com", "correct horse battery"));
  EXPECT_EQ(error_code(other_case), "RATE_LIMITED") << "the email is counted case-insensitively";
  // Per IP too: the same client trying another account is limited.
  auto other_email = platform.request("POST", "/api/v1/auth/login", credentials("bob@example.com", "whatever1"));
  EXPECT_EQ(error_code(other_email), "RATE_LIMITED");
  EXPECT_NE(wait_for_metrics_line(platform, "tollgate_auth_failures_total{code=\"RATE_LIMITED\"} 3").find(
                "tollgate_auth_failures_total{code=\"INVALID_CREDENTIALS\"} 10"),
            std::string::npos);
}

TEST(Auth, LoginSucceedsWithTheRightPasswordAndFailsAlikeForUnknownEmails) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  auto ok = platform.request("POST", "/api/v1/auth/login", credentials("Alice@Example.com", "correct horse battery"));
  ASSERT_EQ(ok.status, 200u) << ok.body;
  bj::object body = parse_object(ok.body);
  EXPECT_EQ(body.at("account").at("id"), bj::value(alice.account_id));
  EXPECT_EQ(body.at("account").at("email"), "alice@example.com");
  std::string token = str(body.at("session_token"));
  EXPECT_TRUE(keys::is_well_formed(token, keys::kSessionPrefix)) << token;
  EXPECT_NE(token, alice.token) << "every login is a new session";
  EXPECT_EQ(platform.json_request("GET", "/api/v1/me", nullptr, token, 200).at("id"), bj::value(alice.account_id));

  auto wrong = platform.request("POST", "/api/v1/auth/login", credentials("alice@example.com", "wrong password"));
  auto unknown = platform.request("POST", "/api/v1/auth/login", credentials("nobody@example.com", "wrong password"));
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(error_code(wrong), "INVALID_CREDENTIALS");
  EXPECT_EQ(wrong.body, unknown.body) << "an unknown email is not revealed";
}

TEST(Auth, FirstAccountIsAdminSecondIsNot) {
  PlatformProcess platform;
  Session first = platform.signup("first@example.com");
  Session second = platform.signup("second@example.com");
  bj::object me1 = platform.json_request("GET", "/api/v1/me", nullptr, first.token, 200);
  bj::object me2 = platform.json_request("GET", "/api/v1/me", nullptr, second.token, 200);
  EXPECT_EQ(me1.at("is_admin"), bj::value(true));
  EXPECT_EQ(me2.at("is_admin"), bj::value(false));
  EXPECT_EQ(me1.at("id"), bj::value(first.account_id));
  EXPECT_EQ(me1.at("email"), "first@example.com");
  EXPECT_NE(first.account_id, second.account_id);
}

TEST(Auth, DuplicateEmailIsEmailTaken) {
  PlatformProcess platform;
  platform.signup("alice@example.com");
  for (const char* email : {"alice@example.com", "ALICE@example.COM"}) {
    auto r = platform.request("POST", "/api/v1/auth/signup", credentials(email, "another password"));
    EXPECT_EQ(r.status, 409u) << email << ": " << r.body;
    EXPECT_EQ(error_code(r), "EMAIL_TAKEN") << email;
  }
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM accounts"), 1);
}

TEST(Auth, LogoutEndsTheSession) {
  PlatformProcess platform;
  Session alice = platform.signup("alice@example.com");
  auto other = platform.request("POST", "/api/v1/auth/login", credentials("alice@example.com", "correct horse battery"));
  std::string other_token = str(parse_object(other.body).at("session_token"));

  auto out = platform.request("POST", "/api/v1/auth/logout", "", alice.token);
  EXPECT_EQ(out.status, 204u) << out.body;
  EXPECT_NE(set_cookie_header(out, "tollgate_session").find("Max-Age=0"), std::string::npos) << "the cookie is cleared";
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/me", "", alice.token)), "UNAUTHENTICATED");
  EXPECT_EQ(error_code(platform.request("GET", "/api/v1/keys", "", alice.token)), "UNAUTHENTICATED");
  EXPECT_EQ(error_code(platform.request("POST", "/api/v1/auth/logout", "", alice.token)), "UNAUTHENTICATED");
  // Only that session ended.
  EXPECT_EQ(platform.request("GET", "/api/v1/me", "", other_token).status, 200u);
}

TEST(Auth, PasswordLengthLimitsOneStepPastEachEnd) {
  PlatformProcess platform;
  auto signup = [&](const std::string& email, std::size_t length) {
    return platform.request("POST", "/api/v1/auth/signup", credentials(email, std::string(length, 'p')));
  };
  auto seven = signup("seven@example.com", 7);
  EXPECT_EQ(seven.status, 400u) << seven.body;
  EXPECT_EQ(error_code(seven), "INVALID_REQUEST");
  EXPECT_EQ(signup("eight@example.com", 8).status, 201u);
  EXPECT_EQ(signup("long@example.com", 1024).status, 201u);
  auto too_long = signup("toolong@example.com", 1025);
  EXPECT_EQ(too_long.status, 400u) << too_long.body;
  EXPECT_EQ(error_code(too_long), "INVALID_REQUEST");
  // The long password really is the password.
  EXPECT_EQ(platform.request("POST", "/api/v1/auth/login", credentials("long@example.com", std::string(1024, 'p'))).status,
            200u);
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM accounts"), 2);
}

TEST(Auth, EmailIsValidatedAndLimitedTo254Characters) {
  PlatformProcess platform;
  std::string local(64, 'a');
  std::string at_limit = local + "@" + std::string(254 - 65 - 4, 'b') + ".com";
  ASSERT_EQ(at_limit.size(), 254u);
  EXPECT_EQ(platform.request("POST", "/api/v1/auth/signup", credentials(at_limit, "password1")).status, 201u);
  auto too_long = platform.request("POST", "/api/v1/auth/signup", credentials("c" + at_limit, "password1"));
  EXPECT_EQ(too_long.status, 400u) << too_long.body;
  EXPECT_EQ(error_code(too_long), "INVALID_REQUEST");
  for (const char* bad : {"", "plain", "@example.com", "alice@", "a@b@c", "a b@example.com", "a@exa\tmple.com"}) {
    auto r = platform.request("POST", "/api/v1/auth/signup", credentials(bad, "password1"));
    EXPECT_EQ(r.status, 400u) << "'" << bad << "': " << r.body;
    EXPECT_EQ(error_code(r), "INVALID_REQUEST") << bad;
  }
  for (const char* body : {"", "{", "[]", R"({"email": "a@b.c"})", R"({"email": 1, "password": "password1"})",
                           R"({"password": "password1"})"}) {
    auto r = platform.request("POST", "/api/v1/auth/signup", body, "", headers_of({{"Content-Type", "application/json"}}));
    EXPECT_EQ(error_code(r), "INVALID_REQUEST") << body << ": " << r.body;
  }
  EXPECT_EQ(sqlite_count(platform.db_url(), "SELECT COUNT(*) FROM accounts"), 1);
}

}  // namespace
}  // namespace tollgate::test
