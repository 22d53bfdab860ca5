// The account's money: balance and earnings, the transaction history (newest first, cursor
// pagination), usage per key/tool/day, and admin deposits.
#include <fmt/format.h>

#include <charconv>
#include <map>

#include "common/text.hpp"
#include "keys/key.hpp"
#include "platform/context.hpp"

namespace tollgate::platform {
namespace {

namespace bj = boost::json;
using http::Request;
using http::Response;
using store::TransferKind;

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;
constexpr UnixMicros kMicrosPerDay = 86'400'000'000;
constexpr int kMaxUsageDays = 366;
constexpr int kDefaultUsageDays = 30;

std::string money_text(Micros m) { return format_money(m); }

// How a transfer looks from `account_id`'s side: its type and signed amount.
std::pair<std::string_view, Micros> as_seen_by(const store::Transfer& t, std::string_view account_id) {
  switch (t.kind) {
    case TransferKind::kDeposit: return {"deposit", t.amount_micros};
    case TransferKind::kCharge:
      return t.payer_account_id == account_id ? std::pair<std::string_view, Micros>{"charge", -t.amount_micros}
                                              : std::pair<std::string_view, Micros>{"earning", t.amount_micros};
    case TransferKind::kRefund:
      return t.payee_account_id == account_id ? std::pair<std::string_view, Micros>{"refund", t.amount_micros}
                                              : std::pair<std::string_view, Micros>{"refund_issued", -t.amount_micros};
  }
  return {"deposit", t.amount_micros};
}

Result<int> parse_int_param(const Request& request, std::string_view name, int fallback, int min, int max) {
  auto text = request.query_param(name);
  if (!text) return fallback;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || ptr != text->data() + text->size() || value < min || value > max) {
    return Error{ErrorCode::kInvalidRequest, fmt::format("'{}' must be a whole number from {} to {}.", name, min, max)};
  }
  return value;
}

std::string day_text(UnixMicros t) { return format_rfc3339(t).substr(0, 10); }

}  // namespace

void add_wallet_routes(http::Router& router, std::shared_ptr<Context> ctx) {
  router.add("GET", "/api/v1/wallet", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, false);
    if (!account) co_return Response::error(account.error());
    auto wallet = ctx->store.wallet(account->id);
    if (!wallet) co_return Response::error(wallet.error());
    co_return Response::json(200, bj::object{{"balance", money_text(wallet->balance_micros)},
                                             {"balance_micros", wallet->balance_micros},
                                             {"earnings", money_text(wallet->earnings_micros)},
                                             {"earnings_micros", wallet->earnings_micros},
                                             {"currency", "USD"}});
  });

  router.add("GET", "/api/v1/wallet/transactions", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, false);
    if (!account) co_return Response::error(account.error());
    auto limit = parse_int_param(request, "limit", kDefaultPageSize, 1, kMaxPageSize);
    if (!limit) co_return Response::error(limit.error());
    std::optional<std::int64_t> cursor;
    if (auto text = request.query_param("cursor"); text && !text->empty()) {
      std::int64_t value = 0;
      auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
      if (ec != std::errc{} || ptr != text->data() + text->size() || value <= 0) {
        co_return Response::error(ErrorCode::kInvalidRequest, "'cursor' must be a next_cursor from a previous page.");
      }
      cursor = value;
    }
    auto page = ctx->store.transactions(account->id, cursor, *limit);
    if (!page) co_return Response::error(page.error());
    bj::array items;
    for (const auto& t : page->transfers) {
      auto [type, amount] = as_seen_by(t, account->id);
      items.push_back(bj::object{
          {"id", t.id},
          {"type", type},
          {"amount", money_text(amount)},
          {"amount_micros", amount},
          {"tool", t.tool.empty() ? bj::value(nullptr) : bj::value(t.tool)},
          {"key_display", t.key_last4.empty() ? bj::value(nullptr) : bj::value(keys::display(t.key_last4))},
          {"note", t.note.empty() ? bj::value(nullptr) : bj::value(t.note)},
          {"refund_of", t.refund_of.empty() ? bj::value(nullptr) : bj::value(t.refund_of)},
          {"created_at", format_rfc3339(t.created_at)}});
    }
    bj::value next = page->next_cursor ? bj::value(std::to_string(*page->next_cursor)) : bj::value(nullptr);
    co_return Response::json(200, bj::object{{"transactions", std::move(items)}, {"next_cursor", next}});
  });

  router.add("GET", "/api/v1/usage", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, false);
    if (!account) co_return Response::error(account.error());
    // [from, to] are whole UTC days, both included; default: the last 30 days.
    UnixMicros today = start_of_day(now_micros());
    UnixMicros from = today - (kDefaultUsageDays - 1) * kMicrosPerDay;
    UnixMicros to = today;
    for (auto [name, target] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
      if (auto text = request.query_param(name)) {
        auto parsed = text->size() == 10 ? parse_rfc3339(*text) : std::nullopt;
        if (!parsed) co_return Response::error(ErrorCode::kInvalidRequest, fmt::format("'{}' must be a date YYYY-MM-DD.", name));
        *target = *parsed;
      }
    }
    if (to < from) co_return Response::error(ErrorCode::kInvalidRequest, "'from' must not be after 'to'.");
    if ((to - from) / kMicrosPerDay >= kMaxUsageDays) {
      co_return Response::error(ErrorCode::kInvalidRequest, fmt::format("A usage report covers at most {} days.", kMaxUsageDays));
    }
    std::string role = request.query_param("role").value_or("spent");
    if (role != "spent" && role != "earned") {
      co_return Response::error(ErrorCode::kInvalidRequest, "'role' must be spent or earned.");
    }
    bool spent = role == "spent";
    auto usage = ctx->store.usage(account->id, spent ? store::UsageRole::kSpent : store::UsageRole::kEarned, from,
                                  to + kMicrosPerDay);
    if (!usage) co_return Response::error(usage.error());

    // Sum the (day, key, tool) cells into the views the dashboard draws.
    struct Sum {
      Micros amount = 0;
      std::int64_t calls = 0;
      void add(const store::UsageCell& c) {
        amount += c.amount_micros;
        calls += c.calls;
      }
    };
    Sum total;
    std::map<std::int64_t, Sum> per_day;
    std::map<std::string, Sum> per_key, per_tool;
    std::map<std::pair<std::int64_t, std::string>, Sum> per_day_key, per_day_tool;
    std::map<std::string, std::string> last4;
    for (const auto& c : *usage) {
      total.add(c);
      per_day[c.day].add(c);
      per_tool[c.tool].add(c);
      per_day_tool[{c.day, c.tool}].add(c);
      if (spent) {
        per_key[c.key_id].add(c);
        per_day_key[{c.day, c.key_id}].add(c);
        last4[c.key_id] = c.key_last4;
      }
    }
    auto row = [](bj::object o, const Sum& sum) {
      o["amount"] = money_text(sum.amount);
      o["amount_micros"] = sum.amount;
      o["calls"] = sum.calls;
      return o;
    };
    auto by_amount = [](bj::array rows) {
      std::stable_sort(rows.begin(), rows.end(), [](const bj::value& a, const bj::value& b) {
        return a.at("amount_micros").as_int64() > b.at("amount_micros").as_int64();
      });
      return rows;
    };
    bj::array by_day, by_tool, by_key, by_day_tool, by_day_key;
    for (const auto& [day, sum] : per_day) by_day.push_back(row({{"date", day_text(day * kMicrosPerDay)}}, sum));
    for (const auto& [tool, sum] : per_tool) by_tool.push_back(row({{"tool", tool}}, sum));
    for (const auto& [k, sum] : per_day_tool) {
      by_day_tool.push_back(row({{"date", day_text(k.first * kMicrosPerDay)}, {"tool", k.second}}, sum));
    }
    if (spent) {
      // Names come from the key list; a deleted key keeps its id and last 4 in the ledger.
      auto keys_now = ctx->store.list_keys(account->id, keys::Scope::kAgent);
      if (!keys_now) co_return Response::error(keys_now.error());
      std::map<std::string, std::string> names;
      for (const auto& k : *keys_now) names[k.id] = k.name;
      for (const auto& [id, sum] : per_key) {
        auto name = names.find(id);
        by_key.push_back(row({{"key_id", id},
                              {"name", name == names.end() ? bj::value(nullptr) : bj::value(name->second)},
                              {"display", keys::display(last4[id])}},
                             sum));
      }
      for (const auto& [k, sum] : per_day_key) {
        by_day_key.push_back(row({{"date", day_text(k.first * kMicrosPerDay)}, {"key_id", k.second}}, sum));
      }
    }
    bj::object out{{"from", day_text(from)},
                   {"to", day_text(to)},
                   {"role", role},
                   {"total", money_text(total.amount)},
                   {"total_micros", total.amount},
                   {"calls", total.calls},
                   {"by_key", by_amount(std::move(by_key))},
                   {"by_tool", by_amount(std::move(by_tool))},
                   {"by_day", std::move(by_day)},
                   {"by_day_key", std::move(by_day_key)},
                   {"by_day_tool", std::move(by_day_tool)}};
    co_return Response::json(200, out);
  });

  router.add("POST", "/api/v1/admin/credits", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto admin = authenticate(*ctx, request, true);
    if (!admin) co_return Response::error(admin.error());
    if (!admin->is_admin) co_return Response::error(ErrorCode::kForbidden, "Only an admin can add credits.");
    auto body = body_object(request);
    if (!body) co_return Response::error(body.error());
    auto email = json::required_string(*body, "email");
    if (!email) co_return Response::error(email.error());
    auto amount_text = json::required_string(*body, "amount");
    if (!amount_text) co_return Response::error(amount_text.error());
    auto amount = parse_money(*amount_text);
    if (!amount) co_return Response::error(amount.error());
    if (*amount <= 0 || *amount > ledger::kMaxDepositMicros) {
      co_return Response::error(ErrorCode::kInvalidRequest, fmt::format("'amount' must be more than 0 and at most {}.",
                                                                        format_money(ledger::kMaxDepositMicros)));
    }
    auto note = json::optional_string(*body, "note");
    if (!note) co_return Response::error(note.error());
    std::string note_text = note->value_or("");
    if (note_text.size() > ledger::kMaxNoteLength) {
      co_return Response::error(ErrorCode::kInvalidRequest, fmt::format("'note' must be at most {} bytes.", ledger::kMaxNoteLength));
    }
    std::string normalized = ascii_lowercase(*email);
    auto target = ctx->store.find_account_by_email(normalized);
    if (!target) co_return Response::error(target.error());
    if (!target->has_value()) co_return Response::error(ErrorCode::kNotFound, "No account with this email.");
    auto deposit = ctx->ledger.deposit((*target)->account.id, *amount, note_text);
    if (!deposit) co_return Response::error(deposit.error());
    spdlog::info("deposit {} of {} to {} by {}", deposit->transfer_id, format_money(*amount), (*target)->account.id, admin->id);
    co_return Response::json(201, bj::object{{"transfer_id", deposit->transfer_id},
                                             {"balance", money_text(deposit->balance_micros)},
                                             {"balance_micros", deposit->balance_micros}});
  });
}

}  // namespace tollgate::platform
