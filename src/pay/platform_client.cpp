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

#include <array>

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

// A charge as the platform's charge API takes it, written straight into the request text:
// building a document per charge (and copying it into the batch's array) cost more
// allocations than the rest of the SDK's part of a paid call.
void append_charge(std::string& out, std::string_view agent_token, std::string_view tool, Micros amount_micros,
                   std::string_view idempotency_key) {
  out += "{\"agent_token\":";
  json::append_string(out, agent_token);
  out += ",\"tool\":";
  json::append_string(out, tool);
  out += ",\"amount\":";
  json::append_string(out, format_money(amount_micros));
  out += ",\"idempotency_key\":";
  json::append_string(out, idempotency_key);
  out += '}';
}

// A 2xx answer that is not a JSON object is not an answer.
Status answer_status(const Result<std::string>& answer) {
  if (!answer) return answer.error();
  if (!json::parse_object(*answer))
    return Error{ErrorCode::kChargeFailed, "The payment platform sent an unreadable answer."};
  return ok_status();
}

// The platform's answer is read in an arena on the stack: only the charge ids are kept.
constexpr std::size_t kAnswerArenaBytes = 16 * 1024;

Result<Receipt> charge_answer(std::string_view body, Micros amount_micros) {
  std::array<unsigned char, kAnswerArenaBytes> buffer;
  bj::monotonic_resource arena(buffer.data(), buffer.size());
  auto parsed = json::parse_object(body, &arena);
  if (!parsed) return Error{ErrorCode::kChargeFailed, "The payment platform sent an unreadable answer."};
  return receipt_of(*parsed, amount_micros);
}

// {"results": [...]} of POST /api/v1/charges: one outcome per charge of `amounts`, in order.
std::vector<Result<Receipt>> batch_answer(std::string_view body, const std::vector<Micros>& amounts) {
  std::array<unsigned char, kAnswerArenaBytes> buffer;
  bj::monotonic_resource arena(buffer.data(), buffer.size());
  auto parsed = json::parse_object(body, &arena);
  if (!parsed) {
    return std::vector<Result<Receipt>>(
        amounts.size(),
        Result<Receipt>(Error{ErrorCode::kChargeFailed, "The payment platform sent an unreadable answer."}));
  }
  const bj::array* results = nullptr;
  if (auto* r = parsed->if_contains("results"); r && r->is_array() && r->as_array().size() == amounts.size()) {
    results = &r->as_array();
  }
  std::vector<Result<Receipt>> out;
  out.reserve(amounts.size());
  for (std::size_t i = 0; i < amounts.size(); ++i) {
    if (!results || !(*results)[i].is_object()) {
      out.push_back(Error{ErrorCode::kChargeFailed, "The payment platform's answer did not list this charge."});
    } else if ((*results)[i].as_object().contains("error")) {
      out.push_back(platform_error(&(*results)[i].as_object(), "The payment platform refused the charge."));
    } else {
      out.push_back(receipt_of((*results)[i].as_object(), amounts[i]));
    }
  }
  return out;
}

}  // namespace

PlatformClient::PlatformClient(PlatformClientOptions options) : options_(std::move(options)) {
  while (options_.platform_url.ends_with('/')) options_.platform_url.pop_back();
}

asio::awaitable<Result<std::string>> PlatformClient::post(std::string path, std::string body) {
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
    if (response->status >= 200 && response->status < 300) co_return std::move(response->body);
    auto parsed = json::parse_object(response->body);
    co_return platform_error(parsed ? &*parsed : nullptr,
                             "The payment platform refused the charge (HTTP " + std::to_string(response->status) + ").");
  }
  co_return last;
}

asio::awaitable<Result<Receipt>> PlatformClient::charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                        std::string idempotency_key) {
  auto executor = co_await asio::this_coro::executor;
  auto initiation = [&, executor](auto handler) {
    // Delivered on the caller's executor, whichever thread sent the request. Tracked work, so
    // that an io_context draining for shutdown waits for the outcome.
    auto caller = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
    auto done = [handler = std::move(handler), caller](Result<Receipt> outcome) mutable {
      asio::post(caller, [handler = std::move(handler), outcome = std::move(outcome)]() mutable {
        std::move(handler)(std::optional<Result<Receipt>>(std::move(outcome)));
      });
    };
    std::vector<QueuedCharge> batch;
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(QueuedCharge{std::move(agent_token), std::move(tool), std::move(idempotency_key), amount_micros,
                                    std::move(done)});
      batch = take_batch_locked();
    }
    if (!batch.empty()) asio::co_spawn(executor, send_queued(shared_from_this(), std::move(batch)), asio::detached);
  };
  // Completion signatures need a default-constructible value, hence the optional.
  auto op = asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<Result<Receipt>>)>(initiation,
                                                                                                   asio::use_awaitable);
  std::optional<Result<Receipt>> outcome = co_await std::move(op);
  co_return outcome ? std::move(*outcome) : Result<Receipt>(Error{ErrorCode::kChargeFailed, "The charge was dropped."});
}

std::vector<PlatformClient::QueuedCharge> PlatformClient::take_batch_locked() {
  std::vector<QueuedCharge> batch;
  if (!send_queue_now(queue_.size(), in_flight_, charges_in_flight_)) return batch;
  while (!queue_.empty() && batch.size() < kMaxChargesPerRequest) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  ++in_flight_;
  charges_in_flight_ += batch.size();
  return batch;
}

asio::awaitable<void> PlatformClient::send_queued(std::shared_ptr<PlatformClient> self,
                                                 std::vector<QueuedCharge> batch) {
  while (!batch.empty()) {
    auto op = self->send(batch);
    std::vector<Result<Receipt>> outcomes = co_await std::move(op);
    for (std::size_t i = 0; i < batch.size(); ++i) std::move(batch[i].done)(std::move(outcomes[i]));
    std::lock_guard lock(self->mutex_);
    --self->in_flight_;
    self->charges_in_flight_ -= batch.size();
    batch = self->take_batch_locked();  // empty: the queue waits for the other request, or for new charges
  }
}

asio::awaitable<std::vector<Result<Receipt>>> PlatformClient::send(const std::vector<QueuedCharge>& batch) {
  std::vector<Result<Receipt>> out;
  std::string body;
  body.reserve(32 + 200 * batch.size());
  if (batch.size() == 1) {
    const QueuedCharge& q = batch[0];
    append_charge(body, q.agent_token, q.tool, q.amount_micros, q.idempotency_key);
    std::string path = "/api/v1/charge";  // named: GCC 12 cannot pass a literal into a coroutine parameter
    auto op = post(std::move(path), std::move(body));
    auto answer = co_await std::move(op);
    out.push_back(answer ? charge_answer(*answer, q.amount_micros) : Result<Receipt>(answer.error()));
    co_return out;
  }
  body += "{\"charges\":[";
  std::vector<Micros> amounts;
  amounts.reserve(batch.size());
  for (const QueuedCharge& q : batch) {
    if (!amounts.empty()) body += ',';
    append_charge(body, q.agent_token, q.tool, q.amount_micros, q.idempotency_key);
    amounts.push_back(q.amount_micros);
  }
  body += "]}";
  std::string path = "/api/v1/charges";
  auto op = post(std::move(path), std::move(body));
  auto answer = co_await std::move(op);
  if (!answer) co_return std::vector<Result<Receipt>>(batch.size(), Result<Receipt>(answer.error()));
  co_return batch_answer(*answer, amounts);
}

asio::awaitable<Status> PlatformClient::refund(std::string charge_id) {
  std::string path = "/api/v1/charges/" + http::percent_encode(charge_id) + "/refund";
  std::string body;
  auto answer = co_await post(std::move(path), std::move(body));
  co_return answer_status(answer);
}

asio::awaitable<Status> PlatformClient::verify(std::string agent_token) {
  std::string path = "/api/v1/verify";
  std::string body = json::serialize(bj::object{{"agent_token", agent_token}});
  auto answer = co_await post(std::move(path), std::move(body));
  co_return answer_status(answer);
}

}  // namespace tollgate::pay
