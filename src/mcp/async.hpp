// Thread-safe wake-ups and one-shot results for coroutines, on Asio's concurrent channels.
// Internal to src/mcp: the channel headers are heavy, so only a few translation units see them.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace tollgate::mcp::detail {

namespace asio = boost::asio;

// Wakes one waiting coroutine. Level-triggered (a notify with nobody waiting is kept for the
// next wait) and thread-safe. Wake-ups may be spurious: waiters re-check their condition.
class Signal : public std::enable_shared_from_this<Signal> {
 public:
  explicit Signal(asio::any_io_executor executor) : channel_(std::move(executor), 1) {}

  void notify() { channel_.try_send(boost::system::error_code{}); }

  asio::awaitable<void> wait() {
    auto op = channel_.async_receive(asio::as_tuple(asio::use_awaitable));
    co_await std::move(op);
  }

  // Returns after a notify or after `timeout`, whichever comes first.
  asio::awaitable<void> wait_for(std::chrono::milliseconds timeout) {
    std::weak_ptr<Signal> weak = weak_from_this();
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, timeout);
    timer.async_wait([weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->notify();
    });
    auto op = channel_.async_receive(asio::as_tuple(asio::use_awaitable));
    co_await std::move(op);
    timer.cancel();
  }

 private:
  asio::experimental::concurrent_channel<void(boost::system::error_code)> channel_;
};

// A value delivered once, from any thread, and awaited by one coroutine. The first delivery
// wins; later ones return false (a response racing its own timeout), also after take() has
// emptied the channel.
template <typename T>
class OneShot {
 public:
  explicit OneShot(asio::any_io_executor executor) : channel_(std::move(executor), 1) {}

  bool deliver(T value) {
    if (delivered_.exchange(true)) return false;
    return channel_.try_send(boost::system::error_code{}, std::move(value));
  }

  asio::awaitable<T> take() {
    auto op = channel_.async_receive(asio::as_tuple(asio::use_awaitable));
    auto [ec, value] = co_await std::move(op);
    co_return std::move(value);
  }

 private:
  std::atomic<bool> delivered_{false};
  asio::experimental::concurrent_channel<void(boost::system::error_code, T)> channel_;
};

// Why a side stopped waiting for an answer (a timeout, a cancel), when it did: the first
// to deliver into the request's slot wins, the answer included. The reason is set under
// the same lock as the delivery, so the waiter, once woken, reads it whole.
template <typename Response>
class GaveUp {
 public:
  void give_up(const std::weak_ptr<OneShot<Response>>& slot, Response failure, std::string reason) {
    auto s = slot.lock();
    if (!s) return;
    std::lock_guard lock(mutex_);
    if (reason_ || !s->deliver(std::move(failure))) return;
    reason_ = std::move(reason);
  }
  std::optional<std::string> reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<std::string> reason_;
};

}  // namespace tollgate::mcp::detail
