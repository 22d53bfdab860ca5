// Group commit, the one mechanism behind every durable write on a request path (charges,
// keys, sessions): requests from all connections queue here, and committer threads apply
// whatever has queued as ONE batch (one database transaction, one fsync), each request with
// its own outcome. While one batch waits for its fsync the next one fills up, so durable
// throughput is batch-size times what one commit per request would give, without adding any
// delay at low load; and I/O threads never wait for the database's write lock or the disk.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_name.hpp"

namespace tollgate {

// What the committers have done so far (GET /metrics): with them an operator sees how well
// requests share transactions (requests / batches) and how long one takes.
struct GroupCommitStats {
  std::uint64_t batches = 0;
  std::uint64_t requests = 0;
  std::uint64_t apply_micros = 0;  // time spent applying batches (transaction and commit)
  std::size_t largest_batch = 0;
};

struct GroupCommitOptions {
  std::size_t max_batch = 512;     // requests per transaction
  std::size_t max_queue = 50'000;  // past it: the `refused` outcome (overloaded), nothing applied
  int committers = 1;              // parallel transactions (PostgreSQL benefits from 2+)
  std::string thread_name = "commit";  // of the committer threads (top -H); 15 bytes are kept
  // Called on the committer thread after each batch, with its size and the time it took
  // (the platform's commit-time histogram in GET /metrics).
  std::function<void(std::size_t requests, std::chrono::microseconds took)> on_batch;
};

// `apply` gets a batch in queue order and returns one outcome per request, in the same order.
// It runs on a committer thread, never on the caller's.
template <typename Request, typename Outcome>
class GroupCommit {
 public:
  using ApplyBatch = std::function<std::vector<Outcome>(std::span<const Request>)>;

  // `refused` answers a request that cannot be queued (queue full, or shutting down).
  GroupCommit(ApplyBatch apply, Outcome refused, GroupCommitOptions options = {})
      : apply_(std::move(apply)), refused_(std::move(refused)), options_(options) {
    for (int i = 0; i < std::max(1, options_.committers); ++i) {
      committers_.emplace_back([this] {
        set_thread_name(options_.thread_name);
        run_committer();
      });
    }
  }

  ~GroupCommit() {  // applies what is queued, then stops
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_.notify_all();
    for (auto& t : committers_) t.join();
  }

  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `request`; resumes the caller on its own executor with the outcome.
  boost::asio::awaitable<Outcome> submit(Request request) {
    namespace asio = boost::asio;
    // Completion signatures need a default-constructible value, hence the optional.
    std::optional<Outcome> outcome = co_await asio::async_initiate<decltype(asio::use_awaitable),
                                                                   void(std::optional<Outcome>)>(
        [this](auto handler, Request req) {
          // Deliver on the caller's executor, not the committer thread. The tracked executor
          // counts as outstanding work, so a server draining for shutdown waits for the outcome.
          auto executor = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
          Completion completion = [handler = std::move(handler), executor](std::optional<Outcome> r) mutable {
            asio::post(executor, [handler = std::move(handler), r = std::move(r)]() mutable {
              std::move(handler)(std::move(r));
            });
          };
          enqueue(std::move(req), std::move(completion));
        },
        asio::use_awaitable, std::move(request));
    co_return outcome ? std::move(*outcome) : refused_;
  }

  // Queues all of `requests` at once (they may share batches) and resumes the caller on its
  // own executor when every one has its outcome, in the same order.
  boost::asio::awaitable<std::vector<Outcome>> submit_all(std::vector<Request> requests) {
    namespace asio = boost::asio;
    if (requests.empty()) co_return std::vector<Outcome>{};
    struct Gather {
      std::mutex mutex;
      std::vector<std::optional<Outcome>> outcomes;
      std::size_t left = 0;
      std::function<void()> done;
    };
    auto gather = std::make_shared<Gather>();
    gather->outcomes.resize(requests.size());
    gather->left = requests.size();
    // Named locals, not temporaries inside the co_await: GCC 12 miscompiles the latter.
    auto initiation = [this, gather, &requests](auto handler) {
      auto executor = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
      auto shared = std::make_shared<decltype(handler)>(std::move(handler));
      gather->done = [shared, executor] { asio::post(executor, [shared] { std::move (*shared)(); }); };
      for (std::size_t i = 0; i < requests.size(); ++i) {
        enqueue(std::move(requests[i]), [gather, i](std::optional<Outcome> r) {
          std::function<void()> done;
          {
            std::lock_guard lock(gather->mutex);
            gather->outcomes[i] = std::move(r);
            if (--gather->left == 0) done = std::move(gather->done);
          }
          if (done) done();
        });
      }
    };
    auto op = asio::async_initiate<decltype(asio::use_awaitable), void()>(initiation, asio::use_awaitable);
    co_await std::move(op);
    std::vector<Outcome> out;
    out.reserve(gather->outcomes.size());
    for (auto& o : gather->outcomes) out.push_back(o ? std::move(*o) : refused_);
    co_return out;
  }

  // Blocking form for callers outside a coroutine (tests, tools).
  Outcome submit_sync(Request request) {
    std::promise<std::optional<Outcome>> promise;
    auto future = promise.get_future();
    enqueue(std::move(request), [&promise](std::optional<Outcome> r) { promise.set_value(std::move(r)); });
    auto r = future.get();
    return r ? std::move(*r) : refused_;
  }

  GroupCommitStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  // Requests queued and not yet taken into a batch.
  std::size_t queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  using Completion = boost::asio::any_completion_handler<void(std::optional<Outcome>)>;
  struct Pending {
    Request request;
    Completion completion;
  };

  void enqueue(Request request, Completion completion) {
    {
      std::unique_lock lock(mutex_);
      if (queue_.size() < options_.max_queue && !stopping_) {
        queue_.push_back(Pending{std::move(request), std::move(completion)});
        lock.unlock();
        work_.notify_one();
        return;
      }
    }
    std::move(completion)(std::optional<Outcome>(refused_));
  }

  void run_committer() {
    for (;;) {
      std::vector<Pending> batch;
      {
        std::unique_lock lock(mutex_);
        if (queue_.empty() && !stopping_) {
          work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
          // Woken by the first request of a new batch: let the threads that queue requests
          // run on before the batch closes (a woken thread would otherwise preempt them on a
          // shared core and commit batches of one). On an idle core this returns at once.
          lock.unlock();
          std::this_thread::yield();
          lock.lock();
        }
        if (queue_.empty()) return;  // stopping and drained
        std::size_t n = std::min(queue_.size(), options_.max_batch);
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        stats_.largest_batch = std::max(stats_.largest_batch, n);
      }
      std::vector<Request> requests;
      requests.reserve(batch.size());
      for (auto& p : batch) requests.push_back(std::move(p.request));
      auto started = std::chrono::steady_clock::now();
      std::vector<Outcome> outcomes = apply_(requests);
      auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
      {
        std::lock_guard lock(mutex_);
        stats_.batches += 1;
        stats_.requests += batch.size();
        stats_.apply_micros += static_cast<std::uint64_t>(took.count());
      }
      assert(outcomes.size() == batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        std::optional<Outcome> outcome;
        if (i < outcomes.size()) outcome.emplace(std::move(outcomes[i]));
        std::move(batch[i].completion)(std::move(outcome));
      }
      // After the answers are on their way: the observer may take a lock of its own.
      if (options_.on_batch) options_.on_batch(batch.size(), took);
    }
  }

  ApplyBatch apply_;
  Outcome refused_;
  GroupCommitOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  GroupCommitStats stats_;
  std::vector<std::thread> committers_;
};

}  // namespace tollgate
