// Fixed-window counters.
#include "platform/rate_limiter.hpp"

namespace tollgate::platform {

RateLimiter::Window& RateLimiter::current(const std::string& key, std::chrono::steady_clock::time_point now) {
  if (windows_.size() > kPurgeAbove) {
    std::erase_if(windows_, [&](const auto& entry) { return now - entry.second.start >= window_; });
  }
  Window& w = windows_[key];
  if (w.events == 0 || now - w.start >= window_) w = Window{now, 0};
  return w;
}

bool RateLimiter::exhausted(const std::string& key) {
  std::lock_guard lock(mutex_);
  return current(key, std::chrono::steady_clock::now()).events >= max_events_;
}

void RateLimiter::record(const std::string& key) {
  std::lock_guard lock(mutex_);
  current(key, std::chrono::steady_clock::now()).events += 1;
}

}  // namespace tollgate::platform
