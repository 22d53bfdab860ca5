// Money commands: `tollgate wallet`, `wallet transactions`, `usage`, `admin credit`, and
// `ledger verify` (which reads the database directly, for operators).
#include <fmt/format.h>

#include <boost/json.hpp>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/table.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "ledger/ledger.hpp"
#include "store/store.hpp"

namespace tollgate::cli {
namespace {

namespace bj = boost::json;

std::string text_of(const bj::value& v, std::string_view fallback = "-") {
  return v.is_string() ? std::string(v.as_string()) : std::string(fallback);
}

}  // namespace

void add_wallet_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<AccountOptions>();
  auto add_common = [options](CLI::App* cmd) {
    cmd->add_option("--url", options->url, "Platform URL (default: $TOLLGATE_URL or the saved login)");
    cmd->add_flag("--json", options->json, "Print the raw JSON response");
  };

  CLI::App* wallet = app.add_subcommand("wallet", "Show the balance and earnings; `wallet transactions` lists them");
  add_common(wallet);
  wallet->callback([=, &exit_code] {
    if (!wallet->get_subcommands().empty()) return;
    exit_code = run_and_print(*options, "GET", "/api/v1/wallet", "", [](const bj::object& w) {
      std::cout << fmt::format("Balance:  ${}\nEarnings: ${}\n", text_of(w.at("balance")), text_of(w.at("earnings")));
    });
  });

  auto limit = std::make_shared<int>(20);
  auto cursor = std::make_shared<std::string>();
  CLI::App* transactions = wallet->add_subcommand("transactions", "List transactions, newest first");
  transactions->add_option("--limit", *limit, "Rows per page (1-100)")->capture_default_str();
  transactions->add_option("--cursor", *cursor, "Continue from a previous page's next cursor");
  add_common(transactions);
  transactions->callback([=, &exit_code] {
    std::string path = fmt::format("/api/v1/wallet/transactions?limit={}", *limit);
    if (!cursor->empty()) path += "&cursor=" + http::percent_encode(*cursor);
    exit_code = run_and_print(*options, "GET", path, "", [](const bj::object& page) {
      Table table({"ID", "TYPE", "AMOUNT", "TOOL", "KEY", "CREATED"});
      for (const auto& item : page.at("transactions").as_array()) {
        const auto& t = item.as_object();
        table.add({text_of(t.at("id")), text_of(t.at("type")), text_of(t.at("amount")), text_of(t.at("tool")),
                   text_of(t.at("key_display")), text_of(t.at("created_at")).substr(0, 19) + "Z"});
      }
      std::cout << (table.empty() ? "No transactions yet.\n" : table.render());
      if (page.at("next_cursor").is_string()) {
        std::cout << "More: tollgate wallet transactions --cursor " << text_of(page.at("next_cursor")) << "\n";
      }
    });
  });

  auto usage_from = std::make_shared<std::string>();
  auto usage_to = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("spent");
  CLI::App* usage = app.add_subcommand("usage", "Spend (or earnings) per key, tool and day");
  usage->add_option("--from", *usage_from, "First day, YYYY-MM-DD (default: 29 days ago)");
  usage->add_option("--to", *usage_to, "Last day, YYYY-MM-DD (default: today)");
  usage->add_option("--role", *role, "spent|earned")->check(CLI::IsMember({"spent", "earned"}))->capture_default_str();
  add_common(usage);
  usage->callback([=, &exit_code] {
    std::string path = "/api/v1/usage?role=" + *role;
    if (!usage_from->empty()) path += "&from=" + http::percent_encode(*usage_from);
    if (!usage_to->empty()) path += "&to=" + http::percent_encode(*usage_to);
    exit_code = run_and_print(*options, "GET", path, "", [](const bj::object& u) {
      std::cout << fmt::format("{} to {}: ${} in {} calls\n\n", text_of(u.at("from")), text_of(u.at("to")),
                               text_of(u.at("total")), u.at("calls").to_number<std::int64_t>());
      Table tools({"TOOL", "AMOUNT", "CALLS"});
      for (const auto& item : u.at("by_tool").as_array()) {
        const auto& r = item.as_object();
        tools.add({text_of(r.at("tool")), text_of(r.at("amount")), std::to_string(r.at("calls").to_number<std::int64_t>())});
      }
      if (!tools.empty()) std::cout << tools.render() << "\n";
      Table keys({"KEY", "NAME", "AMOUNT", "CALLS"});
      for (const auto& item : u.at("by_key").as_array()) {
        const auto& r = item.as_object();
        keys.add({text_of(r.at("display")), text_of(r.at("name"), "(deleted)"), text_of(r.at("amount")),
                  std::to_string(r.at("calls").to_number<std::int64_t>())});
      }
      if (!keys.empty()) std::cout << keys.render();
    });
  });

  CLI::App* admin = app.add_subcommand("admin", "Admin operations");
  admin->require_subcommand(1);
  auto email = std::make_shared<std::string>();
  auto amount = std::make_shared<std::string>();
  auto note = std::make_shared<std::string>();
  CLI::App* credit = admin->add_subcommand("credit", "Add credits to an account's wallet");
  credit->add_option("email", *email, "The account's email")->required();
  credit->add_option("amount", *amount, "Dollars, e.g. 10 or 0.50")->required();
  credit->add_option("--note", *note, "Shown in the account's transactions");
  add_common(credit);
  credit->callback([=, &exit_code] {
    bj::object body{{"email", *email}, {"amount", *amount}};
    if (!note->empty()) body["note"] = *note;
    exit_code = run_and_print(*options, "POST", "/api/v1/admin/credits", json::serialize(body), [&](const bj::object& r) {
      std::cout << fmt::format("Credited ${} to {} ({}). New balance: ${}\n", *amount, *email,
                               text_of(r.at("transfer_id")), text_of(r.at("balance")));
    });
  });

  auto db = std::make_shared<std::string>("sqlite:./data/tollgate.db");
  auto verify_json = std::make_shared<bool>(false);
  CLI::App* ledger_cmd = app.add_subcommand("ledger", "Ledger maintenance");
  ledger_cmd->require_subcommand(1);
  CLI::App* verify = ledger_cmd->add_subcommand(
      "verify", "Check that all balances sum to zero and each equals the sum of its transfers (exit 0 when clean)");
  verify->add_option("--db", *db, "sqlite:PATH or postgres://...")->capture_default_str();
  verify->add_flag("--json", *verify_json, "Print the report as JSON");
  verify->callback([=, &exit_code] {
    init_logging("warn");
    std::unique_ptr<store::Store> store;
    try {
      store = store::open_store(*db);
    } catch (const std::exception& e) {
      exit_code = fail({ErrorCode::kPlatformUnavailable, e.what()});
      return;
    }
    auto report = ledger::Ledger(*store).verify();
    if (!report) {
      exit_code = fail(report.error());
      return;
    }
    bool clean = ledger::is_clean(*report);
    if (*verify_json) {
      bj::array mismatched(report->mismatched_accounts.begin(), report->mismatched_accounts.end());
      bj::array invalid(report->invalid_transfers.begin(), report->invalid_transfers.end());
      std::cout << json::serialize(bj::object{{"clean", clean},
                                              {"accounts", report->accounts},
                                              {"transfers", report->transfers},
                                              {"balance_sum_micros", report->balance_sum_micros},
                                              {"mismatched_accounts", std::move(mismatched)},
                                              {"invalid_transfers", std::move(invalid)}})
                << std::endl;
    } else {
      std::cout << fmt::format("{} ledger accounts, {} transfers, balances sum to {} micro-dollars\n", report->accounts,
                               report->transfers, report->balance_sum_micros);
      for (const auto& a : report->mismatched_accounts) std::cout << "MISMATCH: balance of " << a << " != sum of its transfers\n";
      for (const auto& t : report->invalid_transfers) std::cout << "INVALID: transfer " << t << "\n";
      std::cout << (clean ? "ledger is clean\n" : "LEDGER IS NOT CLEAN\n");
    }
    if (!clean) exit_code = kExitFailure;
  });
}

}  // namespace tollgate::cli
