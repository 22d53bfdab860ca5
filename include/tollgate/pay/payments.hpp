// Paid tools for an MCP server: `with_payments(server, config)` charges the caller's agent
// key for every priced tool call BEFORE the tool runs, through the platform's charge API.
//
//   tollgate::mcp::Server server({"weather", "1.0"});
//   server.add_tool(...);                       // register tools first
//   tollgate::pay::PaymentsConfig config;
//   config.pricing = {{"forecast", "0.01"}};    // unlisted tools are free
//   tollgate::pay::with_payments(server, config);
//
// Order per call: arguments validated (by the MCP server) -> charged (with an idempotency
// key, retried on network errors) -> the tool runs. When the charge fails the tool does not
// run and the agent gets a tool error starting with the code (TOKEN_MISSING, TOKEN_INVALID,
// INSUFFICIENT_BALANCE, SPENDING_LIMIT_EXCEEDED, PLATFORM_UNAVAILABLE, CHARGE_FAILED) and
// saying how to fix it, with `_meta["tollgate/error"] = {code, tool, price}`. A charged call
// carries `_meta["tollgate/receipt"] = {charge_id, amount}`. Paid tools are listed with
// `_meta["tollgate/price"] = {amount, currency}` and their price in the description.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/money.hpp"
#include "common/result.hpp"
#include "tollgate/mcp/server.hpp"

namespace tollgate::pay {

enum class ErrorVerbosity {
  kDetailed,  // the code, what happened, how to fix it, where (dashboard pages, docs)
  kConcise,   // the code and one short sentence
};

// What happened to one paid call, for the provider's own logs and metrics. Never holds a key.
struct PaymentEvent {
  enum class Kind { kCharged, kRefused, kRefunded, kRefundFailed, kRanUncharged };
  Kind kind = Kind::kCharged;
  std::string tool;
  Micros amount_micros = 0;
  std::string charge_id;          // kCharged, kRefunded, kRefundFailed
  ErrorCode code = ErrorCode::kChargeFailed;  // kRefused, kRefundFailed, kRanUncharged
  std::string message;
};
std::string_view to_string(PaymentEvent::Kind kind);

struct PaymentsConfig {
  std::string api_key;       // provider key (scope provider:charge); default: $TOLLGATE_API_KEY
  std::string platform_url;  // default: $TOLLGATE_URL
  std::map<std::string, std::string> pricing;  // tool -> dollars ("0.01"); unlisted tools are free
  // When the platform cannot be reached: false (default) refuses the call with
  // PLATFORM_UNAVAILABLE; true runs the tool uncharged (and reports kRanUncharged).
  bool fail_open = false;
  // Free tools also need a valid agent key (checked with the platform's verify endpoint).
  bool require_auth_for_all_tools = false;
  ErrorVerbosity error_verbosity = ErrorVerbosity::kDetailed;
  std::string provider_name;  // named in error messages ("... contact <provider_name>")
  // A charged call whose tool returns isError is refunded. (A result marked
  // `_meta["tollgate/error"].code = "UPSTREAM_ERROR"` — the gateway's upstream failed — is
  // always refunded.)
  bool refund_on_tool_error = false;
  std::function<void(const PaymentEvent&)> logger;
  int timeout_ms = 5'000;  // per attempt at the platform
  int retries = 2;         // extra attempts after a network failure, same idempotency key
};

// Installs payments on `server`. INVALID_REQUEST for a bad price, a missing API key or URL,
// or a priced tool that is not registered. Call after registering the server's tools.
Status with_payments(mcp::Server& server, PaymentsConfig config);

// ---- lower level: the gateway uses these directly ------------------------------------------

struct Receipt {
  std::string charge_id;
  Micros amount_micros = 0;
};

// Where charges go: the platform over HTTP (with_payments), or the platform's own ledger
// when the gateway runs inside `tollgate serve`.
class Charger {
 public:
  virtual ~Charger() = default;
  virtual boost::asio::awaitable<Result<Receipt>> charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                         std::string idempotency_key) = 0;
  virtual boost::asio::awaitable<Status> refund(std::string charge_id) = 0;
  virtual boost::asio::awaitable<Status> verify(std::string agent_token) = 0;
};

// A charger that calls the platform's REST API with a provider key. Each call runs on the
// executor of the tool call that awaits it, over warm keep-alive connections pooled in that
// executor's io_context (http::Client); concurrent charges share requests.
std::shared_ptr<Charger> make_platform_charger(std::string platform_url, std::string api_key, int timeout_ms, int retries);

struct PaymentPolicy {
  std::function<Micros(const std::string& tool)> price_of;  // 0: free
  bool fail_open = false;
  bool require_auth_for_all_tools = false;
  ErrorVerbosity error_verbosity = ErrorVerbosity::kDetailed;
  std::string provider_name;
  bool refund_on_tool_error = false;
  std::function<void(const PaymentEvent&)> logger;
  std::string platform_url;  // where agents' owners manage keys and credits (for messages)
  // Asked before a paid call is charged (after its key is checked for presence): a result
  // answers the call uncharged. The gateway's, while its upstream is reconnecting: the call
  // could not run, and a charge would only be refunded.
  std::function<std::optional<mcp::ToolResult>(const std::string& tool)> before_charge;
};

// Charges per `policy` through `charger` on every tools/call of `server` (an interceptor:
// tools added later are charged too) and marks the currently registered paid tools with
// their price in tools/list.
void install_payments(mcp::Server& server, PaymentPolicy policy, std::shared_ptr<Charger> charger);

// The tools/list entry of a paid tool: price appended to the description, `_meta` price.
void mark_price(mcp::Tool& tool, Micros price_micros);

// The agent-facing error result of a refused call (also used by the gateway).
mcp::ToolResult refusal(const PaymentPolicy& policy, ErrorCode code, std::string_view tool, Micros price_micros,
                        std::string_view detail);

}  // namespace tollgate::pay
