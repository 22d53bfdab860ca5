// Group commit for charges: requests from all connections queue here, and one committer
// thread applies whatever has queued in a single database transaction (Ledger::charge_batch).
// While one batch waits for its fsync, the next one fills up, so durable throughput is
// batch-size times what one-fsync-per-charge would give, without adding any delay at low load.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "ledger/ledger.hpp"

namespace tollgate::ledger {

struct BatcherOptions {
  std::size_t max_batch = 512;        // charges per transaction
  std::size_t max_queue = 50'000;     // past it: PLATFORM_UNAVAILABLE (overloaded), nothing charged
  int committers = 1;                 // parallel transactions (PostgreSQL benefits from 2+)
};

class ChargeBatcher {
 public:
  ChargeBatcher(Ledger& ledger, BatcherOptions options = {});
  ~ChargeBatcher();  // applies what is queued, then stops
  ChargeBatcher(const ChargeBatcher&) = delete;
  ChargeBatcher& operator=(const ChargeBatcher&) = delete;

  // Queues a charge; resumes the caller on its own executor with the outcome.
  boost::asio::awaitable<Result<ChargeResult>> charge(ChargeRequest request);

  // Blocking form for callers outside a coroutine (tests, tools).
  Result<ChargeResult> charge_sync(ChargeRequest request);

  // Largest batch committed so far (reported by benchmarks).
  std::size_t largest_batch() const;

 private:
  using Completion = boost::asio::any_completion_handler<void(std::optional<Result<ChargeResult>>)>;
  struct Pending {
    ChargeRequest request;
    Completion completion;
  };

  void enqueue(ChargeRequest request, Completion completion);
  void run_committer();

  Ledger& ledger_;
  BatcherOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::size_t largest_batch_ = 0;
  std::vector<std::thread> committers_;
};

}  // namespace tollgate::ledger
