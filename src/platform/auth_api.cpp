// Accounts and sessions: signup, login, logout, me; and authenticate() for every account
// endpoint. Sessions are `sess_` tokens stored as SHA-256; the browser gets an HttpOnly
// SameSite=Strict cookie plus a readable CSRF cookie that cookie-authenticated writes must
// echo in the X-CSRF-Token header (double submit).
#include <fmt/format.h>

#include "common/crypto.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "keys/key.hpp"
#include "platform/context.hpp"
#include "platform/passwords.hpp"

namespace tollgate::platform {
namespace {

namespace bj = boost::json;
using http::Request;
using http::Response;

constexpr std::string_view kSessionCookie = "tollgate_session";
constexpr std::string_view kCsrfCookie = "tollgate_csrf";
constexpr std::string_view kCsrfHeader = "X-CSRF-Token";
constexpr std::size_t kMaxEmailLength = 254;

Result<std::string> normalize_email(std::string_view email) {
  auto bad = [] { return Error{ErrorCode::kInvalidRequest, "'email' must be an email address like name@example.com."}; };
  if (email.size() > kMaxEmailLength) {
    return Error{ErrorCode::kInvalidRequest, fmt::format("'email' must be at most {} characters.", kMaxEmailLength)};
  }
  std::size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= email.size() || email.find('@', at + 1) != std::string_view::npos)
    return bad();
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad();
  }
  return ascii_lowercase(email);
}

Status check_password(std::string_view password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength) {
    return Error{ErrorCode::kInvalidRequest, fmt::format("'password' must be {} to {} characters.", kMinPasswordLength,
                                                         kMaxPasswordLength)};
  }
  return ok_status();
}

bool secure_cookies(const Context& ctx, const Request& request) {
  return request.tls || ctx.options.public_url.starts_with("https://");
}

bj::object account_json(const store::Account& a) {
  return {{"id", a.id}, {"email", a.email}, {"is_admin", a.is_admin}};
}

// Creates a session (group-committed with other writes) and the response carrying it (body,
// session cookie, CSRF cookie).
boost::asio::awaitable<Result<Response>> start_session(Context& ctx, const Request& request,
                                                       const store::Account& account, unsigned status) {
  std::string token = keys::generate_session_token();
  UnixMicros expires = now_micros() + std::chrono::duration_cast<std::chrono::microseconds>(ctx.options.session_ttl).count();
  // A named local: GCC 12 mishandles non-trivial temporaries inside co_await expressions.
  store::AccountWrite create = store::CreateSession{keys::hash_secret(token), account.id, expires};
  auto stored = co_await ctx.writes.submit(std::move(create));
  if (!stored.ok()) co_return stored.error();
  Response r = Response::json(status, bj::object{{"account", account_json(account)}, {"session_token", token}});
  long max_age = std::chrono::duration_cast<std::chrono::seconds>(ctx.options.session_ttl).count();
  std::string secure = secure_cookies(ctx, request) ? "; Secure" : "";
  r.headers.add("Set-Cookie", fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", kSessionCookie,
                                          token, max_age, secure));
  r.headers.add("Set-Cookie",
                fmt::format("{}={}; Path=/; SameSite=Strict; Max-Age={}{}", kCsrfCookie, random_hex(16), max_age, secure));
  co_return std::move(r);
}

}  // namespace

std::optional<std::string_view> bearer_token(const Request& request) {
  auto header = request.header("Authorization");
  if (!header) return std::nullopt;
  std::string_view value = *header;
  if (value.size() < 7 || ascii_lowercase(value.substr(0, 7)) != "bearer ") return std::string_view{};
  value.remove_prefix(7);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return value;
}

namespace {

Error unauthenticated() {
  return Error{ErrorCode::kUnauthenticated, "Sign in first: this endpoint needs a session (the dashboard cookie or "
                                            "'Authorization: Bearer sess_...' from `tollgate login`)."};
}

}  // namespace

Result<bj::object> body_object(const Request& request) { return json::parse_object(request.body); }

Result<store::Account> authenticate(Context& ctx, const Request& request, bool write) {
  auto fail = [&](Error e) -> Result<store::Account> {
    ctx.metrics.add("auth_failures", "code", to_string(e.code));
    return e;
  };
  std::optional<std::string> token;
  bool from_cookie = false;
  if (auto bearer = bearer_token(request)) {
    if (bearer->starts_with(keys::kApiKeyPrefix)) {
      auto key = ctx.verifier.identify(*bearer);
      if (!key) return key.error();
      if (key->has_value()) {
        return fail(Error{ErrorCode::kScopeDenied, fmt::format("This is an API key (scope {}); account endpoints need a "
                                                               "session. Sign in with `tollgate login` or the dashboard.",
                                                               keys::to_string((*key)->scope))});
      }
      return fail(unauthenticated());
    }
    token = std::string(*bearer);
  } else if (auto cookie = request.cookie(kSessionCookie)) {
    token = std::move(cookie);
    from_cookie = true;
  }
  if (!token || !keys::is_well_formed(*token, keys::kSessionPrefix)) return fail(unauthenticated());
  auto account = ctx.store.find_session(keys::hash_secret(*token), now_micros());
  if (!account) return account.error();
  if (!account->has_value()) return fail(unauthenticated());
  if (write && from_cookie) {
    auto expected = request.cookie(kCsrfCookie);
    auto presented = request.header(kCsrfHeader);
    if (!expected || !presented || expected->empty() || !constant_time_equal(*expected, *presented)) {
      return fail(Error{ErrorCode::kCsrfFailed, "This write must carry the X-CSRF-Token header (the dashboard sends it; "
                                                "scripts should use 'Authorization: Bearer sess_...')."});
    }
  }
  return std::move(**account);
}

void add_auth_routes(http::Router& router, std::shared_ptr<Context> ctx) {
  router.add("POST", "/api/v1/auth/signup", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto body = body_object(request);
    if (!body) co_return Response::error(body.error());
    auto email = json::required_string(*body, "email");
    if (!email) co_return Response::error(email.error());
    auto password = json::required_string(*body, "password");
    if (!password) co_return Response::error(password.error());
    auto normalized = normalize_email(*email);
    if (!normalized) co_return Response::error(normalized.error());
    if (auto st = check_password(*password); !st.ok()) co_return Response::error(st.error());

    // A named closure: GCC 12 mishandles non-trivial temporaries inside co_await expressions.
    auto hash_work = [&] { return hash_password(*password); };
    auto hash = co_await ctx->offload(hash_work);
    if (!hash) co_return Response::error(ErrorCode::kInternal, "Could not hash the password; try again.");
    auto account = ctx->store.create_account(*normalized, *hash);
    if (!account) co_return Response::error(account.error());
    spdlog::info("account created: {}{}", account->id, account->is_admin ? " (admin: first account)" : "");
    auto response = co_await start_session(*ctx, request, *account, 201);
    if (!response) co_return Response::error(response.error());
    co_return std::move(*response);
  });

  router.add("POST", "/api/v1/auth/login", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto body = body_object(request);
    if (!body) co_return Response::error(body.error());
    auto email = json::required_string(*body, "email");
    if (!email) co_return Response::error(email.error());
    auto password = json::required_string(*body, "password");
    if (!password) co_return Response::error(password.error());
    std::string email_key = "email:" + ascii_lowercase(*email);
    std::string ip_key = "ip:" + request.remote_address;
    if (ctx->login_limiter.exhausted(email_key) || ctx->login_limiter.exhausted(ip_key)) {
      ctx->metrics.add("auth_failures", "code", "RATE_LIMITED");
      co_return Response::error(ErrorCode::kRateLimited, "Too many failed sign-in attempts; wait 15 minutes and try again.");
    }
    auto found = ctx->store.find_account_by_email(ascii_lowercase(*email));
    if (!found) co_return Response::error(found.error());
    auto verify_work = [&] {
      if (!found->has_value() || password->size() > kMaxPasswordLength) {
        verify_dummy_password(*password);
        return false;
      }
      return verify_password((*found)->password_hash, *password);
    };
    bool ok = co_await ctx->offload(verify_work);
    if (!ok) {
      ctx->login_limiter.record(email_key);
      ctx->login_limiter.record(ip_key);
      ctx->metrics.add("auth_failures", "code", "INVALID_CREDENTIALS");
      co_return Response::error(ErrorCode::kInvalidCredentials, "The email or password is not correct.");
    }
    auto response = co_await start_session(*ctx, request, (*found)->account, 200);
    if (!response) co_return Response::error(response.error());
    co_return std::move(*response);
  });

  router.add("POST", "/api/v1/auth/logout", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, /*write=*/true);
    if (!account) co_return Response::error(account.error());
    std::string token = bearer_token(request) ? std::string(*bearer_token(request))
                                              : request.cookie(kSessionCookie).value_or("");
    store::AccountWrite remove = store::DeleteSession{keys::hash_secret(token)};
    auto st = co_await ctx->writes.submit(std::move(remove));
    if (!st.ok()) co_return Response::error(st.error());
    Response r = Response::no_content();
    r.headers.add("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", kSessionCookie));
    r.headers.add("Set-Cookie", fmt::format("{}=; Path=/; SameSite=Strict; Max-Age=0", kCsrfCookie));
    co_return r;
  });

  router.add("GET", "/api/v1/me", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, /*write=*/false);
    if (!account) co_return Response::error(account.error());
    co_return Response::json(200, account_json(*account));
  });
}

}  // namespace tollgate::platform
