// The payments SDK's connection to the platform's charge API (POST /api/v1/charge, refund,
// verify), authenticated with the provider key. Keeps warm keep-alive connections (the
// shared http::Client pool) and retries network failures with the same idempotency key, so a
// retry can never charge twice. Platform error codes come back unchanged; a platform that
// cannot be reached (refused, reset, timed out, 5xx) is PLATFORM_UNAVAILABLE.
//
// Concurrent charges share requests: up to kMaxChargeRequestsInFlight go out at once, and
// the charges that arrive meanwhile wait and go together in the next one (POST
// /api/v1/charges, each with its own outcome), so a busy server makes far fewer round trips
// than it charges, and a quiet one adds no delay. All calls must come from one thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/money.hpp"
#include "common/result.hpp"
#include "http/client.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::pay {

inline constexpr int kMaxChargeRequestsInFlight = 4;
inline constexpr std::size_t kMaxChargesPerRequest = 256;  // the platform's limit

struct PlatformClientOptions {
  std::string platform_url;  // e.g. http://127.0.0.1:8080
  std::string api_key;       // provider key, sk_live_..., scope provider:charge
  int timeout_ms = 5'000;    // per attempt
  int retries = 2;           // extra attempts after a network failure
  int retry_backoff_ms = 100;
};

class PlatformClient {
 public:
  PlatformClient(boost::asio::any_io_executor executor, PlatformClientOptions options);

  boost::asio::awaitable<Result<Receipt>> charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                 std::string idempotency_key);
  boost::asio::awaitable<Status> refund(std::string charge_id);
  // TOKEN_MISSING / TOKEN_INVALID / ... or ok when the agent key is valid.
  boost::asio::awaitable<Status> verify(std::string agent_token);

 private:
  // A charge waiting for its request: `done` is cancelled when `outcome` is set.
  struct QueuedCharge {
    boost::json::object item;  // {agent_token, tool, amount, idempotency_key}
    Micros amount_micros = 0;
    std::shared_ptr<std::optional<Result<Receipt>>> outcome;
    std::shared_ptr<boost::asio::steady_timer> done;
  };

  // POSTs `body` to `path`, retrying transport failures; returns the parsed 2xx body or the
  // platform's error.
  boost::asio::awaitable<Result<boost::json::object>> post(std::string path, std::string body);
  // Sends what is queued, a request at a time, until the queue is empty.
  boost::asio::awaitable<void> send_queued();
  boost::asio::awaitable<std::vector<Result<Receipt>>> send(const std::vector<QueuedCharge>& batch);

  boost::asio::any_io_executor executor_;
  PlatformClientOptions options_;
  std::shared_ptr<http::Client> client_;
  std::deque<QueuedCharge> queue_;
  int in_flight_ = 0;  // send_queued loops running
};

}  // namespace tollgate::pay
