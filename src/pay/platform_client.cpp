// Charge API calls with retries.
#include "pay/platform_client.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/json.hpp"

namespace tollgate::pay {
namespace asio = boost::asio;
namespace bj = boost::json;

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
    ErrorCode code = ErrorCode::kChargeFailed;
    std::string message = "The payment platform refused the charge (HTTP " + std::to_string(response->status) + ").";
    if (parsed) {
      if (auto* err = parsed->if_contains("error"); err && err->is_object()) {
        if (auto c = json::optional_string(err->as_object(), "code"); c && c->has_value()) parse_error_code(**c, code);
        if (auto m = json::optional_string(err->as_object(), "message"); m && m->has_value()) message = **m;
      }
    }
    co_return Error{code, message};
  }
  co_return last;
}

asio::awaitable<Result<Receipt>> PlatformClient::charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                        std::string idempotency_key) {
  std::string body = json::serialize(bj::object{{"agent_token", agent_token},
                                                {"tool", tool},
                                                {"amount", format_money(amount_micros)},
                                                {"idempotency_key", idempotency_key}});
  std::string path = "/api/v1/charge";  // named: GCC 12 cannot pass a literal into a coroutine parameter
  auto answer = co_await post(std::move(path), std::move(body));
  if (!answer) co_return answer.error();
  auto id = json::required_string(*answer, "charge_id");
  if (!id) co_return Error{ErrorCode::kChargeFailed, "The payment platform's answer had no charge_id."};
  co_return Receipt{std::move(*id), amount_micros};
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
