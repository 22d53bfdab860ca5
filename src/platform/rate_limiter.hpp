// Counts events per key (an email, an IP address) in fixed windows and says when a key has
// used up its allowance. In memory, per process: each `tollgate serve` enforces its own.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tollgate::platform {

class RateLimiter {
 public:
  RateLimiter(int max_events, std::chrono::seconds window) : max_events_(max_events), window_(window) {}

  // True if `key` has already had max_events in the current window.
  bool exhausted(const std::string& key);
  void record(const std::string& key);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int events = 0;
  };
  // Bounds memory under a flood of distinct keys: past this many, expired windows are purged.
  static constexpr std::size_t kPurgeAbove = 100'000;

  Window& current(const std::string& key, std::chrono::steady_clock::time_point now);

  int max_events_;
  std::chrono::seconds window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace tollgate::platform
