// The provider side: charge an agent key before a tool runs, refund a charge, verify a
// token. Authenticated with a provider key (`Authorization: Bearer sk_live_...`, scope
// provider:charge). The agent's balance is never revealed: a provider learns only whether
// a charge succeeded and, if not, the code.
#include <fmt/format.h>

#include <array>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "common/text.hpp"
#include "keys/key.hpp"
#include "platform/context.hpp"

namespace tollgate::platform {
namespace {

namespace bj = boost::json;
using http::Request;
using http::Response;

// Verifies the provider key of the request; counts failures for rate limiting.
Result<store::KeyIdentity> provider_identity(Context& ctx, const Request& request) {
  std::string limiter_key = "ip:" + request.remote_address;
  if (ctx.invalid_token_limiter.exhausted(limiter_key)) {
    return Error{ErrorCode::kRateLimited, "Too many requests with invalid keys from this address; wait a minute."};
  }
  auto bearer = bearer_token(request);
  auto provider = ctx.verifier.verify(bearer && !bearer->empty() ? bearer : std::nullopt, keys::Scope::kProvider);
  if (!provider) {
    ctx.metrics.add("auth_failures", "code", to_string(provider.code()));
    if (provider.code() == ErrorCode::kProviderKeyInvalid) ctx.invalid_token_limiter.record(limiter_key);
  }
  return provider;
}

// The agent keys one request has verified, by token (a request of one charge, or a verify,
// has its own that it uses once). On POST /api/v1/charges: a payments SDK batches its
// server's concurrent calls, and the calls of one agent carry the same key, so each distinct
// key is hashed and looked up once per request instead of once per charge. Only keys that
// verified are kept: a refused token is checked, and counted against the provider key, every
// time it appears. Reusing an answer within the request is safe because the ledger checks
// each key again under its lock before any money moves: a key deleted meanwhile is refused
// (TOKEN_INVALID), in this request as in any other.
using VerifiedAgents = std::unordered_map<std::string, store::KeyIdentity, StringViewHash, std::equal_to<>>;

// The rate limiter's name for a provider key's invalid agent tokens.
std::string agent_limiter_key(const store::KeyIdentity& provider) { return "provider:" + provider.key_id; }

// Verifies an agent token; failures count against the provider key (`limiter_key`). The
// identity lives in `verified`, this request's earlier answers, which answers the token's
// next charges in the request.
Result<const store::KeyIdentity*> agent_identity(Context& ctx, const std::string& limiter_key,
                                                 std::optional<std::string_view> token, VerifiedAgents& verified) {
  if (ctx.invalid_token_limiter.exhausted(limiter_key)) {
    return Error{ErrorCode::kRateLimited, "Too many invalid agent tokens from this provider key; wait a minute."};
  }
  if (token) {
    if (auto it = verified.find(*token); it != verified.end()) return &it->second;
  }
  auto agent = ctx.verifier.verify(token, keys::Scope::kAgent);
  if (!agent) {
    ctx.metrics.add("auth_failures", "code", to_string(agent.code()));
    if (agent.code() == ErrorCode::kTokenInvalid) ctx.invalid_token_limiter.record(limiter_key);
    return agent.error();
  }
  if (!token) return Error{ErrorCode::kTokenMissing, "No agent token was sent."};  // verify refuses this first
  return &verified.emplace(std::string(*token), std::move(*agent)).first->second;
}

// The agent token of a charge/verify body, viewed in the body: nullopt when absent
// (TOKEN_MISSING).
Result<std::optional<std::string_view>> body_token(const bj::object& body) {
  return json::optional_string_view(body, "agent_token");
}

Result<std::string> parse_tool(const bj::object& body) {
  auto tool = json::required_string(body, "tool");
  if (!tool) return tool.error();
  if (tool->empty() || tool->size() > ledger::kMaxToolNameLength) {
    return Error{ErrorCode::kInvalidRequest, fmt::format("'tool' must be 1 to {} characters.", ledger::kMaxToolNameLength)};
  }
  return tool;
}

Result<Micros> parse_price(const bj::object& body) {
  auto amount = json::required_string(body, "amount");
  if (!amount) return amount.error();
  auto micros = parse_money(*amount);
  if (!micros) return micros.error();
  if (*micros <= 0) return Error{ErrorCode::kInvalidRequest, "'amount' must be greater than zero."};
  if (*micros > ledger::kMaxChargeMicros) {
    return Error{ErrorCode::kInvalidRequest,
                 fmt::format("'amount' must be at most {} per charge.", format_money(ledger::kMaxChargeMicros))};
  }
  return micros;
}

// Largest POST /api/v1/charges; one more is INVALID_REQUEST (the whole request, nothing charged).
constexpr std::size_t kMaxChargesPerRequest = 256;

Result<std::string> parse_idempotency_key(const bj::object& body) {
  auto key = json::optional_string(body, "idempotency_key");
  if (!key) return key.error();
  if (!*key) return std::string();
  if ((*key)->empty() || (*key)->size() > ledger::kMaxIdempotencyKeyLength) {
    return Error{ErrorCode::kInvalidRequest,
                 fmt::format("'idempotency_key' must be 1 to {} characters.", ledger::kMaxIdempotencyKeyLength)};
  }
  return std::move(**key);
}

// One charge as the provider asked for it, validated before any money is touched. The
// token is a view into the parsed body, which outlives the call.
struct ChargeCall {
  std::string tool;
  Micros amount_micros = 0;
  std::string idempotency_key;
  std::optional<std::string_view> agent_token;  // nullopt: TOKEN_MISSING
};

Result<ChargeCall> parse_charge(const bj::object& body) {
  auto tool = parse_tool(body);
  if (!tool) return tool.error();
  auto amount = parse_price(body);
  if (!amount) return amount.error();
  auto idempotency_key = parse_idempotency_key(body);
  if (!idempotency_key) return idempotency_key.error();
  auto token = body_token(body);
  if (!token) return token.error();
  return ChargeCall{std::move(*tool), *amount, std::move(*idempotency_key), *token};
}

// Verifies the agent key: the ledger's request, or the refusal.
Result<ledger::ChargeRequest> charge_request(Context& ctx, const store::KeyIdentity& provider,
                                             const std::string& limiter_key,
                                             std::optional<std::string_view> agent_token, std::string tool,
                                             Micros amount_micros, std::string idempotency_key,
                                             VerifiedAgents& verified) {
  auto found = agent_identity(ctx, limiter_key, agent_token, verified);
  if (!found) return found.error();
  const store::KeyIdentity& agent = **found;
  std::string fingerprint = ledger::charge_fingerprint(agent.key_id, tool, amount_micros);
  return ledger::ChargeRequest{provider.account_id, agent.key_id, agent.account_id, agent.last4, std::move(tool),
                               amount_micros, std::move(idempotency_key), std::move(fingerprint)};
}

// A charge's answer, written straight into the response text: building a document per
// charge and serializing it cost more than verifying the charge's key.
void append_charge(std::string& out, const ledger::ChargeResult& r) {
  out += "{\"charge_id\":";
  json::append_string(out, r.charge_id);
  out += ",\"amount\":";
  json::append_string(out, format_money(r.amount_micros));
  out += ",\"amount_micros\":";
  out += fmt::format_int(r.amount_micros).c_str();
  out += ",\"tool\":";
  json::append_string(out, r.tool);
  out += ",\"created_at\":";
  json::append_string(out, format_rfc3339(r.created_at));
  out += '}';
}

Response json_text(std::string body) { return Response::text(200, std::move(body), "application/json"); }

// The checked part of POST /api/v1/charges, before anything is charged: the charges to make,
// where each came in the list, and the items refused on their own.
struct ChargeList {
  std::vector<ledger::ChargeRequest> charges;
  std::vector<std::size_t> positions;         // of `charges` in the request's list
  std::vector<std::optional<Error>> refused;  // by position
};

// Only a bad provider key or a malformed envelope refuses the whole request (the Response).
std::variant<Response, ChargeList> check_charge_list(Context& ctx, const Request& request) {
  auto provider = provider_identity(ctx, request);
  if (!provider) return Response::error(provider.error());
  // The body's values live only while the list is checked (each charge copies what it
  // keeps): an arena on the stack holds a typical batch with no allocation per value.
  std::array<unsigned char, 8192> arena_buffer;
  bj::monotonic_resource arena(arena_buffer.data(), arena_buffer.size());
  auto body = json::parse_object(request.body, &arena);
  if (!body) return Response::error(body.error());
  const bj::value* items = body->if_contains("charges");
  if (!items || !items->is_array() || items->as_array().empty() || items->as_array().size() > kMaxChargesPerRequest) {
    return Response::error(ErrorCode::kInvalidRequest,
                           fmt::format("'charges' must be an array of 1 to {} charges.", kMaxChargesPerRequest));
  }
  const bj::array& list = items->as_array();
  ChargeList out;
  out.refused.resize(list.size());
  out.charges.reserve(list.size());
  out.positions.reserve(list.size());
  VerifiedAgents verified;
  const std::string limiter_key = agent_limiter_key(*provider);
  for (std::size_t i = 0; i < list.size(); ++i) {
    Result<ledger::ChargeRequest> charge = Error{ErrorCode::kInvalidRequest, "Each charge must be a JSON object."};
    if (list[i].is_object()) {
      auto call = parse_charge(list[i].as_object());
      charge = call ? charge_request(ctx, *provider, limiter_key, call->agent_token, std::move(call->tool),
                                     call->amount_micros, std::move(call->idempotency_key), verified)
                    : Result<ledger::ChargeRequest>(call.error());
    }
    if (!charge) {
      out.refused[i] = charge.error();
      continue;
    }
    out.charges.push_back(std::move(*charge));
    out.positions.push_back(i);
  }
  return out;
}

// {"results": [...]} in the request's order: each charge's outcome or its refusal.
Response charge_list_answer(Context& ctx, const ChargeList& list,
                            const std::vector<Result<ledger::ChargeResult>>& outcomes) {
  std::vector<const Result<ledger::ChargeResult>*> by_position(list.refused.size(), nullptr);
  for (std::size_t k = 0; k < outcomes.size(); ++k) {
    ctx.metrics.add("charges", "outcome", outcomes[k] ? "ok" : to_string(outcomes[k].code()));
    by_position[list.positions[k]] = &outcomes[k];
  }
  std::string out;
  out.reserve(32 + 200 * by_position.size());
  out += "{\"results\":[";
  for (std::size_t i = 0; i < by_position.size(); ++i) {
    if (i) out += ',';
    if (list.refused[i]) {
      json::append_error(out, *list.refused[i]);
    } else if (*by_position[i]) {
      append_charge(out, **by_position[i]);
    } else {
      json::append_error(out, by_position[i]->error());
    }
  }
  out += "]}";
  return json_text(std::move(out));
}

}  // namespace

boost::asio::awaitable<Result<ledger::ChargeResult>> charge_agent(Context& ctx, const store::KeyIdentity& provider,
                                                                  std::optional<std::string_view> agent_token,
                                                                  std::string tool, Micros amount_micros,
                                                                  std::string idempotency_key) {
  VerifiedAgents verified;
  auto charge = charge_request(ctx, provider, agent_limiter_key(provider), agent_token, std::move(tool), amount_micros,
                               std::move(idempotency_key), verified);
  if (!charge) co_return charge.error();
  auto result = co_await ctx.batcher.charge(std::move(*charge));
  ctx.metrics.add("charges", "outcome", result ? "ok" : to_string(result.code()));
  co_return result;
}

void add_charge_routes(http::Router& router, std::shared_ptr<Context> ctx) {
  router.add("POST", "/api/v1/charge", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto provider = provider_identity(*ctx, request);
    if (!provider) co_return Response::error(provider.error());
    auto body = body_object(request);
    if (!body) co_return Response::error(body.error());
    // Validate everything before touching money: a malformed call costs nothing.
    auto call = parse_charge(*body);
    if (!call) co_return Response::error(call.error());
    auto op = charge_agent(*ctx, *provider, call->agent_token, std::move(call->tool), call->amount_micros,
                           std::move(call->idempotency_key));
    auto result = co_await std::move(op);
    if (!result) co_return Response::error(result.error());
    std::string out;
    append_charge(out, *result);
    co_return json_text(std::move(out));
  });

  // Several charges in one request (a payments SDK coalescing concurrent tool calls): each
  // item is validated, verified and charged on its own, as POST /api/v1/charge would, and
  // answered in order, so one bad item refuses only itself. Synchronous steps around the
  // one wait, so that the coroutine's frame stays small (see HttpTransport's POST).
  router.add("POST", "/api/v1/charges", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto checked = check_charge_list(*ctx, request);
    if (auto* refusal = std::get_if<Response>(&checked)) co_return std::move(*refusal);
    ChargeList& list = std::get<ChargeList>(checked);
    auto op = ctx->batcher.charge_all(std::move(list.charges));
    auto outcomes = co_await std::move(op);
    co_return charge_list_answer(*ctx, list, outcomes);
  });

  router.add("POST", "/api/v1/charges/{id}/refund", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto provider = provider_identity(*ctx, request);
    if (!provider) co_return Response::error(provider.error());
    auto refund = ctx->ledger.refund(provider->account_id, request.params["id"]);
    ctx->metrics.add("refunds", "outcome", refund ? "ok" : to_string(refund.code()));
    if (!refund) co_return Response::error(refund.error());
    co_return Response::json(200, bj::object{{"refund_id", refund->refund_id},
                                             {"charge_id", refund->charge_id},
                                             {"amount", format_money(refund->amount_micros)},
                                             {"amount_micros", refund->amount_micros}});
  });

  router.add("POST", "/api/v1/verify", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto provider = provider_identity(*ctx, request);
    if (!provider) co_return Response::error(provider.error());
    auto body = body_object(request);
    if (!body) co_return Response::error(body.error());
    auto token = body_token(*body);
    if (!token) co_return Response::error(token.error());
    VerifiedAgents verified;
    auto agent = agent_identity(*ctx, agent_limiter_key(*provider), *token, verified);
    if (!agent) co_return Response::error(agent.error());
    co_return Response::json(200, bj::object{{"valid", true}});
  });
}

}  // namespace tollgate::platform
