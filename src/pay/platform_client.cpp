// Charge API calls with retries.
#include "pay/platform_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
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

PlatformClient::PlatformClient(asio::any_io_executor executor, PlatformClientOptions options)
    : executor_(executor), options_(std::move(options)), client_(std::make_shared<http::Client>(executor)) {
  while (options_.platform_url.ends_with('/')) options_.platform_url.pop_back();
}

asio::awaitable<Result<bj::object>> PlatformClient::post(std::string path, std::string body) {
  Error last{ErrorCode::kPlatformUnavailable, "the platform was not called"};
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) {
      asio::steady_timer pause(executor_, std::chrono::milliseconds(options_.retry_backoff_ms * attempt));
      co_await pause.async_wait(asio::use_awaitable);
    }
    http::ClientRequest request;
    request.method = "POST";
    request.url = options_.platform_url + path;
    request.body = body;
    request.timeout_ms = options_.timeout_ms;
    request.headers.set("Authorization", "Bearer " + options_.api_key);
    request.headers.set("Content-Type", "application/json");
    auto response = co_await client_->request(std::move(request));
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
  QueuedCharge queued{bj::object{{"agent_token", agent_token},
                                 {"tool", tool},
                                 {"amount", format_money(amount_micros)},
                                 {"idempotency_key", idempotency_key}},
                      amount_micros, std::make_shared<std::optional<Result<Receipt>>>(),
                      std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max())};
  auto outcome = queued.outcome;
  auto done = queued.done;
  queue_.push_back(std::move(queued));
  if (in_flight_ < kMaxChargeRequestsInFlight) {
    ++in_flight_;
    asio::co_spawn(executor_, send_queued(), asio::detached);
  }
  // One thread: nothing can set the outcome between the queueing above and this wait.
  while (!*outcome) co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
  co_return std::move(**outcome);
}

asio::awaitable<void> PlatformClient::send_queued() {
  while (!queue_.empty()) {
    std::vector<QueuedCharge> batch;
    while (!queue_.empty() && batch.size() < kMaxChargesPerRequest) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    auto op = send(batch);
    std::vector<Result<Receipt>> outcomes = co_await std::move(op);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].outcome->emplace(std::move(outcomes[i]));
      batch[i].done->cancel();
    }
  }
  --in_flight_;
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
