// Agent keys (/api/v1/keys) and provider keys (/api/v1/provider-keys): create (the only
// response that ever holds the full key), list (display form only), delete (immediate and
// permanent). Keys of another account are NOT_FOUND, never "forbidden", so ids leak nothing.
#include <fmt/format.h>

#include "common/log.hpp"
#include "keys/key.hpp"
#include "platform/context.hpp"

namespace tollgate::platform {
namespace {

namespace bj = boost::json;
using http::Request;
using http::Response;

constexpr std::size_t kMaxKeyNameChars = 64;

// Counts UTF-8 code points; Boost.JSON has already rejected invalid UTF-8.
std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

Result<std::string> parse_name(const bj::object& body) {
  auto name = json::required_string(body, "name");
  if (!name) return name.error();
  bool blank = std::all_of(name->begin(), name->end(), [](char c) { return c == ' ' || c == '\t'; });
  if (name->empty() || blank) return Error{ErrorCode::kInvalidRequest, "'name' must not be empty."};
  if (utf8_length(*name) > kMaxKeyNameChars) {
    return Error{ErrorCode::kInvalidRequest, fmt::format("'name' must be at most {} characters.", kMaxKeyNameChars)};
  }
  for (unsigned char c : *name) {
    if (c < 0x20 || c == 0x7f) return Error{ErrorCode::kInvalidRequest, "'name' must not contain control characters."};
  }
  return name;
}

Result<std::optional<store::SpendLimit>> parse_spend_limit(const bj::object& body) {
  auto it = body.find("spend_limit");
  if (it == body.end() || it->value().is_null()) return std::optional<store::SpendLimit>();
  auto bad = [] {
    return Error{ErrorCode::kInvalidRequest,
                 "'spend_limit' must be null or {\"amount\": \"5.00\", \"period\": \"day\" | \"month\" | \"total\"}."};
  };
  if (!it->value().is_object()) return bad();
  const auto& limit = it->value().as_object();
  auto amount = json::required_string(limit, "amount");
  auto period = json::required_string(limit, "period");
  if (!amount || !period) return bad();
  auto micros = parse_money(*amount, "spend_limit.amount");
  if (!micros) return micros.error();
  if (*micros <= 0) return Error{ErrorCode::kInvalidRequest, "'spend_limit.amount' must be greater than zero."};
  auto parsed_period = store::parse_period(*period);
  if (!parsed_period) return bad();
  return std::optional<store::SpendLimit>(store::SpendLimit{*micros, *parsed_period});
}

bj::value spend_limit_json(const std::optional<store::SpendLimit>& limit) {
  if (!limit) return nullptr;
  return bj::object{{"amount", format_money(limit->amount_micros)}, {"period", store::to_string(limit->period)}};
}

// {"keys": [...]}, written straight into its text: a listing is the most frequent account
// request, and building a document of 7 fields per key and then serializing it cost more
// than reading the keys (mostly allocations). The fields and their order are those of the
// create response, without the key itself.
std::string list_json(const std::vector<store::KeyRecord>& keys, const keys::KeyVerifier& verifier) {
  std::string out;
  out.reserve(16 + keys.size() * 320);
  out += "{\"keys\":[";
  for (const auto& k : keys) {
    if (&k != keys.data()) out += ',';
    std::optional<UnixMicros> last_used = k.last_used_at;
    if (auto pending = verifier.pending_last_used(k.id)) last_used = std::max(last_used.value_or(0), *pending);
    out += "{\"id\":";
    json::append_string(out, k.id);
    out += ",\"name\":";
    json::append_string(out, k.name);
    out += ",\"display\":";
    json::append_string(out, keys::display(k.last4));
    out += ",\"scope\":";
    json::append_string(out, keys::to_string(k.scope));
    out += ",\"created_at\":";
    json::append_string(out, format_rfc3339(k.created_at));
    out += ",\"last_used_at\":";
    if (last_used) {
      json::append_string(out, format_rfc3339(*last_used));
    } else {
      out += "null";
    }
    out += ",\"spend_limit\":";
    if (k.spend_limit) {
      out += "{\"amount\":";
      json::append_string(out, format_money(k.spend_limit->amount_micros));
      out += ",\"period\":";
      json::append_string(out, store::to_string(k.spend_limit->period));
      out += '}';
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "]}";
  return out;
}

void add_routes_for(http::Router& router, std::shared_ptr<Context> ctx, const std::string& base, keys::Scope scope) {
  router.add("POST", base, [ctx, scope](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, /*write=*/true);
    if (!account) co_return Response::error(account.error());
    auto body = body_object(request);
    if (!body) co_return Response::error(body.error());
    auto name = parse_name(*body);
    if (!name) co_return Response::error(name.error());
    auto limit = parse_spend_limit(*body);
    if (!limit) co_return Response::error(limit.error());
    if (limit->has_value() && scope == keys::Scope::kProvider) {
      co_return Response::error(ErrorCode::kInvalidRequest, "'spend_limit' applies to agent keys only.");
    }
    std::string secret = keys::generate_api_key();
    store::NewKey key{time_ordered_id("key_"), account->id, *name, scope, keys::hash_secret(secret),
                      keys::last4(secret), now_micros(), *limit};
    // The key-count limit is checked in the transaction that inserts (INVALID_REQUEST past
    // it), so concurrent creates cannot overshoot it. The write is a named local: GCC 12
    // mishandles non-trivial temporaries inside co_await expressions.
    store::AccountWrite create = store::CreateKey{key, ctx->options.max_keys_per_account};
    auto st = co_await ctx->writes.submit(std::move(create));
    if (!st.ok()) co_return Response::error(st.error());
    ctx->metrics.add("keys_created", "scope", keys::to_string(scope));
    spdlog::info("key created: {} {} for {}", key.id, keys::display(key.last4), key.account_id);
    bj::object out{{"id", key.id},
                   {"name", key.name},
                   {"key", secret},
                   {"display", keys::display(key.last4)},
                   {"scope", keys::to_string(scope)},
                   {"created_at", format_rfc3339(key.created_at)},
                   {"spend_limit", spend_limit_json(key.spend_limit)}};
    co_return Response::json(201, out);
  });

  router.add("GET", base, [ctx, scope](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, /*write=*/false);
    if (!account) co_return Response::error(account.error());
    auto list = ctx->store.list_keys(account->id, scope);
    if (!list) co_return Response::error(list.error());
    co_return Response::text(200, list_json(*list, ctx->verifier), "application/json");
  });

  router.add("DELETE", base + "/{id}", [ctx, scope](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, /*write=*/true);
    if (!account) co_return Response::error(account.error());
    const std::string& id = request.params["id"];
    store::AccountWrite remove = store::DeleteKey{account->id, id, scope};
    auto st = co_await ctx->writes.submit(std::move(remove));
    if (!st.ok()) {
      if (st.code() == ErrorCode::kNotFound) co_return Response::error(ErrorCode::kNotFound, "No such key in this account.");
      co_return Response::error(st.error());
    }
    ctx->metrics.add("keys_deleted", "scope", keys::to_string(scope));
    spdlog::info("key deleted: {} by {}", id, account->id);
    co_return Response::no_content();
  });
}

}  // namespace

void add_key_routes(http::Router& router, std::shared_ptr<Context> ctx) {
  add_routes_for(router, ctx, "/api/v1/keys", keys::Scope::kAgent);
  add_routes_for(router, ctx, "/api/v1/provider-keys", keys::Scope::kProvider);
}

}  // namespace tollgate::platform
