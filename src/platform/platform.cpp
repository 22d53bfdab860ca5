// Wires the platform together: routes, common response headers, the last-use flush timer,
// /healthz and /metrics.
#include "platform/platform.hpp"

#include <fmt/format.h>

#include "common/log.hpp"
#include "platform/context.hpp"

namespace tollgate::platform {

namespace asio = boost::asio;
using http::Request;
using http::Response;

struct Platform::State {
  State(asio::io_context& io, store::Store& store, Metrics& metrics, PlatformOptions options)
      : ctx(std::make_shared<Context>(io, store, metrics, std::move(options))), strand(asio::make_strand(io)),
        flush_timer(strand) {}

  std::shared_ptr<Context> ctx;
  http::Router router;
  asio::strand<asio::io_context::executor_type> strand;  // the flush timer's
  asio::steady_timer flush_timer;
  std::atomic<bool> stopped{false};
};

namespace {

asio::awaitable<void> flush_loop(std::shared_ptr<Platform::State> state);

}  // namespace

Platform::Platform(asio::io_context& io, store::Store& store, Metrics& metrics, PlatformOptions options)
    : state_(std::make_shared<State>(io, store, metrics, std::move(options))) {
  auto ctx = state_->ctx;
  http::Router& router = state_->router;

  router.add("GET", "/healthz", [ctx](Request&) -> asio::awaitable<Response> {
    // Liveness plus a cheap store round trip, so a load balancer sees a dead database.
    auto probe = ctx->store.find_key(Sha256{});
    if (!probe) co_return Response::error(probe.error());
    boost::json::object health{{"status", "ok"}, {"store", ctx->store.backend_name()}};
    if (ctx->upstreams_ready) health["upstreams_ready"] = ctx->upstreams_ready();
    co_return Response::json(200, health);
  });
  router.add("GET", "/metrics", [ctx](Request&) -> asio::awaitable<Response> {
    // Group commit, for charges and for key/session writes: requests per batch and time per
    // batch (apply_seconds / batches) show how well concurrent writes share commits.
    auto report = [&](std::string_view kind, const GroupCommitStats& s) {
      ctx->metrics.set_gauge(fmt::format("group_commit_{}_batches", kind), static_cast<std::int64_t>(s.batches));
      ctx->metrics.set_gauge(fmt::format("group_commit_{}_requests", kind), static_cast<std::int64_t>(s.requests));
      ctx->metrics.set_gauge(fmt::format("group_commit_{}_apply_micros", kind), static_cast<std::int64_t>(s.apply_micros));
      ctx->metrics.set_gauge(fmt::format("group_commit_{}_largest_batch", kind), static_cast<std::int64_t>(s.largest_batch));
    };
    report("charge", ctx->batcher.stats());
    report("account_write", ctx->writes.stats());
    for (const auto& [name, value] : ctx->store.metrics()) ctx->metrics.set_gauge(name, value);
    co_return Response::text(200, ctx->metrics.render(), "text/plain; version=0.0.4");
  });
  add_auth_routes(router, ctx);
  add_key_routes(router, ctx);
  add_charge_routes(router, ctx);
  add_wallet_routes(router, ctx);
  add_dashboard_routes(router, ctx);  // last: its "/" prefix route catches every other GET

  asio::co_spawn(state_->strand, flush_loop(state_), asio::detached);
}

Platform::~Platform() {
  shutdown();
  // Requests still in flight when shutdown() ran (it is called on SIGTERM) may have used
  // keys since; the server has drained by now, so this flush is the last word.
  auto st = state_->ctx->verifier.flush_last_used();
  if (!st.ok()) spdlog::warn("could not record key last-use times at exit: {}", st.error().message);
  // Joined here, not in shutdown(): a signup in flight still hashes its password on this pool.
  state_->ctx->blocking.join();
}

http::Handler Platform::handler() {
  auto state = state_;
  return [state](Request& request) -> asio::awaitable<Response> {
    Response response = co_await state->router(request);
    // API responses are per-account and must never be cached by a browser or proxy.
    if (request.path.starts_with("/api/")) response.headers.set("Cache-Control", "no-store");
    response.headers.set("X-Content-Type-Options", "nosniff");
    response.headers.set("Referrer-Policy", "no-referrer");
    co_return response;
  };
}

http::Router& Platform::router() { return state_->router; }

Result<Platform::DemoSetup> Platform::seed_demo() { return platform::seed_demo(*state_->ctx); }

std::shared_ptr<pay::Charger> Platform::local_charger(std::string provider_key) {
  return make_local_charger(state_->ctx, std::move(provider_key));
}

void Platform::report_upstreams(std::function<bool()> ready) { state_->ctx->upstreams_ready = std::move(ready); }

void Platform::shutdown() {
  if (state_->stopped.exchange(true)) return;
  asio::post(state_->strand, [state = state_] { state->flush_timer.cancel(); });
  auto st = state_->ctx->verifier.flush_last_used();
  if (!st.ok()) spdlog::warn("could not record key last-use times at shutdown: {}", st.error().message);
}

namespace {

asio::awaitable<void> flush_loop(std::shared_ptr<Platform::State> state) {
  while (!state->stopped) {
    state->flush_timer.expires_after(state->ctx->options.last_used_flush_interval);
    auto [ec] = co_await state->flush_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || state->stopped) co_return;
    auto st = state->ctx->verifier.flush_last_used();
    if (!st.ok()) spdlog::warn("could not record key last-use times: {}", st.error().message);
  }
}

}  // namespace

}  // namespace tollgate::platform
