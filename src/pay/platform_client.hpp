// The payments SDK's connection to the platform's charge API (POST /api/v1/charge, refund,
// verify), authenticated with the provider key. Keeps warm keep-alive connections (the
// shared http::Client pool) and retries network failures with the same idempotency key, so a
// retry can never charge twice. Platform error codes come back unchanged; a platform that
// cannot be reached (refused, reset, timed out, 5xx) is PLATFORM_UNAVAILABLE.
//
// Concurrent charges share requests: up to kMaxChargeRequestsInFlight go out at once, and
// the charges that arrive meanwhile wait and go together in the next one (POST
// /api/v1/charges, each with its own outcome), so a busy server makes far fewer round trips
// than it charges, and a quiet one adds no delay.
//
// Every call runs on the executor of the coroutine that awaits it (requests, retries, the
// pooled connections of http::Client), so a charge costs no hand-off to another thread.
// Calls may come from several threads; a charge's outcome is posted to its caller's executor.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/money.hpp"
#include "common/result.hpp"
#include "http/client.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::pay {

// Two: one request can fill while the other is answered, and the platform commits what it
// has. With four the same charges went in 1.7x as many requests, for 6-15% more platform CPU
// per charge (bench/README.md) and no more throughput.
inline constexpr int kMaxChargeRequestsInFlight = 2;
inline constexpr std::size_t kMaxChargesPerRequest = 256;  // the platform's limit

struct PlatformClientOptions {
  std::string platform_url;  // e.g. http://127.0.0.1:8080
  std::string api_key;       // provider key, sk_live_..., scope provider:charge
  int timeout_ms = 5'000;    // per attempt
  int retries = 2;           // extra attempts after a network failure
  int retry_backoff_ms = 100;
};

// Held by a shared_ptr: the loops that send queued charges keep it alive while they run.
class PlatformClient : public std::enable_shared_from_this<PlatformClient> {
 public:
  explicit PlatformClient(PlatformClientOptions options);

  boost::asio::awaitable<Result<Receipt>> charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                 std::string idempotency_key);
  boost::asio::awaitable<Status> refund(std::string charge_id);
  // TOKEN_MISSING / TOKEN_INVALID / ... or ok when the agent key is valid.
  boost::asio::awaitable<Status> verify(std::string agent_token);

 private:
  // A charge waiting for its request; `done` delivers its outcome on the caller's executor.
  struct QueuedCharge {
    std::string agent_token;
    std::string tool;
    std::string idempotency_key;
    Micros amount_micros = 0;
    boost::asio::any_completion_handler<void(Result<Receipt>)> done;
  };

  // POSTs `body` to `path`, retrying transport failures; returns the 2xx body or the
  // platform's error.
  boost::asio::awaitable<Result<std::string>> post(std::string path, std::string body);
  // Sends what is queued, a request at a time, until the queue is empty.
  static boost::asio::awaitable<void> send_queued(std::shared_ptr<PlatformClient> self);
  boost::asio::awaitable<std::vector<Result<Receipt>>> send(const std::vector<QueuedCharge>& batch);

  PlatformClientOptions options_;
  http::Client client_;
  std::mutex mutex_;
  std::deque<QueuedCharge> queue_;  // guarded by mutex_
  int in_flight_ = 0;               // send_queued loops running; guarded by mutex_
};

}  // namespace tollgate::pay
