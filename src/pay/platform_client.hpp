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

// Whether the `queued` charges go out now in a request of their own, with `requests_out`
// requests carrying `charges_out` charges already out. Always when none is out: a quiet
// server adds no delay. Another only while it would carry at least half as many charges as
// a request out does on average: sent at once, a charge that came just after a large request
// went out took the second request alone, and half of a busy server's requests carried one
// charge, each its own commit on the platform (bench/README.md, thirteenth session).
inline bool send_queue_now(std::size_t queued, int requests_out, std::size_t charges_out) {
  if (queued == 0 || requests_out >= kMaxChargeRequestsInFlight) return false;
  return requests_out == 0 || queued * 2 * static_cast<std::size_t>(requests_out) >= charges_out;
}

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
  // Sends `batch`, then what send_queue_now lets it take from the queue, a request at a time.
  static boost::asio::awaitable<void> send_queued(std::shared_ptr<PlatformClient> self,
                                                  std::vector<QueuedCharge> batch);
  // The next request's charges, taken from the queue and counted in flight, if
  // send_queue_now says they go now; else nothing. Under mutex_.
  std::vector<QueuedCharge> take_batch_locked();
  boost::asio::awaitable<std::vector<Result<Receipt>>> send(const std::vector<QueuedCharge>& batch);

  PlatformClientOptions options_;
  http::Client client_;
  std::mutex mutex_;
  std::deque<QueuedCharge> queue_;     // guarded by mutex_
  int in_flight_ = 0;                  // requests out (send_queued loops); guarded by mutex_
  std::size_t charges_in_flight_ = 0;  // charges in those requests; guarded by mutex_
};

}  // namespace tollgate::pay
