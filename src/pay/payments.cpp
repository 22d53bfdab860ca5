// with_payments: the charge-before-execute interceptor, the agent-facing messages, and the
// charger that talks to the platform.
#include "tollgate/pay/payments.hpp"

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <cstdlib>

#include "common/crypto.hpp"
#include "pay/platform_client.hpp"

namespace tollgate::pay {
namespace asio = boost::asio;
namespace json = boost::json;

std::string_view to_string(PaymentEvent::Kind kind) {
  switch (kind) {
    case PaymentEvent::Kind::kCharged: return "charged";
    case PaymentEvent::Kind::kRefused: return "refused";
    case PaymentEvent::Kind::kRefunded: return "refunded";
    case PaymentEvent::Kind::kRefundFailed: return "refund_failed";
    case PaymentEvent::Kind::kRanUncharged: return "ran_uncharged";
  }
  return "charged";
}

namespace {

// The platform's REST API, called on the executor of the tool call that charges: the
// connection pool (http::Client) belongs to that io_context, whatever transport runs it.
class PlatformCharger final : public Charger {
 public:
  explicit PlatformCharger(PlatformClientOptions options)
      : client_(std::make_shared<PlatformClient>(std::move(options))) {}

  asio::awaitable<Result<Receipt>> charge(std::string agent_token, std::string tool, Micros amount_micros,
                                          std::string idempotency_key) override {
    return client_->charge(std::move(agent_token), std::move(tool), amount_micros, std::move(idempotency_key));
  }
  asio::awaitable<Status> refund(std::string charge_id) override { return client_->refund(std::move(charge_id)); }
  asio::awaitable<Status> verify(std::string agent_token) override { return client_->verify(std::move(agent_token)); }

 private:
  std::shared_ptr<PlatformClient> client_;
};

// Codes an agent can see; everything else the platform says becomes CHARGE_FAILED.
ErrorCode agent_code(ErrorCode platform_code) {
  switch (platform_code) {
    case ErrorCode::kTokenMissing:
    case ErrorCode::kTokenInvalid:
    case ErrorCode::kInsufficientBalance:
    case ErrorCode::kSpendingLimitExceeded:
    case ErrorCode::kPlatformUnavailable:
      return platform_code;
    default:
      return ErrorCode::kChargeFailed;
  }
}

std::string price_text(Micros price) { return "$" + format_money(price); }

class Interceptor {
 public:
  Interceptor(PaymentPolicy policy, std::shared_ptr<Charger> charger)
      : policy_(std::move(policy)), charger_(std::move(charger)) {}

  // The coroutines below keep one result slot each and make refusals in ordinary functions:
  // GCC gives every temporary of a coroutine its own place in the frame, and one ToolResult
  // per `co_return refuse(...)` made this frame a 1,056-byte allocation, past what Asio recycles
  // and what glibc's per-thread cache holds, so each paid call paid for a slow allocation
  // (bench/README.md, fifteenth session).
  asio::awaitable<std::optional<mcp::ToolResult>> intercept(mcp::Context& ctx, const mcp::Tool& tool,
                                                            const json::object& arguments) {
    Micros price = policy_.price_of(tool.name);
    if (price == 0) {
      if (!policy_.require_auth_for_all_tools) co_return std::nullopt;
      auto checked = check_key(ctx, tool);
      co_return co_await std::move(checked);
    }
    std::optional<mcp::ToolResult> answer = before_charging(ctx, tool, price);
    if (answer) co_return std::move(answer);
    // One idempotency key per call: the charger's retries reuse it, so a lost answer can
    // never turn into a second charge.
    auto charging = charger_->charge(*ctx.bearer_token(), tool.name, price, time_ordered_id("tg_"));
    Result<Receipt> receipt = co_await std::move(charging);
    if (!receipt) {
      answer = charge_refused(tool, price, receipt.error());
      co_return std::move(answer);  // nothing when fail-open lets the call run uncharged
    }
    emit(PaymentEvent::Kind::kCharged, tool.name, price, receipt->charge_id, ErrorCode::kChargeFailed, "");
    auto running = run_charged(ctx, tool, arguments, price, std::move(*receipt));
    co_return co_await std::move(running);
  }

 private:
  // A free tool that needs a valid agent key anyway (require_auth_for_all_tools).
  asio::awaitable<std::optional<mcp::ToolResult>> check_key(mcp::Context& ctx, const mcp::Tool& tool) {
    std::optional<mcp::ToolResult> answer;
    const std::optional<std::string>& token = ctx.bearer_token();
    if (!token) {
      answer = refuse(ErrorCode::kTokenMissing, tool.name, 0, "");
      co_return std::move(answer);
    }
    auto verifying = charger_->verify(*token);
    Status valid = co_await std::move(verifying);
    if (!valid.ok()) answer = key_refused(tool, valid.error());
    co_return std::move(answer);
  }

  // What a paid call gets before any charge: a refusal without a key, or the provider's
  // before_charge answer; nothing when the charge goes ahead.
  std::optional<mcp::ToolResult> before_charging(mcp::Context& ctx, const mcp::Tool& tool, Micros price) {
    if (!ctx.bearer_token()) return refuse(ErrorCode::kTokenMissing, tool.name, price, "");
    if (policy_.before_charge) return policy_.before_charge(tool.name);
    return std::nullopt;
  }

  // The answer to a call whose key the platform did not accept; nothing when fail-open lets
  // it run.
  std::optional<mcp::ToolResult> key_refused(const mcp::Tool& tool, const Error& error) {
    ErrorCode code = agent_code(error.code);
    if (code == ErrorCode::kPlatformUnavailable && policy_.fail_open) return std::nullopt;
    return refuse(code, tool.name, 0, error.message);
  }

  // The answer to a call whose charge failed; nothing when fail-open lets it run uncharged.
  std::optional<mcp::ToolResult> charge_refused(const mcp::Tool& tool, Micros price, const Error& error) {
    ErrorCode code = agent_code(error.code);
    if (code == ErrorCode::kPlatformUnavailable && policy_.fail_open) {
      emit(PaymentEvent::Kind::kRanUncharged, tool.name, price, "", code, error.message);
      return std::nullopt;  // fail-open: the provider chose to serve uncharged
    }
    return refuse(code, tool.name, price, error.message);
  }

  // Runs a charged tool; sends the money back when its result says so (refund_due).
  asio::awaitable<std::optional<mcp::ToolResult>> run_charged(mcp::Context& ctx, const mcp::Tool& tool,
                                                              const json::object& arguments, Micros price,
                                                              Receipt receipt) {
    // Emplaced, not assigned: the result keeps the arena the tool built it in.
    std::optional<mcp::ToolResult> result;
    std::exception_ptr protocol_error;
    try {
      auto run = tool.handler(ctx, arguments);
      result.emplace(co_await std::move(run));
    } catch (const mcp::ProtocolError&) {
      protocol_error = std::current_exception();
    } catch (const std::exception& e) {
      result.emplace(mcp::ToolResult::error(e.what()));
    }
    if (protocol_error) {
      // The call is answered with a JSON-RPC error (say, URL elicitation required): the tool
      // did not do its work, and the agent gets no result to carry a receipt, so the money
      // goes back before the error does.
      auto refunding = charger_->refund(receipt.charge_id);
      Status refunded = co_await std::move(refunding);
      if (refunded.ok()) {
        emit(PaymentEvent::Kind::kRefunded, tool.name, price, receipt.charge_id, ErrorCode::kChargeFailed, "");
      } else {
        emit(PaymentEvent::Kind::kRefundFailed, tool.name, price, receipt.charge_id, refunded.code(),
             refunded.error().message);
      }
      std::rethrow_exception(protocol_error);
    }
    if (refund_due(*result)) {
      auto refunding = charger_->refund(receipt.charge_id);
      Status refunded = co_await std::move(refunding);
      if (refunded.ok()) {
        emit(PaymentEvent::Kind::kRefunded, tool.name, price, receipt.charge_id, ErrorCode::kChargeFailed, "");
        attach(*result, "tollgate/refund", receipt);
        co_return std::move(result);
      }
      emit(PaymentEvent::Kind::kRefundFailed, tool.name, price, receipt.charge_id, refunded.code(),
           refunded.error().message);
    }
    attach(*result, "tollgate/receipt", receipt);
    co_return std::move(result);
  }

  mcp::ToolResult refuse(ErrorCode code, const std::string& tool, Micros price, const std::string& detail) {
    emit(PaymentEvent::Kind::kRefused, tool, price, "", code, detail);
    return refusal(policy_, code, tool, price, detail);
  }

  // Whether a charged call's result sends the money back: a tool error when the provider
  // asked for that, or a failure of the server behind the gateway (UPSTREAM_ERROR, which
  // is never billable).
  bool refund_due(const mcp::ToolResult& result) const {
    if (result.is_error && policy_.refund_on_tool_error) return true;
    auto* err = result.meta.if_contains("tollgate/error");
    if (!err || !err->is_object()) return false;
    auto* code = err->as_object().if_contains("code");
    return code && code->is_string() && code->as_string() == to_string(ErrorCode::kUpstreamError);
  }

  // The receipt (or refund) in the result's _meta, made where the result's values are.
  static void attach(mcp::ToolResult& result, std::string_view key, const Receipt& receipt) {
    json::object entry({{"charge_id", receipt.charge_id}, {"amount", format_money(receipt.amount_micros)}},
                       result.meta.storage());
    result.meta[key] = std::move(entry);
  }

  // Ordinary functions, not coroutine code: GCC keeps every temporary of a coroutine in its
  // frame, and an event's strings made the interceptor's frame a large allocation per call.
  // The event is only made for a logger.
  void emit(PaymentEvent::Kind kind, const std::string& tool, Micros price, std::string_view charge_id, ErrorCode code,
            std::string_view message) const {
    if (!policy_.logger) return;
    policy_.logger(PaymentEvent{kind, tool, price, std::string(charge_id), code, std::string(message)});
  }

  PaymentPolicy policy_;
  std::shared_ptr<Charger> charger_;
};

std::string env_or(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* env = std::getenv(name);
  return env ? env : "";
}

}  // namespace

std::shared_ptr<Charger> make_platform_charger(std::string platform_url, std::string api_key, int timeout_ms,
                                               int retries) {
  return std::make_shared<PlatformCharger>(
      PlatformClientOptions{std::move(platform_url), std::move(api_key), timeout_ms, retries});
}

mcp::ToolResult refusal(const PaymentPolicy& policy, ErrorCode code, std::string_view tool, Micros price_micros,
                        std::string_view detail) {
  std::string where = policy.platform_url.empty() ? "the Tollgate dashboard" : policy.platform_url;
  std::string setup = policy.platform_url.empty() ? "the Setup page of the dashboard" : policy.platform_url + "/setup";
  std::string cost = price_micros > 0 ? fmt::format("The tool '{}' costs {} per call", tool, price_text(price_micros))
                                      : fmt::format("The tool '{}' needs an agent key", tool);
  std::string provider = policy.provider_name.empty() ? "the tool's provider" : policy.provider_name;
  std::string concise, detailed;
  switch (code) {
    case ErrorCode::kTokenMissing:
      concise = "No agent key was sent.";
      detailed = fmt::format(
          "{} and no agent key was sent. Set the AGENT_TOKEN environment variable (stdio) or send the header "
          "'Authorization: Bearer sk_live_...' (HTTP). Create a key under API Keys at {}; setup help: {}.",
          cost, where, setup);
      break;
    case ErrorCode::kTokenInvalid:
      concise = "The agent key is not valid.";
      detailed = fmt::format(
          "The agent key was refused: it may have been deleted, copied incompletely, or belong to another account. "
          "Create a new key under API Keys at {} and update your configuration; setup help: {}.",
          where, setup);
      break;
    case ErrorCode::kInsufficientBalance:
      concise = "The account's balance is too low.";
      detailed = fmt::format("{} and the account's balance is lower. Add credits under Wallet at {}.", cost, where);
      break;
    case ErrorCode::kSpendingLimitExceeded:
      concise = "The agent key's spending limit is reached.";
      detailed = fmt::format(
          "{} and this agent key's spending limit would be passed. Wait for the limit's period to start again, or "
          "create a key with a higher limit under API Keys at {}.",
          cost, where);
      break;
    case ErrorCode::kPlatformUnavailable:
      concise = "The payment platform is unavailable; nothing was charged.";
      detailed = "The payment platform could not be reached, so the tool did not run and nothing was charged. "
                 "Try again in a moment.";
      break;
    default:
      concise = "The charge failed; nothing was charged.";
      detailed = fmt::format("The charge for this call failed ({}), so the tool did not run. Contact {}.",
                             detail.empty() ? "no detail" : detail, provider);
      break;
  }
  const std::string& sentence = policy.error_verbosity == ErrorVerbosity::kConcise ? concise : detailed;
  mcp::ToolResult result = mcp::ToolResult::error(fmt::format("{}: {}", to_string(code), sentence));
  result.meta["tollgate/error"] =
      json::object{{"code", to_string(code)}, {"tool", tool}, {"price", format_money(price_micros)}};
  return result;
}

void mark_price(mcp::Tool& tool, Micros price_micros) {
  if (price_micros <= 0) return;
  std::string note = fmt::format("(Paid tool: {} per call, charged to your Tollgate agent key.)", price_text(price_micros));
  tool.description = tool.description.empty() ? note : tool.description + " " + note;
  tool.meta["tollgate/price"] = json::object{{"amount", format_money(price_micros)}, {"currency", "USD"}};
}

void install_payments(mcp::Server& server, PaymentPolicy policy, std::shared_ptr<Charger> charger) {
  for (const auto& registered : server.tools()) {
    Micros price = policy.price_of(registered->name);
    if (price <= 0 || registered->meta.contains("tollgate/price")) continue;
    mcp::Tool marked = *registered;
    mark_price(marked, price);
    server.remove_tool(marked.name);
    (void)server.add_tool(std::move(marked));
  }
  auto interceptor = std::make_shared<Interceptor>(std::move(policy), std::move(charger));
  server.set_tool_interceptor([interceptor](mcp::Context& ctx, const mcp::Tool& tool, const json::object& arguments) {
    return interceptor->intercept(ctx, tool, arguments);
  });
}

Status with_payments(mcp::Server& server, PaymentsConfig config) {
  std::string api_key = env_or(config.api_key, "TOLLGATE_API_KEY");
  std::string url = env_or(config.platform_url, "TOLLGATE_URL");
  if (api_key.empty()) {
    return Error{ErrorCode::kInvalidRequest, "with_payments: no provider key (set api_key or TOLLGATE_API_KEY)"};
  }
  if (url.empty()) return Error{ErrorCode::kInvalidRequest, "with_payments: no platform URL (set platform_url or TOLLGATE_URL)"};
  while (url.ends_with('/')) url.pop_back();
  auto prices = std::make_shared<std::map<std::string, Micros>>();
  for (const auto& [tool, text] : config.pricing) {
    auto micros = parse_money(text, "price of " + tool);
    if (!micros) return Error{ErrorCode::kInvalidRequest, "with_payments: " + micros.error().message};
    if (!server.find_tool(tool)) {
      return Error{ErrorCode::kInvalidRequest,
                   "with_payments: '" + tool + "' has a price but is not a registered tool (register tools first)"};
    }
    (*prices)[tool] = *micros;
  }
  PaymentPolicy policy;
  policy.price_of = [prices](const std::string& tool) {
    auto it = prices->find(tool);
    return it == prices->end() ? Micros{0} : it->second;
  };
  policy.fail_open = config.fail_open;
  policy.require_auth_for_all_tools = config.require_auth_for_all_tools;
  policy.error_verbosity = config.error_verbosity;
  policy.provider_name = config.provider_name;
  policy.refund_on_tool_error = config.refund_on_tool_error;
  policy.logger = config.logger;
  policy.platform_url = url;
  install_payments(server, std::move(policy), make_platform_charger(url, api_key, config.timeout_ms, config.retries));
  return ok_status();
}

}  // namespace tollgate::pay
