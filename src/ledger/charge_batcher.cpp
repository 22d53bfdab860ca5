// The committer loop and the bridge from a coroutine to it.
#include "ledger/charge_batcher.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>

#include <future>

namespace tollgate::ledger {
namespace asio = boost::asio;

namespace {

Error overloaded() {
  return Error{ErrorCode::kPlatformUnavailable, "The platform is overloaded; nothing was charged. Retry shortly."};
}

}  // namespace

ChargeBatcher::ChargeBatcher(Ledger& ledger, BatcherOptions options) : ledger_(ledger), options_(options) {
  for (int i = 0; i < std::max(1, options_.committers); ++i) committers_.emplace_back([this] { run_committer(); });
}

ChargeBatcher::~ChargeBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  for (auto& t : committers_) t.join();
}

void ChargeBatcher::enqueue(ChargeRequest request, Completion completion) {
  {
    std::unique_lock lock(mutex_);
    if (queue_.size() < options_.max_queue && !stopping_) {
      queue_.push_back(Pending{std::move(request), std::move(completion)});
      lock.unlock();
      work_.notify_one();
      return;
    }
  }
  std::move(completion)(std::optional<Result<ChargeResult>>(overloaded()));
}

asio::awaitable<Result<ChargeResult>> ChargeBatcher::charge(ChargeRequest request) {
  // Completion signatures need a default-constructible value, hence the optional.
  std::optional<Result<ChargeResult>> outcome = co_await asio::async_initiate<
      decltype(asio::use_awaitable), void(std::optional<Result<ChargeResult>>)>(
      [this](auto handler, ChargeRequest req) {
        // Deliver the outcome on the executor the caller runs on, not the committer thread.
        auto executor = asio::get_associated_executor(handler);
        Completion completion = [handler = std::move(handler), executor](std::optional<Result<ChargeResult>> r) mutable {
          asio::post(executor, [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
        };
        enqueue(std::move(req), std::move(completion));
      },
      asio::use_awaitable, std::move(request));
  if (!outcome) co_return Error{ErrorCode::kInternal, "charge completed without an outcome"};
  co_return std::move(*outcome);
}

Result<ChargeResult> ChargeBatcher::charge_sync(ChargeRequest request) {
  std::promise<std::optional<Result<ChargeResult>>> promise;
  auto future = promise.get_future();
  enqueue(std::move(request), [&promise](std::optional<Result<ChargeResult>> r) { promise.set_value(std::move(r)); });
  auto r = future.get();
  if (!r) return Error{ErrorCode::kInternal, "charge completed without an outcome"};
  return std::move(*r);
}

std::size_t ChargeBatcher::largest_batch() const {
  std::lock_guard lock(mutex_);
  return largest_batch_;
}

void ChargeBatcher::run_committer() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      std::size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      largest_batch_ = std::max(largest_batch_, n);
    }
    std::vector<ChargeRequest> requests;
    requests.reserve(batch.size());
    for (auto& p : batch) requests.push_back(p.request);
    auto outcomes = ledger_.charge_batch(requests);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::move(batch[i].completion)(std::optional<Result<ChargeResult>>(std::move(outcomes[i])));
    }
  }
}

}  // namespace tollgate::ledger
