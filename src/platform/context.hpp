// Internal to src/platform: the state every REST handler shares, and helpers they all use.
#pragma once

#include <boost/asio.hpp>

#include "common/group_commit.hpp"
#include "common/json.hpp"
#include "common/metrics.hpp"
#include "http/router.hpp"
#include "keys/verifier.hpp"
#include "ledger/charge_batcher.hpp"
#include "ledger/ledger.hpp"
#include "platform/platform.hpp"
#include "platform/rate_limiter.hpp"
#include "store/store.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::platform {

// `options` with each batch's time reported to tollgate_group_commit_apply_seconds{kind}, and
// the committers named after the kind (commit:charge).
inline GroupCommitOptions timed(GroupCommitOptions options, Metrics& metrics, std::string kind) {
  options.thread_name = "commit:" + kind;
  options.on_batch = [&metrics, kind = std::move(kind)](std::size_t, std::chrono::microseconds took) {
    metrics.observe("group_commit_apply", "kind", kind, took);
  };
  return options;
}

struct Context {
  Context(boost::asio::io_context& io, store::Store& store, Metrics& metrics, PlatformOptions options)
      : io(io), store(store), metrics(metrics), options(std::move(options)), verifier(store),
        login_limiter(this->options.login_failures_per_window, this->options.login_window),
        invalid_token_limiter(this->options.invalid_tokens_per_minute, std::chrono::seconds(60)), ledger(store),
        batcher(ledger, timed(this->options.batcher, metrics, "charge")),
        writes([&s = store](std::span<const store::AccountWrite> batch) { return s.apply_account_writes(batch); },
               Error{ErrorCode::kPlatformUnavailable, "The platform is overloaded; nothing was changed. Retry shortly."},
               timed({}, metrics, "account_write")) {}

  // Runs CPU-heavy work (argon2id) off the I/O threads and resumes on the caller's.
  // `fn` is taken by reference and should be a named local of the caller: GCC 12 miscopies
  // closures with non-trivial captures that are temporaries of a co_await expression.
  template <typename Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn&>> offload(Fn&& fn) {
    using T = std::invoke_result_t<Fn&>;
    std::optional<T> out;
    co_await boost::asio::co_spawn(
        blocking,
        [&]() -> boost::asio::awaitable<void> {
          out.emplace(fn());
          co_return;
        },
        boost::asio::use_awaitable);
    co_return std::move(*out);
  }

  boost::asio::io_context& io;
  store::Store& store;
  Metrics& metrics;
  PlatformOptions options;
  keys::KeyVerifier verifier;
  RateLimiter login_limiter;
  // Failed key verifications on the charge API, per provider key or client address.
  RateLimiter invalid_token_limiter;
  ledger::Ledger ledger;
  ledger::ChargeBatcher batcher;
  // Key and session writes from every connection, group-committed: I/O threads await them
  // instead of waiting for the database's write lock and fsync.
  GroupCommit<store::AccountWrite, Status> writes;
  boost::asio::thread_pool blocking{2};
  // Set by Platform::report_upstreams before serving (a mounted gateway); read by /healthz.
  std::function<bool()> upstreams_ready;
};

// Account endpoints: the account of the session (cookie or `Authorization: Bearer sess_...`).
// `write` enforces CSRF for cookie sessions. Errors: UNAUTHENTICATED, SCOPE_DENIED (an API
// key was presented), CSRF_FAILED.
Result<store::Account> authenticate(Context& ctx, const http::Request& request, bool write);

// Body -> JSON object, or the INVALID_REQUEST response to send.
Result<boost::json::object> body_object(const http::Request& request);

void add_auth_routes(http::Router& router, std::shared_ptr<Context> ctx);
void add_key_routes(http::Router& router, std::shared_ptr<Context> ctx);
void add_charge_routes(http::Router& router, std::shared_ptr<Context> ctx);
void add_wallet_routes(http::Router& router, std::shared_ptr<Context> ctx);
// The dashboard (web/) and GET /api/v1/setup; its catch-all GET must be the last route.
void add_dashboard_routes(http::Router& router, std::shared_ptr<Context> ctx);

// Charges `agent_token` for `tool` on behalf of `provider` (already verified): verifies the
// agent key (rate-limited per provider key), then queues the charge for group commit. The
// one path every charge takes, over HTTP or in-process (the gateway inside `serve`).
boost::asio::awaitable<Result<ledger::ChargeResult>> charge_agent(Context& ctx, const store::KeyIdentity& provider,
                                                                  std::optional<std::string_view> agent_token,
                                                                  std::string tool, Micros amount_micros,
                                                                  std::string idempotency_key);

Result<Platform::DemoSetup> seed_demo(Context& ctx);
std::shared_ptr<pay::Charger> make_local_charger(std::shared_ptr<Context> ctx, std::string provider_key);

// The bearer token of `Authorization: Bearer X`: nullopt without the header, "" when the
// header is not a bearer token.
std::optional<std::string_view> bearer_token(const http::Request& request);

}  // namespace tollgate::platform
