// The platform (`tollgate serve`): REST API, dashboard, /healthz, /metrics, on one Store.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "common/metrics.hpp"
#include "http/message.hpp"
#include "http/router.hpp"
#include "ledger/charge_batcher.hpp"
#include "store/store.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::platform {

struct PlatformOptions {
  // How the platform is reached from outside (dashboard Setup page, cookie Secure flag).
  std::string public_url = "http://127.0.0.1:8080";
  std::chrono::hours session_ttl{24 * 30};
  std::chrono::milliseconds last_used_flush_interval{1000};
  std::size_t max_keys_per_account = 500;   // per scope; one more is INVALID_REQUEST
  int login_failures_per_window = 10;       // per email and per IP; one more is RATE_LIMITED
  std::chrono::seconds login_window{15 * 60};
  int invalid_tokens_per_minute = 600;      // failed verifications per provider key/IP; one more is RATE_LIMITED
  ledger::BatcherOptions batcher;
  bool demo = false;
};

class Platform {
 public:
  Platform(boost::asio::io_context& io, store::Store& store, Metrics& metrics, PlatformOptions options);
  ~Platform();

  // The root handler: every route of API.md plus the dashboard.
  http::Handler handler();
  // The routes, for parts mounted beside the API (the gateway's /mcp/NAME).
  http::Router& router();
  // Charges through this platform's own ledger, as the holder of `provider_key` (the gateway
  // inside `tollgate serve`).
  std::shared_ptr<pay::Charger> local_charger(std::string provider_key);
  // With a gateway mounted, /healthz also reports `upstreams_ready` (like `tollgate gateway`'s)
  // from `ready`, so a readiness probe waits for the upstreams. Call before serving.
  void report_upstreams(std::function<bool()> ready);
  // Demo data for `serve --demo` (see platform/demo.cpp).
  struct DemoSetup {
    std::string email, password;   // the demo account (the admin on a fresh database)
    std::string agent_key;         // a new agent key, shown once
    std::string provider_key;      // the demo gateway's provider key (never printed)
  };
  Result<DemoSetup> seed_demo();
  // Flushes pending state (key last-use times). Call after the server stopped.
  void shutdown();

  struct State;  // defined in platform.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tollgate::platform
