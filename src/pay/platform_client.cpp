// Charge API calls with retries.
#include "pay/platform_client.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/json.hpp"

namespace tollgate::pay {
namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

// The platform's {"error": {"code", "message"}} of `body`, or CHARGE_FAILED with `otherwise`.
Error platform_error(const bj::object* body, std::string otherwise) {
  ErrorCode code = ErrorCode::kChargeFailed;
  std::string message = std::move(otherwise);
  if (body) {
    if (auto* err = body->if_contains("error"); err && err->is_object()) {
      if (auto c = json::optional_string(err->as_object(), "code"); c && c->has_value()) parse_error_code(**c, code);
      if (auto m = json::optional_string(err->as_object(), "message"); m && m->has_value()) message = **m;
    }
  }
  return Error{code, message};
}

Result<Receipt> receipt_of(const bj::object& answer, Micros amount_micros) {
  auto id = json::required_string(answer, "charge_id");
  if (!id) return Error{ErrorCode::kChargeFailed, "The payment platform's answer had no charge_id."};
  return Receipt{std::move(*id), amount_micros};
}

}  // namespace

PlatformClient::PlatformClient(PlatformClientOptions options) : options_(std::move(options)) {
  while (options_.platform_url.ends_with('/')) options_.platform_url.pop_back();
}

asio::awaitable<Result<bj::object>> PlatformClient::post(std::string path, std::string body) {
  Error last{ErrorCode::kPlatformUnavailable, "the platform was not called"};
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) {
      asio::steady_timer pause(co_await asio::this_coro::executor,
                               std::chrono::milliseconds(options_.retry_backoff_ms * attempt));
      co_await pause.async_wait(asio::use_awaitable);
    }
    http::ClientRequest request;
    request.method = "POST";
    request.url = options_.platform_url + path;
    request.body = body;
    request.timeout_ms = options_.timeout_ms;
    request.headers.set("Authorization", "Bearer " + options_.api_key);
    request.headers.set("Content-Type", "application/json");
    auto response = co_await client_.request(std::move(request));
    if (!response) {
      last = Error{ErrorCode::kPlatformUnavailable, "The payment platform could not be reached (" +
                                                        response.error().message + ")."};
      continue;
    }
    if (response->status >= 500) {
      // 503 PLATFORM_UNAVAILABLE: nothing was charged; retrying with the same key is safe.
      last = Error{ErrorCode::kPlatformUnavailable, "The payment platform is unavailable (HTTP " +
                                                        std::to_string(response->status) + ")."};
      continue;
    }
    auto parsed = json::parse_object(response->body);
    if (response->status >= 200 && response->status < 300) {
      if (!parsed) co_return Error{ErrorCode::kChargeFailed, "The payment platform sent an unreadable answer."};
      co_return std::move(*parsed);
    }
    co_return platform_error(parsed ? &*parsed : nullptr,
                             "The payment platform refused the charge (HTTP " + std::to_string(response->status) + ").");
  }
  co_return last;
}

asio::awaitable<Result<Receipt>> PlatformClient::charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                        std::string idempotency_key) {
  bj::object item{{"agent_token", agent_token},
                  {"tool", tool},
                  {"amount", format_money(amount_micros)},
                  {"idempotency_key", idempotency_key}};
  auto executor = co_await asio::this_coro::executor;
  auto initiation = [this, &item, amount_micros, executor](auto handler) {
    // Delivered on the caller's executor, whichever thread sent the request. Tracked work, so
    // that an io_context draining for shutdown waits for the outcome.
    auto caller = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
    auto done = [handler = std::move(handler), caller](Result<Receipt> outcome) mutable {
      asio::post(caller, [handler = std::move(handler), outcome = std::move(outcome)]() mutable {
        std::move(handler)(std::optional<Result<Receipt>>(std::move(outcome)));
      });
    };
    bool start = false;
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(QueuedCharge{std::move(item), amount_micros, std::move(done)});
      if (in_flight_ < kMaxChargeRequestsInFlight) {
        ++in_flight_;
        start = true;
      }
    }
    if (start) asio::co_spawn(executor, send_queued(shared_from_this()), asio::detached);
  };
  // Completion signatures need a default-constructible value, hence the optional.
  auto op = asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<Result<Receipt>>)>(initiation,
                                                                                                   asio::use_awaitable);
  std::optional<Result<Receipt>> outcome = co_await std::move(op);
  co_return outcome ? std::move(*outcome) : Result<Receipt>(Error{ErrorCode::kChargeFailed, "The charge was dropped."});
}

asio::awaitable<void> PlatformClient::send_queued(std::shared_ptr<PlatformClient> self) {
  for (;;) {
    std::vector<QueuedCharge> batch;
    {
      std::lock_guard lock(self->mutex_);
      if (self->queue_.empty()) {
        --self->in_flight_;
        break;
      }
      while (!self->queue_.empty() && batch.size() < kMaxChargesPerRequest) {
        batch.push_back(std::move(self->queue_.front()));
        self->queue_.pop_front();
      }
    }
    auto op = self->send(batch);
    std::vector<Result<Receipt>> outcomes = co_await std::move(op);
    for (std::size_t i = 0; i < batch.size(); ++i) std::move(batch[i].done)(std::move(outcomes[i]));
  }
}

asio::awaitable<std::vector<Result<Receipt>>> PlatformClient::send(const std::vector<QueuedCharge>& batch) {
  std::vector<Result<Receipt>> out;
  if (batch.size() == 1) {
    std::string path = "/api/v1/charge";  // named: GCC 12 cannot pass a literal into a coroutine parameter
    std::string body = json::serialize(batch[0].item);
    auto op = post(std::move(path), std::move(body));
    auto answer = co_await std::move(op);
    out.push_back(answer ? receipt_of(*answer, batch[0].amount_micros) : Result<Receipt>(answer.error()));
    co_return out;
  }
  bj::array items;
  for (const auto& q : batch) items.push_back(q.item);
  std::string path = "/api/v1/charges";
  std::string body = json::serialize(bj::object{{"charges", std::move(items)}});
  auto op = post(std::move(path), std::move(body));
  auto answer = co_await std::move(op);
  const bj::array* results = nullptr;
  if (answer) {
    if (auto* r = answer->if_contains("results"); r && r->is_array() && r->as_array().size() == batch.size()) {
      results = &r->as_array();
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!answer) {
      out.push_back(answer.error());
    } else if (!results || !(*results)[i].is_object()) {
      out.push_back(Error{ErrorCode::kChargeFailed, "The payment platform's answer did not list this charge."});
    } else if ((*results)[i].as_object().contains("error")) {
      out.push_back(platform_error(&(*results)[i].as_object(), "The payment platform refused the charge."));
    } else {
      out.push_back(receipt_of((*results)[i].as_object(), batch[i].amount_micros));
    }
  }
  co_return out;
}

asio::awaitable<Status> PlatformClient::refund(std::string charge_id) {
  std::string path = "/api/v1/charges/" + http::percent_encode(charge_id) + "/refund";
  std::string body;
  auto answer = co_await post(std::move(path), std::move(body));
  if (!answer) co_return answer.error();
  co_return ok_status();
}

asio::awaitable<Status> PlatformClient::verify(std::string agent_token) {
  std::string path = "/api/v1/verify";
  std::string body = json::serialize(bj::object{{"agent_token", agent_token}});
  auto answer = co_await post(std::move(path), std::move(body));
  if (!answer) co_return answer.error();
  co_return ok_status();
}

}  // namespace tollgate::pay
