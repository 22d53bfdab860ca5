// GroupCommit, the queue behind every group-committed write: outcomes in order and per
// request, batches that form while a commit is in progress, the bound on the queue, and
// coroutines resumed on their own executor (never the committer thread) even while the
// server drains.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/group_commit.hpp"
#include "common/result.hpp"

namespace tollgate {
namespace {

using namespace std::chrono_literals;

// Waits for `done()` with a deadline (no sleeps for synchronisation).
template <typename Pred>
bool eventually(Pred done, std::chrono::milliseconds deadline = 10s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

// An apply function that doubles every request, records batch sizes, and can be held
// inside a batch (as a slow fsync would) until released.
struct Doubler {
  std::mutex mutex;
  std::condition_variable released_cv;
  bool hold = false;
  std::atomic<bool> inside{false};
  std::vector<std::size_t> batches;

  std::vector<Result<int>> apply(std::span<const int> batch) {
    std::unique_lock lock(mutex);
    batches.push_back(batch.size());
    inside = true;
    released_cv.wait(lock, [&] { return !hold; });
    inside = false;
    std::vector<Result<int>> out;
    for (int r : batch) out.push_back(r < 0 ? Result<int>(Error{ErrorCode::kInvalidRequest, "negative"}) : 2 * r);
    return out;
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      hold = false;
    }
    released_cv.notify_all();
  }
};

Error refused() { return Error{ErrorCode::kPlatformUnavailable, "overloaded"}; }

TEST(GroupCommit, RequestsQueuedDuringACommitShareTheNextBatchEachWithItsOwnOutcome) {
  Doubler d;
  d.hold = true;
  GroupCommit<int, Result<int>> commit([&](std::span<const int> b) { return d.apply(b); }, refused());
  std::thread first([&] { EXPECT_EQ(*commit.submit_sync(1), 2); });
  ASSERT_TRUE(eventually([&] { return d.inside.load(); }));
  // While the first batch "waits for its fsync", ten more requests queue up.
  std::vector<std::thread> others;
  for (int i = 0; i < 10; ++i) {
    others.emplace_back([&, i] {
      int request = i % 2 ? -i : i;
      auto outcome = commit.submit_sync(request);
      if (request < 0) {
        EXPECT_EQ(outcome.code(), ErrorCode::kInvalidRequest);
      } else {
        EXPECT_EQ(*outcome, 2 * request);
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return commit.queue_depth() == 10; }));
  d.release();
  first.join();
  for (auto& t : others) t.join();
  std::lock_guard lock(d.mutex);
  ASSERT_EQ(d.batches.size(), 2u);
  EXPECT_EQ(d.batches[1], 10u) << "one transaction for everything that queued meanwhile";
  EXPECT_EQ(commit.stats().largest_batch, 10u);
}

TEST(GroupCommit, EachBatchIsReportedWithItsSizeAndTime) {
  Doubler d;
  std::mutex mutex;
  std::vector<std::size_t> reported;
  GroupCommitOptions options;
  options.on_batch = [&](std::size_t requests, std::chrono::microseconds took) {
    EXPECT_GE(took.count(), 0);
    std::lock_guard lock(mutex);
    reported.push_back(requests);
  };
  GroupCommit<int, Result<int>> commit([&](std::span<const int> b) { return d.apply(b); }, refused(), options);
  EXPECT_EQ(*commit.submit_sync(1), 2);
  EXPECT_EQ(*commit.submit_sync(2), 4);
  // Reported after the answers went out.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return reported.size() == 2;
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(reported, (std::vector<std::size_t>{1, 1}));
}

// The names of this process's threads, as `top -H` shows them.
std::multiset<std::string> thread_names() {
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.insert(name);
  }
  return names;
}

TEST(GroupCommit, CommitterThreadsCarryTheirNameCutToTheKernelsFifteenBytes) {
  Doubler d;
  GroupCommitOptions options;
  options.thread_name = "commit:a-long-kind";
  {
    GroupCommit<int, Result<int>> commit([&](std::span<const int> b) { return d.apply(b); }, refused(), options);
    EXPECT_EQ(*commit.submit_sync(1), 2);  // the committer names itself before its first batch
    EXPECT_EQ(thread_names().count("commit:a-long-k"), 1u);
  }
  EXPECT_EQ(thread_names().count("commit:a-long-k"), 0u) << "the committer stops with its GroupCommit";
}

TEST(GroupCommit, APastTheQueueLimitIsRefusedAtOnceAndNothingApplied) {
  Doubler d;
  d.hold = true;
  GroupCommit<int, Result<int>> commit([&](std::span<const int> b) { return d.apply(b); }, refused(),
                                       GroupCommitOptions{.max_batch = 8, .max_queue = 1, .committers = 1});
  std::thread first([&] { EXPECT_TRUE(commit.submit_sync(1).ok()); });
  ASSERT_TRUE(eventually([&] { return d.inside.load(); }));
  std::thread queued([&] { EXPECT_TRUE(commit.submit_sync(2).ok()); });
  ASSERT_TRUE(eventually([&] { return commit.queue_depth() == 1; }));
  EXPECT_EQ(commit.submit_sync(3).code(), ErrorCode::kPlatformUnavailable) << "one past max_queue";
  d.release();
  first.join();
  queued.join();
  std::lock_guard lock(d.mutex);
  EXPECT_EQ(d.batches.size(), 2u) << "the refused request never reached a batch";
}

TEST(GroupCommit, CoroutinesResumeOnTheirOwnExecutorAndTheServerWaitsForTheirOutcome) {
  Doubler d;
  GroupCommit<int, Result<int>> commit([&](std::span<const int> b) { return d.apply(b); }, refused());
  boost::asio::io_context io;
  std::atomic<int> answered{0};
  std::atomic<bool> wrong_thread{false};
  std::thread::id io_thread;
  for (int i = 0; i < 50; ++i) {
    boost::asio::co_spawn(
        io,
        [&, i]() -> boost::asio::awaitable<void> {
          auto outcome = co_await commit.submit(i);
          if (std::this_thread::get_id() != io_thread) wrong_thread = true;
          if (outcome.ok() && *outcome == 2 * i) ++answered;
        },
        boost::asio::detached);
  }
  // Nothing but the pending outcomes keeps io.run() going: it must not return before them.
  std::thread runner([&] {
    io_thread = std::this_thread::get_id();
    io.run();
  });
  runner.join();
  EXPECT_EQ(answered.load(), 50);
  EXPECT_FALSE(wrong_thread.load());
}

}  // namespace
}  // namespace tollgate
